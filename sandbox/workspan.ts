/**
 * Simulator of the WorkSpan Bulk API v1: load opportunities (`POST /bulk/v1/bulkload_opportunity`),
 * execution status (`GET /bulk/v1/status/{integration_id}`) and the OAuth2 client-credentials
 * token endpoint (`POST /oauth/token`).
 *
 * It follows the documentation pages in `../shared/seeds/` (answer shapes, messages, status codes)
 * and documents every behaviour it had to choose in `sandbox/README.md`. It is written apart from
 * `runner/` on purpose: a misreading of the API in the runner must not be repeated here.
 *
 * Processing is simulated without timers: an execution becomes `completed` once `processingMs`
 * have passed on the clock, observed the next time anything looks (a request or an accessor).
 * Its rows are checked and written to the record store at that moment, in the order the
 * executions fall due.
 *
 * @example
 * ```ts
 * import { startSandbox } from "./server.ts";
 * const sandbox = await startSandbox({ workspan: { processingMs: 50 } });
 * try {
 *   // POST ${sandbox.url}/bulk/v1/bulkload_opportunity?integration_id=WS-Integration_demo ...
 *   console.log(sandbox.workspan.loadCount("aw00079"));
 * } finally {
 *   await sandbox.close();
 * }
 * ```
 *
 * @module
 */

/**
 * How the sandbox checks a declared field's value. Empty values (blank, `null`, absent) pass.
 * `{ oneOf: [...] }` is a picklist, as an integration configured in the WorkSpan app has for
 * fields like the stage.
 */
export type WorkspanFieldType = "number" | "date" | "boolean" | { oneOf: readonly string[] };

/** A value of a flat row: what a CSV cell or a JSON scalar can be. */
export type WorkspanValue = string | number | boolean | null;

/** One received row, as the sandbox got it (CSV cells are strings). */
export type WorkspanRow = Record<string, WorkspanValue>;

/** Options of {@linkcode createWorkspanSandbox}; all optional. */
export interface WorkspanSandboxOptions {
  /**
   * Static bearer token accepted on the bulk endpoints (default `"sandbox-token"`). `null`
   * accepts only tokens issued by `POST /oauth/token`.
   */
  token?: string | null;
  /** Client id for `POST /oauth/token` (default `"sandbox-client"`). */
  clientId?: string;
  /** Client secret for `POST /oauth/token` (default `"sandbox-secret"`). */
  clientSecret?: string;
  /** Lifetime of issued tokens in milliseconds (default 3 600 000, the documented hour). */
  tokenTtlMs?: number;
  /** Time from upload until an execution is `completed` (default 1000 ms). */
  processingMs?: number;
  /**
   * Known integration ids; others get 404. Default: any id matching `WS-Integration_` followed
   * by letters, digits, `_` or `-` (so a stray `?` glued onto the id is caught).
   */
  integrations?: readonly string[];
  /** Field every row must have a value for (default `"opportunity_id"`). */
  keyField?: string;
  /**
   * Declared fields and their types, checked at processing time
   * (default `{ close_date: "date", amount: "number" }`). Undeclared fields are accepted as is.
   */
  fields?: Readonly<Record<string, WorkspanFieldType>>;
  /** Send `errors[].data_row` as a JSON string (as the schema says) instead of an object. */
  dataRowAsString?: boolean;
  /** Executions never complete: for testing a runner's poll timeout. */
  statusAlwaysRunning?: boolean;
  /**
   * Asked once per new execution, when the upload is accepted: a fault to give that execution,
   * or `undefined` for none. The sandbox's fault injection (`./faults.ts`) plugs in here.
   */
  executionFault?: (execution: WorkspanExecutionInfo) => WorkspanExecutionFault | undefined;
  /** `max_errors` used when the status request gives none (default 10). */
  maxErrorsDefault?: number;
  /**
   * When set, the bulk endpoints also require `Ocp-Apim-Subscription-Key: <key>`, as the API
   * gateway in front of WorkSpan may.
   */
  subscriptionKey?: string;
  /** Clock in epoch milliseconds (default `Date.now`); tests inject one to step time. */
  now?: () => number;
}

