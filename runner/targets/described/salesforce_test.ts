import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { RunnerError, TransportError } from "../../errors.ts";
import { parseCsv } from "../_csv.ts";
import type { Batch, Submission, TargetContext } from "../types.ts";
import { describedDefinition } from "./target.ts";
import { memorySpool } from "../_wire.ts";

const FILE = fileURLToPath(new URL("../../../apis/salesforce-bulk2.yaml", import.meta.url));
const DEF = describedDefinition(FILE);
const BASE = "https://sf.test";
const JOBS = "/services/data/v62.0/jobs/ingest";
const KEY = "External_Ref__c";

interface Job {
  id: string;
  state: string;
  lineEnding: string;
  csv?: string;
  polls: number;
}

interface FakeOptions {
  /** Answer 401 INVALID_SESSION_ID to the first upload. */
  expireOnce?: boolean;
  /** The job fails after processing this many rows; the rest are unprocessed. */
  failAfter?: number;
  /** The state the job reports once processed (default JobComplete). */
  finalState?: string;
  /** Refuse uploads with this status. */
  refuseUpload?: number;
}

/** A small Salesforce: token, jobs, upload, close, job info, three result files (reversed). */
function fakeSalesforce(opts: FakeOptions = {}) {
  const jobs = new Map<string, Job>();
  const log: string[] = [];
  let tokens = 0;
  let expired = !opts.expireOnce;
  const json = (body: unknown, status = 200) =>
    new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
  const csv = (rows: string[][]) => new Response(rows.map((r) => r.join(",")).join("\n") + "\n");
  const quote = (s: string) => /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  const outcome = (job: Job) => {
    const [header, ...rows] = parseCsv(job.csv ?? "");
    const stageAt = header!.indexOf("StageName");
    const ok: string[][] = [], bad: string[][] = [], left: string[][] = [];
    rows.forEach((r, i) => {
      if (opts.failAfter !== undefined && i >= opts.failAfter) left.push(r);
      else if (r[stageAt] === "") bad.push(r);
      else ok.push(r);
    });
    return { header: header!, ok, bad, left };
  };
  const handler = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    const path = url.pathname;
    log.push(`${req.method} ${path}`);
    if (path === "/services/oauth2/token") {
      const form = new URLSearchParams(await req.text());
      assert.equal(form.get("grant_type"), "client_credentials");
      if (form.get("client_secret") !== "csecret") return json({ error: "invalid_client" }, 400);
      return json({ access_token: `tok-${++tokens}`, token_type: "Bearer" });
    }
    const auth = req.headers.get("authorization") ?? "";
    if (!auth.startsWith("Bearer ")) return json([{ errorCode: "INVALID_SESSION_ID" }], 401);
    const m = /^\/services\/data\/v62\.0\/jobs\/ingest(?:\/([^/]+)(?:\/(\w+)\/?)?)?$/.exec(path);
    if (!m) return json([{ errorCode: "NOT_FOUND" }], 404);
    const [, id, sub] = m;
    if (!id && req.method === "POST") {
      const body = await req.json();
      const job: Job = {
        id: `750J${jobs.size + 1}`,
        state: "Open",
        lineEnding: body.lineEnding,
        polls: 0,
      };
      jobs.set(job.id, job);
      return json({ id: job.id, state: "Open", lineEnding: job.lineEnding, object: body.object });
    }
    const job = jobs.get(id ?? "");
    if (!job) return json([{ errorCode: "NOT_FOUND" }], 404);
    if (sub === "batches" && req.method === "PUT") {
      if (!expired) {
        expired = true;
        return json(
          [{ errorCode: "INVALID_SESSION_ID", message: "Session expired or invalid" }],
          401,
        );
      }
      if (opts.refuseUpload) return json([{ errorCode: "INVALIDJOB" }], opts.refuseUpload);
      job.csv = await req.text();
      return new Response(null, { status: 201 });
    }
    if (!sub && req.method === "PATCH") {
      const { state } = await req.json();
      job.state = state;
      return json({ id: job.id, state });
    }
    if (!sub && req.method === "GET") {
      if (job.state === "UploadComplete" && job.polls++ > 0) {
        job.state = opts.failAfter !== undefined ? "Failed" : opts.finalState ?? "JobComplete";
      }
      const o = job.csv ? outcome(job) : undefined;
      return json({
        id: job.id,
        state: job.state,
        numberRecordsProcessed: o ? o.ok.length + o.bad.length : 0,
        numberRecordsFailed: o ? o.bad.length : 0,
        ...(job.state === "Failed" ? { errorMessage: "InvalidBatch : Too many errors" } : {}),
      });
    }
    const o = outcome(job);
    const enc = (r: string[]) => r.map(quote);
    if (sub === "successfulResults") {
      return csv([
        ["sf__Id", "sf__Created", ...o.header],
        ...o.ok.map((r, i) => ["006" + i, "true", ...enc(r)]).reverse(),
      ]);
    }
    if (sub === "failedResults") {
      return csv([
        ["sf__Id", "sf__Error", ...o.header],
        ...o.bad.map((r) => [
          "",
          "REQUIRED_FIELD_MISSING:Required fields are missing: [StageName]:StageName --",
          ...enc(r),
        ]).reverse(),
      ]);
    }
    if (sub === "unprocessedrecords") return csv([o.header, ...o.left.map(enc).reverse()]);
    return json([{ errorCode: "NOT_FOUND" }], 404);
  };
  return { handler, jobs, log, tokens: () => tokens };
}

