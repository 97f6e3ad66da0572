/**
 * The Zoho Bigin Bulk Write API target. Per batch: the rows as one CSV in a ZIP, uploaded to
 * `{content}/bigin/v2/upload`; a job created at `{api}/bigin/bulk/v2/write`; then
 * `GET {api}/bigin/bulk/v2/write/{job_id}` until the job completes, and the result ZIP
 * (the uploaded rows plus `STATUS`, `RECORD_ID`, `ERRORS`) downloaded and joined back to the
 * batch's rows by position.
 *
 * @module
 */
import { z } from "zod";
import { baseUrl, commonTargetFields, nonEmpty } from "../config/_common.ts";
import { HttpError, RunnerError, TransportError } from "../errors.ts";
import type { MappedRow } from "../mapping/mod.ts";
import { toCsv } from "./_csv.ts";
import { describeBody, readBytes, readJson, type RequestSpec, send, TokenCache } from "./_http.ts";
import { parseCsv, unzipOne, zipOne } from "./_zip.ts";
import type {
  Batch,
  BatchCounts,
  PlanStep,
  PollResult,
  RowFailure,
  RowShape,
  Submission,
  Target,
  TargetContext,
} from "./types.ts";

/** Rows Bigin takes in one bulk write job. */
export const BIGIN_MAX_ROWS = 25_000;
/** Largest upload ZIP Bigin takes. */
export const BIGIN_MAX_ZIP_BYTES = 25 * 1024 * 1024;
/** Columns Bigin takes in one bulk write CSV. */
export const BIGIN_MAX_COLUMNS = 200;
/** Largest result file (compressed or not) the runner reads. */
export const BIGIN_MAX_RESULT_BYTES = 256 * 1024 * 1024;

/** Zoho data centres, each with its own API, upload and accounts domains. */
export const BIGIN_DATA_CENTERS = ["us", "eu", "au", "in", "cn", "jp", "ca", "sa"] as const;

/** A Zoho data centre. */
export type BiginDataCenter = typeof BIGIN_DATA_CENTERS[number];

const auth = z.strictObject({
  type: z.literal("zoho_refresh_token"),
  client_id: nonEmpty.meta({ description: "Zoho API console client id; use ${ENV_VAR}" }),
  client_secret: nonEmpty.meta({ description: "Zoho API console client secret; use ${ENV_VAR}" }),
  refresh_token: nonEmpty.meta({
    description: "Refresh token with scopes ZohoBigin.bulk.ALL and ZohoBigin.modules.ALL",
  }),
}).meta({ description: "zoho_refresh_token (the only kind Bigin offers for server jobs)" });

/** The `target` section for `api: bigin`. */
export const biginSchema = z.strictObject({
  api: z.literal("bigin"),
  data_center: z.enum(BIGIN_DATA_CENTERS).default("us").meta({
    description:
      "Zoho data centre of the Bigin account; picks the API, upload and accounts domains",
  }),
  base_url: z.union([z.literal("").transform(() => undefined), baseUrl]).optional().meta({
    description:
      'Replaces all three domains (sandbox, proxy); "" means not set, so ${BIGIN_BASE_URL:-} works',
  }),
  module: nonEmpty.meta({
    description: "Module API name: Pipelines (deals), Contacts, Accounts, ...",
  }),
  operation: z.enum(["insert", "update", "upsert"]).meta({
    description: "insert adds records; update changes existing ones; upsert does either",
  }),
  find_by: nonEmpty.optional().meta({
    description:
      "Field that finds existing records (unique field or id); required for update and upsert",
  }),
  org_id: nonEmpty.meta({ description: "Bigin organisation id, sent as X-CRM-ORG on uploads" }),
  batch_size: z.number().int().min(1).max(BIGIN_MAX_ROWS, {
    error: `Must be at most ${BIGIN_MAX_ROWS}: Bigin takes at most ${BIGIN_MAX_ROWS} rows per job`,
  }).default(BIGIN_MAX_ROWS).meta({
    description: "Rows per job (at most 25000, and at most 25 MB zipped)",
  }),
  concurrency: z.number().int().min(1).max(10).default(1).meta({
    description: "Jobs in flight at once (Bigin editions cap concurrent jobs)",
  }),
  ignore_empty: z.boolean().default(false).meta({
    description: "Leave a field unchanged when its cell is empty, instead of clearing it",
  }),
  auth,
  ...commonTargetFields,
}).superRefine((t, ctx) => {
  if (t.operation !== "insert" && t.find_by === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["find_by"],
      message:
        `Required for operation "${t.operation}": set target.find_by to the field that identifies a record, e.g. "Deal_Name" or "Email"`,
    });
  }
});

