/**
 * Serialising batches for the wire in chunks of rows, as they fill (`Target.pack`): a batch's
 * body is built 1,000 rows at a time into byte pieces (`bodySteps`, `Packs`), so it never exists
 * as one large string and no row outlives its chunk. CSV rows are written by a writer generated
 * once per field list, naming every property (monomorphic loads; see `mapping/_row.ts` for why),
 * with a loop where code generation is not allowed: 2.8x faster than `toCsv`. JSON is
 * `JSON.stringify` per chunk: on 50,000 mapped rows it beat a generated serialiser of the known
 * fields (36 vs 52 ms; V8's stringifier has a fast path for objects of one shape), and encoding
 * chunks beat encoding one 12 MB string (80 vs 217 ms).
 *
 * @module
 */
import type { MappedRow, Value } from "../mapping/mod.ts";
import { csvCell } from "./_csv.ts";
import type { Batch, RowPacker, Spool, SpooledBody, SpoolWriter } from "./types.ts";
import { concatBytes, freeBytes } from "../util/bytes.ts";

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
 * Characters a piece of serialised text aims at. V8 puts a string over 128 KiB in its large-object
 * space, which only a full collection frees: 1,000 rows of JSON (240 KB) made 12 MB of such
 * garbage per 50,000-row batch, 22 MB of the heap at the peak of a run. Pieces under the limit
 * die in the young generation like the rows they came from.
 */
const PIECE_CHARS = 48 * 1024;

/** Rows for the next piece, so that it comes near {@link PIECE_CHARS} given the last one. */
export function pieceRows(rows: number, chars: number): number {
  if (chars === 0) return CHUNK_ROWS;
  return Math.max(1, Math.min(CHUNK_ROWS, Math.floor(rows * PIECE_CHARS / chars)));
}

const csvWriters = new WeakMap<readonly string[], CsvRowsWriter>();

/**
 * How a body of rows is built piece by piece: begun for a batch, given its rows a chunk at a
 * time in order, ended into what `submit` sends.
 */
export interface PackSteps<S, T> {
  /**
   * Starts a batch's body, written to `spool`; throws when this batch cannot be packed as it
   * fills.
   */
  begin(batch: Batch, spool: Spool): S;
  add(state: S, rows: readonly MappedRow[]): void;
  end(state: S, batch: Batch): T;
  /** Lets a body that failed to pack go (its spooled bytes). */
  discard?(state: S): void;
}

/**
 * A batch's upload body (JSON: an array of the rows; CSV: a header line, then the rows), written
 * to a spool in pieces: the same text as `JSON.stringify(rows)` or `toCsv`, never one string.
 */
export function bodySteps(format: "json" | "csv"): PackSteps<BodyState, SpooledBody> {
  return {
    begin(batch, spool) {
      const state: BodyState = { out: spool.open(), rows: 0, pieceRows: 64 };
      if (format === "csv") {
        let write = csvWriters.get(batch.fields);
        if (!write) csvWriters.set(batch.fields, write = csvRowsWriter(batch.fields));
        state.write = write;
        state.out.write(batch.fields.map((f) => csvCell(f)).join(",") + "\r\n");
      }
      return state;
    },
    add(state, rows) {
      const write = state.write;
      writePieces(
        state,
        rows,
        write ?? ((rows, from, to) => jsonPiece(rows, from, to, state.rows)),
      );
    },
    end(state) {
      if (!state.write) state.out.write(state.rows === 0 ? "[]" : "]");
      return state.out.end();
    },
    discard: (state) => state.out.end().free(),
  };
}

/** A body being written in pieces of text (see {@link writePieces}). */
export interface PieceState {
  out: SpoolWriter;
  /** Rows written so far. */
  rows: number;
  /** Rows per piece of text, from the size of the last piece (see {@link pieceRows}). */
  pieceRows: number;
}

/** A body being built by {@link bodySteps}. */
export interface BodyState extends PieceState {
  write?: CsvRowsWriter;
}

/**
 * Writes rows in pieces of text small enough to die young (see {@link pieceRows}), each the text
 * of rows `from` to `to` (exclusive) as `text` serialises them.
 */
export function writePieces(
  state: PieceState,
  rows: readonly MappedRow[],
  text: (rows: readonly MappedRow[], from: number, to: number) => string,
): void {
  for (let from = 0; from < rows.length;) {
    const to = Math.min(rows.length, from + state.pieceRows);
    const piece = text(rows, from, to);
    state.out.write(piece);
    state.rows += to - from;
    state.pieceRows = pieceRows(to - from, piece.length);
    from = to;
  }
}

/**
 * Rows `from` to `to` of a JSON array being written: `JSON.stringify` of them, opened with `open`
 * and `[` when no row was written before (`before`), else continuing after a comma; `]` is the
 * caller's to write at the end.
 */
