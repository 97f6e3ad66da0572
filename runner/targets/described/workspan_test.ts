import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import type { Batch, TargetContext } from "../types.ts";
import { describedDefinition } from "./target.ts";

const DEF = describedDefinition(
  fileURLToPath(new URL("../../../apis/workspan.yaml", import.meta.url)),
);
const BASE = "https://ws.test";
const ROWS = [
  { opportunity_id: "a1", close_date: "2020-01-20", amount: 1 },
  { opportunity_id: "a2", close_date: "20-jan-2020", amount: 2 },
  { opportunity_id: "a3", close_date: "2020-01-22", amount: 3 },
  { opportunity_id: "", close_date: "2020-01-23", amount: 4 },
];

function batch(): Batch {
  return {
    index: 0,
    key: "opportunity_id",
    fields: ["opportunity_id", "close_date", "amount"],
    rows: ROWS,
    lines: [2, 3, 4, 5],
    keys: ROWS.map((r) => r.opportunity_id ?? null),
  };
}

interface FakeOptions {
  /** Answer 401 to the first upload. */
  expireOnce?: boolean;
  /** Report the execution "completed" with this status_msg and no counts. */
  statusMsg?: string;
}

/** A small WorkSpan: token, upload, status (running, then completed with errors). */
function fakeWorkspan(opts: FakeOptions = {}) {
  const executions = new Map<string, { rows: Record<string, unknown>[]; polls: number }>();
  const seen: Request[] = [];
  let tokens = 0;
  let expired = !opts.expireOnce;
  const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status });
  const handler = async (req: Request): Promise<Response> => {
    seen.push(req.clone());
    const url = new URL(req.url);
    if (url.pathname === "/oauth/token") {
      const form = new URLSearchParams(await req.text());
      if (form.get("client_secret") !== "s3cret") return json({ error: "invalid_request" }, 400);
      return json({ access_token: `wt-${++tokens}`, token_type: "Bearer", expires_in: 3600 });
    }
    if (!req.headers.get("authorization")?.startsWith("Bearer ")) return json({}, 401);
    if (url.pathname === "/bulk/v1/bulkload_opportunity") {
      if (!expired) {
        expired = true;
        return json({ message: "Authorization Error" }, 401);
      }
      assert.equal(url.searchParams.get("integration_id"), "WS-1");
      const id = `ex-${executions.size + 1}`;
      executions.set(id, { rows: await req.json(), polls: 0 });
      return json({ integration_id: "WS-1", execution_id: id });
    }
    if (url.pathname === "/bulk/v1/status/WS-1") {
      const ex = executions.get(url.searchParams.get("execution_id") ?? "");
      if (!ex) return json({ message: "not found" }, 404);
      if (ex.polls++ === 0) return json({ status: "running" });
      if (opts.statusMsg) return json({ status: "completed", status_msg: opts.statusMsg });
      const errors = ex.rows.flatMap((r) =>
        r.opportunity_id === ""
          ? [{ id: "", message: "Missing value of key field", data_row: r }]
          : /^\d{4}-/.test(String(r.close_date))
          ? []
          : [{ id: r.opportunity_id, message: "invalid value in field 'close_date'" }]
      ).reverse();
      return json({
        status: "completed",
        input_count: ex.rows.length,
        success_count: ex.rows.length - errors.length,
        error_count: errors.length,
        skip_count: 0,
        errors,
      });
    }
    return json({}, 404);
  };
  return { handler, seen, tokens: () => tokens };
}

function target(auth: Record<string, unknown> = { token: "tok" }) {
  const config = DEF.schema.parse({
    api: "workspan",
    base_url: BASE,
    integration_id: "WS-1",
    ...auth,
  });
  return DEF.create(config, { key: "opportunity_id", fields: [] }, {});
}

function context(handler: (req: Request) => Promise<Response>): TargetContext {
  return {
    fetch: (input, init) => handler(new Request(input, init)),
    log: () => {},
    retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 },
  };
}

