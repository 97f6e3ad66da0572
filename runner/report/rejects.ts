/**
 * The rejects file: every row that did not load, with its values exactly as they were read, plus
 * `source_line`, `key`, `error` and, for records that could not be parsed, `raw` (the line's
 * text). Ready to fix and reload: nothing is added to a value. For spreadsheets,
 * `output.rejects_spreadsheet: true` also writes `<name>.spreadsheet.csv`, where cells a
 * spreadsheet would run as formulas are neutralised with a leading apostrophe.
 *
 * Rows go to `<path>.part` first and the CSV is written on close, so that a column that first
 * appears in a late JSON record is still a column of every row.
 *
 * @module
 */
import { csvCell } from "../util/csv.ts";
import { writeAll } from "../util/fs.ts";

const FORMULA_START = /^[=+\-@\t\r]/;
const PLAIN_NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Neutralises a cell a spreadsheet would run as a formula (`=HYPERLINK(...)`, `@SUM`, ...) by
 * prefixing an apostrophe. Plain numbers such as `-12.5` are left alone.
 */
export function neutralise(cell: string): string {
  return FORMULA_START.test(cell) && !PLAIN_NUMBER.test(cell) ? `'${cell}` : cell;
}

/** The spreadsheet copy's path: `out/rejects.csv` -> `out/rejects.spreadsheet.csv`. */
export function spreadsheetPath(path: string): string {
  const m = /^(.*?)(\.[^./\\]*)?$/.exec(path)!;
  return `${m[1]}.spreadsheet${m[2] ?? ".csv"}`;
}