/** A validated Bigin target section. */
export type BiginConfig = z.output<typeof biginSchema>;

/** The three hosts a run talks to. */
export interface BiginDomains {
  /** Job creation, job details and result downloads. */
  api: string;
  /** File uploads. */
  content: string;
  /** OAuth tokens. */
  accounts: string;
}

const DC_SUFFIX: Record<BiginDataCenter, string> = {
  us: "com",
  eu: "eu",
  au: "com.au",
  in: "in",
  cn: "com.cn",
  jp: "jp",
  ca: "ca",
  sa: "sa",
};

/**
 * The API, upload and accounts domains of a data centre, or `baseUrl` for all three.
 *
 * @example
 * biginDomains("eu") // { api: "https://www.zohoapis.eu", content: "https://content.zohoapis.eu", accounts: "https://accounts.zoho.eu" }
 */
export function biginDomains(dataCenter: BiginDataCenter, baseUrl?: string): BiginDomains {
  if (baseUrl) return { api: baseUrl, content: baseUrl, accounts: baseUrl };
  const s = DC_SUFFIX[dataCenter];
  return {
    api: `https://www.zohoapis.${s}`,
    content: `https://content.zohoapis.${s}`,
    // Canada's accounts server lives under zohocloud.ca rather than zoho.ca.
    accounts: dataCenter === "ca" ? "https://accounts.zohocloud.ca" : `https://accounts.zoho.${s}`,
  };
}

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

/** One error of a result row: `MANDATORY_NOT_FOUND-Company,Last_Name` is a code and its columns. */
export interface BiginRowError {
  code: string;
  fields: string[];
}

const ERROR_PART = /^([A-Z][A-Z0-9_]*)(?:-(.*))?$/s;

/**
 * Parses a result row's `ERRORS` cell: errors joined by `:`, each `CODE-Column[,Column...]`.
 *
 * @returns the errors, or `undefined` when the text does not have that shape (free text)
 * @example
 * parseRowErrors("MANDATORY_NOT_FOUND-Company,Last_Name:DUPLICATE_DATA-Email")
 * // [{ code: "MANDATORY_NOT_FOUND", fields: ["Company", "Last_Name"] },
 * //  { code: "DUPLICATE_DATA", fields: ["Email"] }]
 */
export function parseRowErrors(text: string): BiginRowError[] | undefined {
  const out: BiginRowError[] = [];
  for (const part of text.split(":")) {
    const p = part.trim();
    if (p === "") continue;
    const m = ERROR_PART.exec(p);
    if (!m) return undefined;
    const fields = (m[2] ?? "").split(",").map((f) => f.trim()).filter((f) => f !== "");
    out.push({ code: m[1]!, fields });
  }
  return out;
}

/** Formats parsed errors for people: `MANDATORY_NOT_FOUND: Company, Last_Name; DUPLICATE_DATA: Email`. */
export function formatRowErrors(errors: readonly BiginRowError[]): string {
  return errors.map((e) => (e.fields.length > 0 ? `${e.code}: ${e.fields.join(", ")}` : e.code))
    .join("; ");
}

/** The per-status counts a job's details give for its file. */
export interface BiginJobCounts {
  added?: number;
  updated?: number;
  skipped?: number;
  total?: number;
}