async function runToEnd(t: ReturnType<typeof target>, ctx: TargetContext) {
  const sub = await t.submit(batch(), ctx);
  const first = await t.status(sub, batch(), ctx);
  assert.deepEqual(first, { done: false, remoteStatus: "running" });
  const done = await t.status(sub, batch(), ctx);
  assert.ok(done.done);
  return { sub, done, results: await t.results(sub, done, batch(), ctx) };
}

Deno.test("the WorkSpan description joins listed errors to rows by key and counts the rest loaded", async () => {
  const ws = fakeWorkspan();
  const { sub, done, results } = await runToEnd(target(), context(ws.handler));
  assert.equal(sub.id, "ex-1");
  assert.equal(done.status, "completed");
  assert.deepEqual(results.counts, { succeeded: 2, failed: 2, skipped: 0 });
  assert.deepEqual(results.failures.map((f) => [f.row, f.key, f.field, f.message]), [
    [1, "a2", "close_date", "invalid value in field 'close_date'"],
    [3, "", undefined, "Missing value of key field"],
  ]);
  assert.deepEqual(results.problems, []);
});

Deno.test("the WorkSpan description sends the rows as a JSON array with the static token", async () => {
  const ws = fakeWorkspan();
  await runToEnd(target(), context(ws.handler));
  const upload = ws.seen.find((r) => r.url.includes("bulkload"))!;
  assert.equal(upload.headers.get("authorization"), "Bearer tok");
  assert.equal(upload.headers.get("content-type"), "application/json");
  assert.deepEqual(await upload.json(), ROWS);
  const status = ws.seen.find((r) => r.url.includes("/status/"))!;
  assert.equal(new URL(status.url).searchParams.get("max_errors"), "4");
});

Deno.test("the WorkSpan description renews a refused client-credentials token once", async () => {
  const ws = fakeWorkspan({ expireOnce: true });
  const t = target({ client_id: "c", client_secret: "s3cret" });
  const { results } = await runToEnd(t, context(ws.handler));
  assert.equal(ws.tokens(), 2);
  assert.equal(ws.seen.filter((r) => r.url.includes("bulkload")).length, 2);
  assert.equal(results.counts.succeeded, 2);
  // env_host is unset, so its header is left out of the token request.
  assert.equal(ws.seen[0]!.headers.get("x-ws-env"), null);
});

Deno.test("a completed WorkSpan execution with a status_msg is a failed job", async () => {
  const ws = fakeWorkspan({ statusMsg: "Integration is disabled" });
  const { done, results } = await runToEnd(target(), context(ws.handler));
  assert.equal(done.status, "failed");
  assert.equal(done.message, "Integration is disabled");
  assert.deepEqual(results.counts, { succeeded: 0, failed: 4, skipped: 0 });
  assert.equal(results.failures[0]!.message, "Integration is disabled");
});

Deno.test("requests() of the WorkSpan description lists the upload and the status check", () => {
  const list = target({ client_id: "c", client_secret: "s3cret" }).requests();
  assert.deepEqual(list.map((r) => [r.name, r.when, r.safeToRepeat, r.detail]), [
    [
      "token",
      "per_run",
      true,
      `POST ${BASE}/oauth/token (client_credentials grant; again when expired)`,
    ],
    [
      "upload",
      "per_batch",
      false,
      `POST ${BASE}/bulk/v1/bulkload_opportunity?integration_id=WS-1&content_type=JSON (JSON rows)`,
    ],
    [
      "status",
      "per_poll",
      true,
      `GET ${BASE}/bulk/v1/status/WS-1?execution_id=<job.id>&include_errors=true&max_errors=<batch.size>`,
    ],
  ]);
});

Deno.test("the WorkSpan description sends its rows in the request that gives the id: a lost answer may have loaded them", () => {
  assert.equal(target().loadsNothingBeforeCheckpoint, false);
});
