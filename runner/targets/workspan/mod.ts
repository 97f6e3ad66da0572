/**
 * The WorkSpan Bulk API target: `POST /bulk/v1/bulkload_opportunity` per batch, then
 * `GET /bulk/v1/status/{integration_id}` until the execution completes, asking for every error.
 *
 * @module
 */
import { HttpError } from "../../errors.ts";
import { describeBody, MAX_ANSWER_BYTES, readJson } from "../_http.ts";
import { type BodyState, bodySteps, Packs } from "../_wire.ts";
import type {
  Batch,
  RequestInfo,
  RowShape,
  SpooledBody,
  Submission,
  Target,
  TargetContext,
  TargetDefinition,
} from "../types.ts";
import { type WorkspanClient, workspanClient } from "./_client.ts";
import { workspanRequests } from "./_requests.ts";
import { type WorkspanConfig, workspanSchema } from "./_schema.ts";
import { readResults, readStatus } from "./_status.ts";

export { type WorkspanConfig, workspanSchema } from "./_schema.ts";
export { readResults, readStatus } from "./_status.ts";

/** Errors to ask for: every row of the batch could have failed. */
function maxErrorsOf(batch: Batch): number {
  return Math.max(10, batch.rows.length);
}

/** What the requests of a run need: its config, request descriptions and client. */
interface WorkspanContext {
  config: WorkspanConfig;
  requests: ReturnType<typeof workspanRequests>;
  client: WorkspanClient;
  /** Upload bodies packed ahead of their turn. */
  packs: Packs<BodyState, SpooledBody>;
}

/** Builds the WorkSpan target for a validated config. */
export function createWorkspanTarget(config: WorkspanConfig, _shape: RowShape): Target {
  const requests = workspanRequests(config);
  const format = config.content_type === "csv" ? "csv" : "json";
  const wc: WorkspanContext = {
    config,
    requests,
    client: workspanClient(config, requests),
    packs: new Packs(bodySteps(format)),
  };
  // The last status answer of each finished execution, so `results` reads it without asking
  // again; after a restart (or a failed read) it asks again, which is safe.
  const finished = new Map<string, unknown>();

  return {
    api: "workspan",
    batchSize: config.batch_size,
    concurrency: config.concurrency,
    // WorkSpan loads by the integration's key field: a second load updates the record.
    duplicatesOnResend: false,
    limits: {},

    knownFields() {
      // The opportunity load identifies rows by opportunity_id (the seed's key field); other
      // fields depend on the integration configured in the WorkSpan app.
      return { known: [], required: ["opportunity_id"], key: "opportunity_id" };
    },

    requests(): RequestInfo[] {
      return [
        ...(config.auth.type === "client_credentials" ? [requests.token] : []),
        requests.upload,
        requests.status,
      ];
    },

    pack: (batch, spool) => wc.packs.packer(batch, spool),

    submit: (batch, ctx) => submitBatch(wc, batch, ctx),

    async status(sub, batch, ctx) {
      const body = await fetchStatus(wc, sub, batch, ctx);
      const r = readStatus(body);
      if (r.done) finished.set(sub.id, body);
      return r;
    },

    async results(sub, _done, batch, ctx) {
      const body = finished.get(sub.id) ?? await fetchStatus(wc, sub, batch, ctx);
      finished.delete(sub.id);
      return readResults(body, batch, maxErrorsOf(batch));
    },
  };
}

/** Uploads one batch; returns the execution WorkSpan started for it. */
async function submitBatch(
  wc: WorkspanContext,
  batch: Batch,
  ctx: TargetContext,
): Promise<Submission> {
  // Packed as the batch filled (streamed again as it is on a retry); built the same way now for
  // a batch that was not. Freed once the exchange is over, whatever its outcome.
  const body = wc.packs.take(batch);
  try {
    return await upload(wc, batch, () => body.stream(), ctx);
  } finally {
    body.free();
  }
}

/** Sends a batch's body; returns the execution WorkSpan started for it. */
async function upload(
  wc: WorkspanContext,
  batch: Batch,
  body: () => ReadableStream<Uint8Array>,
  ctx: TargetContext,
): Promise<Submission> {
  const { config, requests } = wc;
  const timeoutMs = config.request_timeout;
  const csv = config.content_type === "csv";
  const q = new URLSearchParams({
    integration_id: config.integration_id,
    content_type: csv ? "CSV" : "JSON",
  });
  if (csv) {
    q.set("column_delimiter", ",");
    q.set("has_header_row", "true");
  }
  const what = `upload batch ${batch.index + 1} to WorkSpan`;
  const res = await wc.client.authed(ctx, (h) => ({
    request: requests.upload,
    url: `${config.base_url}/bulk/v1/bulkload_opportunity?${q}`,
    headers: { ...h, "content-type": csv ? "text/csv" : "application/json" },
    body,
    what,
    timeoutMs,
  }));
  // A 2xx the runner cannot read (cut short, stalled, HTML, too large, no execution_id)
  // may still have started an execution: the error says so, and the batch is `unknown`.
  const answer = await readJson(res, what, MAX_ANSWER_BYTES).catch((err) => {
    if (res.ok) throw err;
    return undefined;
  });
  if (!res.ok) {
    throw new HttpError(
      res.status === 404 ? "api" : res.status >= 500 ? "transport" : "api",
      res.status,
      `WorkSpan refused batch ${batch.index + 1}: HTTP ${res.status}${
        answer === undefined ? "" : ` ${describeBody(answer)}`
      }${res.status === 404 ? ` (is integration_id "${config.integration_id}" right?)` : ""}`,
    );
  }
  const id = (answer as Record<string, unknown> | null)?.execution_id;
  if (typeof id !== "string" && typeof id !== "number") {
    throw new HttpError(
      "transport",
      res.status,
      `WorkSpan accepted batch ${batch.index + 1} but gave no execution_id: ${
        describeBody(answer)
      }`,
    );
  }
  return { id: String(id) };
}

/** One status answer of an execution, asking for every error of the batch. */
async function fetchStatus(
  wc: WorkspanContext,
  sub: Submission,
  batch: Batch,
  ctx: TargetContext,
): Promise<unknown> {
  const { config, requests } = wc;
  const integration = encodeURIComponent(config.integration_id);
  const q = new URLSearchParams({
    execution_id: sub.id,
    include_errors: "true",
    max_errors: String(maxErrorsOf(batch)),
  });
  const what = `check execution ${sub.id}`;
  const res = await wc.client.authed(ctx, (h) => ({
    request: requests.status,
    url: `${config.base_url}/bulk/v1/status/${integration}?${q}`,
    headers: h,
    what,
    timeoutMs: config.request_timeout,
  }));
  // Capped: asked on every poll, a runaway answer must not hold hundreds of MB each time.
  const body = await readJson(res, what, MAX_ANSWER_BYTES);
  if (!res.ok) {
    throw new HttpError(
      res.status >= 500 ? "transport" : "api",
      res.status,
      `WorkSpan cannot report execution ${sub.id}: HTTP ${res.status} ${describeBody(body)}`,
    );
  }
  return body;
}

/** The WorkSpan Bulk API, as the registry lists it. */
export const workspan: TargetDefinition<typeof workspanSchema> = {
  api: "workspan",
  title: "WorkSpan Bulk API",
  schema: workspanSchema,
  create: (config, shape) => createWorkspanTarget(config, shape),
};