/** A finished job's details, as far as the runner needs them. */
export interface BiginJobDone {
  state: "completed" | "failed";
  remoteStatus: string;
  /** Absent when the job gives none. */
  downloadUrl?: string;
  counts?: BiginJobCounts;
  /** Error code and message the job gives, if any (failed jobs). */
  message?: string;
}

/** A job's details: still running (or in a state the docs do not name), or finished. */
export type BiginJobState =
  | { state: "pending"; remoteStatus: string; unknown?: true }
  | BiginJobDone;

function obj(v: unknown): Record<string, unknown> | undefined {
  return v && typeof v === "object" && !Array.isArray(v) ? v as Record<string, unknown> : undefined;
}

function num(o: Record<string, unknown> | undefined, name: string): number | undefined {
  const v = o?.[name];
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}

function str(v: unknown): string | undefined {
  if (typeof v === "string" && v.trim() !== "") return v.trim();
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  return undefined;
}

/** `IN PROGRESS`, `in_progress`, `InProgress` -> `INPROGRESS`. */
function normStatus(s: string): string {
  return s.toUpperCase().replace(/[\s_-]+/g, "");
}

/**
 * Reads a job details answer (`GET /bigin/bulk/v2/write/{id}`).
 *
 * @throws {HttpError} `transport` when the answer is not an object with a `status`
 */
export function readJobDetails(body: unknown): BiginJobState {
  let o = obj(body);
  // Tolerate the `{"data": [job]}` wrapping of other Zoho answers.
  if (o && !("status" in o) && Array.isArray(o.data) && o.data.length === 1) o = obj(o.data[0]);
  if (!o) throw new HttpError("transport", 200, "Job details answer is not a JSON object");
  const remoteStatus = typeof o.status === "string" ? o.status : "";
  const s = normStatus(remoteStatus);
  if (s === "") {
    throw new HttpError("transport", 200, `Job details answer has no status: ${describeBody(o)}`);
  }
  if (s === "ADDED" || s === "INPROGRESS") return { state: "pending", remoteStatus };
  // Other states are waited on too (the executor's polling timeout bounds the wait), but flagged.
  if (s !== "COMPLETED" && s !== "FAILED") return { state: "pending", remoteStatus, unknown: true };
  const resource = Array.isArray(o.resource) ? obj(o.resource[0]) : undefined;
  const file = obj(resource?.file);
  let counts: BiginJobCounts | undefined;
  if (file) {
    counts = {};
    const added = num(file, "added_count");
    const updated = num(file, "updated_count");
    const skipped = num(file, "skipped_count");
    const total = num(file, "total_count");
    if (added !== undefined) counts.added = added;
    if (updated !== undefined) counts.updated = updated;
    if (skipped !== undefined) counts.skipped = skipped;
    if (total !== undefined) counts.total = total;
    if (Object.keys(counts).length === 0) counts = undefined;
  }
  const downloadUrl = str(obj(o.result)?.download_url);
  const parts = [
    str(o.code) ?? str(resource?.code),
    str(o.message) ?? str(resource?.message) ?? str(file?.message),
  ].filter((x) => x !== undefined);
  return {
    state: s === "COMPLETED" ? "completed" : "failed",
    remoteStatus,
    ...(downloadUrl ? { downloadUrl } : {}),
    ...(counts ? { counts } : {}),
    ...(parts.length > 0 ? { message: parts.join(": ") } : {}),
  };
}

function keyOf(row: MappedRow | undefined, key: string): string | undefined {
  const v = row?.[key];
  return v === null || v === undefined ? undefined : String(v);
}

/** The per-row outcome of a result file, joined to the batch. */
export interface BiginResult {
  counts: BatchCounts;
  failures: RowFailure[];
  problems: string[];
}

function lastIndex(header: readonly string[], name: string): number {
  for (let i = header.length - 1; i >= 0; i--) {
    if (header[i]!.trim().toUpperCase() === name) return i;
  }
  return -1;
}

/**
 * Standard fields of the modules the API note describes, for `validate`'s hints. Bigin accounts
 * can add custom fields, so a field not listed here is a warning, never an error.
 */
