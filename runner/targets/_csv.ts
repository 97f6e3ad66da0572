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
import { freeBytes } from "../util/bytes.ts";

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
 * are sliced out of the text, not added a character at a time. The text may come in pieces
 * (`textPieces`), so that no string of the whole file is made: a string of over 128 KB lives in V8's
 * large-object space until a full collection, and a run made one per result file.
 *
 * @throws {RunnerError} `transport` when a quoted field is never closed
 */
export function* csvRows(
  input: string | Iterable<string>,
  delimiter = ",",
): Generator<string[]> {
  const at: Cursor = { line: 1 };
  if (typeof input === "string") {
    yield* records(stripBom(input), delimiter, at, true);
    return;
  }
  let carry = "";
  let first = true;
  // A record longer than a piece is parsed again only once the text has doubled.
  let wait = 0;
  for (const piece of input) {
    let text = carry + piece;
    if (first && text !== "") {
      text = stripBom(text);
      first = false;
    }
    if (text.length < wait) {
      carry = text;
      continue;
    }
    const end = yield* records(text, delimiter, at, false);
    carry = text.slice(end);
    wait = end === 0 ? text.length * 2 : 0;
  }
  yield* records(carry, delimiter, at, true);
}

/** Where the reader is: the line the next record starts on. */
interface Cursor {
  line: number;
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * Yields the records of `text`. When it is not the `last` piece, a record the text ends in (or a
 * CR it ends with, which may be half of a CRLF) is left for the next piece: returns where it starts.
 */
function* records(
  text: string,
  delimiter: string,
  at: Cursor,
  last: boolean,
): Generator<string[], number> {
  const delim = delimiter.charCodeAt(0);
  const n = text.length;
  let i = 0;
  let line = at.line;
  let start = 0;
  let record: string[] = [];
  let cell = "";
  while (i < n) {
    const ch = text.charCodeAt(i);
    if (ch === QUOTE && cell === "") {
      // A quoted field: up to the closing quote, `""` standing for one quote.
      const opened = line;
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        // Not closed in this piece: the next one may close it. (A record is only complete at its
        // line end, so a closing quote at the piece's end is read again with what follows.)
        if (!last && q < 0) return start;
        if (q < 0) {
          throw new RunnerError(
            "transport",
            `Cannot parse CSV: quoted field opened on line ${opened} is never closed`,
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
      if (!last && ch === CR && i === n - 1) return start;
      record.push(cell);
      cell = "";
      i += ch === CR && text.charCodeAt(i + 1) === LF ? 2 : 1;
      line++;
      at.line = line;
      start = i;
      if (!(record.length === 1 && record[0] === "")) yield record;
      record = [];
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
  if (!last) return start;
  if (cell !== "" || record.length > 0) {
    record.push(cell);
    if (!(record.length === 1 && record[0] === "")) yield record;
  }
  at.line = line;
  return n;
}

/**
 * Bytes decoded as UTF-8 in pieces of about 64K characters, none of them a large object. The
 * bytes are the reader's alone: their memory is given back once the last piece is read (or the
 * reading stops), not at the next full collection.
 */
export function* textPieces(bytes: Uint8Array, pieceBytes = 64 * 1024): Generator<string> {
  const dec = new TextDecoder();
  try {
    for (let at = 0; at < bytes.length; at += pieceBytes) {
      const end = Math.min(bytes.length, at + pieceBytes);
      yield dec.decode(bytes.subarray(at, end), { stream: end < bytes.length });
    }
  } finally {
    freeBytes(bytes);
  }
}
