/**
 * Streaming JSON (an array of objects) and JSON Lines readers.
 *
 * A JSON array is never parsed whole: a small scanner follows strings, escapes and nesting
 * depth, cuts out each top-level element and hands only that to `JSON.parse`, so memory
 * stays at one read plus one element however big the file is.
 *
 * @module
 */

import type { Source, SourceRecord } from "./types.ts";
import {
  BATCH_ROWS,
  countLines,
  DEFAULT_MAX_RECORD_BYTES,
  DEFAULT_READ_BYTES,
  describeBytes,
  flatten,
  openFile,
  readText,
  sourceError,
} from "./_text.ts";

const LF = 10;
const QUOTE = 34;
const BACKSLASH = 92;

/** Options of {@linkcode JsonSource} and {@linkcode JsonlSource}. */
export interface JsonSourceOptions {
  /** The file as the user named it, for error messages. */
  path: string;
  /** Bound on one element's (or line's) text, in UTF-16 code units (bytes, for ASCII). */
  maxRecordBytes?: number;
  /** Size of each read from the file (tests use tiny reads to cut elements anywhere). */
  readBytes?: number;
}

/** Keeps the keys seen so far, in first-seen order. */
class KeyTracker {
  readonly keys: string[] = [];
  readonly #seen = new Set<string>();

  add(values: Record<string, unknown>): void {
    for (const key in values) {
      if (!this.#seen.has(key)) {
        this.#seen.add(key);
        this.keys.push(key);
      }
    }
  }
}

// Where the array scanner is between two characters.
/** Before the opening `[`. */
const START = 0;
/** After `[`: an element or `]`. */
const FIRST = 1;
/** After `,`: an element. */
const NEXT = 2;
/** Inside an element. */
const ELEMENT = 3;
/** After an element: `,` or `]`. */
const AFTER = 4;
/** After the closing `]`: only whitespace. */
const END = 5;

/** What JSON and JSON Lines sources share: options, columns from the keys seen, `records()`. */
abstract class KeyedSource implements Source {
  protected readonly options: JsonSourceOptions;
  protected keys = new KeyTracker();

  constructor(options: JsonSourceOptions) {
    this.options = options;
  }

  /** Keys of the records read so far, in first-seen order. */
  columns(): readonly string[] {
    return this.keys.keys;
  }

  /** Records one at a time, in file order. */
  records(): AsyncIterable<SourceRecord> {
    return flatten(() => this.batches());
  }

  /** Records in batches (never empty), in file order. */
  abstract batches(): AsyncGenerator<SourceRecord[]>;
}

/**
 * A JSON file holding one array of objects, as a {@linkcode Source}. Values keep their JSON
 * types; nested objects and arrays are left as they are.
 */
