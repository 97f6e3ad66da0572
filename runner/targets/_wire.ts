/**
 * Serialising batches for the wire without `JSON.stringify` per row: the mapper fixes every row's
 * fields, so the text of each row is the same field prefixes (`{"name":`, `,"amount":`) with the
 * values in between, and values need escaping only rarely. The writers are generated once per
 * field list, naming every property (monomorphic loads; see `mapping/_row.ts` for why), and fall
 * back to a loop where code generation is not allowed.
 *
 * Bodies are produced in chunks of rows, so a batch never exists as one large string: see
 * {@link textStream} (a request body pulled as the connection takes it) and `_zip.ts`.
 *
 * @module
 */
import type { MappedRow, Value } from "../mapping/mod.ts";

/** Characters `JSON.stringify` escapes in a string (surrogates: it escapes the lone ones). */
const JSON_SPECIAL = /["\\\u0000-\u001f\ud800-\udfff]/;

/** A string value as JSON text, escaping only when it holds something to escape. */
function jsonString(s: string): string {
  return JSON_SPECIAL.test(s) ? JSON.stringify(s) : `"${s}"`;
}

/** One value as `JSON.stringify` writes it inside an object (never called for `undefined`). */
export function jsonValue(v: Value): string {
  if (typeof v === "string") return jsonString(v);
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : "null";
  if (v === null) return "null";
  if (typeof v === "boolean") return v ? "true" : "false";
  return JSON.stringify(v) ?? "null";
}

/** Writes rows `from` to `to` (exclusive) as the text between a JSON array's brackets. */
export type JsonRowsWriter = (rows: readonly MappedRow[], from: number, to: number) => string;

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

/**
 * A writer of rows as JSON objects with `fields` in order: for the mapper's rows (every field, in
 * this order, nothing else) the same text as `JSON.stringify` gives. A row with a field
 * `undefined` is written by `JSON.stringify` itself. Keys outside `fields` are not written.
 */
export function jsonRowsWriter(fields: readonly string[]): JsonRowsWriter {
  const prefixes = fields.map((f, i) => `${i === 0 ? "{" : ","}${JSON.stringify(f)}:`);
  if (fields.length === 0) return (rows, from, to) => rows.slice(from, to).map(() => "{}").join();
  // Names enter the code only as JSON string literals.
  const reads = fields.map((f, i) => `const v${i} = r[${JSON.stringify(f)}];`).join("\n");
  const undef = fields.map((_, i) => `v${i} === undefined`).join(" || ");
  const text = fields.map((_, i) => `p[${i}] + j(v${i})`).join(" + ");
  const generated = generate<JsonRowsWriter>(
    ["p", "j"],
    `"use strict";
return function writeJsonRows(rows, from, to) {
  let out = "";
  for (let i = from; i < to; i++) {
    const r = rows[i];
    ${reads}
    if (i > from) out += ",";
    if (${undef}) out += JSON.stringify(r);
    else out += ${text} + "}";
  }
  return out;
};`,
    [prefixes, jsonValue],
  );
  if (generated) return generated;
  return (rows, from, to) => {
    let out = "";
    for (let i = from; i < to; i++) {
      const r = rows[i]!;
      if (i > from) out += ",";
      if (fields.some((f) => r[f] === undefined)) {
        out += JSON.stringify(r);
        continue;
      }
      for (let k = 0; k < fields.length; k++) out += prefixes[k]! + jsonValue(r[fields[k]!]!);
      out += "}";
    }
    return out;
  };
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

/** The pieces of a JSON array of `rows`, `CHUNK_ROWS` rows at a time. */
export function* jsonArrayChunks(
  write: JsonRowsWriter,
  rows: readonly MappedRow[],
): Generator<string> {
  if (rows.length === 0) {
    yield "[]";
    return;
  }
  for (let from = 0; from < rows.length; from += CHUNK_ROWS) {
    const to = Math.min(rows.length, from + CHUNK_ROWS);
    yield (from === 0 ? "[" : ",") + write(rows, from, to) + (to === rows.length ? "]" : "");
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