/** What {@linkcode WorkspanSandboxOptions.executionFault} is told about a new execution. */
export interface WorkspanExecutionInfo {
  integrationId: string;
  executionId: string;
  /** Rows received. */
  rows: number;
}

/**
 * A fault given to one execution: `stuck` never completes (stays `running`, loads nothing);
 * `failed` completes with `status_msg` set, `success_count` 0 and every row counted in
 * `error_count`, loading nothing (how WorkSpan reports an execution that failed as a whole).
 */
export type WorkspanExecutionFault = { kind: "stuck" } | { kind: "failed"; message: string };

/** An execution as the sandbox holds it (camelCase view; the API answers in snake_case). */
export interface WorkspanExecution {
  integrationId: string;
  executionId: string;
  status: "running" | "completed";
  /** How the body was read. */
  contentType: "CSV" | "JSON";
  /** ISO 8601; also the execution's `started_at`. */
  createdAt: string;
  /** ISO 8601, once completed. */
  completedAt?: string;
  /** Rows the sandbox parsed out of the upload. */
  rowsReceived: number;
  /** `input_count` as the status answer reports it. */
  inputCount: number;
  /** Present once completed. */
  successCount?: number;
  /** Present once completed. */
  errorCount?: number;
  /** Present once completed. */
  skipCount?: number;
  /** Present once completed, when the execution failed as a whole (no rows loaded). */
  statusMsg?: string;
}

/** One row error as the status answer lists it. */
export interface WorkspanRowError {
  /** Key field value of the failed row; `""` when it has none. */
  id: string;
  message: string;
  data_row: WorkspanRow | string;
}

/** A loaded record: the latest row stored under a key and how many times it was loaded. */
export interface WorkspanRecord {
  key: string;
  row: WorkspanRow;
  loads: number;
  /** Execution that loaded it last. */
  executionId: string;
}

/** One request the simulator answered. Never holds header values or bodies. */
export interface WorkspanRequest {
  method: string;
  path: string;
  /** The raw query string including `?`, or `""`. */
  query: string;
  status: number;
  /** Which credential the request carried, judged by the bulk endpoints. */
  auth: WorkspanAuthKind;
}

/** How a request authenticated: `static` token, `issued` OAuth token, or a failure kind. */
export type WorkspanAuthKind = "none" | "static" | "issued" | "expired" | "invalid";

/** JSON-safe snapshot of the simulator, served at `/_sandbox/state`. */
export interface WorkspanState {
  executions: WorkspanExecution[];
  /** Per key: how many times it was loaded, and the latest row. */
  records: Record<string, { loads: number; row: WorkspanRow }>;
  requests: WorkspanRequest[];
}

/** The WorkSpan simulator: an HTTP handler plus typed views of what it received. */
export interface WorkspanSandbox {
  /** Answers WorkSpan requests; `undefined` for paths that are not WorkSpan's. */
  handle(req: Request, url: URL, origin: string): Promise<Response | undefined>;
  /** JSON-safe snapshot (see {@linkcode WorkspanState}). */
  state(): WorkspanState;
  /** How many times a row with this key value was loaded successfully (0 if never). */
  loadCount(key: string): number;
  /** The record store, in first-load order. */
  records(): WorkspanRecord[];
  /** All executions, in upload order. */
  executions(): WorkspanExecution[];
  /** Every request answered, in order. */
  readonly requests: readonly WorkspanRequest[];
}

/** Defaults of {@linkcode WorkspanSandboxOptions}, for CLIs and docs that show them. */
export const WORKSPAN_DEFAULTS = {
  token: "sandbox-token",
  clientId: "sandbox-client",
  clientSecret: "sandbox-secret",
  tokenTtlMs: 3_600_000,
  processingMs: 1000,
  keyField: "opportunity_id",
  fields: { close_date: "date", amount: "number" },
  maxErrorsDefault: 10,
} as const satisfies WorkspanSandboxOptions;