const BIGIN_STANDARD_FIELDS: Record<string, { fields: string[]; required: string[] }> = {
  Pipelines: {
    fields: [
      "Deal_Name",
      "Sub_Pipeline",
      "Stage",
      "Closing_Date",
      "Amount",
      "Account_Name",
      "Account_Name.id",
      "Contact_Name",
      "Contact_Name.id",
      "Owner",
      "Owner.id",
      "Description",
      "id",
    ],
    required: ["Deal_Name", "Sub_Pipeline", "Stage"],
  },
  Contacts: {
    fields: [
      "Last_Name",
      "First_Name",
      "Email",
      "Mobile",
      "Account_Name",
      "Account_Name.id",
      "Owner",
      "Owner.id",
      "Description",
      "id",
    ],
    required: ["Last_Name"],
  },
  Accounts: {
    fields: ["Account_Name", "Phone", "Website", "Owner", "Owner.id", "Description", "id"],
    required: ["Account_Name"],
  },
};

/** Error codes with which a skipped row is a plain skip rather than a failure. */
const BENIGN_SKIP_CODES = new Set(["DUPLICATE_DATA", "RESOURCE_NOT_FOUND"]);

/**
 * Joins a job's result CSV to its batch: result line `i` is batch row `i` (Bigin keeps upload
 * order). `added`/`updated` rows succeeded; `skipped` rows whose errors only say the record was
 * a duplicate (insert) or not found (update) are skipped; every other row (`skipped` for bad
 * data, `unprocessed`, blank) failed. Counts come from the file; where they disagree with the job's own
 * counts or with the rows sent, the disagreement is a problem.
 *
 * @param text the result CSV
 * @param batch the batch the job loaded
 * @param job the counts the job's details gave, to cross-check
 * @throws {HttpError} `transport` when the file has no `STATUS` column
 */
export function readResultCsv(text: string, batch: Batch, job?: BiginJobCounts): BiginResult {
  const records = parseCsv(text);
  const header = records[0] ?? [];
  // The status columns follow the uploaded ones, which may have a field of the same name.
  const statusAt = lastIndex(header, "STATUS");
  const errorsAt = lastIndex(header, "ERRORS");
  if (statusAt < 0) {
    throw new HttpError(
      "transport",
      200,
      `Result file has no STATUS column: header is ${JSON.stringify(header.slice(0, 20))}`,
    );
  }
  const keyAt = header.slice(0, statusAt).findIndex((h) => h === batch.key);
  const lines = records.slice(1);
  const sent = batch.rows.length;
  const problems: string[] = [];
  const failures: RowFailure[] = [];
  let added = 0, updated = 0, skipped = 0, failed = 0, statusSkipped = 0;
  let misplaced = 0;
  let firstMisplaced = "";

  for (let i = 0; i < sent; i++) {
    const key = keyOf(batch.rows[i], batch.key);
    const line = lines[i];
    if (line === undefined) {
      failed++;
      failures.push({
        row: i,
        ...(key !== undefined ? { key } : {}),
        message: "Bigin's result file has no line for this row",
        outcome: "failed",
      });
      continue;
    }
    const sentKey = csvText(batch.rows[i]?.[batch.key]);
    const gotKey = line[keyAt] ?? "";
    if (keyAt >= 0 && gotKey !== sentKey && gotKey !== toZohoDateTime(sentKey)) {
      if (misplaced++ === 0) {
        firstMisplaced = `line ${i + 2} has ${batch.key} "${gotKey}" where row ${
          i + 1
        } sent "${sentKey}"`;
      }
    }
    const status = (line[statusAt] ?? "").trim().toLowerCase();
    if (status === "added") {
      added++;
      continue;
    }
    if (status === "updated") {
      updated++;
      continue;
    }
    const rawErrors = errorsAt >= 0 ? (line[errorsAt] ?? "").trim() : "";
    const parsed = rawErrors === "" ? [] : parseRowErrors(rawErrors);
    const first = parsed?.[0];
    // Bigin marks rows with bad data "skipped" too; only a skip that says the record simply was
    // not there to update, or already there to insert, is a skip. Anything else is a failure.
    if (status === "skipped") statusSkipped++;
    const benign = status === "skipped" &&
      (parsed ?? []).every((e) => BENIGN_SKIP_CODES.has(e.code));
    const outcome = benign ? "skipped" : "failed";
    if (outcome === "skipped") skipped++;
    else failed++;
    const detail = parsed === undefined ? rawErrors : formatRowErrors(parsed);
    failures.push({
      row: i,
      ...(key !== undefined ? { key } : {}),
      ...(first?.fields[0] !== undefined ? { field: first.fields[0] } : {}),
      ...(first ? { code: first.code } : {}),
      message: detail !== ""
        ? detail
        : outcome === "skipped"
        ? "Bigin skipped the row"
        : `Bigin did not load the row: status "${line[statusAt] ?? ""}"`,
      outcome,
    });
  }

  if (lines.length !== sent) {
    problems.push(`Result file has ${lines.length} rows, but ${sent} rows were sent`);
  }
  if (misplaced > 0) {
    problems.push(
      `Result file is not in upload order for ${misplaced} rows (${firstMisplaced}): rows may be misattributed`,
    );
  }
  if (job) {
    const check = (name: string, reported: number | undefined, found: number) => {
      if (reported !== undefined && reported !== found) {
        problems.push(`Job reports ${name} ${reported}, but the result file has ${found}`);
      }
    };
    check("added_count", job.added, added);
    check("updated_count", job.updated, updated);
    check("skipped_count", job.skipped, statusSkipped);
    if (job.total !== undefined && job.total !== sent) {
      problems.push(`Job reports total_count ${job.total}, but ${sent} rows were sent`);
    }
  }
  return { counts: { succeeded: added + updated, failed, skipped }, failures, problems };
}

