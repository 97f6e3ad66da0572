/**
 * A Bigin bulk write job: uploading a batch's file, creating the job, reading its details, and
 * downloading its result file.
 *
 * @module
 */
import { ConfigRefusedError, HttpError, RunnerError, TransportError } from "../../errors.ts";
import { describeBody, MAX_ANSWER_BYTES, readBytes, readJson, repeatSafe } from "../_http.ts";
import { num, obj, str } from "../_json.ts";
import type { Batch, RowPacker, RowShape, TargetContext } from "../types.ts";
import { answerError, type BiginClient, successDetail } from "./_client.ts";
import type { BiginRequests, BiginUrls } from "./_requests.ts";
import { BIGIN_MAX_RESULT_BYTES, type BiginConfig, type BiginDomains } from "./_schema.ts";
import { BIGIN_STANDARD_FIELDS } from "./_modules.ts";
import { type BiginPackState, biginPackSteps, fieldMappings, resultText } from "./_wire.ts";
import { memorySpool, Packs } from "../_wire.ts";

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

/** Adds the uploaded file's id to an error, so a failed job creation can be traced. */
export function withFileId(err: unknown, fileId: string): unknown {
  if (!(err instanceof RunnerError) || err.message.includes(fileId)) return err;
  const message = `${err.message} (uploaded file_id "${fileId}")`;
  if (err instanceof TransportError) {
    return new TransportError(message, err.maybeDelivered, { cause: err });
  }
  if (err instanceof ConfigRefusedError) {
    return new ConfigRefusedError(err.status, message, err.field, { cause: err });
  }
  if (err instanceof HttpError) return new HttpError(err.code, err.status, message, { cause: err });
  return new RunnerError(err.code, message, { cause: err });
}

/** The job steps of a run, bound to its config and client. */
export interface BiginJobs {
  /** Packs a batch's upload file as it fills (see `Target.pack`). */
  pack(batch: Batch): RowPacker | undefined;
  /** Uploads a batch's file; returns its file id. */
  upload(batch: Batch, ctx: TargetContext): Promise<string>;
  /** Creates the job that loads an uploaded file; returns the job id. */
  createJob(batch: Batch, fileId: string, ctx: TargetContext): Promise<string>;
  /** Reads a job's details once. */
  details(jobId: string, ctx: TargetContext): Promise<BiginJobState>;
  /** Downloads a finished job's result file; returns the result CSV, in pieces. */
  download(downloadUrl: string, jobId: string, ctx: TargetContext): Promise<Iterable<string>>;
}

/** What the job steps need: the run's config, row shape, endpoints and client. */
interface JobContext {
  config: BiginConfig;
  shape: RowShape;
  domains: BiginDomains;
  urls: BiginUrls;
  requests: BiginRequests;
  client: BiginClient;
  batchSize: number;
  timeoutMs: number;
  /** Upload files packed ahead of their turn. */
  packs: Packs<BiginPackState, { name: string; zip: Blob }>;
}

/** The job steps for `config`, sent through `client`. */
export function biginJobs(
  config: BiginConfig,
  shape: RowShape,
  o: {
    domains: BiginDomains;
    urls: BiginUrls;
    requests: BiginRequests;
    client: BiginClient;
    batchSize: number;
  },
): BiginJobs {
  const jc: JobContext = {
    config,
    shape,
    ...o,
    timeoutMs: config.request_timeout,
    packs: new Packs(biginPackSteps(shape, o.batchSize)),
  };
  return {
    pack: (batch) => jc.packs.packer(batch, memorySpool),
    upload: (batch, ctx) => uploadBatch(jc, batch, ctx),
    createJob: (batch, fileId, ctx) => createJob(jc, batch, fileId, ctx),
    details: (jobId, ctx) => jobDetails(jc, jobId, ctx),
    download: (downloadUrl, jobId, ctx) => downloadResult(jc, downloadUrl, jobId, ctx),
  };
}

/**
 * The URL of a job's result file. The download carries the access token, so an absolute
 * `download_url` must point to the account's own API domain (https, unless the configured
 * domain is http or `allow_http`): a job answer must not be able to send the token elsewhere.
 *
 * @throws {HttpError} `api` naming the host, before anything is sent there
 */
