/**
 * Sources: stream records out of CSV, JSON and JSON Lines files with their source line numbers.
 *
 * Memory stays flat whatever the file size: the file is read in chunks, decoded as strict
 * UTF-8, and records are produced as they complete. Problems that make the whole file
 * unreadable throw `RunnerError("invalid_source")` with `file:line: Message`; problems with
 * one record (a ragged CSV row, a bad JSON line) come back as that record's `error`.
 *
 * @example
 * const source = openSource({ path: "data/opps.csv", format: "csv", delimiter: "," });
 * for await (const record of source.records()) {
 *   if (record.error) console.log(`line ${record.line}: ${record.error}`);
 * }
 *
 * @module
 */

import { CsvSource } from "./csv.ts";
import { JsonlSource, JsonSource } from "./json.ts";

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

/**
 * Opens a source file for streaming. Nothing is read until `records()` (or `batches()`) is
 * iterated; each iteration reads the file afresh.
 *
 * @param options path, format and (for CSV) delimiter
 * @returns the source
 * @throws {RunnerError} `invalid_source` for a CSV delimiter that is not one character other
 *   than a quote or a line break; iterating throws it for an unreadable file (see the
 *   module docs)
 */
export function openSource(options: SourceOptions): BatchedSource {
  const { path, format, maxRecordBytes, readBytes } = options;
  switch (format) {
    case "csv":
      return new CsvSource({
        path,
        delimiter: options.delimiter,
        maxRecordBytes,
        readBytes,
        requiredColumns: options.requiredColumns,
      });
    case "json":
      return new JsonSource({ path, maxRecordBytes, readBytes });
    case "jsonl":
      return new JsonlSource({ path, maxRecordBytes, readBytes });
  }
}

/**
 * Guesses a source format from the file name's extension (case-insensitive).
 *
 * @example
 * formatFromPath("data/Opps.CSV") // "csv"
 * formatFromPath("data/events.ndjson") // "jsonl"
 * formatFromPath("data/notes.md") // undefined
 */
export function formatFromPath(path: string): "csv" | "json" | "jsonl" | undefined {
  const dot = path.lastIndexOf(".");
  const slash = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  if (dot <= slash + 1) return undefined;
  switch (path.slice(dot + 1).toLowerCase()) {
    case "csv":
    case "tsv":
    case "txt":
      return "csv";
    case "json":
      return "json";
    case "jsonl":
    case "ndjson":
      return "jsonl";
    default:
      return undefined;
  }
}
