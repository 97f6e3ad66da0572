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
  return Array.from(csvRows(text, delimiter));
}

const LF = 10;
const CR = 13;
const QUOTE = 34;

/**
 * The records of CSV text one at a time, as {@linkcode parseCsv} reads them: a result file of
 * 25,000 rows is joined a row at a time, and no row outlives its turn. Runs of plain characters
 * are sliced out of the text, not added a character at a time.
 *
 * @throws {RunnerError} `transport` when a quoted field is never closed
 */
export function* csvRows(text: string, delimiter = ","): Generator<string[]> {
  const delim = delimiter.charCodeAt(0);
  const n = text.length;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  let record: string[] = [];
  let cell = "";
  while (i < n) {
    const ch = text.charCodeAt(i);
    if (ch === QUOTE && cell === "") {
      // A quoted field: up to the closing quote, `""` standing for one quote.
      const start = line;
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q < 0) {
          throw new RunnerError(
            "transport",
            `Cannot parse CSV: quoted field opened on line ${start} is never closed`,
          );
        }
        for (let k = text.indexOf("\n", i); k >= 0 && k < q; k = text.indexOf("\n", k + 1)) line++;
        cell += text.slice(i, q);
        if (text.charCodeAt(q + 1) === QUOTE) {
          cell += '"';
          i = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      // Text between the closing quote and the next delimiter is kept, as lenient readers do.
      continue;
    }
    if (ch === delim) {
      record.push(cell);
      cell = "";
      i++;
    } else if (ch === CR || ch === LF) {
      record.push(cell);
      cell = "";
      if (!(record.length === 1 && record[0] === "")) yield record;
      record = [];
      i += ch === CR && text.charCodeAt(i + 1) === LF ? 2 : 1;
      line++;
    } else {
      // Plain characters up to the next delimiter or line end (a quote here is one of them).
      let j = i + 1;
      while (j < n) {
        const c = text.charCodeAt(j);
        if (c === delim || c === CR || c === LF) break;
        j++;
      }
      cell += text.slice(i, j);
      i = j;
    }
  }
  if (cell !== "" || record.length > 0) {
    record.push(cell);
    if (!(record.length === 1 && record[0] === "")) yield record;
  }
}