function resultUrl(jc: JobContext, downloadUrl: string, jobId: string): string {
  const { domains, config } = jc;
  if (!/^[a-z][a-z0-9+.-]*:/i.test(downloadUrl)) {
    return `${domains.api}${downloadUrl.startsWith("/") ? "" : "/"}${downloadUrl}`;
  }
  const own = new URL(domains.api);
  const hosts = new Set([own.host, new URL(domains.content).host]);
  let url: URL | undefined;
  try {
    url = new URL(downloadUrl);
  } catch {
    // Reported below with the text as given.
  }
  const refuse = (why: string) =>
    new HttpError(
      "api",
      200,
      `Cannot download the result of Bigin job "${jobId}": ${why}; the access token is sent only to the account's API domain "${own.host}"`,
    );
  if (!url) {
    throw refuse(`its download_url ${JSON.stringify(downloadUrl.slice(0, 200))} is not a URL`);
  }
  if (!hosts.has(url.host)) throw refuse(`its download_url points to host "${url.host}"`);
  const plainOk = url.protocol === own.protocol || config.allow_http;
  if (url.protocol !== "https:" && !(url.protocol === "http:" && plainOk)) {
    throw refuse(`its download_url uses "${url.protocol}" rather than https:`);
  }
  return url.href;
}

async function uploadOnce(
  jc: JobContext,
  batch: Batch,
  zip: Blob,
  name: string,
  what: string,
  ctx: TargetContext,
): Promise<string> {
  const res = await jc.client.authed(ctx, (h) => {
    const form = new FormData();
    form.append(
      "file",
      zip,
      `${name}.zip`,
    );
    return {
      request: jc.requests.upload,
      url: jc.urls.upload,
      headers: { ...h, feature: "bulk-write", "X-CRM-ORG": jc.config.org_id },
      body: form,
      what,
      timeoutMs: jc.timeoutMs,
    };
  });
  return await successDetail(res, what, `the upload of batch ${batch.index + 1}`, "file_id");
}

/** Uploads a batch's file; returns its file id. */
async function uploadBatch(jc: JobContext, batch: Batch, ctx: TargetContext): Promise<string> {
  const { name, zip } = jc.packs.take(batch);
  const what = `upload batch ${batch.index + 1} to Bigin`;
  // An uploaded file writes nothing until a job is created from it: a failed upload, even
  // one answered HTTP 200 with INTERNAL_ERROR, is sent again under the retry policy.
  return await repeatSafe(
    ctx,
    jc.requests.upload,
    what,
    () => uploadOnce(jc, batch, zip, name, what, ctx),
  );
}

/** Creates the job that loads an uploaded file; returns the job id. */
async function createJob(
  jc: JobContext,
  batch: Batch,
  fileId: string,
  ctx: TargetContext,
): Promise<string> {
  const { config } = jc;
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
      field_mappings: fieldMappings(batch.fields, jc.shape),
    }],
  };
  const res = await jc.client.authed(ctx, (h) => ({
    request: jc.requests.createJob,
    url: jc.urls.jobs,
    headers: { ...h, "content-type": "application/json" },
    body: JSON.stringify(job),
    what,
    timeoutMs: jc.timeoutMs,
  }));
  const known = BIGIN_STANDARD_FIELDS[config.module]?.fields ?? [];
  return await successDetail(
    res,
    what,
    `the job for batch ${batch.index + 1}`,
    "id",
    "job id",
    known,
  );
}

/** Reads a job's details once. */
async function jobDetails(
  jc: JobContext,
  jobId: string,
  ctx: TargetContext,
): Promise<BiginJobState> {
  const what = `check Bigin job "${jobId}"`;
  const res = await jc.client.authed(ctx, (h) => ({
    request: jc.requests.status,
    url: `${jc.urls.jobs}/${encodeURIComponent(jobId)}`,
    headers: h,
    what,
    timeoutMs: jc.timeoutMs,
  }));
  // Capped: asked on every poll, a runaway answer must not hold hundreds of MB each time.
  const body = await readJson(res, what, MAX_ANSWER_BYTES).catch((err) => {
    if (res.ok) throw err;
    return undefined;
  });
  if (!res.ok || obj(body)?.status === "error") {
    throw answerError(`Bigin cannot report job "${jobId}"`, res.status, body);
  }
  return readJobDetails(body);
}

/** Downloads a finished job's result file; returns the result CSV, in pieces. */
async function downloadResult(
  jc: JobContext,
  downloadUrl: string,
  jobId: string,
  ctx: TargetContext,
): Promise<Iterable<string>> {
  const what = `download the result of Bigin job "${jobId}"`;
  const url = resultUrl(jc, downloadUrl, jobId);
  const { requests, timeoutMs } = jc;
  const res = await jc.client.authed(
    ctx,
    (h) => ({ request: requests.download, url, headers: h, what, timeoutMs }),
  );
  if (!res.ok) {
    const body = await readJson(res, what).catch(() => undefined);
    throw answerError(`Cannot ${what}`, res.status, body);
  }
  return resultText(await readBytes(res, BIGIN_MAX_RESULT_BYTES, what), jobId);
}
