/**
 * Serialising batches for the wire in chunks of rows. CSV rows are written by a writer generated
 * once per field list, naming every property (monomorphic loads; see `mapping/_row.ts` for why),
 * with a loop where code generation is not allowed: 2.8x faster than `toCsv`. JSON is
 * `JSON.stringify` per chunk (see {@link jsonArrayChunks} for why not a serialiser of our own).
 *
 * Bodies are produced in chunks of rows, so a batch never exists as one large string: see
 * {@link textStream} (a request body pulled as the connection takes it) and `_zip.ts`.
 *
 * @module
 */
import type { MappedRow, Value } from "../mapping/mod.ts";
import { csvCell } from "./_csv.ts";
import type { Batch } from "./types.ts";

/** Writes rows `from` to `to` (exclusive) as CSV lines, each ending in CRLF. */
export type CsvRowsWriter = (rows: readonly MappedRow[], from: number, to: number) => string;

/** Runs the code generator; `undefined` where code generation from strings is disabled. */
function generate<T>(params: string[], body: string, args: unknown[]): T | undefined {
  try {
    return new Function(...params, body)(...args) as T;
  } catch (e) {
    if (e instanceof EvalError) return undefined;
    throw e;
  }
}

/** The CSV text of a cell: quoted when it holds the delimiter, a quote, a line break or edge spaces. */
function csvQuoter(delimiter: string): (v: Value | undefined) => string {
  const special = new RegExp(`[${delimiter.replace(/[\\\]^-]/g, "\\$&")}"\\r\\n]|^ | $`);
  return (v) => {
    if (v === null || v === undefined) return "";
    const s = typeof v === "string" ? v : String(v);
    return special.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  };
}

/**
 * A writer of rows as CSV lines (RFC 4180, CRLF), the same text as `toCsv` in `_csv.ts` gives
 * without its header line.
 *
 * @param convert per field, a change to its value on the wire (Bigin's datetime form)
 */
export function csvRowsWriter(
  fields: readonly string[],
  delimiter = ",",
  convert: Readonly<Record<string, (v: Value) => Value>> = {},
): CsvRowsWriter {
  const cell = csvQuoter(delimiter);
  const fns = fields.map((f) => Object.hasOwn(convert, f) ? convert[f] : undefined);
  const cells = fields.map((f, i) =>
    `c(${fns[i] ? `t[${i}](r[${JSON.stringify(f)}] ?? null)` : `r[${JSON.stringify(f)}]`})`
  ).join(` + ${JSON.stringify(delimiter)} + `);
  const generated = fields.length === 0 ? undefined : generate<CsvRowsWriter>(
    ["c", "t"],
    `"use strict";
return function writeCsvRows(rows, from, to) {
  let out = "";
  for (let i = from; i < to; i++) {
    const r = rows[i];
    out += ${cells} + "\\r\\n";
  }
  return out;
};`,
    [cell, fns],
  );
  if (generated) return generated;
  return (rows, from, to) => {
    let out = "";
    for (let i = from; i < to; i++) {
      const r = rows[i]!;
      out += fields.map((f, k) => cell(fns[k] ? fns[k](r[f] ?? null) : r[f])).join(delimiter);
      out += "\r\n";
    }
    return out;
  };
}

/** Rows serialised per chunk: enough to amortise each chunk, small enough to stay young. */
export const CHUNK_ROWS = 1000;

/**
 * The pieces of `JSON.stringify(rows)`, `CHUNK_ROWS` rows at a time: the same text, joined.
 * Measured on 50,000 mapped rows, `JSON.stringify` per chunk is faster than a generated
 * serialiser of the known fields (36 vs 52 ms: V8's stringifier has a fast path for objects of
 * one shape), and encoding chunks is faster than encoding one 12 MB string (80 vs 217 ms).
 */
export function* jsonArrayChunks(rows: readonly MappedRow[]): Generator<string> {
  if (rows.length <= CHUNK_ROWS) {
    yield JSON.stringify(rows);
    return;
  }
  for (let from = 0; from < rows.length; from += CHUNK_ROWS) {
    const to = Math.min(rows.length, from + CHUNK_ROWS);
    const text = JSON.stringify(rows.slice(from, to));
    yield from === 0
      ? text.slice(0, -1)
      : `,${to === rows.length ? text.slice(1) : text.slice(1, -1)}`;
  }
}

