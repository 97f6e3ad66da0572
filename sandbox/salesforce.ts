/**
 * A simulator of Salesforce Bulk API 2.0 ingest jobs and the OAuth 2.0 token endpoint, for the
 * local sandbox. Written from `../shared/api/salesforce-bulk2.md` and Salesforce's public Bulk API
 * 2.0 guide; `sandbox/README.md` lists what is documented and what the sandbox chose.
 *
 * | Endpoint | Answer |
 * | --- | --- |
 * | `POST /services/oauth2/token` | `{access_token, instance_url, id, token_type, issued_at, signature}` |
 * | `POST /services/data/vXX.X/jobs/ingest` | job info, `state: "Open"` |
 * | `GET /services/data/vXX.X/jobs/ingest` | `{done, records, nextRecordsUrl}` |
 * | `PUT …/jobs/ingest/{id}/batches` | 201, no body |
 * | `PATCH …/jobs/ingest/{id}` | `{"state":"UploadComplete"}` or `{"state":"Aborted"}`: job info |
 * | `GET …/jobs/ingest/{id}` | job info: `UploadComplete` → `InProgress` → `JobComplete` / `Failed` |
 * | `DELETE …/jobs/ingest/{id}` | 204 for a finished job |
 * | `GET …/jobs/ingest/{id}/successfulResults/` (`failedResults/`, `unprocessedrecords/`) | CSV |
 *
 * Processing uses no timers: a closed job's phase is read from its age on the injected clock, and
 * its rows are written once, by the first request (or accessor) that sees it due.
 *
 * @module
 */
import {
  COLUMN_DELIMITERS,
  type ColumnDelimiter,
  type LineEnding,
  readJobCsv,
  SalesforceCsvError,
  seededRandom,
  shuffle,
  writeResultCsv,
} from "./_salesforce_csv.ts";
import { createSalesforceAuth } from "./_salesforce_auth.ts";
import {
  type Job,
  jobInfoOf,
  readJobSpec,
  salesforceError,
  type SalesforceJobFault,
  type SalesforceJobState,
  SfError,
} from "./_salesforce_http.ts";
import { SALESFORCE_OBJECTS } from "./_salesforce_objects.ts";
import {
  checkHeader,
  emptyStore,
  type ObjectStore,
  processRows,
  type RowOutcome,
  type SalesforceOperation,
} from "./_salesforce_process.ts";

export { OPPORTUNITY_STAGES } from "./_salesforce_objects.ts";
export {
  salesforceError,
  type SalesforceJobFault,
  type SalesforceJobState,
} from "./_salesforce_http.ts";
export type { SalesforceOperation } from "./_salesforce_process.ts";

/** Options of the Salesforce simulator; all optional. */
export interface SalesforceSandboxOptions {
  /** Connected app consumer key. Default `"sandbox-sf-client"`. */
  clientId?: string;
  /** Connected app consumer secret. Default `"sandbox-sf-secret"`. */
  clientSecret?: string;
  /** Refresh token accepted by the `refresh_token` grant. Default `"sandbox-sf-refresh-token"`. */
  refreshToken?: string;
  /** A static access token also accepted (as a session id would be). Default: none. */
  token?: string;
  /** Lifetime of issued access tokens. Default 7,200,000 (two hours). */
  tokenTtlMs?: number;
  /** When set, each issued token works for this many API calls, then is `INVALID_SESSION_ID`. */
  expireTokensAfterUses?: number;
  /** Close to `JobComplete`: `UploadComplete` for the first third, then `InProgress`. Default 1000. */
  processingMs?: number;
  /** Largest upload in bytes. Default 100 MB. */
  maxUploadBytes?: number;
  /** Seed of the result files' shuffle, for repeatable tests. Default: a random seed per job. */
  resultSeed?: number;
  /** Asked once per job when it is closed: a fault to give it, or `undefined`. */
  jobFault?: (job: SalesforceJobInfo) => SalesforceJobFault | undefined;
  /** Clock, in epoch milliseconds. Default `Date.now`. */
  now?: () => number;
}