/** A cell as `toCsv` wrote it, unquoted: what the result file should echo back. */
function csvText(v: MappedRow[string] | undefined): string {
  if (v === null || v === undefined) return "";
  return typeof v === "string" ? v : String(v);
}

/**
 * The poll result of a failed job: counts from the job where it gives them, otherwise every row
 * failed and listed with the job's message.
 */
export function failedJobResult(job: BiginJobDone, batch: Batch): PollResult {
  const sent = batch.rows.length;
  const message = `Bigin job failed${job.message ? `: ${job.message}` : ""}`;
  const c = job.counts;
  const succeeded = (c?.added ?? 0) + (c?.updated ?? 0);
  const skipped = c?.skipped ?? 0;
  const problems: string[] = [];
  const failures: RowFailure[] = [];
  if (succeeded + skipped === 0) {
    batch.rows.forEach((row, i) => {
      const key = keyOf(row, batch.key);
      failures.push({ row: i, ...(key !== undefined ? { key } : {}), message, outcome: "failed" });
    });
  } else {
    problems.push(
      `Job failed after loading ${succeeded} and skipping ${skipped} of ${sent} rows: which rows failed is not known`,
    );
  }
  if (succeeded + skipped > sent) {
    problems.push(
      `Job counts ${succeeded + skipped} rows loaded or skipped, but ${sent} rows were sent`,
    );
  }
  return {
    done: true,
    status: "failed",
    remoteStatus: job.remoteStatus,
    message,
    counts: { succeeded, skipped, failed: Math.max(0, sent - succeeded - skipped) },
    failures,
    problems,
  };
}

/** Adds the uploaded file's id to an error, so a failed job creation can be traced. */
function withFileId(err: unknown, fileId: string): unknown {
  if (!(err instanceof RunnerError) || err.message.includes(fileId)) return err;
  const message = `${err.message} (uploaded file_id "${fileId}")`;
  if (err instanceof TransportError) {
    return new TransportError(message, err.maybeDelivered, { cause: err });
  }
  if (err instanceof HttpError) return new HttpError(err.code, err.status, message, { cause: err });
  return new RunnerError(err.code, message, { cause: err });
}

