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
import type { PackSteps } from "../_wire.ts";
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

/** A batch's rows as a body declares them (CSV or a JSON array), before any zip or form. */
export interface RowsData {
  data: Uint8Array;
  contentType: string;
}

/** A rows body being built by {@link rowsSteps}. */
export interface RowsState {
  parts: Uint8Array[];
  bytes: number;
  rows: number;
  enc: TextEncoder;
  /** CSV: writes rows as lines. */
  lines?: (rows: readonly MappedRow[]) => string;
  /** JSON: the wrapping property, if any. */
  property?: string;
}

/**
 * How the rows body of `decl` (`csv` or `json_rows`) is built piece by piece (see
 * `Target.pack`): CSV (newlines inside values stay as they are, quoted: only the record
 * terminator follows `line_ending`, as Salesforce requires) or `JSON.stringify` of the rows.
 *
 * @param scopeOf the scope for a batch's templates (`begin` throws when one needs a value not
 *   known yet, such as a job's)
 */
export function rowsSteps(
  decl: NonNullable<RequestDecl["body"]>,
  scopeOf: (batch: Batch) => Scope,
): PackSteps<RowsState, RowsData> {
  const push = (state: RowsState, text: string) => {
    const bytes = state.enc.encode(text);
    state.parts.push(bytes);
    state.bytes += bytes.length;
  };
  return {
    begin(batch) {
      const state: RowsState = { parts: [], bytes: 0, rows: 0, enc: new TextEncoder() };
      if (decl.csv) {
        const csv = decl.csv;
        const eol = lineEnding(csv, scopeOf(batch));
        const cell = csv.quoting === "always"
          ? quoted
          : (v: Value | undefined) => csvCell(v, csv.delimiter);
        const fields = batch.fields;
        state.lines = (rows) => {
          let out = "";
          for (const row of rows) out += fields.map((f) => cell(row[f])).join(csv.delimiter) + eol;
          return out;
        };
        if (csv.header) push(state, fields.map((f) => cell(f)).join(csv.delimiter) + eol);
      } else if (decl.json_rows) {
        if (decl.json_rows.property !== undefined) state.property = decl.json_rows.property;
      } else throw new RunnerError("internal", "Not a rows body");
      return state;
    },
    add(state, rows) {
      if (rows.length === 0) return;
      if (state.lines) push(state, state.lines(rows));
      else {
        const json = JSON.stringify(rows);
        if (state.rows > 0) push(state, `,${json.slice(1, -1)}`);
        else {
          const open = state.property === undefined ? "" : `{${JSON.stringify(state.property)}:`;
          push(state, open + json.slice(0, -1));
        }
      }
      state.rows += rows.length;
    },
    end(state) {
      if (!state.lines) {
        const close = state.property === undefined ? "" : "}";
        const open = state.property === undefined ? "" : `{${JSON.stringify(state.property)}:`;
        push(state, state.rows === 0 ? `${open}[]${close}` : `]${close}`);
      }
      const data = new Uint8Array(state.bytes);
      let at = 0;
      for (const p of state.parts) {
        data.set(p, at);
        at += p.length;
      }
      return { data, contentType: decl.csv ? "text/csv" : "application/json" };
    },
  };
}

/**
 * The record terminator a CSV body declares.
 *
 * @throws {RunnerError} `api` when it is neither LF nor CRLF
 */
function lineEnding(decl: CsvDecl, scope: Scope): string {
  const ending = render(decl.line_ending, scope).toUpperCase();
  if (ending !== "LF" && ending !== "CRLF") {
    throw new RunnerError("api", `Cannot write CSV: line ending "${ending}" is not LF or CRLF`);
  }
  return ending === "LF" ? "\n" : "\r\n";
}

/**
 * Builds the body a request declares, or `undefined` when it declares none.
 *
 * @param packed the rows part of a rows body (see `rowsSteps`)
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
    if (!packed) throw new RunnerError("internal", "A rows body is packed by the target");
    ({ data, contentType } = packed);
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
