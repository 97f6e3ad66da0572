/**
 * Streaming CSV reader with the physical line of every record.
 *
 * A hand-written parser rather than a library: none of csv-parse, Papa Parse or uDSV reports
 * the line where a record starts, and the fastest one (uDSV) silently folds extra fields of a
 * ragged row into the last column. See `bench/CSV_PARSERS.md` for the measurements.
 *
 * @module
 */

import { RunnerError } from "../errors.ts";
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
const CR = 13;
const QUOTE = 34;

/**
 * Receives each parsed row: its fields, the line it starts on, and a row-level problem
 * (text after a closing quote) if there is one.
 */
export type RowSink = (fields: string[], line: number, problem: string | undefined) => void;

/**
 * Receives the text of a line that holds no quote (without its line break) and the line number;
 * returns false when it did not take the line.
 */
export type LineSink = (text: string, line: number) => boolean;

/** Options of {@linkcode CsvParser}. */
export interface CsvParserOptions {
  /** The file as the user named it, for error messages. */
  path: string;
  /** One character; not a quote, CR or LF. */
  delimiter: string;
  /** Bound on one record's text, in UTF-16 code units (bytes, for ASCII data). */
  maxRecordBytes?: number;
}

/**
 * An incremental RFC 4180 parser over decoded text. Feed it text with {@linkcode parse};
 * it hands complete rows to the sink and returns how much text it consumed, so the caller
 * keeps the rest (a record cut by the end of the chunk) and prepends it to the next chunk.
 *
 * Accepts LF, CRLF and CR line ends, mixed; skips blank lines; keeps a stray quote inside an
 * unquoted field as text. Values are never trimmed or converted.
 *
 * @example
 * const rows: string[][] = [];
 * const p = new CsvParser({ path: "x.csv", delimiter: "," }, (f) => rows.push(f));
 * const used = p.parse('a,b\n1,"x', false); // rows = [["a", "b"]], used = 4
 * p.parse('1,"x' + 'y"\n', true); // rows = [["a", "b"], ["1", "xy"]]
 */
export class CsvParser {
  /** 1-based line where the unconsumed text starts. */
  line = 1;
  /** True when the last `parse` stopped at `maxRows` with complete records still to parse. */
  paused = false;
  /**
   * Optional fast consumer of a whole line without quotes (most lines of most files): returns
   * true when it took the line, false to have it split and passed to the row sink instead.
   * It skips the intermediate array of fields (see `CsvSource`).
   */
  lineSink: LineSink | undefined = undefined;
  readonly #path: string;
  readonly #delimiter: string;
  readonly #delimiterCode: number;
  readonly #max: number;
  readonly #sink: RowSink;

  /**
   * @throws {RunnerError} `invalid_source` for a delimiter that is not one usable character
   */
  constructor(options: CsvParserOptions, sink: RowSink) {
    const d = options.delimiter;
    if (d.length !== 1 || d === '"' || d === "\n" || d === "\r") {
      throw new RunnerError(
        "invalid_source",
        `Invalid CSV delimiter ${
          JSON.stringify(d)
        }: expected one character other than a quote or a line break`,
      );
    }
    this.#path = options.path;
    this.#delimiter = d;
    this.#delimiterCode = d.charCodeAt(0);
    this.#max = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
    this.#sink = sink;
  }

