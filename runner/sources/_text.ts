/**
 * Private helpers shared by the CSV and JSON readers: streaming UTF-8 decoding that stops
 * at the first invalid byte (so the caller can name its line), line counting, and the
 * whole-file error constructor.
 *
 * @module
 */

import { RunnerError } from "../errors.ts";

/**
 * Default size of one read from the file. 64 KiB keeps per-chunk overhead negligible while each
 * decoded chunk stays a regular young-generation string: 1 MiB chunks went to V8's large-object
 * space and, held by the values sliced from them, raised the CSV reader's peak RSS from 91 to
 * 183 MiB on 1M rows (`bench/`, `docs/performance.md`).
 */
export const DEFAULT_READ_BYTES = 1 << 16;

/** Default bound on one record's text, so a runaway quote or a 1 GB line is never buffered. */
export const DEFAULT_MAX_RECORD_BYTES = 16 << 20;

/**
 * Records per batch. Small enough that a batch the consumer still holds while the next one
 * is parsed dies young: with one batch per 1 MiB read, batches survived into the old
 * generation and GC time tripled.
 */
export const BATCH_ROWS = 1024;

/** One piece of decoded text; `invalid` marks that the bytes right after it are not UTF-8. */
export interface TextChunk {
  text: string;
  /** True on the last chunk when decoding stopped at invalid UTF-8 (the text before it is valid). */
  invalid: boolean;
}

/**
 * Builds the error for a source file that cannot be read as declared.
 *
 * @param path the file as the user named it
 * @param line 1-based line the problem is on
 * @param message what is wrong, in the house style
 */
export function sourceError(path: string, line: number, message: string): RunnerError {
  return new RunnerError("invalid_source", `${path}:${line}: ${message}`);
}

/**
 * Opens a file for reading, turning "not found" and friends into a `RunnerError`.
 *
 * @throws {RunnerError} `invalid_source` when the file cannot be opened
 */
export async function openFile(path: string): Promise<Deno.FsFile> {
  try {
    return await Deno.open(path, { read: true });
  } catch (e) {
    const detail = e instanceof Deno.errors.NotFound
      ? "no such file"
      : e instanceof Deno.errors.IsADirectory
      ? "it is a directory"
      : e instanceof Error
      ? e.message
      : String(e);
    throw new RunnerError("invalid_source", `Cannot open "${path}": ${detail}`, { cause: e });
  }
}

/**
 * Reads a file as UTF-8 text in chunks, never holding more than one read in memory.
 * A leading BOM is dropped. On invalid UTF-8 the valid text before the bad byte is yielded
 * with `invalid: true` and the stream ends, so the caller can finish the records before it
 * and report the line.
 *
 * @param file an open file; it is closed when the generator finishes or is abandoned
 * @param readBytes size of each read
 */
export async function* readText(
  file: Deno.FsFile,
  readBytes: number = DEFAULT_READ_BYTES,
): AsyncGenerator<TextChunk> {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let first = true;
  // The last bytes of the previous read: on an error they may hold the start of the
  // sequence the decoder was waiting to complete.
  let previous: Uint8Array = new Uint8Array(0);
  // decode() copies into a string, so two buffers serve every read: the next read fills one
  // while the other is decoded and its text parsed, rather than the parser waiting for each read
  // (about 10% of the CSV reader's time with 64 KiB reads).
  const buffers = [new Uint8Array(readBytes), new Uint8Array(readBytes)];
  let next = 0;
  let pending: Promise<number | null> | undefined = file.read(buffers[0]!);
  try {
    for (;;) {
      const n = await pending;
      pending = undefined;
      if (n === null) break;
      const bytes = buffers[next]!.subarray(0, n);
      next ^= 1;
      pending = file.read(buffers[next]!);
      let text: string;
      try {
        text = decoder.decode(bytes, { stream: true });
      } catch {
        yield { text: decodeValidPrefix(previous, bytes, first), invalid: true };
        return;
      }
      if (text.length > 0) {
        first = false;
        yield { text, invalid: false };
      }
      previous = bytes.slice(Math.max(0, n - 3));
    }
    let rest: string;
    try {
      rest = decoder.decode();
    } catch {
      // A sequence cut off by the end of the file: nothing valid is left to give.
      yield { text: "", invalid: true };
      return;
    }
    if (rest.length > 0) yield { text: rest, invalid: false };
  } finally {
    // A read still in flight (the consumer stopped early) must end before its file closes.
    if (pending !== undefined) await pending.catch(() => null);
    file.close();
  }
}

