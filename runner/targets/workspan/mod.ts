/**
 * The WorkSpan Bulk API target: `POST /bulk/v1/bulkload_opportunity` per batch, then
 * `GET /bulk/v1/status/{integration_id}` until the execution completes, asking for every error.
 *
 * @module
 */
import { HttpError } from "../../errors.ts";
import { describeBody, readJson, type RequestSpec, send, TokenCache } from "../_http.ts";
import { toCsv } from "../_csv.ts";
import { num } from "../_json.ts";
import type {
  Batch,
  RequestInfo,
  RowShape,
  Submission,
  Target,
  TargetContext,
  TargetDefinition,
} from "../types.ts";
import { type WorkspanConfig, workspanSchema } from "./_schema.ts";
import { readResults, readStatus } from "./_status.ts";

export { type WorkspanConfig, workspanSchema } from "./_schema.ts";
export { readResults, readStatus } from "./_status.ts";

/** The requests a WorkSpan run makes, and which of them may be repeated. */
function workspanRequests(config: WorkspanConfig) {
  const base = config.base_url;
  const a = config.auth;
  return {
    token: {
      name: "token",
      method: "POST",
      when: "per_run",
      safeToRepeat: true,
      detail: `POST ${
        a.type === "client_credentials" ? a.token_url ?? `${base}/oauth/token` : ""
      } (once, refreshed on expiry)`,
    },
    upload: {
      name: "upload",
      method: "POST",
      when: "per_batch",
      // Each upload starts an execution: a resend would load its rows twice.
      safeToRepeat: false,
      detail:
        `POST ${base}/bulk/v1/bulkload_opportunity?integration_id=${config.integration_id}&content_type=${config.content_type.toUpperCase()} (one per batch of ${config.batch_size} rows)`,
    },
    status: {
      name: "status",
      method: "GET",
      when: "per_poll",
      safeToRepeat: true,
      detail:
        `GET ${base}/bulk/v1/status/${config.integration_id}?execution_id=<id>&include_errors=true until completed`,
    },
  } satisfies Record<string, RequestInfo>;
}

/** Builds the WorkSpan target for a validated config. */
export function createWorkspanTarget(config: WorkspanConfig, _shape: RowShape): Target {
  const base = config.base_url;
  const timeoutMs = config.request_timeout;
  const integration = encodeURIComponent(config.integration_id);
  const a = config.auth;
  const requests = workspanRequests(config);
  let tokens: TokenCache | undefined;
  // The last status answer of each finished execution, so `results` reads it without asking
  // again; after a restart (or a failed read) it asks again, which is safe.
  const finished = new Map<string, unknown>();

  async function authHeaders(ctx: TargetContext): Promise<Record<string, string>> {
    const h: Record<string, string> = { ...config.headers };
    if (a.type === "bearer") h.authorization = `Bearer ${a.token}`;
    if (a.type === "client_credentials") {
      tokens ??= new TokenCache(async () => {
        const form = new URLSearchParams({
          client_id: a.client_id,
          client_secret: a.client_secret,
          grant_type: "client_credentials",
        });
        const th: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
        if (a.env_host) th["x-ws-env"] = a.env_host;
        const res = await send(ctx, {
          request: requests.token,
          url: a.token_url ?? `${base}/oauth/token`,
          headers: th,
          body: form,
          what: "get a WorkSpan access token",
          timeoutMs,
        });
        const body = await readJson(res, "get a WorkSpan access token") as Record<string, unknown>;
        if (!res.ok || typeof body?.access_token !== "string") {
          throw new HttpError(
            "auth",
            res.status,
            `WorkSpan refused the client credentials: HTTP ${res.status} ${describeBody(body)}`,
          );
        }
        const ttl = num(body, "expires_in");
        return {
          token: body.access_token,
          expiresInMs: ttl === undefined ? undefined : ttl * 1000,
        };
      });
      h.authorization = `Bearer ${await tokens.get()}`;
    }
    return h;
  }

  /** Sends with auth; on a 401 with a refreshable token, refreshes once and resends. */
  async function authed(
    ctx: TargetContext,
    build: (h: Record<string, string>) => RequestSpec,
  ): Promise<Response> {
    for (let attempt = 0;; attempt++) {
      const h = await authHeaders(ctx);
      const res = await send(ctx, build(h));
      if (res.status !== 401) return res;
      const body = await res.text().catch(() => "");
      if (tokens && attempt === 0) {
        // A 401 means the request was refused before processing, so resending cannot duplicate.
        tokens.invalidate(h.authorization!.slice("Bearer ".length));
        ctx.log("WorkSpan refused the access token; getting a new one");
        continue;
      }
      throw new HttpError(
        "auth",
        401,
        `WorkSpan refused the credentials (HTTP 401${
          body ? `: ${body.slice(0, 200)}` : ""
        }): check target.auth`,
      );
    }
  }

  const maxErrorsOf = (batch: Batch) => Math.max(10, batch.rows.length);

  /** One status answer of an execution, asking for every error of the batch. */
  async function fetchStatus(sub: Submission, batch: Batch, ctx: TargetContext) {
    const q = new URLSearchParams({
      execution_id: sub.id,
      include_errors: "true",
      max_errors: String(maxErrorsOf(batch)),
    });
    const what = `check execution ${sub.id}`;
    const res = await authed(ctx, (h) => ({
      request: requests.status,
      url: `${base}/bulk/v1/status/${integration}?${q}`,
      headers: h,
      what,
      timeoutMs,
    }));
    const body = await readJson(res, what);
    if (!res.ok) {
      throw new HttpError(
        res.status >= 500 ? "transport" : "api",
        res.status,
        `WorkSpan cannot report execution ${sub.id}: HTTP ${res.status} ${describeBody(body)}`,
      );
    }
    return body;
  }

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
        ...(a.type === "client_credentials" ? [requests.token] : []),
        requests.upload,
        requests.status,
      ];
    },

    async submit(batch: Batch, ctx: TargetContext): Promise<Submission> {
      const csv = config.content_type === "csv";
      const q = new URLSearchParams({
        integration_id: config.integration_id,
        content_type: csv ? "CSV" : "JSON",
      });
      if (csv) {
        q.set("column_delimiter", ",");
        q.set("has_header_row", "true");
      }
      const body = csv ? toCsv(batch.fields, batch.rows) : JSON.stringify(batch.rows);
      const what = `upload batch ${batch.index + 1} to WorkSpan`;
      const res = await authed(ctx, (h) => ({
        request: requests.upload,
        url: `${base}/bulk/v1/bulkload_opportunity?${q}`,
        headers: { ...h, "content-type": csv ? "text/csv" : "application/json" },
        body,
        what,
        timeoutMs,
      }));
      const answer = await readJson(res, what).catch((err) => {
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
    },

    async status(sub, batch, ctx) {
      const body = await fetchStatus(sub, batch, ctx);
      const r = readStatus(body);
      if (r.done) finished.set(sub.id, body);
      return r;
    },

    async results(sub, _done, batch, ctx) {
      const body = finished.get(sub.id) ?? await fetchStatus(sub, batch, ctx);
      finished.delete(sub.id);
      return readResults(body, batch, maxErrorsOf(batch));
    },
  };
}

/** The WorkSpan Bulk API, as the registry lists it. */
export const workspan: TargetDefinition<typeof workspanSchema> = {
  api: "workspan",
  title: "WorkSpan Bulk API",
  schema: workspanSchema,
  create: (config, shape) => createWorkspanTarget(config, shape),
};