const INVALID_INPUT = "invalid input, object invalid";
const AUTH_ERROR = "Authorization Error";
const NOT_FOUND = "integration_id or execution_id not found";
const DEFAULT_INTEGRATION = /^WS-Integration_[A-Za-z0-9_-]+$/;
const EXECUTION_ID = /^[0-9a-f]{11}$/;
const STATUS_PREFIX = "/bulk/v1/status/";

interface Outcome {
  completedAt: number;
  success: number;
  errors: WorkspanRowError[];
  /** Set when the execution failed as a whole: no rows loaded, every row counted as an error. */
  statusMsg?: string;
}

interface Execution {
  integrationId: string;
  executionId: string;
  contentType: "CSV" | "JSON";
  createdAt: number;
  /** Rows parsed out of the upload, until the execution is processed (then released). */
  rows: WorkspanRow[];
  /** How many rows the upload held (`input_count`). */
  count: number;
  fault?: WorkspanExecutionFault;
  outcome?: Outcome;
}

/** A body the sandbox cannot read; answered 400 with the documented message and a detail. */
class InvalidInput extends Error {}

/**
 * Creates a WorkSpan simulator. Mount it with `startSandbox` from `./server.ts`, or call
 * `handle` directly.
 *
 * @param options behaviour switches; every one has a default (see {@linkcode WorkspanSandboxOptions})
 * @returns the handler and its typed views
 */
