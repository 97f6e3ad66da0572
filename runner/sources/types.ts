/**
 * The types every source shares. They live apart from `mod.ts` so the readers (`csv.ts`,
 * `json.ts`) can implement them without importing the module that imports them.
 *
 * @module
 */

/** One record read from a source file. */
export interface SourceRecord {
  /** 1-based line of the file where the record starts (a CSV header is line 1). */
  line: number;
  /**
   * Column/property name -> value (CSV values are strings). For a ragged CSV row, the fields
   * that have a column; for a JSON Lines line that is not an object, empty.
   */
  values: Record<string, unknown>;
  /** A record-level problem (e.g. a ragged CSV row); the record is rejected with this message. */
  error?: string;
  /** The line's text, set only for a JSON Lines line that could not be read as an object. */
  raw?: string;
}

/** What `openSource` needs to know. */
export interface SourceOptions {
  /** Absolute or cwd-relative path of the file. */
  path: string;
  format: "csv" | "json" | "jsonl";
  /** CSV only. */
  delimiter: string;
  /**
   * Bound on one record's text (a CSV record, a JSON element, a JSON Lines line) so a runaway
   * quote or a huge line fails instead of filling memory. Counted in UTF-16 code units of the
   * decoded text, which equals bytes for ASCII. Default 16 MiB.
   */
  maxRecordBytes?: number;
  /** Size of each read from the file. Default 1 MiB; tests use tiny reads. */
  readBytes?: number;
  /**
   * CSV only: columns the header must have (the mappings' source columns). A header without
   * one fails the file at its header line rather than loading every row with that field empty.
   */
  requiredColumns?: readonly string[];
}

/** An open source: its columns (CSV header, or keys seen in the first JSON record) and records. */
export interface Source {
  /** Columns in file order; for CSV known once `records()` has yielded its first record (or ended). */
  columns(): readonly string[];
  records(): AsyncIterable<SourceRecord>;
}

/**
 * A source that can also hand out its records in batches of at most 1024. The records and
 * their order are the same as from `records()`, which is only slightly slower (one resolved
 * promise per record); a consumer that works a batch at a time can take them as they come.
 */
export interface BatchedSource extends Source {
  /** Records in file order, in non-empty batches. */
  batches(): AsyncIterable<SourceRecord[]>;
}