export class JsonSource extends KeyedSource {
  /**
   * Records in batches of at most 1024 (never empty), in file order.
   *
   * @throws {RunnerError} `invalid_source` naming file and line when the file is not an array
   *   of objects, holds malformed JSON or invalid UTF-8, or an element is over `maxRecordBytes`
   */
  async *batches(): AsyncGenerator<SourceRecord[]> {
    const { path } = this.options;
    const max = this.options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
    const keys = (this.keys = new KeyTracker());
    const fail = (line: number, message: string) => sourceError(path, line, message);
    const tooLong = () =>
      fail(
        startLine,
        `Element ${count} is longer than the limit of ${describeBytes(max)}: it starts here`,
      );

    let phase: number = START;
    let line = 1;
    let count = 0; // elements seen
    // Inside an element: where it starts in `text`, its line, nesting depth, string state.
    let start = 0;
    let startLine = 0;
    let depth = 0;
    let inString = false;
    let text = "";
    let i = 0;
    let sawText = false;
    let out: SourceRecord[] = [];

    try {
      const file = await openFile(path);
      for await (const chunk of readText(file, this.options.readBytes ?? DEFAULT_READ_BYTES)) {
        if (phase === ELEMENT) {
          text = text.slice(start) + chunk.text;
          i -= start;
          start = 0;
        } else {
          text = chunk.text;
          i = 0;
        }
        if (chunk.text.length > 0) sawText = true;
        const len = text.length;

        while (i < len) {
          if (phase === ELEMENT) {
            if (inString) {
              const q = text.indexOf('"', i);
              if (q === -1) {
                i = len;
                break;
              }
              let k = q - 1;
              while (text.charCodeAt(k) === BACKSLASH) k--;
              i = q + 1;
              // An odd run of backslashes escapes the quote.
              if ((q - 1 - k) % 2 === 0) inString = false;
              continue;
            }
            const c = text.charCodeAt(i++);
            if (c === QUOTE) inString = true;
            else if (c === 123 || c === 91) depth++; // { [
            else if (c === 125 || c === 93) { // } ]
              if (--depth === 0) {
                if (i - start > max) throw tooLong();
                const element = text.slice(start, i);
                let value: Record<string, unknown>;
                try {
                  value = JSON.parse(element);
                } catch (e) {
                  const { at, detail } = describeJsonError(e, element);
                  throw fail(startLine + at, `Invalid JSON in element ${count}: ${detail}`);
                }
                keys.add(value);
                out.push({ line: startLine, values: value });
                phase = AFTER;
                if (out.length === BATCH_ROWS) {
                  yield out;
                  out = [];
                }
              }
            } else if (c === LF) line++;
            continue;
          }

          const c = text.charCodeAt(i);
          if (c === LF) {
            line++;
            i++;
            continue;
          }
          if (c === 32 || c === 9 || c === 13) {
            i++;
            continue;
          }
          switch (phase) {
            case START:
              if (c !== 91) {
                throw fail(
                  line,
                  `Expected a JSON array of objects: the file starts with ${describeValue(c)}`,
                );
              }
              phase = FIRST;
              i++;
              break;
            case FIRST:
            case NEXT:
              if (c === 93 && phase === FIRST) {
                phase = END;
                i++;
                break;
              }
              count++;
              if (c !== 123) {
                throw fail(
                  line,
                  c === 93
                    ? `Unexpected "]" after ",": a trailing comma is not JSON`
                    : `Element ${count} is not an object: found ${describeValue(c)}`,
                );
              }
              phase = ELEMENT;
              start = i;
              startLine = line;
              depth = 1;
              inString = false;
              i++;
              break;
            case AFTER:
              if (c === 44) phase = NEXT;
              else if (c === 93) phase = END;
              else {
                throw fail(
                  line,
                  `Expected "," or "]" after element ${count}: found ${quoteChar(c)}`,
                );
              }
              i++;
              break;
            case END:
              throw fail(line, `Unexpected ${quoteChar(c)} after the closing "]"`);
          }
        }

        if (phase === ELEMENT && len - start > max) throw tooLong();
        if (out.length > 0) {
          yield out;
          out = [];
        }
        if (chunk.invalid) throw fail(line, "Invalid UTF-8: the file must be saved as UTF-8");
      }

      switch (phase) {
        case START:
          throw fail(
            1,
            sawText
              ? "File is blank: expected a JSON array of objects"
              : "File is empty: expected a JSON array of objects",
          );
        case ELEMENT:
          throw fail(startLine, `Element ${count} never ends: the file stops inside it`);
        case FIRST:
        case NEXT:
        case AFTER:
          throw fail(line, `The array is never closed: expected "]" at the end of the file`);
      }
    } catch (e) {
      // Hand over the records read before the problem, whatever the read size.
      if (out.length > 0) yield out;
      throw e;
    }
  }
}

/**
 * A JSON Lines file (one object per line) as a {@linkcode Source}. Blank lines are skipped;
 * a line that is not a JSON object becomes a record with `error`, so one bad line rejects
 * only itself.
 */
export class JsonlSource extends KeyedSource {
  /**
   * Records in batches of at most 1024 (never empty), in file order.
   *
   * @throws {RunnerError} `invalid_source` naming file and line for invalid UTF-8 or a line
   *   over `maxRecordBytes`
   */
  async *batches(): AsyncGenerator<SourceRecord[]> {
    const { path } = this.options;
    const max = this.options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
    const keys = (this.keys = new KeyTracker());
    let line = 1;
    let tail = "";
    let out: SourceRecord[] = [];

    const take = (raw: string) => {
      if (raw.length > max) {
        throw sourceError(
          path,
          line,
          `Line is longer than the limit of ${describeBytes(max)}`,
        );
      }
      if (raw.length > 0 && raw.charCodeAt(raw.length - 1) === 13) raw = raw.slice(0, -1);
      if (raw.length === 0 || (raw.charCodeAt(0) <= 32 && raw.trim() === "")) return;
      let value: unknown;
      try {
        value = JSON.parse(raw);
      } catch (e) {
        out.push({
          line,
          values: {},
          error: `Invalid JSON: ${describeJsonError(e, raw).detail}`,
          raw,
        });
        return;
      }
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        out.push({
          line,
          values: {},
          error: `Line is not a JSON object: found ${describeJsonType(value)}`,
          raw,
        });
        return;
      }
      keys.add(value as Record<string, unknown>);
      out.push({ line, values: value as Record<string, unknown> });
    };

