/**
 * The rejects file: every row that did not load, in the input's own columns plus `source_line`
 * and `error`, so a person can fix the rows in a spreadsheet and feed the file back.
 *
 * @module
 */
import { csvCell } from "../util/csv.ts";

const FORMULA_START = /^[=+\-@\t\r]/;
const PLAIN_NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Neutralises a cell a spreadsheet would run as a formula (`=HYPERLINK(...)`, `@SUM`, ...) by
 * prefixing an apostrophe. Plain numbers such as `-12.5` are left alone.
 */
export function neutralise(cell: string): string {
  return FORMULA_START.test(cell) && !PLAIN_NUMBER.test(cell) ? `'${cell}` : cell;
}

function text(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** Writes rejected rows as CSV, creating the file on first use. */
export class RejectsWriter {
  readonly path: string;
  #columns: readonly string[] | undefined;
  #file: Deno.FsFile | undefined;
  #buf: string[] = [];
  #size = 0;
  #rows = 0;
  readonly #enc = new TextEncoder();
  readonly #getColumns: () => readonly string[];

  /**
   * @param path where to write
   * @param columns the input's columns, asked for on the first write (a CSV header is known by then)
   */
  constructor(path: string, columns: () => readonly string[]) {
    this.path = path;
    this.#getColumns = columns;
  }

  /** Rows written so far. */
  get rows(): number {
    return this.#rows;
  }

  #open(): void {
    if (this.#file) return;
    this.#columns = [...this.#getColumns()];
    const slash = this.path.lastIndexOf("/");
    if (slash > 0) Deno.mkdirSync(this.path.slice(0, slash), { recursive: true });
    this.#file = Deno.openSync(this.path, { write: true, create: true, truncate: true });
    this.#push(
      [...this.#columns, "source_line", "error"].map((c) => csvCell(neutralise(c))).join(","),
    );
  }

  #push(line: string): void {
    this.#buf.push(line);
    this.#size += line.length;
    if (this.#size > 64 * 1024) this.flush();
  }

  /** Adds one rejected record. */
  write(values: Readonly<Record<string, unknown>>, line: number | undefined, error: string): void {
    this.#open();
    const cells = this.#columns!.map((c) => csvCell(neutralise(text(values[c]))));
    cells.push(line === undefined ? "" : String(line), csvCell(neutralise(error)));
    this.#push(cells.join(","));
    this.#rows++;
  }

  /** Writes what is buffered. */
  flush(): void {
    if (!this.#file || this.#buf.length === 0) return;
    const data = this.#enc.encode(this.#buf.join("\r\n") + "\r\n");
    let off = 0;
    while (off < data.length) off += this.#file.writeSync(data.subarray(off));
    this.#buf = [];
    this.#size = 0;
  }

  /** Flushes and closes; creates a header-only file when nothing was rejected. */
  close(): void {
    this.#open();
    this.flush();
    this.#file!.close();
  }
}