  /**
   * Parses the complete records at the start of `text`.
   *
   * @param text unconsumed text from the last call followed by the new chunk
   * @param final true when no more text follows: the last record may end without a line break
   * @param from where in `text` to start (after an earlier call that paused)
   * @param maxRows stop after this many rows (and set `paused`), to keep batches small
   * @returns where parsing stopped: the rest of `text` starts an incomplete record unless
   *   `paused` is set
   * @throws {RunnerError} `invalid_source` for an unclosed quote (when `final`) or a record
   *   longer than `maxRecordBytes`
   */
  parse(text: string, final: boolean, from = 0, maxRows = Infinity): number {
    const len = text.length;
    const delimiter = this.#delimiter;
    const dc = this.#delimiterCode;
    const max = this.#max;
    const sink = this.#sink;
    let pos = from;
    let line = this.line;
    let rows = 0;
    this.paused = false;
    // Next LF / CR / quote / delimiter at or after the cursor; -1 = none in the rest of the
    // text, so each is searched once per record (or field), not once per character.
    let nLF = -2;
    let nCR = -2;
    let nQ = -2;
    let nD = -2;
    // Line of a quoted field that opens within maxRecordBytes of its record's start but does
    // not close within it: the likely cause of an over-long record.
    let quoteLine = 0;

    outer: while (pos < len) {
      if (rows === maxRows) {
        this.paused = true;
        break;
      }
      let c = text.charCodeAt(pos);
      if (c === LF) {
        pos++;
        line++;
        continue;
      }
      if (c === CR) {
        if (pos + 1 < len) {
          pos += text.charCodeAt(pos + 1) === LF ? 2 : 1;
        } else if (!final) {
          break; // it may be the first half of a CRLF
        } else {
          pos++;
        }
        line++;
        continue;
      }
      if (nLF !== -1 && nLF < pos) nLF = text.indexOf("\n", pos);
      if (nCR !== -1 && nCR < pos) nCR = text.indexOf("\r", pos);
      if (nQ !== -1 && nQ < pos) nQ = text.indexOf('"', pos);
      let eol = nLF === -1 ? nCR : nCR === -1 || nLF < nCR ? nLF : nCR;

      if (nQ === -1 || (eol !== -1 && nQ > eol)) {
        // Fast path: a line without any quote is exactly one record.
        if (eol === -1) {
          if (!final) break;
          eol = len;
        }
        let next = eol + 1;
        if (eol === nCR) {
          if (next < len) {
            if (text.charCodeAt(next) === LF) next++;
          } else if (!final) {
            break;
          }
        }
        if (eol - pos > max) throw this.#tooLong(line, 0);
        const lineText = text.slice(pos, eol);
        const lineSink = this.lineSink;
        if (lineSink === undefined || !lineSink(lineText, line)) {
          sink(lineText.split(delimiter), line, undefined);
        }
        rows++;
        line++;
        pos = next;
        continue;
      }

      // Slow path: field by field.
      const recordLine = line;
      quoteLine = 0;
      const fields: string[] = [];
      let problem: string | undefined;
      let p = pos;
      for (;;) {
        if (p >= len) {
          // The record ended with a delimiter at the end of the text.
          if (!final) {
            line = recordLine;
            break outer;
          }
          fields.push("");
          break;
        }
        c = text.charCodeAt(p);
        let value: string;
        if (c === QUOTE) {
          const start = p + 1;
          let q = start;
          let escaped = false;
          for (;;) {
            q = text.indexOf('"', q);
            if (q === -1 || (q + 1 === len && !final)) {
              if (final) {
                throw sourceError(
                  this.#path,
                  line,
                  "Unclosed quote: the quoted field starting here never ends",
                );
              }
              if (start - pos <= max && (q === -1 || q - pos > max)) quoteLine = line;
              line = recordLine;
              break outer;
            }
            if (text.charCodeAt(q + 1) === QUOTE) {
              escaped = true;
              q += 2;
              continue;
            }
            break;
          }
          if (q - pos > max && start - pos <= max && quoteLine === 0) quoteLine = line;
          value = text.slice(start, q);
          if (escaped) value = value.replaceAll('""', '"');
          if ((nLF !== -1 && nLF < q) || (nCR !== -1 && nCR < q)) {
            line += countLines(text, start, q);
            if (nLF !== -1 && nLF < q) nLF = text.indexOf("\n", q);
            if (nCR !== -1 && nCR < q) nCR = text.indexOf("\r", q);
          }
          p = q + 1;
          c = p < len ? text.charCodeAt(p) : -1;
          if (c !== -1 && c !== dc && c !== LF && c !== CR) {
            // Text after the closing quote: keep it, but reject the row.
            problem ??= `Field ${fields.length + 1} has text after its closing quote`;
            if (nD !== -1 && nD < p) nD = text.indexOf(delimiter, p);
            if (nLF !== -1 && nLF < p) nLF = text.indexOf("\n", p);
            if (nCR !== -1 && nCR < p) nCR = text.indexOf("\r", p);
            eol = nLF === -1 ? nCR : nCR === -1 || nLF < nCR ? nLF : nCR;
            let end = nD !== -1 && (eol === -1 || nD < eol) ? nD : eol;
            if (end === -1) {
              if (!final) {
                line = recordLine;
                break outer;
              }
              end = len;
            }
            value += text.slice(p, end);
            p = end;
          }
        } else {
          if (nD !== -1 && nD < p) nD = text.indexOf(delimiter, p);
          if (nLF !== -1 && nLF < p) nLF = text.indexOf("\n", p);
          if (nCR !== -1 && nCR < p) nCR = text.indexOf("\r", p);
          eol = nLF === -1 ? nCR : nCR === -1 || nLF < nCR ? nLF : nCR;
          let end = nD !== -1 && (eol === -1 || nD < eol) ? nD : eol;
          if (end === -1) {
            if (!final) {
              line = recordLine;
              break outer;
            }
            end = len;
          }
          value = text.slice(p, end);
          p = end;
        }
        fields.push(value);
        if (p >= len) {
          if (!final) {
            line = recordLine;
            break outer;
          }
          break;
        }
        c = text.charCodeAt(p);
        if (c === dc) {
          p++;
          continue;
        }
        // A line break ends the record.
        if (c === CR) {
          if (p + 1 < len) {
            p += text.charCodeAt(p + 1) === LF ? 2 : 1;
          } else if (!final) {
            line = recordLine;
            break outer;
          } else {
            p++;
          }
        } else {
          p++;
        }
        line++;
        break;
      }
      if (p - pos > max) throw this.#tooLong(recordLine, quoteLine);
      sink(fields, recordLine, problem);
      rows++;
      pos = p;
    }

    this.line = line;
    if (!final && !this.paused && len - pos > max) throw this.#tooLong(line, quoteLine);
    return pos;
  }

