/**
 * A simulator of the Zoho Bigin Bulk Write API (v2) and the Zoho OAuth refresh-token grant, for
 * the local sandbox. It serves the accounts, content and API domains on one origin, so a pipeline
 * whose `base_url` points at the sandbox reaches every endpoint:
 *
 * | Endpoint | Answer |
 * | --- | --- |
 * | `POST /oauth/v2/token` | `{access_token, api_domain, token_type, expires_in}` or HTTP 400 `{"error":"invalid_code"}` |
 * | `POST /bigin/v2/upload` | `FILE_UPLOAD_SUCCESS` with an 18-digit `file_id` |
 * | `POST /bigin/bulk/v2/write` | HTTP 201 `SUCCESS` with the job id |
 * | `GET /bigin/bulk/v2/write/{job_id}` | `ADDED` → `INPROGRESS` → `COMPLETED` (or `FAILED`) |
 * | `GET /v2/bigin/org{org}/bulk-write/{job_id}/{job_id}.zip` | the result ZIP |
 *
 * Behaviour the public pages leave open, and what the sandbox does:
 * - Every error body is `{"status":"error","code","message","details"}`. HTTP 400 unless said
 *   otherwise; `INVALID_FILE_FORMAT` on upload comes with HTTP 200, as the Bigin/CRM pages warn.
 * - OAuth: any wrong `grant_type`, `refresh_token`, `client_id` or `client_secret` answers HTTP
 *   400 `{"error":"invalid_code"}`. Parameters may come in the query string (as Zoho's samples
 *   send them) or an urlencoded body.
 * - A missing, unknown or expired access token answers HTTP 401 `INVALID_TOKEN` (expired tokens
 *   are not told apart). Only `Authorization: Zoho-oauthtoken <token>` is accepted, not `Bearer`.
 * - Upload: a missing `feature` or `X-CRM-ORG` header is `MANDATORY_NOT_FOUND`, a wrong value
 *   `INVALID_DATA`; no `file` part is `MANDATORY_NOT_FOUND`. A ZIP over 25 MB, or a CSV inflating
 *   past 100 MB, is `FILE_TOO_LARGE`. Not a ZIP, not exactly one `.csv` entry, or CSV that does
 *   not parse is `INVALID_FILE_FORMAT` (HTTP 200).
 * - The 25,000-record and 200-column limits are checked when the job is created, as
 *   `LIMIT_EXCEEDED` and `HEADER_LIMIT_EXCEEDED` (the upload endpoint is a plain file store).
 * - Create job: `find_by` may name the module's unique field or `id`; `id` may be mapped only on
 *   update/upsert. See {@link createBiginSandbox} for every code.
 * - Job details are shaped like the seed's samples: while `ADDED` the file carries only its
 *   status and there is no `character_encoding`; while in progress the counts are all 0; a
 *   `FAILED` job has no `result`. `total_count` is added + updated + skipped, as the seed defines
 *   it: `unprocessed` rows are in the result file only. Update/upsert jobs also echo `find_by`
 *   on the resource (the seed only shows an insert). `download_url` is relative like the seed's
 *   (`/v2/bigin/org<X-CRM-ORG>/bulk-write/<id>/<id>.zip`, to be prefixed with the API domain)
 *   unless `absoluteDownloadUrl`; fetching it needs the auth header.
 * - Result CSV: the uploaded columns (or, with `resultColumns: "firstThreeMapped"`, the first
 *   three mapped columns as the public download page describes) then `STATUS`, `RECORD_ID`,
 *   `ERRORS`. A row that cannot be written is `skipped` (the seed: "skipped due to some issues");
 *   `unprocessed` marks rows never reached because `recordLimit` was hit (`ERRORS` =
 *   `LIMIT_EXCEEDED`). `ERRORS` names fields by API name (the public page says column header;
 *   the two agree when the header row holds API names). The ZIP's entry is `<Module>-<file>.csv`.
 *
 * @module
 */
import { CsvSyntaxError, parseCsv, type ParsedCsv, writeCsv } from "./_bigin_csv.ts";
import {
  BIGIN_MODULES,
  type BiginField,
  type BiginModule,
  checkValue,
  compileDateFormat,
  findField,
  type FormatPart,
} from "./_bigin_modules.ts";
import { readSingleCsv, zipOne } from "./_bigin_zip.ts";

/** Options of the Bigin simulator. All are optional. */
export interface BiginSandboxOptions {
  /** OAuth client id accepted by the token endpoint. Default `"sandbox-client"`. */
  clientId?: string;
  /** OAuth client secret. Default `"sandbox-secret"`. */
  clientSecret?: string;
  /** Refresh token. Default `"sandbox-refresh-token"`. */
  refreshToken?: string;
  /** When set, the only `X-CRM-ORG` accepted on upload; otherwise any non-empty value is. */
  orgId?: string;
  /** Time from job creation to completion: `ADDED` for the first third, then in progress. Default 1000. */
  processingMs?: number;
  /** Access-token lifetime. Default 3,600,000 (one hour, as Zoho). */
  tokenTtlMs?: number;
  /** When set, each access token works for this many calls and then answers `INVALID_TOKEN`. */
  expireTokensAfterUses?: number;
  /** How the in-progress status is spelled: the seed's samples say `INPROGRESS`, its prose `IN PROGRESS`. */
  inProgressSpelling?: "INPROGRESS" | "IN PROGRESS";
  /** Give `result.download_url` as an absolute URL instead of the seed's relative path. */
  absoluteDownloadUrl?: boolean;
  /** Make every job end `FAILED` (no records written, no result file). */
  failJobs?: boolean;
  /**
   * Asked once per new job, when it is created: a fault to give that job, or `undefined` for
   * none. The sandbox's fault injection (`./faults.ts`) plugs in here.
   */
  jobFault?: (job: BiginJobInfo) => BiginJobFault | undefined;
  /** Columns copied into the result CSV. Default `"uploaded"` (all of them). */
  resultColumns?: "uploaded" | "firstThreeMapped";
  /** Casing of the result's `STATUS` values (undocumented by Zoho). Default `"lower"`. */
  resultStatusCase?: "lower" | "upper";
  /** Records a module may hold; inserts past it leave the rest of the job `unprocessed`. */
  recordLimit?: number;
  /** Largest ZIP accepted on upload. Default 25 MB. */
  maxZipBytes?: number;
  /** Largest CSV a ZIP may inflate to. Default 100 MB. */
  maxUncompressedBytes?: number;
  /** Clock, in epoch milliseconds. Default `Date.now`. */
  now?: () => number;
}

