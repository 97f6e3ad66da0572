/**
 * CSV reading and writing for the Salesforce sandbox, written apart from the runner's and the
 * Bigin simulator's on purpose: Bulk API 2.0 fixes the delimiter and the line ending per job
 * instead of detecting them, and that strictness is what this reader has to catch.
 *
 * @module
 */

/** The `columnDelimiter` values a job may declare, and the character each stands for. */
export const COLUMN_DELIMITERS = {
  COMMA: ",",
  TAB: "\t",
  SEMICOLON: ";",
  PIPE: "|",
  CARET: "^",
  BACKQUOTE: "`",
} as const;

/** A `columnDelimiter` value. */
export type ColumnDelimiter = keyof typeof COLUMN_DELIMITERS;

/** A `lineEnding` value. */
export type LineEnding = "LF" | "CRLF";

/** A job's data as read: header, records, and whether every record ended as declared. */
export interface SalesforceCsv {
  header: string[];
  rows: string[][];
  /** False when some record ended with the other line ending than the job declared. */
  lineEndingOk: boolean;
}

/** Thrown for CSV that cannot be read at all (bad quoting, no header). */
export class SalesforceCsvError extends Error {
  override name = "SalesforceCsvError";
}

/**
 * Reads job data. Quoted fields keep delimiters, doubled quotes and line breaks as data; blank
 * lines are skipped; a leading byte-order mark is dropped. A record terminator other than the
 * declared one (`\r\n` in an LF job, a bare `\n` in a CRLF job) sets `lineEndingOk` false.
 *
 * @throws {SalesforceCsvError} on an unterminated quoted field, text after a closing quote, or
 *   no header row
 */
export function readJobCsv(
  input: string,
  delimiter: string,
  lineEnding: LineEnding,
): SalesforceCsv {
  const text = input.startsWith("\uFEFF") ? input.slice(1) : input;
  const records: string[][] = [];
  let record: string[] = [];
  let field = "";
  let started = false;
  let lineEndingOk = true;
  let i = 0;
  const endRecord = () => {
    if (started || record.length > 0) records.push([...record, field]);
    record = [];
    field = "";
    started = false;
  };
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '"' && field === "") {
      i++;
      let closed = false;
      while (i < text.length) {
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          closed = true;
          i++;
          break;
        }
        field += text[i]!;
        i++;
      }
      if (!closed) throw new SalesforceCsvError("Unterminated quoted field");
      started = true;
      const next = text[i];
      if (next !== undefined && next !== delimiter && next !== "\n" && next !== "\r") {
        throw new SalesforceCsvError(`Unexpected character "${next}" after a closing quote`);
      }
      continue;
    }
    if (ch === delimiter) {
      record.push(field);
      field = "";
      started = true;
      i++;
      continue;
    }
    if (ch === "\r" && text[i + 1] === "\n") {
      if (lineEnding === "LF") lineEndingOk = false;
      endRecord();
      i += 2;
      continue;
    }
    if (ch === "\n") {
      if (lineEnding === "CRLF") lineEndingOk = false;
      endRecord();
      i++;
      continue;
    }
    field += ch;
    started = true;
    i++;
  }
  endRecord();
  const [header, ...rows] = records;
  if (!header) throw new SalesforceCsvError("The data has no header row");
  return { header, rows, lineEndingOk };
}

/**
 * Writes a result file: every field quoted, LF line ends, the job's delimiter.
 *
 * @example
 * ```ts
 * writeResultCsv([["sf__Id", "Name"], ["006", 'A "B"']], ","); // '"sf__Id","Name"\n"006","A ""B"""\n'
 * ```
 */
export function writeResultCsv(rows: readonly (readonly string[])[], delimiter: string): string {
  return rows.map((r) => r.map((v) => `"${v.replaceAll('"', '""')}"`).join(delimiter) + "\n")
    .join("");
}

/** A seeded pseudo-random generator (mulberry32), so a shuffle can be repeated. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A shuffled copy. With two items or more the order always differs from the given one, so a
 * client that joins results by position fails every time, not by chance.
 */
export function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  if (out.length >= 2 && out.every((v, i) => v === items[i])) out.push(out.shift()!);
  return out;
}