  #tooLong(line: number, quoteLine: number): RunnerError {
    const limit = describeBytes(this.#max);
    const detail = quoteLine > 0
      ? `the quoted field opened on line ${quoteLine} does not close within it (an unclosed quote?)`
      : "it starts here and does not end within it";
    return sourceError(this.#path, line, `Record is longer than the limit of ${limit}: ${detail}`);
  }
}

/** Options of {@linkcode CsvSource}. */
export interface CsvSourceOptions extends CsvParserOptions {
  /** Size of each read from the file (tests use tiny reads to cut records anywhere). */
  readBytes?: number;
  /**
   * Columns the header must have (those the mappings read). A missing one fails the whole
   * file at its header line, instead of every row quietly getting an empty value.
   */
  requiredColumns?: readonly string[];
}

/**
 * A CSV file as a {@linkcode Source}: the first non-blank record is the header, every later
 * record becomes `{ line, values }` keyed by header name.
 */
export class CsvSource implements Source {
  readonly #options: CsvSourceOptions;
  #columns: readonly string[] = [];

  /**
   * @throws {RunnerError} `invalid_source` for an unusable delimiter
   */
  constructor(options: CsvSourceOptions) {
    // Fail on a bad delimiter now rather than on the first read.
    new CsvParser(options, () => {});
    this.#options = options;
  }

  /** The header's names; empty until the first batch has been produced. */
  columns(): readonly string[] {
    return this.#columns;
  }

  /** Records one at a time, in file order. */
  records(): AsyncIterable<SourceRecord> {
    return flatten(() => this.batches());
  }

