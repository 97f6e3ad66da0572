/**
 * The WorkSpan Bulk API target: `POST /bulk/v1/bulkload_opportunity` per batch, then
 * `GET /bulk/v1/status/{integration_id}` until the execution completes, asking for every error.
 * Answers are read defensively: both `data_row` forms, missing or misspelt counts.
 *
 * @module
 */
import { z } from "zod";
import { baseUrl, commonTargetFields, nonEmpty } from "../config/_common.ts";
import { HttpError } from "../errors.ts";
import { describeBody, readJson, send, TokenCache } from "./_http.ts";
import { toCsv } from "./_csv.ts";
import type {
  Batch,
  PlanStep,
  PollResult,
  RowFailure,
  RowShape,
  Submission,
  Target,
  TargetContext,
} from "./types.ts";

const auth = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("bearer"),
    token: nonEmpty.meta({ description: "Static API token; use ${ENV_VAR}" }),
  }),
  z.strictObject({
    type: z.literal("client_credentials"),
    client_id: nonEmpty,
    client_secret: nonEmpty,
    token_url: baseUrl.optional().meta({ description: "Default: <base_url>/oauth/token" }),
    env_host: z.string().optional().meta({
      description: "WorkSpan app host sent as the x-ws-env header of the token request",
    }),
  }),
  z.strictObject({ type: z.literal("none") }),
]).meta({ description: "bearer | client_credentials | none" });

/** The `target` section for `api: workspan`. */
export const workspanSchema = z.strictObject({
  api: z.literal("workspan"),
  base_url: baseUrl.default("https://api-sandbox.workspan.com").meta({
    description: "API host; production is https://api.workspan.com",
  }),
  integration_id: nonEmpty.meta({ description: "Integration configured in the WorkSpan app" }),
  content_type: z.enum(["json", "csv"]).default("json").meta({
    description: "Wire format of each upload",
  }),
  batch_size: z.number().int().min(1).max(1_000_000).default(5000).meta({
    description: "Rows per upload (one execution each)",
  }),
  concurrency: z.number().int().min(1).max(16).default(1).meta({
    description: "Executions in flight at once",
  }),
  auth,
  ...commonTargetFields,
});

/** A validated WorkSpan target section. */
export type WorkspanConfig = z.output<typeof workspanSchema>;

const FIELD_IN_MESSAGE = /field '([^']+)'/;
const FAILED_STATUSES = new Set(["failed", "error", "errored", "aborted", "cancelled", "canceled"]);
const DONE_STATUSES = new Set([
  "completed",
  "complete",
  "succeeded",
  "success",
  "finished",
  "done",
]);

function num(o: Record<string, unknown>, ...names: string[]): number | undefined {
  for (const n of names) {
    const v = o[n];
    if (typeof v === "number" && Number.isFinite(v)) return v;
    if (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))) return Number(v);
  }
  return undefined;
}