const ROWS = [
  { Name: "Deal A", StageName: "Prospecting", [KEY]: "A-1", Description: "two\nlines" },
  { Name: "Deal B", StageName: "", [KEY]: "B-2", Description: "" },
  { Name: "Deal C", StageName: "Closed Won", [KEY]: "C-3", Description: 'say "hi", then' },
  { Name: "Deal D", StageName: "", [KEY]: "D-4", Description: "" },
];

function batch(): Batch {
  return {
    index: 0,
    key: KEY,
    fields: Object.keys(ROWS[0]!),
    rows: ROWS,
    lines: [2, 3, 4, 5],
    keys: ROWS.map((r) => r[KEY]!),
  };
}

function target(extra: Record<string, unknown> = {}) {
  const config = DEF.schema.parse({
    api: "salesforce-bulk2",
    instance_url: BASE,
    object: "Opportunity",
    operation: "upsert",
    external_id_field: KEY,
    client_id: "cid",
    client_secret: "csecret",
    ...extra,
  });
  return DEF.create(config, { key: KEY, fields: [] }, {});
}

function context(handler: (req: Request) => Promise<Response>, checkpoints: Submission[] = []) {
  const logs: string[] = [];
  const ctx: TargetContext = {
    fetch: (input, init) => handler(new Request(input, init)),
    log: (m) => logs.push(m),
    retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 },
    checkpoint: (s) => checkpoints.push(s),
  };
  return { ctx, logs };
}

async function runToEnd(t: ReturnType<typeof target>, ctx: TargetContext) {
  const sub = await t.submit(batch(), ctx);
  for (let i = 0; i < 10; i++) {
    const s = await t.status(sub, batch(), ctx);
    if (s.done) return { sub, done: s, results: await t.results(sub, s, batch(), ctx) };
  }
  throw new Error("Job never finished");
}

Deno.test("the Salesforce description joins every result row to its sent row by external id", async () => {
  const sf = fakeSalesforce();
  const checkpoints: Submission[] = [];
  const { ctx } = context(sf.handler, checkpoints);
  const { sub, done, results } = await runToEnd(target(), ctx);
  assert.equal(done.status, "completed");
  assert.equal(done.remoteStatus, "JobComplete");
  assert.deepEqual(checkpoints, [{ id: sub.id, data: { id: sub.id, line_ending: "LF" } }]);
  assert.deepEqual(results.counts, { succeeded: 2, failed: 2, skipped: 0 });
  assert.deepEqual(results.failures.map((f) => [f.row, f.key]), [[1, "B-2"], [3, "D-4"]]);
  assert.deepEqual(results.problems, []);
  assert.equal(results.unprocessed, undefined);
});