function answerError(what: string, status: number, body: unknown): HttpError {
  const detail = body === undefined ? "" : ` ${describeBody(body)}`;
  return new HttpError(
    status >= 500 ? "transport" : "api",
    status,
    `${what}: HTTP ${status}${detail}`,
  );
}

/**
 * Reads a Zoho answer that must say `status: success` — in the body, not only the HTTP code,
 * since some refusals come with HTTP 200 — and returns `details[field]`.
 *
 * @throws {HttpError} `api`-like refusal via `answerError`, or `transport` when the id is missing
 */
async function successDetail(
  res: Response,
  what: string,
  subject: string,
  field: string,
  label = field,
): Promise<string> {
  const body = await readJson(res, what).catch((err) => {
    if (res.ok) throw err;
    return undefined;
  });
  const o = obj(body);
  const status = typeof o?.status === "string" ? o.status.toLowerCase() : undefined;
  if (!res.ok || (status !== undefined && status !== "success")) {
    throw answerError(`Bigin refused ${subject}`, res.status, body);
  }
  const value = str(obj(o?.details)?.[field]);
  if (!value) {
    throw new HttpError(
      "transport",
      res.status,
      `Bigin accepted ${subject} but gave no ${label}: ${describeBody(body)}`,
    );
  }
  return value;
}

