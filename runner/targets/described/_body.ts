/**
 * Building a request's body from its declaration: a JSON template, or the batch's rows as CSV or
 * a JSON array, optionally zipped and sent as one file of a multipart form.
 *
 * @module
 */
import { RunnerError } from "../../errors.ts";
import type { MappedRow, Value } from "../../mapping/mod.ts";
import { csvCell } from "../_csv.ts";
import { zipOne } from "../_zip.ts";
import type { Batch } from "../types.ts";
import { render, renderJson, type Scope } from "./_template.ts";
import type { RequestDecl } from "./schema.ts";

/** A body ready to send. */
export interface BuiltBody {
  body: BodyInit;
  /** Content type to send, unless the request's headers name one (undefined for multipart). */
  contentType?: string;
  /** Size of the payload (before multipart framing), for the bytes-per-job limit. */
  bytes: number;
}

type CsvDecl = NonNullable<NonNullable<RequestDecl["body"]>["csv"]>;

function quoted(v: Value | undefined): string {
  const s = v === null || v === undefined ? "" : typeof v === "string" ? v : String(v);
  return `"${s.replaceAll('"', '""')}"`;
}

/**
 * Writes rows as CSV. Newlines inside values stay as they are (quoted): only the record
 * terminator follows `line_ending`, as Salesforce requires.
 *
 * @throws {RunnerError} `api` when the line ending is neither LF nor CRLF
 */
export function writeCsv(
  fields: readonly string[],
  rows: readonly MappedRow[],
  decl: CsvDecl,
  scope: Scope,
): string {
  const ending = render(decl.line_ending, scope).toUpperCase();
  if (ending !== "LF" && ending !== "CRLF") {
    throw new RunnerError("api", `Cannot write CSV: line ending "${ending}" is not LF or CRLF`);
  }
  const eol = ending === "LF" ? "\n" : "\r\n";
  const cell = decl.quoting === "always"
    ? quoted
    : (v: Value | undefined) => csvCell(v, decl.delimiter);
  const lines: string[] = [];
  if (decl.header) lines.push(fields.map((f) => cell(f)).join(decl.delimiter));
  for (const row of rows) lines.push(fields.map((f) => cell(row[f])).join(decl.delimiter));
  return lines.join(eol) + eol;
}

/** A batch's rows as a body declares them (CSV or a JSON array), before any zip or form. */
export interface RowsData {
  data: Uint8Array;
  contentType: string;
}

/**
 * The rows part of a body that declares one (`csv` or `json_rows`), or undefined for other
 * bodies. `Target.pack` calls it ahead of the batch's turn.
 */
export function rowsData(
  decl: RequestDecl["body"],
  batch: Batch,
  scope: Scope,
): RowsData | undefined {
  const enc = new TextEncoder();
  if (decl?.csv) {
    return {
      data: enc.encode(writeCsv(batch.fields, batch.rows, decl.csv, scope)),
      contentType: "text/csv",
    };
  }
  if (decl?.json_rows) {
    const p = decl.json_rows.property;
    return {
      data: enc.encode(JSON.stringify(p ? { [p]: batch.rows } : batch.rows)),
      contentType: "application/json",
    };
  }
  return undefined;
}

/**
 * Builds the body a request declares, or `undefined` when it declares none.
 *
 * @param packed the rows part, when it was built ahead (`rowsData`)
 */
export function buildBody(
  decl: RequestDecl["body"],
  batch: Batch | undefined,
  scope: Scope,
  packed?: RowsData,
): BuiltBody | undefined {
  if (!decl) return undefined;
  const enc = new TextEncoder();
  let data: Uint8Array;
  let contentType: string;
  if (decl.csv || decl.json_rows) {
    if (!batch) throw new RunnerError("internal", "A rows body needs a batch");
    ({ data, contentType } = packed ?? rowsData(decl, batch, scope)!);
  } else if (decl.json !== undefined) {
    data = enc.encode(JSON.stringify(renderJson(decl.json, scope)));
    contentType = "application/json";
  } else {
    return undefined;
  }
  if (decl.zip) {
    data = zipOne(render(decl.zip.entry, scope), data);
    contentType = "application/zip";
  }
  const bytes = data.length;
  if (decl.multipart) {
    const form = new FormData();
    form.append(
      decl.multipart.field,
      new Blob([data as Uint8Array<ArrayBuffer>], { type: contentType }),
      render(decl.multipart.file_name, scope),
    );
    return { body: form, bytes };
  }
  return { body: data as Uint8Array<ArrayBuffer>, contentType, bytes };
}