Deno.test("the Salesforce description splits sf__Error into code, message and field", async () => {
  const sf = fakeSalesforce();
  const { results } = await runToEnd(target(), context(sf.handler).ctx);
  assert.deepEqual(results.failures[0], {
    row: 1,
    key: "B-2",
    code: "REQUIRED_FIELD_MISSING",
    message: "Required fields are missing: [StageName]",
    field: "StageName",
    outcome: "failed",
  });
});

Deno.test("the Salesforce upload uses the job's LF line ending and keeps quoted newlines", async () => {
  const sf = fakeSalesforce();
  await runToEnd(target(), context(sf.handler).ctx);
  const csv = [...sf.jobs.values()][0]!.csv!;
  assert.equal(csv.split("\n")[0], "Name,StageName,External_Ref__c,Description");
  assert.ok(csv.includes('"two\nlines"'));
  assert.ok(csv.includes('"say ""hi"", then"'));
  assert.ok(!csv.includes("\r"));
});

Deno.test("an INVALID_SESSION_ID answer gets a new token and the request is repeated once", async () => {
  const sf = fakeSalesforce({ expireOnce: true });
  const { ctx, logs } = context(sf.handler);
  const { results } = await runToEnd(target(), ctx);
  assert.equal(sf.tokens(), 2);
  assert.equal(sf.log.filter((l) => l.endsWith("/batches")).length, 2);
  assert.deepEqual(results.counts, { succeeded: 2, failed: 2, skipped: 0 });
  assert.ok(logs.some((l) => l.includes("access token expired")));
});

Deno.test("a static access_token is used without a token request", async () => {
  const sf = fakeSalesforce();
  const t = target({ client_id: undefined, client_secret: undefined, access_token: "static" });
  await runToEnd(t, context(sf.handler).ctx);
  assert.equal(sf.tokens(), 0);
  assert.ok(!t.requests().some((r) => r.name === "token"));
});

Deno.test("a Failed job counts its processed rows and returns the unprocessed ones", async () => {
  const sf = fakeSalesforce({ failAfter: 2 });
  const { done, results } = await runToEnd(target(), context(sf.handler).ctx);
  assert.equal(done.status, "failed");
  assert.equal(done.message, "InvalidBatch : Too many errors");
  assert.deepEqual(results.counts, { succeeded: 1, failed: 1, skipped: 0 });
  assert.deepEqual(results.unprocessed, [2, 3]);
  assert.deepEqual(results.problems, []);
});

Deno.test("requests() lists every request of the job, without secrets", () => {
  const list = target().requests();
  assert.deepEqual(list.map((r) => [r.name, r.method, r.when, r.safeToRepeat]), [
    ["token", "POST", "per_run", true],
    ["create", "POST", "per_batch", false],
    ["upload", "PUT", "per_batch", false],
    ["close", "PATCH", "per_batch", true],
    ["status", "GET", "per_poll", true],
    ["results: successful", "GET", "on_finish", true],
    ["results: failed", "GET", "on_finish", true],
    ["results: unprocessed", "GET", "on_finish", true],
    ["abort", "PATCH", "per_batch", true],
  ]);
  assert.equal(list[2]!.detail, `PUT ${BASE}${JOBS}/<job.id>/batches (CSV rows)`);
  assert.ok(list.every((r) => !r.detail.includes("csecret") && !r.detail.includes("cid")));
});

Deno.test("recover() aborts a job still open and asks for its rows to be resent", async () => {
  const sf = fakeSalesforce();
  const { ctx } = context(sf.handler);
  const t = target();
  // A crash after create: the job exists, open, with nothing uploaded.
  const created = await ctx.fetch(`${BASE}${JOBS}`, {
    method: "POST",
    headers: { authorization: "Bearer x" },
    body: JSON.stringify({ lineEnding: "LF" }),
  }).then((r) => r.json());
  assert.equal(
    await t.recover!({ id: created.id, data: { id: created.id } }, batch(), ctx),
    "resend",
  );
  assert.equal(sf.jobs.get(created.id)!.state, "Aborted");
});

Deno.test("recover() keeps polling a job that was closed", async () => {
  const sf = fakeSalesforce();
  const { ctx } = context(sf.handler);
  const t = target();
  const sub = await t.submit(batch(), ctx);
  assert.deepEqual(await t.recover!(sub, batch(), ctx), sub);
  assert.equal(sf.jobs.get(sub.id)!.state, "UploadComplete");
});