/** The pieces of a CSV file: the header line, then `CHUNK_ROWS` rows at a time. */
export function* csvChunks(
  header: string,
  write: CsvRowsWriter,
  rows: readonly MappedRow[],
): Generator<string> {
  yield header + "\r\n";
  for (let from = 0; from < rows.length; from += CHUNK_ROWS) {
    yield write(rows, from, Math.min(rows.length, from + CHUNK_ROWS));
  }
}

/**
 * A request body that encodes the next chunk only when the connection asks for it, so a batch
 * is never held as one string or one byte array. A stream is read once: callers that may send
 * again build a new one (see `RequestSpec.body` in `_http.ts`).
 */
export function textStream(chunks: () => Iterator<string>): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  let it: Iterator<string> | undefined;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      it ??= chunks();
      const next = it.next();
      if (next.done) controller.close();
      else controller.enqueue(enc.encode(next.value));
    },
  }, { highWaterMark: 0 });
}

const csvWriters = new WeakMap<readonly string[], CsvRowsWriter>();

/**
 * A batch's upload body, JSON (an array of the rows) or CSV (a header line, then the rows),
 * streamed: a function that builds a new stream for each attempt (see `RequestSpec.body`).
 */
export function batchBody(
  fields: readonly string[],
  rows: readonly MappedRow[],
  format: "json" | "csv",
): () => ReadableStream<Uint8Array> {
  if (format === "json") return () => textStream(() => jsonArrayChunks(rows));
  let write = csvWriters.get(fields);
  if (!write) csvWriters.set(fields, write = csvRowsWriter(fields));
  const header = fields.map((f) => csvCell(f)).join(",");
  return () => textStream(() => csvChunks(header, write, rows));
}

/**
 * A batch's upload body as bytes, built at once from the same chunks `batchBody` streams: what
 * `Target.pack` keeps for a batch waiting its turn. The pieces are plain byte arrays, whose
 * memory the JS engine counts (a `Blob` copies them to a store it does not count, and `fetch`
 * copies a `Blob` again), sent by {@link bytesBody}.
 */
export function batchBytes(
  fields: readonly string[],
  rows: readonly MappedRow[],
  format: "json" | "csv",
): Uint8Array[] {
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  let chunks: Iterable<string>;
  if (format === "json") chunks = jsonArrayChunks(rows);
  else {
    let write = csvWriters.get(fields);
    if (!write) csvWriters.set(fields, write = csvRowsWriter(fields));
    chunks = csvChunks(fields.map((f) => csvCell(f)).join(","), write, rows);
  }
  for (const text of chunks) parts.push(enc.encode(text));
  return parts;
}

/**
 * A request body of bytes already built: a function that streams the pieces anew for each
 * attempt (see `RequestSpec.body`), never joining them into one array.
 */
export function bytesBody(parts: readonly Uint8Array[]): () => ReadableStream<Uint8Array> {
  return () => {
    let i = 0;
    return new ReadableStream<Uint8Array>({
      pull(controller) {
        // A copy's view, not the piece: the stream may hand its buffer on (transfer it), and a
        // retry needs the piece again.
        if (i < parts.length) controller.enqueue(parts[i++]!.slice());
        else controller.close();
      },
    }, { highWaterMark: 0 });
  };
}

/**
 * Bodies packed ahead of their turn (`Target.pack`), by batch. `take` hands the packed body to
 * the one submit of its batch and forgets it, or packs it then when it was not packed ahead.
 */
export class Packs<T> {
  readonly #packed = new WeakMap<object, T>();
  readonly #make: (batch: Batch) => T;

  constructor(make: (batch: Batch) => T) {
    this.#make = make;
  }

  /** Packs a batch now; for `Target.pack`. */
  pack(batch: Batch): boolean {
    this.#packed.set(batch, this.#make(batch));
    return true;
  }

  /** The body of a batch: packed ahead, or made now. */
  take(batch: Batch): T {
    const body = this.#packed.get(batch);
    if (body === undefined) return this.#make(batch);
    this.#packed.delete(batch);
    return body;
  }
}