/** Defaults of {@linkcode SalesforceSandboxOptions}, for CLIs and docs that show them. */
export const SALESFORCE_DEFAULTS = {
  clientId: "sandbox-sf-client",
  clientSecret: "sandbox-sf-secret",
  refreshToken: "sandbox-sf-refresh-token",
  tokenTtlMs: 7_200_000,
  processingMs: 1000,
  maxUploadBytes: 100 * 1024 * 1024,
} as const;

/** What {@linkcode SalesforceSandboxOptions.jobFault} is told about a job being closed. */
export interface SalesforceJobInfo {
  /** The 18-character job id. */
  id: string;
  object: string;
  operation: SalesforceOperation;
}

/** What the sandbox reports of one job. JSON-safe. */
export interface SalesforceJobSummary {
  id: string;
  object: string;
  operation: SalesforceOperation;
  externalIdFieldName?: string;
  lineEnding: LineEnding;
  columnDelimiter: ColumnDelimiter;
  state: SalesforceJobState;
  /** Uploads received (more than one makes closing fail). */
  uploads: number;
  numberRecordsProcessed: number;
  numberRecordsFailed: number;
  /** Rows never processed (a failed or aborted job). */
  numberRecordsUnprocessed: number;
  errorMessage?: string;
}

/** A stored record. JSON-safe. */
export interface SalesforceRecord {
  id: string;
  fields: Record<string, string>;
  /** Successful writes: 1 once created, +1 per update. */
  writes: number;
}

/** The JSON-safe view `state()` returns. */
export interface SalesforceSandboxState {
  tokenGrants: number;
  jobs: SalesforceJobSummary[];
  records: Record<string, SalesforceRecord[]>;
}

/** The Salesforce simulator: plug `handle` into a server; inspect it with the accessors. */
export interface SalesforceSandbox {
  /** Answers `/services/…` requests; `undefined` for anything else. */
  handle(req: Request, url: URL, origin: string): Promise<Response | undefined>;
  /** A JSON-safe snapshot: token grants, jobs and records per object. */
  state(): SalesforceSandboxState;
  /** Every job, oldest first. */
  jobs(): SalesforceJobSummary[];
  /** Jobs still `Open`: created and never closed nor aborted. */
  openJobs(): SalesforceJobSummary[];
  /** The records of an object (`Opportunity`), oldest first. */
  records(object: string): SalesforceRecord[];
  /** Successful writes of rows with this External ID value (0 if none). */
  writeCount(object: string, externalIdField: string, value: string): number;
  /** Access tokens granted by the token endpoint. */
  readonly tokenGrants: number;
  /** Expires one access token (as given, or as an `Authorization` header). */
  expireToken(tokenOrHeader: string): void;
  /** Expires every access token granted so far. */
  expireAllTokens(): void;
}

const MIN_VERSION = 47;
const JOB_PATH =
  /^\/services\/data\/v(\d+\.\d)\/jobs\/ingest(?:\/([^/]+)(?:\/(batches|successfulResults|failedResults|unprocessedrecords))?)?\/?$/;

/**
 * Creates the Salesforce simulator.
 *
 * @example
 * ```ts
 * const sf = createSalesforceSandbox({ processingMs: 50 });
 * Deno.serve((req) => sf.handle(req, new URL(req.url), "http://127.0.0.1:8000")
 *   .then((res) => res ?? new Response("not found", { status: 404 })));
 * ```
 */
