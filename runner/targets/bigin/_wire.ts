/**
 * Bigin's wire format: a batch as one CSV in a ZIP (datetimes in the offset form Zoho reads,
 * dates described in the job's field mappings), and the result ZIP read back as text.
 *
 * @module
 */
import { RunnerError } from "../../errors.ts";
import type { MappedRow } from "../../mapping/mod.ts";
import { csvCell } from "../_csv.ts";
import { type CsvRowsWriter, csvRowsWriter, type PackSteps } from "../_wire.ts";
import { unzipOne, ZipWriter } from "../_zip.ts";
import { textPieces } from "../_csv.ts";
import type { RowShape } from "../types.ts";
import { BIGIN_MAX_COLUMNS, BIGIN_MAX_RESULT_BYTES, BIGIN_MAX_ZIP_BYTES } from "./_schema.ts";

/**
 * Rewrites a runner datetime (`yyyy-MM-ddTHH:mm:ssZ`, UTC) into the ISO 8601 form Zoho documents
 * for Date/Time columns of bulk write files, `yyyy-MM-ddTHH:mm:ss±HH:mm`. Other values pass as is.
 *
 * @example
 * toZohoDateTime("2024-01-15T10:30:00Z") // "2024-01-15T10:30:00+00:00"
 */
export function toZohoDateTime(value: string): string {
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(value)
    ? `${value.slice(0, -1)}+00:00`
    : value;
}

/** One entry of a job's `field_mappings`. */
export interface BiginFieldMapping {
  api_name: string;
  index: number;
  format?: string;
}

/**
 * The `field_mappings` of a job: each CSV column by index, with the format of date columns.
 * Datetime columns carry no `format`: they are written in ISO 8601 with an offset (see
 * {@link toZohoDateTime}), which Zoho reads without one.
 */
export function fieldMappings(fields: readonly string[], shape: RowShape): BiginFieldMapping[] {
  const types = new Map(shape.fields.map((f) => [f.name, f.type]));
  return fields.map((name, index) =>
    types.get(name) === "date"
      ? { api_name: name, index, format: "yyyy-MM-dd" }
      : { api_name: name, index }
  );
}

/** A cell as `toCsv` wrote it, unquoted: what the result file should echo back. */
export function csvText(v: MappedRow[string] | undefined): string {
  if (v === null || v === undefined) return "";
  return typeof v === "string" ? v : String(v);
}

/** A batch's upload file being packed: its CSV written into a ZIP as the rows come. */
export interface BiginPackState {
  name: string;
  zip: ZipWriter;
  write: CsvRowsWriter;
  enc: TextEncoder;
}

/**
 * Packs a batch as the upload file, as it fills: one CSV named after the batch (datetimes in the
 * offset form Zoho reads), in a ZIP. The CSV is kept in pieces until the batch is full, then
 * deflated in one call of native zlib (a Bigin batch is at most 25,000 rows); the archive is kept
 * as its pieces in a `Blob` (a form's file must be one), about a fifth of the CSV's size.
 *
 * @param batchSize the configured batch size, for the hint when the ZIP is too large
 * @throws {RunnerError} `api` when the batch has more columns (`begin`) or bytes (`end`) than
 *   Bigin takes
 */
export function biginPackSteps(
  shape: RowShape,
  batchSize: number,
): PackSteps<BiginPackState, { name: string; zip: Blob }> {
  const datetimeFields = shape.fields.filter((f) => f.type === "datetime").map((f) => f.name);
  const zoho = (v: MappedRow[string]) => typeof v === "string" ? toZohoDateTime(v) : v;
  return {
    begin(batch) {
      if (batch.fields.length > BIGIN_MAX_COLUMNS) {
        throw new RunnerError(
          "api",
          `Cannot upload batch ${
            batch.index + 1
          }: Bigin takes at most ${BIGIN_MAX_COLUMNS} columns, but ${batch.fields.length} fields are mapped`,
        );
      }
      const name = `batch-${batch.index + 1}`;
      const state: BiginPackState = {
        name,
        zip: new ZipWriter(`${name}.csv`),
        write: csvRowsWriter(
          batch.fields,
          ",",
          Object.fromEntries(datetimeFields.map((f) => [f, zoho])),
        ),
        enc: new TextEncoder(),
      };
      state.zip.push(state.enc.encode(batch.fields.map((f) => csvCell(f)).join(",") + "\r\n"));
      return state;
    },
    add(state, rows) {
      if (rows.length > 0) state.zip.push(state.enc.encode(state.write(rows, 0, rows.length)));
    },
    end(state, batch) {
      const zip = state.zip.end();
      if (zip.size > BIGIN_MAX_ZIP_BYTES) {
        const fits = Math.max(
          1,
          Math.floor(batch.rows.length * BIGIN_MAX_ZIP_BYTES / zip.size * 0.9),
        );
        throw new RunnerError(
          "api",
          `Cannot upload batch ${batch.index + 1}: its ZIP is ${
            (zip.size / 1048576).toFixed(1)
          } MB, over Bigin's 25 MB limit: lower target.batch_size (now ${batchSize}) to about ${fits}`,
        );
      }
      return {
        name: state.name,
        zip: new Blob(zip.parts as Uint8Array<ArrayBuffer>[], { type: "application/zip" }),
      };
    },
  };
}

/**
 * The result CSV out of a job's result ZIP, never inflating more than Bigin's result limit, as
 * text in pieces (`textPieces`): no string of the whole file, which would be a large object.
 *
 * @throws {RunnerError} `transport` when the archive is unreadable or too large
 */
export function resultText(zip: Uint8Array, jobId: string): Iterable<string> {
  const { data } = unzipOne(zip, BIGIN_MAX_RESULT_BYTES, `the result of Bigin job "${jobId}"`);
  return textPieces(data);
}