export function jsonPiece(
  rows: readonly MappedRow[],
  from: number,
  to: number,
  before: number,
  open = "",
): string {
  const json = JSON.stringify(from === 0 && to === rows.length ? rows : rows.slice(from, to));
  return before === 0 ? open + json.slice(0, -1) : `,${json.slice(1, -1)}`;
}

/**
 * Bodies kept in memory as the byte arrays they were written as: plain arrays, whose memory the
 * JS engine counts (a `Blob` copies them to a store it does not count, and `fetch` copies a
 * `Blob` again). For batches packed at submit, and where no run spool is given (tests).
 */
export const memorySpool: Spool = {
  open() {
    const parts: Uint8Array[] = [];
    const enc = new TextEncoder();
    let size = 0;
    return {
      write(text) {
        if (text.length === 0) return;
        const bytes = enc.encode(text);
        parts.push(bytes);
        size += bytes.length;
      },
      end: () => partsBody(parts, size),
    };
  },
};

/** A spooled body of pieces in memory, streamed piece by piece, never joined for a stream. */
function partsBody(parts: Uint8Array[], size: number): SpooledBody {
  const freed = () => parts.some((p) => p.buffer instanceof ArrayBuffer && p.buffer.detached);
  return {
    size,
    stream() {
      let i = 0;
      return new ReadableStream<Uint8Array>({
        pull(controller) {
          // The piece itself: fetch copies what it sends and leaves the piece as it was, so a
          // retry sends it again. A piece already freed ends the stream with an error.
          const part = parts[i++];
          if (part === undefined) controller.close();
          else if (part.buffer instanceof ArrayBuffer && part.buffer.detached) {
            controller.error(new Error("The body was freed: its exchange is over"));
          } else controller.enqueue(part);
        },
      }, { highWaterMark: 0 });
    },
    bytes() {
      if (freed()) throw new Error("The body was freed: its exchange is over");
      return concatBytes(parts);
    },
    // At once, rather than when the garbage collector next runs: by then several batches' bytes
    // could be waiting to be freed.
    free: () => parts.forEach(freeBytes),
  };
}

/**
 * Bodies packed as their batches fill (`Target.pack`), by batch. `take` hands the packed body to
 * the one submit of its batch and forgets it; a batch that was not packed is packed then, from
 * its rows. A failure while packing (a body over the API's limit) is kept, and thrown by `take`:
 * the submit reports it, as if it had packed the batch itself.
 */
export class Packs<S, T> {
  readonly #packed = new WeakMap<object, { body: T } | { error: unknown }>();
  readonly #steps: PackSteps<S, T>;

  constructor(steps: PackSteps<S, T>) {
    this.#steps = steps;
  }

  /**
   * A packer for a batch that starts filling, writing to `spool`; undefined when it cannot be
   * packed that way.
   */
  packer(batch: Batch, spool: Spool): RowPacker | undefined {
    const steps = this.#steps;
    let state: S;
    try {
      state = steps.begin(batch, spool);
    } catch {
      return undefined;
    }
    let error: { error: unknown } | undefined;
    const fail = (e: unknown) => {
      error = { error: e };
      try {
        steps.discard?.(state);
      } catch {
        // Its bytes go with the process; the packing error is what is reported.
      }
    };
    return {
      add(rows) {
        if (error) return;
        try {
          steps.add(state, rows);
        } catch (e) {
          fail(e);
        }
      },
      end: () => {
        if (!error) {
          try {
            return void this.#packed.set(batch, { body: steps.end(state, batch) });
          } catch (e) {
            fail(e);
          }
        }
        this.#packed.set(batch, error!);
      },
    };
  }

  /**
   * The body of a batch: packed as it filled, or packed now from its rows.
   *
   * @throws what packing it threw
   */
  take(batch: Batch): T {
    return this.taken(batch) ?? packAll(this.#steps, batch);
  }

  /**
   * The body packed as the batch filled, or undefined when it was not packed that way (its rows
   * are then all in the batch).
   *
   * @throws what packing it threw
   */
  taken(batch: Batch): T | undefined {
    const packed = this.#packed.get(batch);
    if (packed === undefined) return undefined;
    this.#packed.delete(batch);
    if ("error" in packed) throw packed.error;
    return packed.body;
  }
}

/**
 * Packs a batch whose rows are all in it, in one go (chunk by chunk, as it would have filled),
 * into memory.
 */
export function packAll<S, T>(steps: PackSteps<S, T>, batch: Batch): T {
  const state = steps.begin(batch, memorySpool);
  const rows = batch.rows;
  for (let from = 0; from < rows.length; from += CHUNK_ROWS) {
    steps.add(state, rows.slice(from, from + CHUNK_ROWS));
  }
  return steps.end(state, batch);
}