/** What {@linkcode BiginSandboxOptions.jobFault} is told about a new job. */
export interface BiginJobInfo {
  /** The 18-digit job id. */
  id: string;
  /** The module's API name. */
  module: string;
  operation: "insert" | "update" | "upsert";
  /** Data rows in the job's file. */
  rows: number;
}

/**
 * A fault given to one job: `failed` ends it `FAILED` like `failJobs` (no records written, no
 * result file); `missingRows` processes every row as usual but leaves the last `rows` rows out
 * of the result CSV, as a truncated result would.
 */
export type BiginJobFault = { kind: "failed" } | { kind: "missingRows"; rows: number };

/** A record the sandbox holds, with how often bulk jobs wrote it. */
export interface BiginRecord {
  /** The 18-digit record id, as the result file's `RECORD_ID`. */
  id: string;
  /** The module's API name. */
  module: string;
  /** Field values by API name; dates as `yyyy-MM-dd`, lookups as given. */
  fields: Record<string, string>;
  /** 1 for every record (it was added once); kept so "no duplicates" reads plainly in tests. */
  timesAdded: number;
  /** How many bulk rows updated the record since. */
  timesUpdated: number;
}

/** A job's status as the details endpoint reports it (before spelling is applied). */
export type BiginJobStatus = "ADDED" | "INPROGRESS" | "COMPLETED" | "FAILED";

/** What the sandbox remembers of one job. */
export interface BiginJobSummary {
  /** The 18-digit job id. */
  id: string;
  /** The job's operation. */
  operation: "insert" | "update" | "upsert";
  /** The module's API name. */
  module: string;
  /** The uploaded file the job reads. */
  fileId: string;
  /** The status now (`INPROGRESS` regardless of `inProgressSpelling`). */
  status: BiginJobStatus;
  /** Rows that added a record (0 until the job completes). */
  addedCount: number;
  /** Rows that updated a record. */
  updatedCount: number;
  /** Rows skipped for an error. */
  skippedCount: number;
  /** Rows never reached (see `recordLimit`); not part of `totalCount`. */
  unprocessedCount: number;
  /** added + updated + skipped, as `total_count` reports it. */
  totalCount: number;
}

/** What the sandbox remembers of one upload. */
export interface BiginUploadSummary {
  /** The 18-digit id the upload answered. */
  fileId: string;
  /** The CSV's name inside the ZIP. */
  name: string;
  /** The `X-CRM-ORG` the upload was sent with. */
  org: string;
  /** The header row. */
  columns: string[];
  /** Data rows (empty lines not counted). */
  rowCount: number;
  /** The delimiter detected from the header row. */
  delimiter: string;
  /** When the file was uploaded, Zoho-style. */
  createdTime: string;
}

/** The JSON-safe view `state()` returns. */
export interface BiginSandboxState {
  /** Access tokens granted by the token endpoint. */
  tokenGrants: number;
  /** Accepted uploads, oldest first. */
  uploads: BiginUploadSummary[];
  /** Created jobs, oldest first. */
  jobs: BiginJobSummary[];
  /** Records by module API name (every known module, even when empty). */
  records: Record<string, BiginRecord[]>;
}

/** The Bigin simulator: plug `handle` into a server; inspect it with `state()` and friends. */
export interface BiginSandbox {
  /** Answers the requests that are Bigin's or Zoho OAuth's; `undefined` for anything else. */
  handle(req: Request, url: URL, origin: string): Promise<Response | undefined>;
  /** A JSON-safe snapshot: token grants, uploads, jobs and records per module. */
  state(): BiginSandboxState;
  /** The records of one module (`Pipelines`, `Contacts`, `Accounts`), oldest first. */
  records(module: string): BiginRecord[];
  /** Every job, oldest first. */
  jobs(): BiginJobSummary[];
  /** How many access tokens the token endpoint has granted. */
  readonly tokenGrants: number;
  /** Expires every access token granted so far, to test a runner's refresh on 401. */
  expireAllTokens(): void;
}

const MB = 1024 * 1024;
const MAX_RECORDS = 25_000;
const MAX_COLUMNS = 200;
const CREATED_BY = { id: "111111000000035795", name: "Sandbox User" };
// Room for the multipart framing around the ZIP part.
const FORM_OVERHEAD = 64 * 1024;
const JSON_BODY_LIMIT = 1 * MB;

type Operation = "insert" | "update" | "upsert";
type RowStatus = "added" | "updated" | "skipped" | "unprocessed";

interface Upload {
  fileId: string;
  name: string;
  org: string;
  csv: ParsedCsv;
  createdTime: string;
}

