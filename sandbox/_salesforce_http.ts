/**
 * Request and answer shapes of the Salesforce sandbox: its error answers and the reading of a
 * create-job request.
 *
 * @module
 */
import { COLUMN_DELIMITERS, type ColumnDelimiter, type LineEnding } from "./_salesforce_csv.ts";
import { SALESFORCE_OBJECTS, type SalesforceObject } from "./_salesforce_objects.ts";
import type { SalesforceOperation } from "./_salesforce_process.ts";

/** The org the sandbox's tokens belong to. */
export const ORG_ID = "00DSB0000000001AAA";
/** The user every job is created by. */
export const USER_ID = "005SB0000000001AAA";

/** A request error on its way to becoming Salesforce's `[{errorCode, message}]` answer. */
export class SfError extends Error {
  /** Makes the error with the HTTP status and Salesforce's `errorCode`. */
  constructor(readonly status: number, readonly errorCode: string, message: string) {
    super(message);
  }
}

/** An API error answer in Salesforce's shape. */
export function salesforceError(status: number, errorCode: string, message: string): Response {
  return Response.json([{ errorCode, message }], { status });
}

/** Salesforce's date-time form: `2026-03-02T10:00:00.000+0000`. */
export function sfTime(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, "+0000");
}

/** A create-job request, checked. */
export interface JobSpec {
  object: SalesforceObject;
  operation: SalesforceOperation;
  externalIdFieldName: string | undefined;
  lineEnding: LineEnding;
  columnDelimiter: ColumnDelimiter;
}

/**
 * Reads and checks a create-job body.
 *
 * @throws {SfError} 400 `JSON_PARSER_ERROR`, `INVALIDJOB` or `INVALIDENTITY`
 */
export function readJobSpec(text: string): JobSpec {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (e) {
    throw new SfError(400, "JSON_PARSER_ERROR", `Cannot read the request body: ${e}`);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new SfError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object");
  }
  const b = body as Record<string, unknown>;
  const invalid = (message: string) => new SfError(400, "INVALIDJOB", `InvalidJob : ${message}`);
  if (typeof b.object !== "string" || b.object === "") {
    throw invalid("Required field object is missing");
  }
  const object = SALESFORCE_OBJECTS.get(b.object);
  if (!object) {
    throw new SfError(400, "INVALIDENTITY", `sObject type '${b.object}' is not supported.`);
  }
  const ops = ["insert", "update", "upsert", "delete", "hardDelete"];
  if (typeof b.operation !== "string" || !ops.includes(b.operation)) {
    throw invalid(`Invalid operation: ${String(b.operation)}, expected one of ${ops.join(", ")}`);
  }
  const operation = b.operation as SalesforceOperation;
  const contentType = b.contentType ?? "CSV";
  if (contentType !== "CSV") throw invalid(`Invalid contentType: ${String(contentType)}`);
  const lineEnding = b.lineEnding ?? "LF";
  if (lineEnding !== "LF" && lineEnding !== "CRLF") {
    throw invalid(`Invalid lineEnding: ${String(lineEnding)}`);
  }
  const delimiter = b.columnDelimiter ?? "COMMA";
  if (typeof delimiter !== "string" || !Object.hasOwn(COLUMN_DELIMITERS, delimiter)) {
    throw invalid(`Invalid columnDelimiter: ${String(delimiter)}`);
  }
  let externalIdFieldName: string | undefined;
  if (operation === "upsert") {
    const name = b.externalIdFieldName;
    if (typeof name !== "string" || name === "") {
      throw invalid(
        `External ID was blank for ${object.name}. An External ID must be specified for upsert.`,
      );
    }
    const field = object.fields.find((f) => f.name.toLowerCase() === name.toLowerCase());
    if (!field || !(field.externalId || field.name === "Id")) {
      throw invalid(
        `Field name provided, ${name} is not an External ID or indexed field for ${object.name}`,
      );
    }
    externalIdFieldName = field.name;
  }
  return {
    object,
    operation,
    externalIdFieldName,
    lineEnding,
    columnDelimiter: delimiter as ColumnDelimiter,
  };
}

/**
 * A fault given to one job: `failed` ends it `Failed` having processed nothing; `partway` ends
 * it `Failed` after processing the first `processed` rows (default half), the rest unprocessed;
 * `stuck` stays `InProgress` forever; `missingRows` processes every row but leaves the last
 * `rows` rows out of the successful-results file.
 */
export type SalesforceJobFault =
  | { kind: "failed"; message?: string }
  | { kind: "partway"; processed?: number; message?: string }
  | { kind: "stuck" }
  | { kind: "missingRows"; rows: number };

/** A job's state. */
export type SalesforceJobState =
  | "Open"
  | "UploadComplete"
  | "InProgress"
  | "JobComplete"
  | "Failed"
  | "Aborted";

/** A finished job's rows: result rows of each file, before the header. */
export type Results = { success: string[][]; failed: string[][]; unprocessed: string[][] };

/** A job as the sandbox holds it. */
export interface Job {
  id: string;
  object: SalesforceObject;
  operation: SalesforceOperation;
  externalIdFieldName: string | undefined;
  lineEnding: LineEnding;
  columnDelimiter: ColumnDelimiter;
  apiVersion: string;
  createdAt: number;
  modifiedAt: number;
  state: "Open" | "UploadComplete" | "Aborted";
  uploads: Uint8Array[];
  closedAt?: number;
  fault?: SalesforceJobFault;
  seed: number;
  done?: {
    state: "JobComplete" | "Failed" | "Aborted";
    processed: number;
    failed: number;
    errorMessage?: string;
    header: string[];
    results: Results;
  };
}

/**
 * A job as the API describes it: the short form (create, close, list) or, with `full`, the
 * Get Job Info form with counts and `errorMessage`.
 */
export function jobInfoOf(
  job: Job,
  state: SalesforceJobState,
  full: boolean,
  processingMs: number,
): Record<string, unknown> {
  const info: Record<string, unknown> = {
    id: job.id,
    operation: job.operation,
    object: job.object.name,
    createdById: USER_ID,
    createdDate: sfTime(job.createdAt),
    systemModstamp: sfTime(job.modifiedAt),
    state,
  };
  if (job.externalIdFieldName) info.externalIdFieldName = job.externalIdFieldName;
  Object.assign(info, {
    concurrencyMode: "Parallel",
    contentType: "CSV",
    apiVersion: Number(job.apiVersion),
  });
  if (!full) {
    if (job.state === "Open") {
      info.contentUrl = `services/data/v${job.apiVersion}/jobs/ingest/${job.id}/batches`;
    }
    return Object.assign(info, {
      lineEnding: job.lineEnding,
      columnDelimiter: job.columnDelimiter,
    });
  }
  const done = job.done;
  Object.assign(info, {
    jobType: "V2Ingest",
    lineEnding: job.lineEnding,
    columnDelimiter: job.columnDelimiter,
    numberRecordsProcessed: done?.processed ?? 0,
    numberRecordsFailed: done?.failed ?? 0,
    retries: 0,
    totalProcessingTime: done ? processingMs : 0,
    apiActiveProcessingTime: done ? Math.round(processingMs / 2) : 0,
    apexProcessingTime: 0,
  });
  if (done?.errorMessage !== undefined) info.errorMessage = done.errorMessage;
  return info;
}