    try {
      const file = await openFile(path);
      for await (const chunk of readText(file, this.options.readBytes ?? DEFAULT_READ_BYTES)) {
        const text = tail.length > 0 ? tail + chunk.text : chunk.text;
        let pos = 0;
        for (;;) {
          const nl = text.indexOf("\n", pos);
          if (nl === -1) break;
          take(text.slice(pos, nl));
          line++;
          pos = nl + 1;
          if (out.length === BATCH_ROWS) {
            yield out;
            out = [];
          }
        }
        tail = text.slice(pos);
        if (tail.length > max) {
          throw sourceError(path, line, `Line is longer than the limit of ${describeBytes(max)}`);
        }
        if (out.length > 0) {
          yield out;
          out = [];
        }
        if (chunk.invalid) {
          throw sourceError(path, line, "Invalid UTF-8: the file must be saved as UTF-8");
        }
      }
      take(tail);
      if (out.length > 0) yield out;
    } catch (e) {
      // Hand over the records read before the problem, whatever the read size.
      if (out.length > 0) yield out;
      throw e;
    }
  }
}

/** Names what a JSON value starting with character code `c` would be. */
function describeValue(c: number): string {
  if (c === 123) return "an object";
  if (c === 91) return "an array";
  if (c === QUOTE) return "a string";
  if (c === 45 || (c >= 48 && c <= 57)) return "a number";
  if (c === 116 || c === 102) return "a boolean";
  if (c === 110) return "null";
  return quoteChar(c);
}

function quoteChar(c: number): string {
  return JSON.stringify(String.fromCharCode(c));
}

function describeJsonType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return "a string";
  if (typeof value === "number") return "a number";
  if (typeof value === "boolean") return "a boolean";
  return typeof value;
}

/**
 * Turns a `JSON.parse` error into a detail for our message, and how many lines into the
 * text the error is (when the engine says where).
 */
function describeJsonError(e: unknown, text: string): { at: number; detail: string } {
  const message = e instanceof Error ? e.message : String(e);
  const m = /at position (\d+)/.exec(message);
  // V8 gives no position for "Unexpected token": find it, or a pretty-printed element's error
  // would be reported on the element's first line.
  const position = m ? Number(m[1]) : syntaxErrorAt(text);
  const at = countLines(text, 0, Math.min(position, text.length));
  const detail = message
    .replace(/ in JSON at position \d+( \(line \d+ column \d+\))?/, "")
    .replace(/, ".*" is not valid JSON$/s, "");
  return { at, detail };
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/**
 * Offset of the first character at which `text` stops being valid JSON (`text.length` when it
 * ends too early, 0 when it is valid). Only called on the error path, on one element or line.
 */
export function syntaxErrorAt(text: string): number {
  const n = text.length;
  let i = 0;
  // What each open container expects next.
  const stack: ("key" | "colon" | "value" | "comma")[] = [];
  const closers: number[] = [];
  const ws = () => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c !== 32 && c !== 9 && c !== 10 && c !== 13) break;
      i++;
    }
  };
  /** Reads a string starting at `i` (a quote); false when it is malformed (i at the fault). */
  const string = (): boolean => {
    i++;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === QUOTE) {
        i++;
        return true;
      }
      if (c < 32) return false;
      if (c === BACKSLASH) {
        const d = text[i + 1];
        if (d === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
            i += 2;
            return false;
          }
          i += 6;
        } else if (d !== undefined && '"\\/bfnrt'.includes(d)) i += 2;
        else {
          i++;
          return false;
        }
      } else i++;
    }
    return false;
  };
  /** Reads a scalar or opens a container; false when none starts at `i`. */
  const value = (): boolean => {
    const c = text.charCodeAt(i);
    if (c === 123 || c === 91) {
      stack.push(c === 123 ? "key" : "value");
      closers.push(c === 123 ? 125 : 93);
      i++;
      ws();
      // An empty container closes at once.
      if (text.charCodeAt(i) === closers[closers.length - 1]) {
        stack.pop();
        closers.pop();
        i++;
      }
      return true;
    }
    if (c === QUOTE) return string();
    for (const word of ["true", "false", "null"]) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return true;
      }
    }
    NUMBER.lastIndex = i;
    if (!NUMBER.test(text)) return false;
    i = NUMBER.lastIndex;
    return true;
  };

  ws();
  if (!value()) return i;
  for (;;) {
    ws();
    if (stack.length === 0) return i < n ? i : 0;
    if (i >= n) return n;
    const top = stack.length - 1;
    const c = text.charCodeAt(i);
    switch (stack[top]) {
      case "key":
        if (c !== QUOTE || !string()) return i;
        stack[top] = "colon";
        break;
      case "colon":
        if (c !== 58) return i;
        i++;
        ws();
        stack[top] = "comma";
        if (!value()) return i;
        break;
      case "value":
        stack[top] = "comma";
        if (!value()) return i;
        break;
      case "comma":
        if (c === closers[top]) {
          stack.pop();
          closers.pop();
          i++;
        } else if (c === 44) {
          i++;
          ws();
          stack[top] = closers[top] === 125 ? "key" : "value";
        } else return i;
        break;
    }
  }
}
