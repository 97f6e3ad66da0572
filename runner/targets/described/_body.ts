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
import type { Batch, SpooledBody } from "../types.ts";
import { jsonPiece, type PackSteps, type PieceState, writePieces } from "../_wire.ts";
import { render, renderJson, type Scope } from "./_template.ts";
import type { RequestDecl } from "./schema.ts";

/** A body ready to send. */
export interface BuiltBody {
  /** The body, or a function that streams it anew for each attempt (spooled rows). */
  body: BodyInit | (() => BodyInit);
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
  data: SpooledBody;
  contentType: string;
}

/** A rows body being built by {@link rowsSteps}. */
export interface RowsState extends PieceState {
  /** CSV: writes rows `from` to `to` (exclusive) as lines. */
  lines?: (rows: readonly MappedRow[], from: number, to: number) => string;
  /** JSON: what opens and closes the array (a wrapping object's property, if any). */
  open: string;
  close: string;
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
  const push = (state: RowsState, text: string) => state.out.write(text);
  return {
    begin(batch, spool) {
      const state: RowsState = { out: spool.open(), rows: 0, pieceRows: 64, open: "", close: "" };
      if (decl.csv) {
        const csv = decl.csv;
        const eol = lineEnding(csv, scopeOf(batch));
        const cell = csv.quoting === "always"
          ? quoted
          : (v: Value | undefined) => csvCell(v, csv.delimiter);
        const fields = batch.fields;
        state.lines = (rows, from, to) => {
          let out = "";
          for (let i = from; i < to; i++) {
            const row = rows[i]!;
            out += fields.map((f) => cell(row[f])).join(csv.delimiter) + eol;
          }
          return out;
        };
        if (csv.header) push(state, fields.map((f) => cell(f)).join(csv.delimiter) + eol);
      } else if (decl.json_rows) {
        const property = decl.json_rows.property;
        if (property !== undefined) {
          [state.open, state.close] = [`{${JSON.stringify(property)}:`, "}"];
        }
      } else throw new RunnerError("internal", "Not a rows body");
      return state;
    },
    add(state, rows) {
      writePieces(
        state,
        rows,
        state.lines ?? ((rows, from, to) => jsonPiece(rows, from, to, state.rows, state.open)),
      );
    },
    end(state) {
      if (!state.lines) {
        push(state, state.rows === 0 ? `${state.open}[]${state.close}` : `]${state.close}`);
      }
      return { data: state.out.end(), contentType: decl.csv ? "text/csv" : "application/json" };
    },
    discard: (state) => state.out.end().free(),
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
    contentType = packed.contentType;
    const rows = packed.data;
    // Sent as it is: streamed from the spool for each attempt, never read into memory whole.
    if (!decl.zip && !decl.multipart) {
      return { body: () => rows.stream(), contentType, bytes: rows.size };
    }
    data = rows.bytes();
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
