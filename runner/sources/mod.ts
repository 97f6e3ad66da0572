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
import type { BatchedSource, SourceOptions } from "./types.ts";

export type { BatchedSource, Source, SourceOptions, SourceRecord } from "./types.ts";

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