  /**
   * Records in batches of at most 1024 (never empty), in file order: the same records as
   * {@linkcode records}, for a consumer that works a batch at a time.
   *
   * @throws {RunnerError} `invalid_source` naming file and line for: a missing header, an
   *   empty or repeated column name, a required column missing from the header, an unclosed
   *   quote, a NUL byte, invalid UTF-8, a record over `maxRecordBytes`
   */
  async *batches(): AsyncGenerator<SourceRecord[]> {
    const { path } = this.#options;
    let header: string[] | undefined;
    let build: (fields: string[]) => Record<string, string> = () => ({});
    let out: SourceRecord[] = [];

    const sink: RowSink = (fields, line, problem) => {
      if (header === undefined) {
        header = checkHeader(path, fields, line, problem, this.#options.requiredColumns ?? []);
        build = recordBuilder(header);
        this.#columns = header;
        const read = lineReader(header, this.#options.delimiter);
        if (read !== undefined) {
          parser.lineSink = (text, line) => {
            const values = read(text);
            if (values === undefined) return false;
            out.push({ line, values });
            return true;
          };
        }
        return;
      }
      if (fields.length !== header.length) {
        const n = header.length;
        const values: Record<string, string> = {};
        for (let i = 0; i < n && i < fields.length; i++) setValue(values, header[i]!, fields[i]!);
        out.push({
          line,
          values,
          error: problem ?? `Row has ${fields.length} fields, the header has ${n}`,
        });
      } else if (problem === undefined) {
        out.push({ line, values: build(fields) });
      } else {
        out.push({ line, values: build(fields), error: problem });
      }
    };

    const parser = new CsvParser(this.#options, sink);
    try {
      const file = await openFile(path);
      let tail = "";
      for await (const chunk of readText(file, this.#options.readBytes ?? DEFAULT_READ_BYTES)) {
        let text = chunk.text;
        const nul = text.indexOf("\0");
        if (nul !== -1) text = text.slice(0, nul);
        const buffer = tail.length > 0 ? tail + text : text;
        let pos = 0;
        do {
          pos = parser.parse(buffer, false, pos, BATCH_ROWS);
          if (out.length > 0) {
            yield out;
            out = [];
          }
        } while (parser.paused);
        tail = buffer.slice(pos);
        if (nul !== -1 || chunk.invalid) {
          const line = parser.line + countLines(tail);
          throw sourceError(
            path,
            line,
            nul !== -1
              ? "File contains a NUL byte: it is not a text file (UTF-16 or binary?)"
              : "Invalid UTF-8: the file must be saved as UTF-8",
          );
        }
      }
      let pos = 0;
      do {
        pos = parser.parse(tail, true, pos, BATCH_ROWS);
        if (out.length > 0) {
          yield out;
          out = [];
        }
      } while (parser.paused);
      if (header === undefined) {
        throw sourceError(path, 1, "File is empty: expected a header row");
      }
    } catch (e) {
      // Hand over the records read before the problem, whatever the read size.
      if (out.length > 0) yield out;
      throw e;
    }
  }
}

/**
 * Compiles a function that turns a row's fields into an object keyed by the header. One
 * object literal per header gives every record the same shape, which makes building them
 * and reading them later cheaper than adding keys one at a time.
 */
function recordBuilder(header: string[]): (fields: string[]) => Record<string, string> {
  const props = header.map((name, i) => `${literalKey(name)}: f[${i}]`);
  return new Function("f", `return { ${props.join(", ")} };`) as (
    fields: string[],
  ) => Record<string, string>;
}

/** A header name as a key of a generated object literal. */
function literalKey(name: string): string {
  // A computed key, so "__proto__" is an own property and not the prototype.
  return name === "__proto__" ? `[${JSON.stringify(name)}]` : JSON.stringify(name);
}

/**
 * Compiles a function that reads a line without quotes straight into a record: one `indexOf`
 * and one `slice` per field, no array of fields in between (about twice as fast as `split` then
 * `recordBuilder`). It returns `undefined` when the line does not have exactly one field per
 * column, so the caller reports the ragged row as usual; every search stays within the line.
 * Not used for a single column, where `split` has nothing to save.
 */
function lineReader(
  header: string[],
  delimiter: string,
): ((line: string) => Record<string, string> | undefined) | undefined {
  const n = header.length;
  if (n < 2) return undefined;
  const d = JSON.stringify(delimiter);
  const body = ["let s = 0, i;"];
  for (let k = 0; k < n - 1; k++) {
    body.push(
      `i = l.indexOf(${d}, s); if (i === -1) return undefined; const f${k} = l.slice(s, i); s = i + 1;`,
    );
  }
  body.push(`if (l.indexOf(${d}, s) !== -1) return undefined; const f${n - 1} = l.slice(s);`);
  body.push(`return { ${header.map((name, k) => `${literalKey(name)}: f${k}`).join(", ")} };`);
  return new Function("l", body.join("\n")) as (
    line: string,
  ) => Record<string, string> | undefined;
}

function setValue(values: Record<string, string>, key: string, value: string): void {
  if (key === "__proto__") {
    Object.defineProperty(values, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else {
    values[key] = value;
  }
}

function checkHeader(
  path: string,
  fields: string[],
  line: number,
  problem: string | undefined,
  required: readonly string[],
): string[] {
  if (problem !== undefined) throw sourceError(path, line, `Invalid header: ${problem}`);
  const seen = new Map<string, number>();
  for (let i = 0; i < fields.length; i++) {
    const name = fields[i]!;
    if (name === "") throw sourceError(path, line, `Column ${i + 1} has an empty name`);
    const first = seen.get(name);
    if (first !== undefined) {
      throw sourceError(
        path,
        line,
        `Column ${i + 1} repeats the name ${JSON.stringify(name)}: column ${first} has it too`,
      );
    }
    seen.set(name, i + 1);
  }
  const missing = required.filter((name) => !seen.has(name));
  if (missing.length > 0) {
    const list = missing.map((m) => JSON.stringify(m)).join(", ");
    const near = missing.map((m) => {
      const k = m.trim().toLowerCase();
      return fields.find((f) => f.trim().toLowerCase() === k);
    }).filter((f) => f !== undefined);
    const hint = near.length > 0
      ? `: did you mean ${near.map((f) => JSON.stringify(f)).join(", ")}?`
      : fields.length <= 12
      ? `: it has ${fields.map((f) => JSON.stringify(f)).join(", ")}`
      : "";
    throw sourceError(
      path,
      line,
      `${missing.length === 1 ? "Column" : "Columns"} ${list} mapped in the pipeline ${
        missing.length === 1 ? "is" : "are"
      } not in the header${hint}`,
    );
  }
  return fields;
}