interface Mapping {
  field: BiginField;
  index: number | null;
  /** For lookups: what the value identifies the linked record by. */
  lookupBy: string | undefined;
  defaultValue: string | undefined;
  dateFormat: FormatPart[] | undefined;
  /** The mapping as the details endpoint echoes it. */
  echo: Record<string, unknown>;
}

interface RowOutcome {
  status: RowStatus;
  recordId: string;
  errors: string;
}

interface Job {
  id: string;
  operation: Operation;
  module: BiginModule;
  upload: Upload;
  findBy: string | undefined;
  ignoreEmpty: boolean;
  characterEncoding: string;
  mappings: Mapping[];
  createdAt: number;
  createdTime: string;
  fault?: BiginJobFault;
  settled?: {
    status: "COMPLETED" | "FAILED";
    added: number;
    updated: number;
    skipped: number;
    unprocessed: number;
    resultZip?: Uint8Array;
  };
}

interface StoredRecord {
  id: string;
  fields: Map<string, string>;
  timesAdded: number;
  timesUpdated: number;
}

interface ModuleStore {
  byId: Map<string, StoredRecord>;
  /** Normalised unique-field value → record id. */
  byUnique: Map<string, string>;
}

/** An API error on its way to becoming a response. */
class ApiError extends Error {
  constructor(
    readonly httpStatus: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

function apiErrorResponse(e: ApiError): Response {
  return Response.json(
    { status: "error", code: e.code, message: e.message, details: e.details },
    { status: e.httpStatus },
  );
}

/** Zoho's timestamps: ISO 8601 to the second with an explicit offset. */
function zohoTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "+00:00");
}

function uniqueKey(value: string): string {
  return value.trim().toLowerCase();
}

