/**
 * Sources: stream records out of CSV, JSON and JSON Lines files with their source line numbers.
 * (Interface fixed here; implementation in progress.)
 *
 * @module
 */

/** One record read from a source file. */
export interface SourceRecord {
  /** 1-based line of the file where the record starts (a CSV header is line 1). */
  line: number;
  /** Column/property name -> value (CSV values are strings). */
  values: Record<string, unknown>;
  /** A record-level problem (e.g. a ragged CSV row); the record is rejected with this message. */
  error?: string;
}

/** What `openSource` needs to know. */
export interface SourceOptions {
  /** Absolute or cwd-relative path of the file. */
  path: string;
  format: "csv" | "json" | "jsonl";
  /** CSV only. */
  delimiter: string;
}

/** An open source: its columns (CSV header, or keys seen in the first JSON record) and records. */
export interface Source {
  /** Columns in file order; for CSV known once `records()` has yielded its first record (or ended). */
  columns(): readonly string[];
  records(): AsyncIterable<SourceRecord>;
}
