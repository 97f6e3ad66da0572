/**
 * CSV on the wire, both ways: writing batches (WorkSpan `content_type: csv`, Bigin upload files)
 * and reading what APIs send back (Bigin result files). The one CSV writer and reader the
 * targets share.
 *
 * @module
 */
import { RunnerError } from "../errors.ts";
import type { MappedRow } from "../mapping/mod.ts";
import { csvCell } from "../util/csv.ts";

export { csvCell };

/** Serialises rows as CSV with a header line; lines end with CRLF as RFC 4180 says. */
export function toCsv(
  fields: readonly string[],
  rows: readonly MappedRow[],
  delimiter = ",",
): string {
  const out: string[] = [fields.map((f) => csvCell(f, delimiter)).join(delimiter)];
  for (const row of rows) {
    let line = "";
    for (let i = 0; i < fields.length; i++) {
      if (i > 0) line += delimiter;
      line += csvCell(row[fields[i]!], delimiter);
    }
    out.push(line);
  }
  return out.join("\r\n") + "\r\n";
}

/**
 * Parses CSV text (RFC 4180): quoted fields may hold the delimiter, `""` and line breaks; lines
 * end with CRLF, LF or CR; a leading byte-order mark is dropped; blank lines are skipped.
 *
 * @returns the records, each an array of cells (header included)
 * @throws {RunnerError} `transport` when a quoted field is never closed
 * @example
 * parseCsv('a,b\r\n"x, ""y""",2\r\n') // [["a", "b"], ['x, "y"', "2"]]
 */
export function parseCsv(text: string, delimiter = ","): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let cell = "";
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const n = text.length;
  let line = 1;
  const endRecord = () => {
    record.push(cell);
    cell = "";
    if (!(record.length === 1 && record[0] === "")) records.push(record);
    record = [];
  };
  while (i < n) {
    const ch = text[i]!;
    if (ch === '"' && cell === "") {
      const start = line;
      i++;
      for (;;) {
        if (i >= n) {
          throw new RunnerError(
            "transport",
            `Cannot parse CSV: quoted field opened on line ${start} is never closed`,
          );
        }
        const c = text[i]!;
        if (c === '"') {
          if (text[i + 1] === '"') {
            cell += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (c === "\n") line++;
        cell += c;
        i++;
      }
      // Text between the closing quote and the next delimiter is kept, as lenient readers do.
      continue;
    }
    if (ch === delimiter) {
      record.push(cell);
      cell = "";
      i++;
    } else if (ch === "\r" || ch === "\n") {
      endRecord();
      i += ch === "\r" && text[i + 1] === "\n" ? 2 : 1;
      line++;
    } else {
      cell += ch;
      i++;
    }
  }
  if (cell !== "" || record.length > 0) endRecord();
  return records;
}