function randomHex(bytes: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(bytes)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

/** Reads a body up to `max` bytes; `undefined` if it is longer (the rest is never read). */
async function readBounded(
  body: ReadableStream<Uint8Array> | null,
  max: number,
): Promise<Uint8Array<ArrayBuffer> | undefined> {
  if (!body) return new Uint8Array();
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > max) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * Creates the Bigin simulator. Time moves on the injected clock: a job's phase is read from its
 * age, and its rows are written once, by the first request (or `state()` call) that sees it done.
 *
 * Create-job errors (all HTTP 400): `INVALID_DATA` (body not JSON, bad `operation`, `type` not
 * `data`, bad `index`/`default_value`/`callback`, a field mapped twice), `MANDATORY_NOT_FOUND`
 * (a required key missing: `operation`, `resource`, `module`, `file_id`, `find_by` on
 * update/upsert, a mapping's `api_name` or both its `index` and `default_value`),
 * `MODULE_NOT_AVAILABLE`, `INVALID_FILE_ID`, `LIMIT_EXCEEDED` (> 25,000 rows),
 * `HEADER_LIMIT_EXCEEDED` (> 200 columns), `INVALID_FIELD` (unknown field, or a `find_by` that
 * is neither the module's unique field nor `id`), `COLUMN_INDEX_NOT_FOUND`, `INVALID_FORMAT`
 * (a date `format` other than `yyyy`/`MM`/`dd`/`HH`/`mm`/`ss` and separators),
 * `MANDATORY_FIELDS_NOT_MAPPED` (insert/upsert without every required field, or `find_by` not
 * mapped).
 *
 * Row processing: empty required value → `MANDATORY_NOT_FOUND-<Field>`; bad date, amount,
 * email, phone, website, id or over-long text → `INVALID_DATA-<Field>`; insert (or upsert
 * falling back to insert) whose unique field (`Deal_Name`, `Email`, `Account_Name`) exists →
 * `DUPLICATE_DATA-<Field>`; update whose `find_by` value matches nothing →
 * `RESOURCE_NOT_FOUND-<find_by>`. Fields of one code are joined by `,`, codes by `:`.
 *
 * @example
 * ```ts
 * const bigin = createBiginSandbox({ processingMs: 50 });
 * Deno.serve((req) => bigin.handle(req, new URL(req.url), "http://127.0.0.1:8000")
 *   .then((res) => res ?? new Response("not found", { status: 404 })));
 * ```
 */
export function createBiginSandbox(options: BiginSandboxOptions = {}): BiginSandbox {
  const clientId = options.clientId ?? "sandbox-client";
  const clientSecret = options.clientSecret ?? "sandbox-secret";
  const refreshToken = options.refreshToken ?? "sandbox-refresh-token";
  const processingMs = options.processingMs ?? 1000;
  const tokenTtlMs = options.tokenTtlMs ?? 3_600_000;
  const inProgress = options.inProgressSpelling ?? "INPROGRESS";
  const maxZipBytes = options.maxZipBytes ?? 25 * MB;
  const maxUncompressedBytes = options.maxUncompressedBytes ?? 100 * MB;
  const now = options.now ?? Date.now;

  const tokens = new Map<string, { expiresAt: number; usesLeft?: number; revoked: boolean }>();
  let tokenGrants = 0;
  const uploads = new Map<string, Upload>();
  const jobs = new Map<string, Job>();
  const stores = new Map<string, ModuleStore>(
    [...BIGIN_MODULES.keys()].map((m) => [m, { byId: new Map(), byUnique: new Map() }]),
  );
  let idSeq = 2_300_000;
  const nextId = () => "111111" + String(++idSeq).padStart(12, "0");

  // ---- auth ---------------------------------------------------------------------------------

  function authenticate(req: Request): void {
    const m = /^Zoho-oauthtoken\s+(\S+)$/.exec((req.headers.get("authorization") ?? "").trim());
    const t = m ? tokens.get(m[1]!) : undefined;
    if (
      !t || t.revoked || now() >= t.expiresAt || (t.usesLeft !== undefined && t.usesLeft <= 0)
    ) {
      throw new ApiError(401, "INVALID_TOKEN", "invalid oauth token");
    }
    if (t.usesLeft !== undefined) t.usesLeft--;
  }

  async function grantToken(req: Request, url: URL, origin: string): Promise<Response> {
    const params = new URLSearchParams(url.search);
    const type = req.headers.get("content-type") ?? "";
    if (type.includes("application/x-www-form-urlencoded")) {
      const body = await readBounded(req.body, 64 * 1024);
      if (body) {
        for (const [k, v] of new URLSearchParams(new TextDecoder().decode(body))) params.set(k, v);
      }
    }
    if (
      params.get("grant_type") !== "refresh_token" ||
      params.get("refresh_token") !== refreshToken ||
      params.get("client_id") !== clientId ||
      params.get("client_secret") !== clientSecret
    ) {
      return Response.json({ error: "invalid_code" }, { status: 400 });
    }
    tokenGrants++;
    const accessToken = `1000.${randomHex(16)}.${randomHex(16)}`;
    tokens.set(accessToken, {
      expiresAt: now() + tokenTtlMs,
      usesLeft: options.expireTokensAfterUses,
      revoked: false,
    });
    return Response.json({
      access_token: accessToken,
      api_domain: origin,
      token_type: "Bearer",
      expires_in: Math.round(tokenTtlMs / 1000),
    });
  }

  // ---- upload -------------------------------------------------------------------------------

  async function upload(req: Request): Promise<Response> {
    authenticate(req);
    const feature = req.headers.get("feature");
    if (feature === null || feature.trim() === "") {
      throw new ApiError(400, "MANDATORY_NOT_FOUND", "required header not found", {
        header: "feature",
      });
    }
    if (feature.trim() !== "bulk-write") {
      throw new ApiError(400, "INVALID_DATA", "invalid value for the feature header", {
        header: "feature",
        expected: "bulk-write",
      });
    }
    const org = (req.headers.get("x-crm-org") ?? "").trim();
    if (org === "") {
      throw new ApiError(400, "MANDATORY_NOT_FOUND", "required header not found", {
        header: "X-CRM-ORG",
      });
    }
    if (options.orgId !== undefined && org !== options.orgId) {
      throw new ApiError(400, "INVALID_DATA", "invalid organization id", { header: "X-CRM-ORG" });
    }
    const tooLarge = () =>
      new ApiError(400, "FILE_TOO_LARGE", "the file size exceeds the limit", {
        max_size: maxZipBytes,
      });
    const declared = Number(req.headers.get("content-length") ?? "0");
    if (declared > maxZipBytes + FORM_OVERHEAD) throw tooLarge();
    const body = await readBounded(req.body, maxZipBytes + FORM_OVERHEAD);
    if (!body) throw tooLarge();
    let file: FormDataEntryValue | null = null;
    try {
      const form = await new Response(body, {
        headers: { "content-type": req.headers.get("content-type") ?? "" },
      }).formData();
      file = form.get("file");
    } catch {
      // Not multipart at all: same answer as a form without the part.
    }
    if (file === null) {
      throw new ApiError(400, "MANDATORY_NOT_FOUND", "required param not found", {
        param_name: "file",
      });
    }
    const invalidFormat = (message: string) =>
      new ApiError(200, "INVALID_FILE_FORMAT", message, { param_name: "file" });
    if (typeof file === "string") throw invalidFormat("the file part is not a file");
    if (file.size > maxZipBytes) throw tooLarge();
    const zip = readSingleCsv(new Uint8Array(await file.arrayBuffer()), maxUncompressedBytes);
    if (!zip.ok) {
      if (zip.code === "FILE_TOO_LARGE") {
        throw new ApiError(400, "FILE_TOO_LARGE", zip.message, {
          max_uncompressed_size: maxUncompressedBytes,
        });
      }
      throw invalidFormat(zip.message);
    }
    let csv: ParsedCsv;
    try {
      csv = parseCsv(new TextDecoder().decode(zip.data));
    } catch (e) {
      if (e instanceof CsvSyntaxError) throw invalidFormat(`the CSV file is invalid: ${e.message}`);
      throw e;
    }
    const fileId = nextId();
    const createdTime = zohoTime(now());
    uploads.set(fileId, { fileId, name: zip.name, org, csv, createdTime });
    return Response.json({
      status: "success",
      code: "FILE_UPLOAD_SUCCESS",
      message: "file uploaded.",
      details: { file_id: fileId, created_time: createdTime },
    });
  }

  // ---- create job ---------------------------------------------------------------------------

  function invalid(message: string, details: Record<string, unknown>): ApiError {
    return new ApiError(400, "INVALID_DATA", message, details);
  }
  function missing(jsonPath: string): ApiError {
    return new ApiError(400, "MANDATORY_NOT_FOUND", "required field not found", {
      json_path: jsonPath,
    });
  }
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === "object" && v !== null && !Array.isArray(v);

  async function createJob(req: Request): Promise<Response> {
    authenticate(req);
    const raw = await readBounded(req.body, JSON_BODY_LIMIT);
    let body: unknown;
    try {
      body = JSON.parse(new TextDecoder().decode(raw ?? new Uint8Array()));
    } catch {
      throw invalid("the request body is not valid JSON", {});
    }
    if (!raw || !isObject(body)) throw invalid("the request body must be a JSON object", {});

    const operation = body.operation;
    if (operation === undefined) throw missing("$.operation");
    if (operation !== "insert" && operation !== "update" && operation !== "upsert") {
      throw invalid("invalid operation", {
        api_name: "operation",
        json_path: "$.operation",
        expected: ["insert", "update", "upsert"],
      });
    }
    const characterEncoding = body.character_encoding ?? "UTF-8";
    if (typeof characterEncoding !== "string") {
      throw invalid("invalid data", { json_path: "$.character_encoding" });
    }
    checkCallback(body.callback);

    const resources = body.resource;
    if (resources === undefined) throw missing("$.resource");
    if (!Array.isArray(resources) || resources.length !== 1 || !isObject(resources[0])) {
      throw invalid("resource must be an array holding one resource", {
        json_path: "$.resource",
      });
    }
    const res = resources[0];
    const at = "$.resource[0]";
    if (res.type === undefined) throw missing(`${at}.type`);
    if (res.type !== "data") {
      throw invalid("invalid type", { json_path: `${at}.type`, expected: "data" });
    }
    const ignoreEmpty = body.ignore_empty ?? res.ignore_empty ?? false;
    if (typeof ignoreEmpty !== "boolean") {
      throw invalid("ignore_empty must be a boolean", { json_path: "$.ignore_empty" });
    }

    if (res.module === undefined) throw missing(`${at}.module`);
    const moduleName = isObject(res.module) ? res.module.api_name : res.module;
    if (moduleName === undefined) throw missing(`${at}.module.api_name`);
    const module = typeof moduleName === "string" ? BIGIN_MODULES.get(moduleName) : undefined;
    if (!module) {
      throw new ApiError(400, "MODULE_NOT_AVAILABLE", "the module is not available", {
        api_name: moduleName,
        json_path: `${at}.module`,
        available: [...BIGIN_MODULES.keys()],
      });
    }

    if (res.file_id === undefined) throw missing(`${at}.file_id`);
    const upload = typeof res.file_id === "string" ? uploads.get(res.file_id) : undefined;
    if (!upload) {
      throw new ApiError(400, "INVALID_FILE_ID", "the given file id is invalid", {
        file_id: res.file_id,
        json_path: `${at}.file_id`,
      });
    }
    if (upload.csv.rows.length > MAX_RECORDS) {
      throw new ApiError(400, "LIMIT_EXCEEDED", "the file has more records than allowed", {
        limit: MAX_RECORDS,
        count: upload.csv.rows.length,
      });
    }
    const columns = upload.csv.header.length;
    if (columns > MAX_COLUMNS) {
      throw new ApiError(400, "HEADER_LIMIT_EXCEEDED", "the file has more columns than allowed", {
        limit: MAX_COLUMNS,
        count: columns,
      });
    }

    let findBy: string | undefined;
    if (res.find_by !== undefined && res.find_by !== null) {
      if (typeof res.find_by !== "string" || !isFindByField(module, res.find_by)) {
        throw new ApiError(400, "INVALID_FIELD", "find_by must be a unique field or id", {
          api_name: res.find_by,
          json_path: `${at}.find_by`,
          allowed: [module.uniqueField, "id"],
        });
      }
      findBy = res.find_by;
    } else if (operation !== "insert") {
      throw new ApiError(400, "MANDATORY_NOT_FOUND", "find_by is required for " + operation, {
        api_name: "find_by",
        json_path: `${at}.find_by`,
      });
    }

    const mappings = res.field_mappings === undefined || res.field_mappings === null
      ? mappingsFromHeader(module, upload.csv.header, operation)
      : compileMappings(module, res.field_mappings, columns, operation, `${at}.field_mappings`);

    const mapped = new Set(mappings.map((m) => m.field.apiName));
    if (findBy !== undefined && !mapped.has(findBy)) {
      throw new ApiError(400, "MANDATORY_FIELDS_NOT_MAPPED", "the find_by field is not mapped", {
        api_names: [findBy],
      });
    }
    if (operation !== "update") {
      const notMapped = module.fields.filter((f) => f.required && !mapped.has(f.apiName))
        .map((f) => f.apiName);
      if (notMapped.length > 0) {
        throw new ApiError(
          400,
          "MANDATORY_FIELDS_NOT_MAPPED",
          "required fields are not mapped",
          { api_names: notMapped },
        );
      }
    }

    const createdAt = now();
    const job: Job = {
      id: nextId(),
      operation,
      module,
      upload,
      findBy,
      ignoreEmpty,
      characterEncoding,
      mappings,
      createdAt,
      createdTime: zohoTime(createdAt),
    };
    const fault = options.jobFault?.({
      id: job.id,
      module: module.apiName,
      operation,
      rows: upload.csv.rows.length,
    });
    if (fault) job.fault = fault;
    jobs.set(job.id, job);
    return Response.json({
      status: "success",
      code: "SUCCESS",
      message: "success",
      details: { id: job.id, created_by: CREATED_BY },
    }, { status: 201 });
  }

  function checkCallback(callback: unknown): void {
    if (callback === undefined || callback === null) return;
    if (
      !isObject(callback) || typeof callback.url !== "string" ||
      !/^https?:\/\//.test(callback.url) || callback.method !== "post"
    ) {
      throw invalid("callback needs an http(s) url and method post", { json_path: "$.callback" });
    }
  }

  function isFindByField(module: BiginModule, name: string): boolean {
    return name === "id" || name === module.uniqueField;
  }

  function unknownField(apiName: unknown, jsonPath: string): ApiError {
    return new ApiError(400, "INVALID_FIELD", "the field is not available in the module", {
      api_name: apiName,
      json_path: jsonPath,
    });
  }

  function mappingsFromHeader(
    module: BiginModule,
    header: string[],
    operation: Operation,
  ): Mapping[] {
    const out: Mapping[] = [];
    header.forEach((name, index) => {
      // Lookup columns are written `Field.id` or `Field.ParentField`.
      const [apiName = "", lookupBy, ...rest] = name.trim().split(".");
      const field = findField(module, apiName);
      const ok = field && rest.length === 0 && lookupBy !== "" &&
        (lookupBy === undefined || field.type === "lookup") &&
        (field.type !== "id" || operation !== "insert");
      if (!field || !ok) throw unknownField(name, `$.file.header[${index}]`);
      if (out.some((m) => m.field.apiName === field.apiName)) {
        throw invalid("the field is mapped more than once", { api_name: field.apiName });
      }
      out.push({
        field,
        index,
        lookupBy,
        defaultValue: undefined,
        dateFormat: undefined,
        echo: {
          api_name: field.apiName,
          index,
          format: null,
          find_by: lookupBy ?? null,
          default_value: null,
        },
      });
    });
    return out;
  }

  function compileMappings(
    module: BiginModule,
    given: unknown,
    columns: number,
    operation: Operation,
    at: string,
  ): Mapping[] {
    if (!Array.isArray(given) || given.length === 0) {
      throw invalid("field_mappings must be a non-empty array", { json_path: at });
    }
    const out: Mapping[] = [];
    given.forEach((m: unknown, i) => {
      const here = `${at}[${i}]`;
      if (!isObject(m)) throw invalid("a field mapping must be an object", { json_path: here });
      if (m.api_name === undefined) throw missing(`${here}.api_name`);
      const field = typeof m.api_name === "string" ? findField(module, m.api_name) : undefined;
      if (!field || (field.type === "id" && operation === "insert")) {
        throw unknownField(m.api_name, `${here}.api_name`);
      }
      if (out.some((o) => o.field.apiName === field.apiName)) {
        throw invalid("the field is mapped more than once", {
          api_name: field.apiName,
          json_path: here,
        });
      }
      let index: number | null = null;
      if (m.index !== undefined && m.index !== null) {
        if (typeof m.index !== "number" || !Number.isInteger(m.index) || m.index < 0) {
          throw invalid("index must be a non-negative integer", { json_path: `${here}.index` });
        }
        if (m.index >= columns) {
          throw new ApiError(400, "COLUMN_INDEX_NOT_FOUND", "the column index is not in the file", {
            api_name: field.apiName,
            index: m.index,
            columns,
            json_path: `${here}.index`,
          });
        }
        index = m.index;
      }
      let defaultValue: string | undefined;
      if (m.default_value !== undefined && m.default_value !== null) {
        const v = isObject(m.default_value) ? m.default_value.value : undefined;
        if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean") {
          throw invalid("default_value must be an object with a value", {
            json_path: `${here}.default_value`,
          });
        }
        defaultValue = String(v);
      }
      if (index === null && defaultValue === undefined) {
        throw new ApiError(400, "MANDATORY_NOT_FOUND", "index or default_value is required", {
          api_name: field.apiName,
          json_path: `${here}.index`,
        });
      }
      let dateFormat: FormatPart[] | undefined;
      if (m.format !== undefined && m.format !== null && field.type === "date") {
        dateFormat = typeof m.format === "string" ? compileDateFormat(m.format) : undefined;
        if (!dateFormat) {
          throw new ApiError(400, "INVALID_FORMAT", "the date format is not supported", {
            api_name: field.apiName,
            format: m.format,
            json_path: `${here}.format`,
          });
        }
      }
      const lookupBy = typeof m.find_by === "string" ? m.find_by : undefined;
      out.push({
        field,
        index,
        lookupBy,
        defaultValue,
        dateFormat,
        echo: {
          api_name: field.apiName,
          index,
          format: m.format ?? null,
          find_by: m.find_by ?? null,
          default_value: m.default_value ?? null,
        },
      });
    });
    return out;
  }

  // ---- processing ---------------------------------------------------------------------------

  function phase(job: Job, at: number): "ADDED" | "INPROGRESS" | "DONE" {
    const age = at - job.createdAt;
    if (age >= processingMs) return "DONE";
    return age < processingMs / 3 ? "ADDED" : "INPROGRESS";
  }

  /** Writes the rows of every job whose time has come, in the order they were created. */
  function settleDue(): void {
    const at = now();
    for (const job of jobs.values()) {
      if (!job.settled && phase(job, at) === "DONE") settle(job);
    }
  }

  function settle(job: Job): void {
    if (options.failJobs || job.fault?.kind === "failed") {
      job.settled = { status: "FAILED", added: 0, updated: 0, skipped: 0, unprocessed: 0 };
      return;
    }
    const outcomes: RowOutcome[] = [];
    let stopped = false;
    for (const row of job.upload.csv.rows) {
      const outcome = stopped ? undefined : processRow(job, row);
      if (!outcome) {
        stopped = true;
        outcomes.push({ status: "unprocessed", recordId: "", errors: "LIMIT_EXCEEDED" });
      } else {
        outcomes.push(outcome);
      }
    }
    const count = (s: RowStatus) => outcomes.filter((o) => o.status === s).length;
    job.settled = {
      status: "COMPLETED",
      added: count("added"),
      updated: count("updated"),
      skipped: count("skipped"),
      unprocessed: count("unprocessed"),
      resultZip: resultZip(job, outcomes),
    };
  }

  /** Processes one row; `undefined` when the record limit stops the job. */
  function processRow(job: Job, row: string[]): RowOutcome | undefined {
    const module = job.module;
    const store = stores.get(module.apiName)!;
    // Most rows have no error: the collections are made when the first one is flagged.
    let errors: Map<string, Set<string>> | undefined;
    const flag = (code: string, field: string) => {
      errors ??= new Map();
      const set = errors.get(code) ?? new Set<string>();
      set.add(field);
      errors.set(code, set);
    };
    // Values per field; "" means the row gives the field an empty value.
    const values = new Map<string, string>();
    let invalidFields: Set<string> | undefined;
    for (const m of job.mappings) {
      let raw = m.index === null ? "" : row[m.index] ?? "";
      if (raw.trim() === "" && m.defaultValue !== undefined) raw = m.defaultValue;
      if (raw.trim() === "") {
        values.set(m.field.apiName, "");
        continue;
      }
      const checked = checkValue(m.field, raw, m.dateFormat, m.lookupBy);
      if (checked.ok) values.set(m.field.apiName, checked.value);
      else {
        (invalidFields ??= new Set()).add(m.field.apiName);
        flag("INVALID_DATA", m.field.apiName);
      }
    }

    let existing: StoredRecord | undefined;
    if (job.operation !== "insert" && job.findBy && !invalidFields?.has(job.findBy)) {
      const key = values.get(job.findBy) ?? "";
      if (key !== "") {
        existing = job.findBy === "id"
          ? store.byId.get(key)
          : store.byId.get(store.byUnique.get(uniqueKey(key)) ?? "");
        if (!existing && job.operation === "update") flag("RESOURCE_NOT_FOUND", job.findBy);
      } else if (job.operation === "update") {
        flag("MANDATORY_NOT_FOUND", job.findBy);
      }
    }
    const inserting = job.operation === "insert" ||
      (job.operation === "upsert" && !existing && !invalidFields?.has(job.findBy ?? ""));

    for (const f of module.fields) {
      if (!f.required || invalidFields?.has(f.apiName)) continue;
      const v = values.get(f.apiName);
      const emptied = v === "" && !job.ignoreEmpty;
      if ((inserting && (v === undefined || v === "")) || (existing && emptied)) {
        flag("MANDATORY_NOT_FOUND", f.apiName);
      }
    }
    const unique = values.get(module.uniqueField);
    if (unique && (inserting || existing)) {
      const holder = store.byUnique.get(uniqueKey(unique));
      if (holder !== undefined && holder !== existing?.id) {
        flag("DUPLICATE_DATA", module.uniqueField);
      }
    }

    if (errors) return { status: "skipped", recordId: "", errors: formatErrors(module, errors) };
    if (existing) {
      const before = existing.fields.get(module.uniqueField);
      for (const [name, value] of values) {
        if (name === "id") continue;
        if (value !== "") existing.fields.set(name, value);
        else if (!job.ignoreEmpty) existing.fields.delete(name);
      }
      const after = existing.fields.get(module.uniqueField);
      if (before !== after) {
        if (before !== undefined) store.byUnique.delete(uniqueKey(before));
        if (after !== undefined) store.byUnique.set(uniqueKey(after), existing.id);
      }
      existing.timesUpdated++;
      return { status: "updated", recordId: existing.id, errors: "" };
    }
    if (!inserting) {
      // An update or upsert row skipped for reasons already flagged; unreachable otherwise.
      return { status: "skipped", recordId: "", errors: "" };
    }
    if (options.recordLimit !== undefined && store.byId.size >= options.recordLimit) {
      return undefined;
    }
    const record: StoredRecord = {
      id: nextId(),
      fields: new Map([...values].filter(([k, v]) => k !== "id" && v !== "")),
      timesAdded: 1,
      timesUpdated: 0,
    };
    store.byId.set(record.id, record);
    if (unique) store.byUnique.set(uniqueKey(unique), record.id);
    return { status: "added", recordId: record.id, errors: "" };
  }

  function formatErrors(module: BiginModule, errors: Map<string, Set<string>>): string {
    const order = ["id", ...module.fields.map((f) => f.apiName)];
    const codes = ["MANDATORY_NOT_FOUND", "INVALID_DATA", "DUPLICATE_DATA", "RESOURCE_NOT_FOUND"];
    return codes.filter((c) => errors.has(c)).map((c) =>
      `${c}-${[...errors.get(c)!].sort((a, b) => order.indexOf(a) - order.indexOf(b)).join(",")}`
    ).join(":");
  }

  function resultZip(job: Job, outcomes: RowOutcome[]): Uint8Array {
    const header = job.upload.csv.header;
    let keep = header.map((_, i) => i);
    if (options.resultColumns === "firstThreeMapped") {
      keep = [...new Set(job.mappings.flatMap((m) => m.index === null ? [] : [m.index]))]
        .sort((a, b) => a - b).slice(0, 3);
    }
    const status = (s: RowStatus) => options.resultStatusCase === "upper" ? s.toUpperCase() : s;
    const lines = [[...keep.map((i) => header[i]!), "STATUS", "RECORD_ID", "ERRORS"]];
    const omit = job.fault?.kind === "missingRows" ? job.fault.rows : 0;
    const rows = job.upload.csv.rows;
    rows.slice(0, Math.max(0, rows.length - omit)).forEach((row, r) => {
      const o = outcomes[r]!;
      lines.push([...keep.map((i) => row[i] ?? ""), status(o.status), o.recordId, o.errors]);
    });
    const base = job.upload.name.split("/").pop()!;
    return zipOne(`${job.module.apiName}-${base}`, new TextEncoder().encode(writeCsv(lines)));
  }

  // ---- job details and result ---------------------------------------------------------------

  function downloadPath(job: Job): string {
    return `/v2/bigin/org${encodeURIComponent(job.upload.org)}/bulk-write/${job.id}/${job.id}.zip`;
  }

  function jobStatus(job: Job, at: number): BiginJobStatus {
    if (job.settled) return job.settled.status;
    return phase(job, at) === "ADDED" ? "ADDED" : "INPROGRESS";
  }

  function details(job: Job, origin: string): Record<string, unknown> {
    const status = jobStatus(job, now());
    const spell = (s: string) => s === "INPROGRESS" ? inProgress : s;
    const resource: Record<string, unknown> = {
      status: spell(status === "ADDED" ? "INPROGRESS" : status),
      type: "data",
      module: job.module.apiName,
    };
    if (job.findBy !== undefined) resource.find_by = job.findBy;
    resource.field_mappings = job.mappings.map((m) => m.echo);
    if (status === "ADDED") {
      resource.file = { status: spell("INPROGRESS") };
      return {
        status: "ADDED",
        resource: [resource],
        id: job.id,
        created_by: CREATED_BY,
        operation: job.operation,
        created_time: job.createdTime,
      };
    }
    const s = job.settled;
    resource.file = {
      status: spell(status),
      name: job.upload.name,
      added_count: s?.added ?? 0,
      skipped_count: s?.skipped ?? 0,
      updated_count: s?.updated ?? 0,
      total_count: s ? s.added + s.skipped + s.updated : 0,
    };
    const out: Record<string, unknown> = {
      status: spell(status),
      character_encoding: job.characterEncoding,
      resource: [resource],
      id: job.id,
    };
    if (s?.resultZip) {
      const path = downloadPath(job);
      out.result = { download_url: options.absoluteDownloadUrl ? origin + path : path };
    }
    out.created_by = CREATED_BY;
    out.operation = job.operation;
    out.created_time = job.createdTime;
    return out;
  }

  function notFound(): ApiError {
    return new ApiError(404, "RESOURCE_NOT_FOUND", "the requested resource doesn't exist");
  }

  // ---- routing ------------------------------------------------------------------------------

  async function route(req: Request, url: URL, origin: string): Promise<Response> {
    const path = url.pathname;
    const only = (method: string) => {
      if (req.method !== method) {
        throw new ApiError(
          400,
          "INVALID_REQUEST_METHOD",
          "The http request method type is not a valid one",
        );
      }
    };
    if (path === "/bigin/v2/upload") {
      only("POST");
      return await upload(req);
    }
    if (path === "/bigin/bulk/v2/write") {
      only("POST");
      return await createJob(req);
    }
    const detail = /^\/bigin\/bulk\/v2\/write\/([^/]+)$/.exec(path);
    if (detail) {
      only("GET");
      authenticate(req);
      settleDue();
      const job = jobs.get(detail[1]!);
      if (!job) throw notFound();
      return Response.json(details(job, origin));
    }
    const download = /^\/v2\/bigin\/([^/]+)\/bulk-write\/([^/]+)\/([^/]+)\.zip$/.exec(path);
    if (download) {
      only("GET");
      authenticate(req);
      settleDue();
      const job = jobs.get(download[2]!);
      if (!job || download[3] !== job.id || path !== downloadPath(job) || !job.settled?.resultZip) {
        throw notFound();
      }
      return new Response(job.settled.resultZip.slice(), {
        headers: {
          "content-type": "application/zip",
          "content-disposition": `attachment; filename="${job.id}.zip"`,
        },
      });
    }
    throw new ApiError(
      404,
      "INVALID_URL_PATTERN",
      "Please check if the URL trying to access is a correct one",
    );
  }

  // ---- inspection ---------------------------------------------------------------------------

  function recordsOf(module: string): BiginRecord[] {
    settleDue();
    const store = stores.get(module);
    if (!store) return [];
    return [...store.byId.values()].map((r) => ({
      id: r.id,
      module,
      fields: Object.fromEntries(r.fields),
      timesAdded: r.timesAdded,
      timesUpdated: r.timesUpdated,
    }));
  }

  function jobSummaries(): BiginJobSummary[] {
    settleDue();
    const at = now();
    return [...jobs.values()].map((j) => {
      const s = j.settled;
      return {
        id: j.id,
        operation: j.operation,
        module: j.module.apiName,
        fileId: j.upload.fileId,
        status: jobStatus(j, at),
        addedCount: s?.added ?? 0,
        updatedCount: s?.updated ?? 0,
        skippedCount: s?.skipped ?? 0,
        unprocessedCount: s?.unprocessed ?? 0,
        totalCount: s ? s.added + s.updated + s.skipped : 0,
      };
    });
  }

  return {
    async handle(req, url, origin) {
      const path = url.pathname;
      const ours = path === "/oauth/v2/token" || path.startsWith("/bigin/") ||
        path.startsWith("/v2/bigin/");
      if (!ours) return undefined;
      try {
        if (path === "/oauth/v2/token") {
          if (req.method !== "POST") {
            return Response.json({ error: "invalid_request" }, { status: 400 });
          }
          return await grantToken(req, url, origin);
        }
        return await route(req, url, origin);
      } catch (e) {
        if (e instanceof ApiError) return apiErrorResponse(e);
        return apiErrorResponse(
          new ApiError(500, "INTERNAL_ERROR", "Internal Server Error", {
            reason: e instanceof Error ? e.message : String(e),
          }),
        );
      }
    },
    state() {
      return {
        tokenGrants,
        uploads: [...uploads.values()].map((u) => ({
          fileId: u.fileId,
          name: u.name,
          org: u.org,
          columns: [...u.csv.header],
          rowCount: u.csv.rows.length,
          delimiter: u.csv.delimiter,
          createdTime: u.createdTime,
        })),
        jobs: jobSummaries(),
        records: Object.fromEntries([...stores.keys()].map((m) => [m, recordsOf(m)])),
      };
    },
    records: recordsOf,
    jobs: jobSummaries,
    get tokenGrants() {
      return tokenGrants;
    },
    expireAllTokens() {
      for (const t of tokens.values()) t.revoked = true;
    },
  };
}