/** Builds the Bigin target for a validated config. */
export function createBiginTarget(config: BiginConfig, shape: RowShape): Target {
  const domains = biginDomains(config.data_center, config.base_url);
  const timeoutMs = config.request_timeout;
  const batchSize = Math.min(config.batch_size, BIGIN_MAX_ROWS);
  const a = config.auth;
  const tokenUrl = `${domains.accounts}/oauth/v2/token`;
  const uploadUrl = `${domains.content}/bigin/v2/upload`;
  const jobsUrl = `${domains.api}/bigin/bulk/v2/write`;
  const datetimeFields = shape.fields.filter((f) => f.type === "datetime").map((f) => f.name);

  // The grant runs with the context of the request that needed a token.
  let grantCtx: TargetContext | undefined;
  const tokens = new TokenCache(async () => {
    const ctx = grantCtx!;
    const what = "get a Zoho access token";
    const res = await send(ctx, {
      method: "POST",
      url: tokenUrl,
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        refresh_token: a.refresh_token,
        client_id: a.client_id,
        client_secret: a.client_secret,
        grant_type: "refresh_token",
      }),
      what,
      kind: "safe",
      timeoutMs,
    });
    const body = obj(
      await readJson(res, what).catch((err) => {
        if (res.ok) throw err;
        return undefined;
      }),
    );
    const token = body?.access_token;
    if (!res.ok || typeof token !== "string" || token === "") {
      throw new HttpError(
        res.status >= 500 ? "transport" : "auth",
        res.status,
        `Zoho refused the refresh token: HTTP ${res.status} ${
          describeBody(body) || "no answer"
        }: check target.auth and target.data_center`,
      );
    }
    const apiDomain = str(body?.api_domain);
    if (!config.base_url && apiDomain && apiDomain.replace(/\/+$/, "") !== domains.api) {
      ctx.log(
        `Zoho says the account's API domain is "${apiDomain}", but data_center "${config.data_center}" uses "${domains.api}": check target.data_center`,
      );
    }
    const ttl = num(body, "expires_in") ?? num(body, "expires_in_sec");
    return { token, expiresInMs: ttl === undefined ? undefined : ttl * 1000 };
  });

  /** Sends with the access token; on 401 `INVALID_TOKEN`, gets a new token once and resends. */
  async function authed(
    ctx: TargetContext,
    build: (h: Record<string, string>) => RequestSpec,
  ): Promise<Response> {
    for (let attempt = 0;; attempt++) {
      grantCtx = ctx;
      const token = await tokens.get();
      const res = await send(
        ctx,
        build({ ...config.headers, authorization: `Zoho-oauthtoken ${token}` }),
      );
      if (res.status !== 401) return res;
      const body = await readJson(res, "read a refusal").catch(() => undefined);
      const code = str(obj(body)?.code)?.toUpperCase();
      if (code === "INVALID_TOKEN" && attempt === 0) {
        // A 401 means the request was refused before processing, so resending cannot duplicate.
        tokens.invalidate(token);
        ctx.log("Bigin refused the access token; getting a new one");
        continue;
      }
      const hint = code === "OAUTH_SCOPE_MISMATCH"
        ? ": the refresh token needs scopes ZohoBigin.bulk.ALL and ZohoBigin.modules.ALL"
        : ": check target.auth";
      throw new HttpError(
        "auth",
        401,
        `Bigin refused the credentials: HTTP 401${
          body === undefined ? "" : ` ${describeBody(body)}`
        }${hint}`,
      );
    }
  }

  /** A row as written to the file: datetimes in the offset form Zoho reads. */
  function wireRows(rows: MappedRow[]): MappedRow[] {
    if (datetimeFields.length === 0) return rows;
    return rows.map((row) => {
      const out = { ...row };
      for (const f of datetimeFields) {
        const v = out[f];
        if (typeof v === "string") out[f] = toZohoDateTime(v);
      }
      return out;
    });
  }

  async function upload(batch: Batch, ctx: TargetContext): Promise<string> {
    if (batch.fields.length > BIGIN_MAX_COLUMNS) {
      throw new RunnerError(
        "api",
        `Cannot upload batch ${
          batch.index + 1
        }: Bigin takes at most ${BIGIN_MAX_COLUMNS} columns, but ${batch.fields.length} fields are mapped`,
      );
    }
    const name = `batch-${batch.index + 1}`;
    const csv = new TextEncoder().encode(toCsv(batch.fields, wireRows(batch.rows)));
    const zip = zipOne(`${name}.csv`, csv);
    if (zip.length > BIGIN_MAX_ZIP_BYTES) {
      const fits = Math.max(
        1,
        Math.floor(batch.rows.length * BIGIN_MAX_ZIP_BYTES / zip.length * 0.9),
      );
      throw new RunnerError(
        "api",
        `Cannot upload batch ${batch.index + 1}: its ZIP is ${
          (zip.length / 1048576).toFixed(1)
        } MB, over Bigin's 25 MB limit: lower target.batch_size (now ${batchSize}) to about ${fits}`,
      );
    }
    const what = `upload batch ${batch.index + 1} to Bigin`;
    const res = await authed(ctx, (h) => {
      const form = new FormData();
      form.append(
        "file",
        new Blob([zip as Uint8Array<ArrayBuffer>], { type: "application/zip" }),
        `${name}.zip`,
      );
      return {
        method: "POST",
        url: uploadUrl,
        headers: { ...h, feature: "bulk-write", "X-CRM-ORG": config.org_id },
        body: form,
        what,
        kind: "once",
        timeoutMs,
      };
    });
    return await successDetail(res, what, `the upload of batch ${batch.index + 1}`, "file_id");
  }

  async function createJob(batch: Batch, fileId: string, ctx: TargetContext): Promise<string> {
    const what = `create a Bigin job for batch ${batch.index + 1}`;
    const job = {
      operation: config.operation,
      character_encoding: "UTF-8",
      ignore_empty: config.ignore_empty,
      resource: [{
        type: "data",
        module: { api_name: config.module },
        file_id: fileId,
        ...(config.find_by !== undefined ? { find_by: config.find_by } : {}),
        field_mappings: fieldMappings(batch.fields, shape),
      }],
    };
    const res = await authed(ctx, (h) => ({
      method: "POST",
      url: jobsUrl,
      headers: { ...h, "content-type": "application/json" },
      body: JSON.stringify(job),
      what,
      kind: "once",
      timeoutMs,
    }));
    return await successDetail(res, what, `the job for batch ${batch.index + 1}`, "id", "job id");
  }

  async function download(url: string, jobId: string, ctx: TargetContext): Promise<string> {
    const what = `download the result of Bigin job "${jobId}"`;
    const res = await authed(
      ctx,
      (h) => ({ method: "GET", url, headers: h, what, kind: "safe", timeoutMs }),
    );
    if (!res.ok) {
      const body = await readJson(res, what).catch(() => undefined);
      throw answerError(`Cannot ${what}`, res.status, body);
    }
    const zip = await readBytes(res, BIGIN_MAX_RESULT_BYTES, what);
    const { data } = unzipOne(zip, BIGIN_MAX_RESULT_BYTES, `the result of Bigin job "${jobId}"`);
    return new TextDecoder().decode(data);
  }

  function resultUrl(downloadUrl: string): string {
    if (/^https?:\/\//i.test(downloadUrl)) return downloadUrl;
    return `${domains.api}${downloadUrl.startsWith("/") ? "" : "/"}${downloadUrl}`;
  }

  return {
    api: "bigin",
    batchSize,
    concurrency: config.concurrency,
    duplicatesOnResend: config.operation === "insert",

    knownFields() {
      const m = BIGIN_STANDARD_FIELDS[config.module];
      return m ? { known: m.fields, required: m.required } : undefined;
    },

    describe(): PlanStep[] {
      return [
        {
          name: "token",
          detail: `POST ${tokenUrl} (refresh-token grant, once, refreshed on expiry)`,
        },
        {
          name: "upload",
          detail:
            `POST ${uploadUrl} (one ZIP of one CSV per batch of ${batchSize} rows, org ${config.org_id})`,
        },
        {
          name: "create job",
          detail: `POST ${jobsUrl} (${config.operation} into ${config.module}${
            config.find_by ? ` by ${config.find_by}` : ""
          })`,
        },
        { name: "poll", detail: `GET ${jobsUrl}/<job_id> until COMPLETED or FAILED` },
        {
          name: "download",
          detail:
            `GET ${domains.api}<result.download_url> (result ZIP: STATUS, RECORD_ID, ERRORS per row)`,
        },
      ];
    },

    async submit(batch: Batch, ctx: TargetContext): Promise<Submission> {
      const fileId = await upload(batch, ctx);
      try {
        return { id: await createJob(batch, fileId, ctx) };
      } catch (err) {
        throw withFileId(err, fileId);
      }
    },

    async poll(submission: Submission, batch: Batch, ctx: TargetContext): Promise<PollResult> {
      const jobId = submission.id;
      const what = `check Bigin job "${jobId}"`;
      const res = await authed(ctx, (h) => ({
        method: "GET",
        url: `${jobsUrl}/${encodeURIComponent(jobId)}`,
        headers: h,
        what,
        kind: "safe",
        timeoutMs,
      }));
      const body = await readJson(res, what).catch((err) => {
        if (res.ok) throw err;
        return undefined;
      });
      if (!res.ok || obj(body)?.status === "error") {
        throw answerError(`Bigin cannot report job "${jobId}"`, res.status, body);
      }
      const job = readJobDetails(body);
      if (job.state === "pending") {
        if (job.unknown) {
          ctx.log(
            `Bigin job "${jobId}" has undocumented status "${job.remoteStatus}": still waiting`,
          );
        }
        return { done: false, remoteStatus: job.remoteStatus };
      }
      if (job.state === "failed") return failedJobResult(job, batch);

      if (!job.downloadUrl) {
        const c = job.counts ?? {};
        const succeeded = (c.added ?? 0) + (c.updated ?? 0);
        const skipped = c.skipped ?? 0;
        return {
          done: true,
          status: "completed",
          remoteStatus: job.remoteStatus,
          counts: {
            succeeded,
            skipped,
            failed: Math.max(0, batch.rows.length - succeeded - skipped),
          },
          failures: [],
          problems: [
            `Job "${jobId}" completed without a result.download_url: counts come from the job and failed rows are not known`,
          ],
        };
      }
      const text = await download(resultUrl(job.downloadUrl), jobId, ctx);
      const result = readResultCsv(text, batch, job.counts);
      return {
        done: true,
        status: "completed",
        remoteStatus: job.remoteStatus,
        counts: result.counts,
        failures: result.failures,
        problems: result.problems,
      };
    },
  };
}