export function createSalesforceSandbox(
  options: SalesforceSandboxOptions = {},
): SalesforceSandbox {
  const d = SALESFORCE_DEFAULTS;
  const processingMs = options.processingMs ?? d.processingMs;
  const maxUploadBytes = options.maxUploadBytes ?? d.maxUploadBytes;
  const now = options.now ?? Date.now;
  const auth = createSalesforceAuth({
    clientId: options.clientId ?? d.clientId,
    clientSecret: options.clientSecret ?? d.clientSecret,
    refreshToken: options.refreshToken ?? d.refreshToken,
    token: options.token,
    tokenTtlMs: options.tokenTtlMs ?? d.tokenTtlMs,
    expireTokensAfterUses: options.expireTokensAfterUses,
    now,
  });
  const jobs = new Map<string, Job>();
  const stores = new Map<string, ObjectStore>(
    [...SALESFORCE_OBJECTS.values()].map((o) => [o.name, emptyStore(o)]),
  );
  let seq = 0;
  const nextId = (prefix: string) => `${prefix}SB${String(++seq).padStart(10, "0")}AAA`;

  // ---- jobs ---------------------------------------------------------------------------------

  async function createJob(req: Request, version: string): Promise<Response> {
    const spec = readJobSpec(await req.text());
    const at = now();
    const job: Job = {
      id: nextId("750"),
      ...spec,
      apiVersion: version,
      createdAt: at,
      modifiedAt: at,
      state: "Open",
      uploads: [],
      seed: options.resultSeed !== undefined
        ? options.resultSeed + seq
        : Math.floor(Math.random() * 2 ** 32),
    };
    jobs.set(job.id, job);
    return Response.json(jobInfoOf(job, stateOf(job), false, processingMs));
  }

  async function uploadData(req: Request, job: Job): Promise<Response> {
    if (job.state !== "Open") {
      await req.body?.cancel();
      throw new SfError(409, "INVALIDJOBSTATE", `Job is not open for uploads: ${stateOf(job)}`);
    }
    const type = (req.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
    if (type !== "text/csv") {
      await req.body?.cancel();
      throw new SfError(400, "INVALIDJOB", `InvalidJob : Unsupported content type: ${type}`);
    }
    const tooLarge = () =>
      new SfError(413, "INVALIDJOB", `InvalidJob : The upload exceeds ${maxUploadBytes} bytes`);
    if (Number(req.headers.get("content-length") ?? "0") > maxUploadBytes) {
      await req.body?.cancel();
      throw tooLarge();
    }
    const chunks: Uint8Array[] = [];
    let total = 0;
    if (req.body) {
      for await (const chunk of req.body) {
        total += chunk.length;
        if (total > maxUploadBytes) throw tooLarge();
        chunks.push(chunk);
      }
    }
    const data = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) {
      data.set(c, at);
      at += c.length;
    }
    job.uploads.push(data);
    job.modifiedAt = now();
    return new Response(null, { status: 201 });
  }

  async function patchJob(req: Request, job: Job): Promise<Response> {
    let wanted: unknown;
    try {
      wanted = (JSON.parse(await req.text()) as Record<string, unknown>)?.state;
    } catch (e) {
      throw new SfError(400, "JSON_PARSER_ERROR", `Cannot read the request body: ${e}`);
    }
    settle(job);
    const state = stateOf(job);
    if (wanted === "UploadComplete") {
      if (state !== "Open") {
        throw new SfError(409, "INVALIDJOBSTATE", `Cannot close a job in state ${state}`);
      }
      if (job.uploads.length > 1) {
        // Salesforce's own wording, misspelling included.
        throw new SfError(
          400,
          "INVALIDJOB",
          `Found multipe contents for job: <${
            job.id.slice(0, 15)
          }>, please 'Close' / 'Abort' / 'Delete' the current Job then create a new Job and make sure you only do 'PUT' once on a given Job.`,
        );
      }
      job.state = "UploadComplete";
      job.closedAt = job.modifiedAt = now();
      job.fault = options.jobFault?.({
        id: job.id,
        object: job.object.name,
        operation: job.operation,
      });
      return Response.json(jobInfoOf(job, stateOf(job), false, processingMs));
    }
    if (wanted === "Aborted") {
      if (job.done) {
        throw new SfError(409, "INVALIDJOBSTATE", `Cannot abort a job in state ${state}`);
      }
      job.state = "Aborted";
      job.modifiedAt = now();
      finish(job, "Aborted", [], rowsOf(job).rows, rowsOf(job).header);
      return Response.json(jobInfoOf(job, stateOf(job), false, processingMs));
    }
    throw new SfError(400, "INVALIDJOBSTATE", `Invalid state: ${String(wanted)}`);
  }

  // ---- processing ---------------------------------------------------------------------------

  function stateOf(job: Job): SalesforceJobState {
    if (job.done) return job.done.state;
    if (job.state !== "UploadComplete") return job.state;
    const age = now() - job.closedAt!;
    return age < processingMs / 3 ? "UploadComplete" : "InProgress";
  }

  /** The uploaded rows, as well as they can be read (none when unreadable). */
  function rowsOf(job: Job): { header: string[]; rows: string[][]; error?: string } {
    const data = job.uploads[0];
    if (!data) return { header: [], rows: [], error: "InvalidBatch : No data was uploaded" };
    try {
      const csv = readJobCsv(
        new TextDecoder().decode(data),
        COLUMN_DELIMITERS[job.columnDelimiter],
        job.lineEnding,
      );
      if (!csv.lineEndingOk) {
        return {
          ...csv,
          error:
            `ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is ${job.lineEnding}`,
        };
      }
      return csv;
    } catch (e) {
      if (e instanceof SalesforceCsvError) {
        return { header: [], rows: [], error: `InvalidBatch : Failed to read CSV: ${e.message}` };
      }
      throw e;
    }
  }

  function finish(
    job: Job,
    state: "JobComplete" | "Failed" | "Aborted",
    outcomes: RowOutcome[],
    unprocessed: string[][],
    header: string[],
    errorMessage?: string,
  ): void {
    const success = outcomes.flatMap((o) =>
      o.kind === "success" ? [[o.id, String(o.created), ...o.row]] : []
    );
    const failed = outcomes.flatMap((o) => o.kind === "failed" ? [[o.id, o.error, ...o.row]] : []);
    const random = seededRandom(job.seed);
    const omit = job.fault?.kind === "missingRows" ? job.fault.rows : 0;
    const shuffled = shuffle(success, random);
    job.done = {
      state,
      processed: outcomes.length,
      failed: failed.length,
      header,
      results: {
        success: shuffled.slice(0, Math.max(0, shuffled.length - omit)),
        failed: shuffle(failed, random),
        unprocessed: shuffle(unprocessed, random),
      },
      ...(errorMessage !== undefined ? { errorMessage } : {}),
    };
  }

  /** Processes a closed job once its time has come. */
  function settle(job: Job): void {
    if (job.done || job.state !== "UploadComplete" || job.fault?.kind === "stuck") return;
    if (now() - job.closedAt! < processingMs) return;
    const { header, rows, error } = rowsOf(job);
    const fault = job.fault;
    if (fault?.kind === "failed") {
      return finish(job, "Failed", [], rows, header, fault.message ?? DEFAULT_JOB_FAILURE);
    }
    const work = {
      object: job.object,
      operation: job.operation,
      externalIdFieldName: job.externalIdFieldName,
      header,
    };
    const refused = error ?? checkHeader(work);
    if (refused !== undefined) return finish(job, "Failed", [], rows, header, refused);
    const store = stores.get(job.object.name)!;
    const newId = () => nextId(job.object.keyPrefix);
    if (fault?.kind === "partway") {
      const n = Math.min(rows.length, fault.processed ?? Math.floor(rows.length / 2));
      const outcomes = processRows(store, work, rows.slice(0, n), newId);
      const message = fault.message ?? DEFAULT_JOB_FAILURE;
      return finish(job, "Failed", outcomes, rows.slice(n), header, message);
    }
    finish(job, "JobComplete", processRows(store, work, rows, newId), [], header);
  }

  function settleDue(): void {
    for (const job of jobs.values()) settle(job);
  }

  // ---- answers ------------------------------------------------------------------------------

  function results(job: Job, kind: string): Response {
    const state = stateOf(job);
    if (!job.done) {
      throw new SfError(409, "INVALIDJOBSTATE", `Job results are not ready: state ${state}`);
    }
    const { header, results: r } = job.done;
    const delimiter = COLUMN_DELIMITERS[job.columnDelimiter];
    let lines: string[][];
    if (kind === "successfulResults") lines = [["sf__Id", "sf__Created", ...header], ...r.success];
    else if (kind === "failedResults") lines = [["sf__Id", "sf__Error", ...header], ...r.failed];
    else lines = header.length > 0 ? [header, ...r.unprocessed] : [];
    return new Response(writeResultCsv(lines, delimiter), {
      headers: { "content-type": "text/csv; charset=UTF-8" },
    });
  }

  function summary(job: Job): SalesforceJobSummary {
    settle(job);
    const s: SalesforceJobSummary = {
      id: job.id,
      object: job.object.name,
      operation: job.operation,
      lineEnding: job.lineEnding,
      columnDelimiter: job.columnDelimiter,
      state: stateOf(job),
      uploads: job.uploads.length,
      numberRecordsProcessed: job.done?.processed ?? 0,
      numberRecordsFailed: job.done?.failed ?? 0,
      numberRecordsUnprocessed: job.done?.results.unprocessed.length ?? 0,
    };
    if (job.externalIdFieldName) s.externalIdFieldName = job.externalIdFieldName;
    if (job.done?.errorMessage !== undefined) s.errorMessage = job.done.errorMessage;
    return s;
  }

  // ---- routing ------------------------------------------------------------------------------

  async function route(req: Request, url: URL): Promise<Response> {
    const m = JOB_PATH.exec(url.pathname);
    if (!m || Number(m[1]) < MIN_VERSION) {
      throw new SfError(404, "NOT_FOUND", "The requested resource does not exist");
    }
    const [, version, id, sub] = m as unknown as [string, string, string?, string?];
    const allow = (methods: string[]) => {
      if (!methods.includes(req.method)) {
        throw new SfError(
          405,
          "METHOD_NOT_ALLOWED",
          `HTTP Method '${req.method}' not allowed. Allowed are ${methods.join(",")}`,
        );
      }
    };
    auth.authenticate(req);
    if (id === undefined) {
      allow(["GET", "POST"]);
      if (req.method === "POST") return await createJob(req, version);
      settleDue();
      const records = [...jobs.values()].map((j) => jobInfoOf(j, stateOf(j), false, processingMs));
      return Response.json({ done: true, records, nextRecordsUrl: null });
    }
    const job = jobs.get(id);
    if (!job) {
      await req.body?.cancel();
      throw new SfError(404, "NOT_FOUND", "The requested resource does not exist");
    }
    if (sub === "batches") {
      allow(["PUT"]);
      return await uploadData(req, job);
    }
    if (sub !== undefined) {
      allow(["GET"]);
      settle(job);
      return results(job, sub);
    }
    allow(["GET", "PATCH", "DELETE"]);
    if (req.method === "PATCH") return await patchJob(req, job);
    settle(job);
    if (req.method === "DELETE") {
      if (!job.done) {
        throw new SfError(409, "INVALIDJOBSTATE", `Cannot delete a job in state ${stateOf(job)}`);
      }
      jobs.delete(job.id);
      return new Response(null, { status: 204 });
    }
    return Response.json(jobInfoOf(job, stateOf(job), true, processingMs));
  }

  return {
    async handle(req, url, origin) {
      if (!url.pathname.startsWith("/services/")) return undefined;
      try {
        if (url.pathname === "/services/oauth2/token") {
          if (req.method !== "POST") {
            return Response.json({ error: "invalid_request", error_description: "must use POST" }, {
              status: 400,
            });
          }
          return await auth.grant(req, origin);
        }
        return await route(req, url);
      } catch (e) {
        if (e instanceof SfError) return salesforceError(e.status, e.errorCode, e.message);
        return salesforceError(
          500,
          "UNKNOWN_EXCEPTION",
          e instanceof Error ? e.message : String(e),
        );
      }
    },
    state() {
      return {
        tokenGrants: auth.grants,
        jobs: [...jobs.values()].map(summary),
        records: Object.fromEntries([...stores.keys()].map((o) => [o, recordsOf(o)])),
      };
    },
    jobs: () => [...jobs.values()].map(summary),
    openJobs: () => [...jobs.values()].map(summary).filter((j) => j.state === "Open"),
    records: recordsOf,
    writeCount(object, field, value) {
      settleDue();
      return stores.get(object)?.externalWrites.get(field)?.get(value) ?? 0;
    },
    get tokenGrants() {
      return auth.grants;
    },
    expireToken: (tokenOrHeader) => auth.expire(tokenOrHeader),
    expireAllTokens: () => auth.expireAll(),
  };

  function recordsOf(object: string): SalesforceRecord[] {
    settleDue();
    const store = stores.get(object);
    if (!store) return [];
    return [...store.byId.values()].map((r) => ({
      id: r.id,
      fields: Object.fromEntries(r.fields),
      writes: r.writes,
    }));
  }
}

/** `errorMessage` of a job failed by a fault, unless the fault gives one. */
export const DEFAULT_JOB_FAILURE = "InternalServerError : The job failed while processing";