function parseDataRow(v: unknown): Record<string, unknown> | undefined {
  if (v && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
  if (typeof v === "string") {
    try {
      const o = JSON.parse(v);
      if (o && typeof o === "object" && !Array.isArray(o)) return o;
    } catch {
      // A data_row that is not JSON only loses us the tie-break between duplicate keys.
    }
  }
  return undefined;
}

/** Finds which row of the batch an error is about: by key, then by data_row among equal keys. */
function matchRows(batch: Batch, errors: unknown[]): RowFailure[] {
  const byKey = new Map<string, number[]>();
  batch.rows.forEach((row, i) => {
    const k = row[batch.key];
    const ks = k === null || k === undefined ? "" : String(k);
    const list = byKey.get(ks);
    if (list) list.push(i);
    else byKey.set(ks, [i]);
  });
  const taken = new Set<number>();
  const out: RowFailure[] = [];
  for (const e of errors) {
    const o = (e && typeof e === "object" ? e : { message: String(e) }) as Record<string, unknown>;
    const key = o.id === null || o.id === undefined ? "" : String(o.id);
    const message = typeof o.message === "string" && o.message !== "" ? o.message : "Row failed";
    const field = FIELD_IN_MESSAGE.exec(message)?.[1];
    const dataRow = parseDataRow(o.data_row);
    const candidates = (byKey.get(key) ?? []).filter((i) => !taken.has(i));
    let row: number | undefined;
    if (candidates.length > 1 && dataRow) {
      row = candidates.find((i) =>
        Object.entries(dataRow).every(([f, v]) =>
          String(batch.rows[i]![f] ?? "") === String(v ?? "")
        )
      );
    }
    row ??= candidates[0];
    if (row !== undefined) taken.add(row);
    out.push({ row, key, ...(field ? { field } : {}), message });
  }
  return out;
}

/**
 * Reads a status answer into a poll result, tolerating the differences the API note lists.
 *
 * @throws {HttpError} `transport` when the answer has no readable `status`
 */
export function readStatus(body: unknown, batch: Batch, maxErrorsAsked: number): PollResult {
  if (!body || typeof body !== "object" || Array.isArray(body)) {
    throw new HttpError("transport", 200, "Status answer is not a JSON object");
  }
  const o = body as Record<string, unknown>;
  const remoteStatus = typeof o.status === "string" ? o.status : "";
  const s = remoteStatus.trim().toLowerCase();
  if (s === "") throw new HttpError("transport", 200, "Status answer has no status");
  const statusMsg = typeof o.status_msg === "string" ? o.status_msg.trim() : "";
  if (!DONE_STATUSES.has(s) && !FAILED_STATUSES.has(s)) return { done: false, remoteStatus };

  const rows = batch.rows.length;
  const problems: string[] = [];
  const errors = Array.isArray(o.errors) ? o.errors : [];
  const input = num(o, "input_count", "inputCount");
  let success = num(o, "success_count", "succcess_count", "successCount");
  let failed = num(o, "error_count", "errorCount");
  const skipped = num(o, "skip_count", "skipCount") ?? 0;
  if (input !== undefined && input !== rows) {
    problems.push(`Execution reports input_count ${input}, but ${rows} rows were sent`);
  }
  const executionFailed = FAILED_STATUSES.has(s) || (statusMsg !== "" && !(success && success > 0));
  if (executionFailed && success === undefined && failed === undefined) {
    // A failed execution with no counts loaded nothing we can prove: count every row failed.
    success = 0;
    failed = rows - skipped;
  }
  failed ??= errors.length > 0
    ? Math.max(errors.length, rows - (success ?? 0) - skipped)
    : undefined;
  if (success === undefined && failed === undefined) {
    problems.push("Execution completed without success_count or error_count");
    failed = errors.length;
    success = rows - failed - skipped;
  }
  success ??= rows - failed! - skipped;
  failed ??= rows - success - skipped;
  if (success + failed + skipped !== rows) {
    problems.push(
      `Execution counts do not add up: success ${success} + error ${failed} + skip ${skipped} != ${rows} rows sent`,
    );
  }
  const failures = matchRows(batch, errors);
  const listed = Math.min(failed, maxErrorsAsked);
  if (failures.length < listed) {
    problems.push(`Execution reports ${failed} failed rows but lists only ${failures.length}`);
  }
  return {
    done: true,
    status: executionFailed ? "failed" : "completed",
    remoteStatus,
    ...(statusMsg ? { message: statusMsg } : {}),
    counts: { succeeded: success, failed, skipped },
    failures,
    problems,
  };
}

/** Builds the WorkSpan target for a validated config. */
export function createWorkspanTarget(config: WorkspanConfig, _shape: RowShape): Target {
  const base = config.base_url;
  const timeoutMs = config.request_timeout;
  const integration = encodeURIComponent(config.integration_id);
  const a = config.auth;
  let tokens: TokenCache | undefined;

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
          method: "POST",
          url: a.token_url ?? `${base}/oauth/token`,
          headers: th,
          body: form,
          what: "get a WorkSpan access token",
          kind: "safe",
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
    build: (h: Record<string, string>) => Parameters<typeof send>[1],
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

  return {
    api: "workspan",
    batchSize: config.batch_size,
    concurrency: config.concurrency,
    // WorkSpan loads by the integration's key field: a second load updates the record.
    duplicatesOnResend: false,

    knownFields() {
      // The opportunity load identifies rows by opportunity_id (the seed's key field); other
      // fields depend on the integration configured in the WorkSpan app.
      return { known: [], required: ["opportunity_id"], key: "opportunity_id" };
    },

    describe(): PlanStep[] {
      const steps: PlanStep[] = [];
      if (a.type === "client_credentials") {
        steps.push({
          name: "token",
          detail: `POST ${a.token_url ?? `${base}/oauth/token`} (once, refreshed on expiry)`,
        });
      }
      steps.push(
        {
          name: "upload",
          detail:
            `POST ${base}/bulk/v1/bulkload_opportunity?integration_id=${config.integration_id}&content_type=${config.content_type.toUpperCase()} (one per batch of ${config.batch_size} rows)`,
        },
        {
          name: "poll",
          detail:
            `GET ${base}/bulk/v1/status/${config.integration_id}?execution_id=<id>&include_errors=true until completed`,
        },
      );
      return steps;
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
        method: "POST",
        url: `${base}/bulk/v1/bulkload_opportunity?${q}`,
        headers: { ...h, "content-type": csv ? "text/csv" : "application/json" },
        body,
        what,
        kind: "once",
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

    async poll(submission: Submission, batch: Batch, ctx: TargetContext): Promise<PollResult> {
      const maxErrors = Math.max(10, batch.rows.length);
      const q = new URLSearchParams({
        execution_id: submission.id,
        include_errors: "true",
        max_errors: String(maxErrors),
      });
      const what = `check execution ${submission.id}`;
      const res = await authed(ctx, (h) => ({
        method: "GET",
        url: `${base}/bulk/v1/status/${integration}?${q}`,
        headers: h,
        what,
        kind: "safe",
        timeoutMs,
      }));
      const body = await readJson(res, what);
      if (!res.ok) {
        throw new HttpError(
          res.status >= 500 ? "transport" : "api",
          res.status,
          `WorkSpan cannot report execution ${submission.id}: HTTP ${res.status} ${
            describeBody(body)
          }`,
        );
      }
      return readStatus(body, batch, maxErrors);
    },
  };
}