function text(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** A source record's values, by column. */
export type SourceValues = Readonly<Record<string, unknown>>;

function textOf(values: SourceValues): Record<string, string> {
  const row: Record<string, string> = {};
  for (const [c, v] of Object.entries(values)) row[c] = text(v);
  return row;
}

/** The columns the runner adds after the input's own. */
const ADDED = ["source_line", "key", "error"] as const;

/** Options of {@linkcode RejectsWriter}. */
export interface RejectsOptions {
  /** The key of a source record, for the `key` column. */
  keyOf?: (values: Readonly<Record<string, unknown>>) => string | undefined;
  /** Also write the formula-safe copy for spreadsheets. */
  spreadsheet?: boolean;
}

/** Writes rejected rows as CSV, creating the file on close. */
export class RejectsWriter {
  readonly path: string;
  readonly #getColumns: () => readonly string[];
  readonly #options: RejectsOptions;
  readonly #columns: string[] = [];
  readonly #known = new Set<string>();
  #raw = false;
  #tmp: { path: string; file: Deno.FsFile } | undefined;
  #buf: string[] = [];
  #size = 0;
  #rows = 0;
  #pending = new Set<number>();
  #failure: string | undefined;
  /** Why `fill` found no values, when it could not read the source. */
  #unread: string | undefined;
  readonly #filled = new Map<number, SourceValues>();
  readonly #enc = new TextEncoder();

  /**
   * @param path where to write
   * @param columns the input's columns (a CSV header), asked for on each write; a JSON record's
   *   own properties are added as they appear
   */
  constructor(path: string, columns: () => readonly string[], options: RejectsOptions = {}) {
    this.path = path;
    this.#getColumns = columns;
    this.#options = options;
  }

  /** Rows written so far. */
  get rows(): number {
    return this.#rows;
  }

  /** The spreadsheet copy's path, when one is written. */
  get spreadsheet(): string | undefined {
    return this.#options.spreadsheet ? spreadsheetPath(this.path) : undefined;
  }

  #column(c: string): void {
    if (this.#known.has(c)) return;
    this.#known.add(c);
    this.#columns.push(c);
  }

  /** Adds one rejected record; `raw` is the text of a record that could not be parsed. */
  write(
    values: Readonly<Record<string, unknown>>,
    line: number | undefined,
    error: string,
    raw?: string,
  ): void {
    for (const c of this.#getColumns()) this.#column(c);
    for (const c of Object.keys(values)) this.#column(c);
    if (raw !== undefined) this.#raw = true;
    const key = this.#options.keyOf?.(values);
    // One JSON object a line: the final columns are known only on close.
    this.#push(JSON.stringify([line ?? "", key ?? "", error, raw ?? "", textOf(values)]));
    this.#rows++;
  }

  /**
   * Adds a row that failed remotely, known by its source line: its values are read from the
   * source when the run ends (`fill`), so a batch in flight keeps no source record. The row
   * keeps its place in the file.
   *
   * @param key the key as sent, for a line the source no longer has
   */
  writeLater(line: number, error: string, key?: string): void {
    this.#pending.add(line);
    this.#push(JSON.stringify([line, key ?? "", error, "", null]));
    this.#rows++;
  }

  /** Lines written with `writeLater` whose values `fill` has not read yet. */
  get pending(): ReadonlySet<number> {
    return this.#pending;
  }

  /**
   * Reads the values of the rows written with `writeLater`, in one pass over the source, before
   * `close`.
   *
   * @param read the source records at these lines, by line
   */
  async fill(
    read: (lines: ReadonlySet<number>) => Promise<ReadonlyMap<number, SourceValues>>,
  ): Promise<void> {
    if (this.#pending.size === 0) return;
    let found: ReadonlyMap<number, SourceValues>;
    try {
      found = await read(this.#pending);
    } catch (err) {
      // The rows stay in the file, with their line, key and error; only their values are lost.
      this.#unread = `the source could not be read again: ${
        err instanceof Error ? err.message : String(err)
      }`;
      return;
    }
    for (const values of found.values()) for (const c of Object.keys(values)) this.#column(c);
    for (const [line, values] of found) this.#filled.set(line, values);
    this.#pending = new Set();
  }

  #push(line: string): void {
    this.#buf.push(line);
    this.#size += line.length;
    if (this.#size > 64 * 1024) this.flush();
  }

  /**
   * Why the file could not be written (the disk filled, the folder went away), once a write
   * failed: the run goes on, rows are still counted, and the run reports this at its end.
   */
  get failure(): string | undefined {
    return this.#failure;
  }

  /** Writes what is buffered to the temporary file; a failure is kept (see `failure`). */
  flush(): void {
    if (this.#buf.length === 0) return;
    try {
      if (this.#failure === undefined) this.#flush();
    } catch (err) {
      this.#failure = err instanceof Error ? err.message : String(err);
    }
    this.#buf = [];
    this.#size = 0;
  }

  #flush(): void {
    if (!this.#tmp) {
      // Beside the output: the run task may write only there (under out/).
      const path = `${this.path}.part`;
      const slash = path.lastIndexOf("/");
      if (slash > 0) Deno.mkdirSync(path.slice(0, slash), { recursive: true });
      this.#tmp = { path, file: Deno.openSync(path, createOpts) };
    }
    writeAll(this.#tmp.file, this.#enc.encode(this.#buf.join("\n") + "\n"));
  }

  /**
   * Writes the CSV (header-only when nothing was rejected) and removes the temporary file. A
   * failure is kept (see `failure`), never thrown: the run's summary must still be written.
   */
  close(): void {
    this.flush();
    try {
      if (this.#failure === undefined) return this.#close();
    } catch (err) {
      this.#failure = err instanceof Error ? err.message : String(err);
    }
    // Not a half-written file beside the outputs: nothing rather than part of the rows.
    if (this.#tmp) {
      const tmp = this.#tmp;
      this.#tmp = undefined;
      try {
        tmp.file.close();
        Deno.removeSync(tmp.path);
      } catch {
        // Closed already, or its folder is gone: nothing left to tidy.
      }
    }
  }

  #close(): void {
    for (const c of this.#getColumns()) this.#column(c);
    const slash = this.path.lastIndexOf("/");
    if (slash > 0) Deno.mkdirSync(this.path.slice(0, slash), { recursive: true });
    const sinks = [{ file: Deno.openSync(this.path, createOpts), safe: (s: string) => s }];
    const sheet = this.spreadsheet;
    if (sheet) sinks.push({ file: Deno.openSync(sheet, createOpts), safe: neutralise });
    const header = [...this.#columns, ...ADDED, ...(this.#raw ? ["raw"] : [])];
    const out = sinks.map(() => [] as string[]);
    const emit = (cells: string[], force = false) => {
      sinks.forEach((s, i) => {
        out[i]!.push(cells.map((c) => csvCell(s.safe(c))).join(","));
        if (force || out[i]!.length >= 512) {
          writeAll(s.file, this.#enc.encode(out[i]!.join("\r\n") + "\r\n"));
          out[i] = [];
        }
      });
    };
    emit(header);
    if (this.#tmp) {
      this.#tmp.file.close();
      const body = Deno.readTextFileSync(this.#tmp.path);
      Deno.removeSync(this.#tmp.path);
      this.#tmp = undefined;
      let start = 0;
      for (;;) {
        const end = body.indexOf("\n", start);
        if (end < 0) break;
        const [line, sent, message, raw, stored] = JSON.parse(body.slice(start, end)) as [
          number | "",
          string,
          string,
          string,
          Record<string, string> | null,
        ];
        start = end + 1;
        let row = stored ?? {};
        let key = sent;
        let error = message;
        if (stored === null) {
          // Written with writeLater: the values come from the source, read by `fill`.
          const values = typeof line === "number" ? this.#filled.get(line) : undefined;
          const now = values && this.#options.keyOf?.(values);
          if (values && (sent === "" || now === undefined || now === sent)) {
            row = textOf(values);
            key = now ?? sent;
          } else {
            const why = this.#unread ??
              (values
                ? `line ${line} of the source changed during the run`
                : "the source no longer has this line");
            error += ` (values not shown: ${why})`;
          }
        }
        const cells = this.#columns.map((c) => row[c] ?? "");
        cells.push(String(line), key, error);
        if (this.#raw) cells.push(raw);
        emit(cells);
      }
    }
    sinks.forEach((s, i) => {
      if (out[i]!.length > 0) writeAll(s.file, this.#enc.encode(out[i]!.join("\r\n") + "\r\n"));
      s.file.close();
    });
  }
}

const createOpts = { write: true, create: true, truncate: true } as const;