/**
 * Decodes the valid text that precedes the first invalid byte of `bytes`, including any
 * partial sequence the streaming decoder held back from `previous`.
 */
function decodeValidPrefix(previous: Uint8Array, bytes: Uint8Array, first: boolean): string {
  const held = heldBack(previous);
  const joined = new Uint8Array(held + bytes.length);
  joined.set(previous.subarray(previous.length - held), 0);
  joined.set(bytes, held);
  const valid = validUtf8Length(joined);
  let text = new TextDecoder("utf-8", { ignoreBOM: true }).decode(joined.subarray(0, valid));
  if (first && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return text;
}

/** How many trailing bytes of `tail` start a multi-byte sequence that is not complete yet. */
function heldBack(tail: Uint8Array): number {
  for (let k = 1; k <= Math.min(3, tail.length); k++) {
    const b = tail[tail.length - k]!;
    if (b < 0x80) return 0;
    if (b >= 0xc0) {
      const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
      return need > k ? k : 0;
    }
  }
  return 0;
}

/**
 * Length of the longest prefix of `bytes` that is complete, valid UTF-8 (WHATWG rules:
 * no overlongs, no surrogates, nothing above U+10FFFF).
 */
export function validUtf8Length(bytes: Uint8Array): number {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0; // overlong
      if (b === 0xed) hi = 0x9f; // surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90; // overlong
      if (b === 0xf4) hi = 0x8f; // above U+10FFFF
    } else {
      return i;
    }
    if (i + need >= n) return i;
    const b1 = bytes[i + 1]!;
    if (b1 < lo || b1 > hi) return i;
    for (let k = 2; k <= need; k++) {
      const bk = bytes[i + k]!;
      if (bk < 0x80 || bk > 0xbf) return i;
    }
    i += need + 1;
  }
  return n;
}

/**
 * Counts line breaks in `text[from, to)`: each LF, CRLF or lone CR is one.
 * A CR at `to - 1` counts as a break even if `text[to]` is LF (the caller never cuts a CRLF).
 */
export function countLines(text: string, from = 0, to: number = text.length): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) n++;
    else if (c === 13) {
      n++;
      if (i + 1 < to && text.charCodeAt(i + 1) === 10) i++;
    }
  }
  return n;
}

/** Describes a size in the unit a person would use in an error message. */
export function describeBytes(n: number): string {
  if (n >= 1 << 20 && n % (1 << 20) === 0) return `${n / (1 << 20)} MiB`;
  if (n >= 1 << 10 && n % (1 << 10) === 0) return `${n / (1 << 10)} KiB`;
  return `${n} bytes`;
}

/**
 * Flattens batches into single items without an async generator per item: an item from the
 * current batch costs one already-resolved promise. Breaking out of the loop returns the
 * batch iterator, so the file is closed.
 */
export function flatten<T>(batches: () => AsyncIterator<T[]>): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<T> {
      const it = batches();
      let batch: T[] = [];
      let i = 0;
      const step = (r: IteratorResult<T[]>): IteratorResult<T> | Promise<IteratorResult<T>> => {
        if (r.done) return { value: undefined, done: true };
        batch = r.value;
        i = 0;
        if (batch.length === 0) return it.next().then(step);
        return { value: batch[i++]!, done: false };
      };
      return {
        next(): Promise<IteratorResult<T>> {
          if (i < batch.length) return Promise.resolve({ value: batch[i++]!, done: false });
          return it.next().then(step);
        },
        async return(): Promise<IteratorResult<T>> {
          batch = [];
          await it.return?.();
          return { value: undefined, done: true };
        },
      };
    },
  };
}