Deno.test("a refused upload aborts the job it opened", async () => {
  const sf = fakeSalesforce({ refuseUpload: 400 });
  const checkpoints: Submission[] = [];
  const { ctx } = context(sf.handler, checkpoints);
  await assert.rejects(() => target().submit(batch(), ctx), (err: RunnerError) => {
    assert.ok(!(err instanceof TransportError));
    assert.match(err.message, /HTTP 400 .*INVALIDJOB.*aborted: none of its rows were loaded/);
    return true;
  });
  assert.equal(checkpoints.length, 1);
  assert.equal(sf.jobs.get(checkpoints[0]!.id)!.state, "Aborted");
});

Deno.test("an unknown job state is an error naming the state and the description's line", async () => {
  const sf = fakeSalesforce({ finalState: "Exploded" });
  const { ctx } = context(sf.handler);
  const t = target();
  const sub = await t.submit(batch(), ctx);
  await t.status(sub, batch(), ctx);
  const text = await Deno.readTextFile(FILE);
  const line = text.split("\n").findIndex((l) => l.trim() === "states:") + 1;
  await assert.rejects(
    () => t.status(sub, batch(), ctx),
    new RegExp(`unknown state "Exploded" .*salesforce-bulk2\\.yaml:${line + 1}:\\d+ lists "Open"`),
  );
});

Deno.test("an upsert without external_id_field is refused by the target schema", () => {
  const r = DEF.schema.safeParse({
    api: "salesforce-bulk2",
    instance_url: BASE,
    object: "X",
    access_token: "t",
  });
  assert.ok(!r.success);
  assert.match(JSON.stringify(r.error.issues), /Required when operation is \\"upsert\\"/);
});

Deno.test("an upload lost in transit aborts the open job, so its rows are known unloaded", async () => {
  const sf = fakeSalesforce();
  const checkpoints: Submission[] = [];
  const { ctx } = context((req) => {
    if (req.url.endsWith("/batches")) return Promise.reject(new Error("connection reset"));
    return sf.handler(req);
  }, checkpoints);
  await assert.rejects(() => target().submit(batch(), ctx), (err: TransportError) => {
    assert.ok(err instanceof TransportError);
    assert.equal(err.maybeDelivered, false);
    assert.match(err.message, /connection reset.*aborted/);
    return true;
  });
  assert.equal(sf.jobs.get(checkpoints[0]!.id)!.state, "Aborted");
});

Deno.test("a rows body that needs a job's value is not packed ahead, and is built once the job exists", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // The same description, but the upload takes its line ending from the create answer.
    const text = (await Deno.readTextFile(FILE)).replace(
      'line_ending: "{params.line_ending}"',
      'line_ending: "{job.line_ending}"',
    );
    assert.ok(text.includes('"{job.line_ending}"'));
    await Deno.writeTextFile(`${dir}/salesforce-bulk2.yaml`, text);
    const def = describedDefinition(`${dir}/salesforce-bulk2.yaml`);
    const config = def.schema.parse({
      api: "salesforce-bulk2",
      instance_url: BASE,
      object: "Opportunity",
      operation: "upsert",
      external_id_field: KEY,
      line_ending: "CRLF",
      client_id: "cid",
      client_secret: "csecret",
    });
    const t = def.create(config, { key: KEY, fields: [] }, {});
    assert.equal(
      t.pack?.(batch(), memorySpool),
      undefined,
      "not packed: the job's line ending is not known yet",
    );
    const sf = fakeSalesforce();
    const { ctx } = context(sf.handler);
    const { done, results } = await runToEnd(t, ctx);
    assert.equal(done.status, "completed");
    assert.deepEqual(results.counts, { succeeded: 2, failed: 2, skipped: 0 });
    const job = [...sf.jobs.values()][0]!;
    assert.equal(job.lineEnding, "CRLF");
    assert.ok(job.csv!.endsWith("\r\n") && job.csv!.split("\r\n").length === 6, job.csv);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Salesforce loads nothing before the job's id is known: the rows go after create, the load starts at close", () => {
  assert.equal(target().loadsNothingBeforeCheckpoint, true);
});
