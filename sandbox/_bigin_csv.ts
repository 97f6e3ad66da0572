/**
 * CSV reading and writing for the Bigin sandbox. Written here on purpose rather than shared with
 * the runner: the sandbox is an independent reading of the API, so a misreading in the runner's
 * CSV writer shows up as a failed upload instead of being mirrored.
 *
 * @module
 */

/** The delimiters Bigin accepts, in the order a tie between them is broken. */
export const CSV_DELIMITERS = [",", ";", ":", "|"] as const;

/** One of the delimiters Bigin detects from the header row. */
export type CsvDelimiter = typeof CSV_DELIMITERS[number];

/** A parsed CSV file: the header row, the data rows and the delimiter found in the header. */
export interface ParsedCsv {
  /** The delimiter detected from the header row. */
  delimiter: CsvDelimiter;
  /** The first record. */
  header: string[];
  /** Every later record, as read (rows may be shorter or longer than the header). */
  rows: string[][];
}

/** Thrown by {@link parseCsv} for text that is not well-formed CSV. */
export class CsvSyntaxError extends Error {
  /** 1-based line where the problem was found. */
  readonly line: number;
  /**
   * Makes the error; the message gets the line appended.
   *
   * @param line 1-based line where the problem was found.
   */
  constructor(message: string, line: number) {
    super(`${message} (line ${line})`);
    this.name = "CsvSyntaxError";
    this.line = line;
  }
}

/**
 * Picks the delimiter the way Bigin describes it: from the header row only. The candidate seen
 * most often outside quotes wins; a header with none of them is a single column (comma).
 */
export function detectDelimiter(text: string): CsvDelimiter {
  const counts = new Map<string, number>();
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '"') quoted = !quoted;
    else if (!quoted && (ch === "\n" || ch === "\r")) break;
    else if (!quoted) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  }
  let best: CsvDelimiter = ",";
  let bestCount = 0;
  for (const d of CSV_DELIMITERS) {
    const n = counts.get(d) ?? 0;
    if (n > bestCount) [best, bestCount] = [d, n];
  }
  return best;
}

/**
 * Parses CSV text with a header row. Quoted fields may hold delimiters, doubled quotes and line
 * breaks; records end at LF, CRLF or CR. A leading byte-order mark is dropped and empty lines
 * are skipped. Strict about quoting, because a sloppy writer is what this should catch.
 *
 * @throws {CsvSyntaxError} on an unterminated quoted field, text after a closing quote, or a
 *   file without a header row.
 */
export function parseCsv(input: string): ParsedCsv {
  const text = input.startsWith("\uFEFF") ? input.slice(1) : input;
  const delimiter = detectDelimiter(text);
  const records: string[][] = [];
  let record: string[] = [];
  let field = "";
  let line = 1;
  let fieldStarted = false; // distinguishes an empty line from a record with one empty field
  let i = 0;
  const endRecord = () => {
    if (fieldStarted || record.length > 0) {
      record.push(field);
      records.push(record);
    }
    record = [];
    field = "";
    fieldStarted = false;
  };
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '"') {
      if (field !== "") throw new CsvSyntaxError("Unexpected quote inside an unquoted field", line);
      // Quoted field: read to the closing quote.
      const startLine = line;
      i++;
      let closed = false;
      while (i < text.length) {
        const c = text[i]!;
        if (c === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          closed = true;
          i++;
          break;
        }
        if (c === "\n" || (c === "\r" && text[i + 1] !== "\n")) line++;
        field += c;
        i++;
      }
      if (!closed) throw new CsvSyntaxError("Unterminated quoted field", startLine);
      fieldStarted = true;
      const next = text[i];
      if (next !== undefined && next !== delimiter && next !== "\n" && next !== "\r") {
        throw new CsvSyntaxError(`Unexpected character "${next}" after a closing quote`, line);
      }
      continue;
    }
    if (ch === delimiter) {
      record.push(field);
      field = "";
      fieldStarted = true;
      i++;
      continue;
    }
    if (ch === "\n" || ch === "\r") {
      endRecord();
      i += ch === "\r" && text[i + 1] === "\n" ? 2 : 1;
      line++;
      continue;
    }
    field += ch;
    fieldStarted = true;
    i++;
  }
  endRecord();
  const [header, ...rows] = records;
  if (!header) throw new CsvSyntaxError("The file has no header row", 1);
  return { delimiter, header, rows };
}

/** Quotes a field when it holds the delimiter, a quote, a line break or edge spaces. */
function quoteField(value: string, delimiter: string): string {
  if (
    value.includes(delimiter) || value.includes('"') || value.includes("\n") ||
    value.includes("\r") || value !== value.trim()
  ) {
    return `"${value.replaceAll('"', '""')}"`;
  }
  return value;
}

/**
 * Writes rows as CSV (comma-separated, LF line ends, quoting only where needed).
 *
 * @example
 * ```ts
 * writeCsv([["a", "b,c"]]); // 'a,"b,c"\n'
 * ```
 */
export function writeCsv(rows: readonly (readonly string[])[], delimiter = ","): string {
  return rows.map((r) => r.map((v) => quoteField(v, delimiter)).join(delimiter) + "\n").join("");
}