export function createWorkspanSandbox(options: WorkspanSandboxOptions = {}): WorkspanSandbox {
  const now = options.now ?? Date.now;
  const d = WORKSPAN_DEFAULTS;
  const staticToken = options.token === undefined ? d.token : options.token;
  const clientId = options.clientId ?? d.clientId;
  const clientSecret = options.clientSecret ?? d.clientSecret;
  const tokenTtlMs = options.tokenTtlMs ?? d.tokenTtlMs;
  const processingMs = options.processingMs ?? d.processingMs;
  const keyField = options.keyField ?? d.keyField;
  const fields: [string, WorkspanFieldType][] = Object.entries(options.fields ?? d.fields);
  const maxErrorsDefault = options.maxErrorsDefault ?? d.maxErrorsDefault;
  const integrations = options.integrations ? new Set(options.integrations) : undefined;

  const executions = new Map<string, Execution>();
  const store = new Map<string, WorkspanRecord>();
  const issued = new Map<string, number>(); // token -> expiry (epoch ms)
  const requests: WorkspanRequest[] = [];

  const knownIntegration = (id: string) =>
    integrations ? integrations.has(id) : DEFAULT_INTEGRATION.test(id);

  /** Completes every execution whose processing time has passed, in the order they fall due. */
  function settle(): void {
    if (options.statusAlwaysRunning) return;
    const t = now();
    // Map iteration is upload order, and every execution takes the same processingMs, so upload
    // order is due order. A stuck execution is simply never due.
    for (const ex of executions.values()) {
      if (ex.outcome || ex.fault?.kind === "stuck" || ex.createdAt + processingMs > t) continue;
      const completedAt = ex.createdAt + processingMs;
      ex.outcome = ex.fault?.kind === "failed"
        ? { completedAt, success: 0, errors: [], statusMsg: ex.fault.message }
        : processRows(ex, completedAt);
      // Processed rows live on in the store (or in the outcome's errors); the upload is let go.
      ex.rows = [];
    }
  }

  /** Checks each row and writes the good ones to the record store. */
  function processRows(ex: Execution, completedAt: number): Outcome {
    const errors: WorkspanRowError[] = [];
    let success = 0;
    for (const row of ex.rows) {
      const key = keyOf(row[keyField]);
      let message: string | undefined;
      if (key === "") message = "Missing value of key field";
      else {
        const bad = fields.find(([name, type]) => !validValue(type, row[name]));
        if (bad) message = `invalid value in field '${bad[0]}'`;
      }
      if (message !== undefined) {
        errors.push({
          id: key,
          message,
          data_row: options.dataRowAsString ? JSON.stringify(row) : { ...row },
        });
        continue;
      }
      success++;
      const record = store.get(key);
      if (record) {
        // The parsed row belongs to the sandbox alone: stored as is, not copied.
        record.row = row;
        record.loads++;
        record.executionId = ex.executionId;
      } else {
        store.set(key, { key, row, loads: 1, executionId: ex.executionId });
      }
    }
    return { completedAt, success, errors };
  }

  function authenticate(req: Request): WorkspanAuthKind {
    const header = req.headers.get("authorization");
    if (!header) return "none";
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) return "invalid";
    const token = match[1]!;
    if (staticToken !== null && token === staticToken) return "static";
    const expiry = issued.get(token);
    if (expiry === undefined) return "invalid";
    return expiry > now() ? "issued" : "expired";
  }

  /** Gateway check, then bearer token; a Response when the request may not pass. */
  function guard(req: Request, auth: WorkspanAuthKind): Response | undefined {
    if (options.subscriptionKey !== undefined) {
      const key = req.headers.get("ocp-apim-subscription-key");
      if (key !== options.subscriptionKey) {
        // The wording Azure API Management uses in front of the API.
        const message = key === null
          ? "Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API."
          : "Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription.";
        return Response.json({ statusCode: 401, message }, { status: 401 });
      }
    }
    if (auth === "static" || auth === "issued") return undefined;
    return Response.json({ message: AUTH_ERROR }, {
      status: 401,
      headers: { "www-authenticate": "Bearer" },
    });
  }

  async function bulkload(req: Request, url: URL, auth: WorkspanAuthKind): Promise<Response> {
    const denied = guard(req, auth);
    if (denied) return denied;
    const q = url.searchParams;
    const integrationId = q.get("integration_id");
    if (!integrationId) return invalidInput("integration_id is required");
    if (!knownIntegration(integrationId)) {
      return Response.json({ message: "integration_id not found" }, { status: 404 });
    }
    let rows: WorkspanRow[];
    let contentType: "CSV" | "JSON";
    try {
      contentType = readContentType(q.get("content_type"), req.headers.get("content-type"));
      const text = stripBom(await req.text());
      if (contentType === "CSV") {
        const delimiter = q.get("column_delimiter") ?? ",";
        if (delimiter.length !== 1 || /["\r\n]/.test(delimiter)) {
          throw new InvalidInput(`column_delimiter must be one character other than '"', CR, LF`);
        }
        if (!readBoolean(q.get("has_header_row"), true, "has_header_row")) {
          throw new InvalidInput("has_header_row=false is not supported: columns need names");
        }
        rows = csvRows(parseCsv(text, delimiter));
      } else {
        rows = jsonRows(text);
      }
    } catch (e) {
      if (e instanceof InvalidInput) return invalidInput(e.message);
      throw e;
    }
    let executionId: string;
    do executionId = newExecutionId(); while (executions.has(executionId));
    const createdAt = now();
    const ex: Execution = {
      integrationId,
      executionId,
      contentType,
      createdAt,
      rows,
      count: rows.length,
    };
    const fault = options.executionFault?.({ integrationId, executionId, rows: rows.length });
    if (fault) ex.fault = fault;
    executions.set(executionId, ex);
    return Response.json({
      integration_id: integrationId,
      execution_id: executionId,
      created_at: new Date(createdAt).toISOString(),
    });
  }

  function status(req: Request, url: URL, auth: WorkspanAuthKind): Response {
    const denied = guard(req, auth);
    if (denied) return denied;
    const q = url.searchParams;
    const executionId = q.get("execution_id");
    if (executionId === null || !EXECUTION_ID.test(executionId)) {
      return Response.json({ message: "invalid execution_id" }, { status: 400 });
    }
    let includeErrors: boolean;
    let maxErrors: number;
    try {
      includeErrors = readBoolean(q.get("include_errors"), false, "include_errors");
      maxErrors = readCount(q.get("max_errors"), maxErrorsDefault);
    } catch (e) {
      if (e instanceof InvalidInput) return Response.json({ message: e.message }, { status: 400 });
      throw e;
    }
    let integrationId: string;
    try {
      integrationId = decodeURIComponent(url.pathname.slice(STATUS_PREFIX.length));
    } catch {
      integrationId = "";
    }
    const ex = executions.get(executionId);
    if (!ex || ex.integrationId !== integrationId) {
      return Response.json({ message: NOT_FOUND }, { status: 404 });
    }
    const base = {
      integration_id: ex.integrationId,
      execution_id: ex.executionId,
      status: ex.outcome ? "completed" : "running",
      input_count: ex.count,
    };
    const startedAt = new Date(ex.createdAt).toISOString();
    const echo = { include_errors: includeErrors, max_errors: maxErrors };
    if (!ex.outcome) return Response.json({ ...base, started_at: startedAt, ...echo });
    const { outcome } = ex;
    return Response.json({
      ...base,
      ...(outcome.statusMsg !== undefined ? { status_msg: outcome.statusMsg } : {}),
      error_count: errorCount(ex, outcome),
      success_count: outcome.success,
      skip_count: 0,
      started_at: startedAt,
      completed_at: new Date(outcome.completedAt).toISOString(),
      ...echo,
      ...(includeErrors ? { errors: outcome.errors.slice(0, maxErrors) } : {}),
    });
  }

  async function token(req: Request): Promise<Response> {
    const oauthError = (status: number, error: string, description: string) =>
      Response.json({ error, error_description: description }, { status });
    const type = (req.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
    if (type !== "application/x-www-form-urlencoded") {
      return oauthError(400, "invalid_request", "body must be application/x-www-form-urlencoded");
    }
    const form = new URLSearchParams(await req.text());
    let id = form.get("client_id");
    let secret = form.get("client_secret");
    // RFC 6749 section 2.3.1 lets a client send its credentials as HTTP Basic instead.
    const basic = /^Basic\s+(\S+)$/i.exec(req.headers.get("authorization") ?? "");
    if (basic && id === null && secret === null) {
      try {
        const [user, ...rest] = atob(basic[1]!).split(":");
        id = decodeURIComponent(user!);
        secret = decodeURIComponent(rest.join(":"));
      } catch {
        return oauthError(400, "invalid_request", "malformed Basic credentials");
      }
    }
    const grantType = form.get("grant_type");
    if (!grantType || !id || !secret) {
      return oauthError(
        400,
        "invalid_request",
        "grant_type, client_id and client_secret are required",
      );
    }
    if (grantType !== "client_credentials") {
      return oauthError(400, "unsupported_grant_type", "only client_credentials is supported");
    }
    if (id !== clientId || secret !== clientSecret) {
      return oauthError(401, "invalid_client", "unknown client or wrong secret");
    }
    const accessToken = `ws-sandbox-${randomHex(32)}`;
    issued.set(accessToken, now() + tokenTtlMs);
    return Response.json({
      access_token: accessToken,
      token_type: "Bearer",
      expires_in: Math.ceil(tokenTtlMs / 1000),
    });
  }

  function methodNotAllowed(allow: string): Response {
    return Response.json({ message: "Method not allowed" }, { status: 405, headers: { allow } });
  }

  function executionView(ex: Execution): WorkspanExecution {
    const view: WorkspanExecution = {
      integrationId: ex.integrationId,
      executionId: ex.executionId,
      status: ex.outcome ? "completed" : "running",
      contentType: ex.contentType,
      createdAt: new Date(ex.createdAt).toISOString(),
      rowsReceived: ex.count,
      inputCount: ex.count,
    };
    if (ex.outcome) {
      view.completedAt = new Date(ex.outcome.completedAt).toISOString();
      view.successCount = ex.outcome.success;
      view.errorCount = errorCount(ex, ex.outcome);
      view.skipCount = 0;
      if (ex.outcome.statusMsg !== undefined) view.statusMsg = ex.outcome.statusMsg;
    }
    return view;
  }

  const sandbox: WorkspanSandbox = {
    async handle(req, url) {
      const path = url.pathname;
      const route = path === "/oauth/token"
        ? "token"
        : path === "/bulk/v1/bulkload_opportunity"
        ? "load"
        : path.startsWith(STATUS_PREFIX)
        ? "status"
        : undefined;
      if (!route) return undefined;
      settle();
      const auth = route === "token" ? "none" : authenticate(req);
      let res: Response;
      if (route === "token") {
        res = req.method === "POST" ? await token(req) : methodNotAllowed("POST");
      } else if (route === "load") {
        res = req.method === "POST" ? await bulkload(req, url, auth) : methodNotAllowed("POST");
      } else {
        res = req.method === "GET" ? status(req, url, auth) : methodNotAllowed("GET");
      }
      requests.push({ method: req.method, path, query: url.search, status: res.status, auth });
      return res;
    },
    state() {
      settle();
      return {
        executions: [...executions.values()].map(executionView),
        // Object.fromEntries defines own properties, so a key "__proto__" stays a key.
        records: Object.fromEntries(
          [...store.values()].map((r) => [r.key, { loads: r.loads, row: { ...r.row } }]),
        ),
        requests: requests.map((r) => ({ ...r })),
      };
    },
    loadCount(key) {
      settle();
      return store.get(key)?.loads ?? 0;
    },
    records() {
      settle();
      return [...store.values()].map((r) => ({ ...r, row: { ...r.row } }));
    },
    executions() {
      settle();
      return [...executions.values()].map(executionView);
    },
    requests,
  };
  return sandbox;
}

/** A failed execution counts every row as an error, though it lists none in `errors[]`. */
function errorCount(ex: Execution, outcome: Outcome): number {
  return outcome.statusMsg !== undefined ? ex.count : outcome.errors.length;
}

function invalidInput(detail: string): Response {
  // `detail` is the sandbox's own addition to the documented message, to help users debug.
  return Response.json({ message: INVALID_INPUT, detail }, { status: 400 });
}

/** The query parameter wins (case-insensitive); else the Content-Type header; else JSON. */
function readContentType(param: string | null, header: string | null): "CSV" | "JSON" {
  if (param !== null) {
    const upper = param.toUpperCase();
    if (upper === "CSV" || upper === "JSON") return upper;
    throw new InvalidInput(`content_type must be CSV or JSON, got "${param}"`);
  }
  return /\bcsv\b/i.test(header ?? "") ? "CSV" : "JSON";
}

function readBoolean(value: string | null, fallback: boolean, name: string): boolean {
  if (value === null) return fallback;
  const lower = value.toLowerCase();
  if (lower === "true") return true;
  if (lower === "false") return false;
  throw new InvalidInput(`invalid ${name}`);
}

function readCount(value: string | null, fallback: number): number {
  if (value === null) return fallback;
  if (!/^\d+$/.test(value)) throw new InvalidInput("invalid max_errors");
  return Number(value);
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function keyOf(value: WorkspanValue | undefined): string {
  if (value === undefined || value === null) return "";
  const text = String(value);
  return text.trim() === "" ? "" : text;
}

/**
 * Whether a string is `yyyy-MM-dd` naming a real day of the proleptic Gregorian calendar (what
 * `Date` takes without rolling over), checked without building a `Date`: the sandbox checks
 * every date of every upload.
 */
export function isCalendarDate(value: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return false;
  const month = Number(m[2]);
  const day = Number(m[3]);
  return month >= 1 && month <= 12 && day >= 1 && day <= daysIn(Number(m[1]), month);
}

/** Days in a month of the proleptic Gregorian calendar (month 1-12). */
function daysIn(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

function validValue(type: WorkspanFieldType, value: WorkspanValue | undefined): boolean {
  if (value === undefined || value === null || keyOf(value) === "") return true;
  if (typeof type === "object") return type.oneOf.includes(String(value));
  switch (type) {
    case "number":
      return typeof value === "number" ? Number.isFinite(value) : typeof value === "string" &&
        /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(value.trim());
    case "date": {
      return typeof value === "string" && isCalendarDate(value);
    }
    case "boolean":
      return typeof value === "boolean" ||
        (typeof value === "string" && /^(true|false)$/i.test(value.trim()));
  }
}

function jsonRows(text: string): WorkspanRow[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new InvalidInput(`body is not JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(data)) throw new InvalidInput("body must be a JSON array of objects");
  if (data.length === 0) throw new InvalidInput("body has no rows");
  for (let i = 0; i < data.length; i++) {
    const item = data[i];
    if (typeof item !== "object" || item === null || Array.isArray(item)) {
      throw new InvalidInput(`item ${i} is not an object`);
    }
    // for...in over a parsed object: own keys only, and no [name, value] array per field.
    for (const name in item) {
      const value = item[name];
      if (typeof value === "object" && value !== null) {
        throw new InvalidInput(`item ${i} is not flat: field "${name}" holds an object or array`);
      }
    }
  }
  return data as WorkspanRow[];
}

function csvRows(records: string[][]): WorkspanRow[] {
  const [header, ...data] = records;
  if (!header) throw new InvalidInput("CSV body is empty");
  const seen = new Set<string>();
  for (const name of header) {
    if (name === "") throw new InvalidInput("CSV header has an empty column name");
    if (seen.has(name)) throw new InvalidInput(`CSV header repeats column "${name}"`);
    seen.add(name);
  }
  if (data.length === 0) throw new InvalidInput("CSV body has a header but no rows");
  return data.map((cells, i) => {
    if (cells.length !== header.length) {
      throw new InvalidInput(
        `CSV row ${i + 1} has ${cells.length} fields, the header has ${header.length}`,
      );
    }
    // Object.fromEntries defines own properties, so a column named "__proto__" stays data.
    return Object.fromEntries(header.map((name, j) => [name, cells[j]!]));
  });
}

/**
 * RFC 4180 CSV: quoted fields may hold the delimiter, line breaks and `""` for a quote; lines end
 * in CRLF, LF or CR; blank lines are skipped. Stray quotes are errors rather than guessed at.
 */
function parseCsv(text: string, delimiter: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let line = 1;
  let i = 0;
  const n = text.length;
  const isEnd = (c: string | undefined) => c === undefined || c === "\r" || c === "\n";
  while (i < n || record.length > 0) {
    // At the start of a field.
    let field: string;
    if (text[i] === '"') {
      const startLine = line;
      field = "";
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q < 0) throw new InvalidInput(`CSV line ${startLine}: quoted field is not closed`);
        const chunk = text.slice(i, q);
        line += chunk.split(/\r\n|\r|\n/).length - 1;
        field += chunk;
        if (text[q + 1] === '"') {
          field += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      const next = text[i];
      if (next !== delimiter && !isEnd(next)) {
        throw new InvalidInput(`CSV line ${line}: unexpected text after a closing quote`);
      }
    } else {
      let j = i;
      while (j < n && text[j] !== delimiter && !isEnd(text[j])) {
        if (text[j] === '"') {
          throw new InvalidInput(`CSV line ${line}: quote inside an unquoted field`);
        }
        j++;
      }
      field = text.slice(i, j);
      i = j;
    }
    record.push(field);
    if (text[i] === delimiter) {
      i++;
      continue;
    }
    // End of record (line break or end of text). A lone empty field is a blank line.
    if (!(record.length === 1 && record[0] === "" && text[i - 1] !== '"')) records.push(record);
    record = [];
    if (i < n) {
      i += text[i] === "\r" && text[i + 1] === "\n" ? 2 : 1;
      line++;
    }
  }
  return records;
}

function randomHex(length: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(Math.ceil(length / 2)));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("").slice(0, length);
}

/** 11 lowercase hex characters, like the documented `"a64690c2450"`. */
function newExecutionId(): string {
  return randomHex(11);
}
