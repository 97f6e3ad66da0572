import assert from "node:assert/strict";
import { HttpError, TransportError } from "../../errors.ts";
import { workspanSchema } from "./mod.ts";
import { createWorkspanTarget, readResults, readStatus as readStatusOnly } from "./mod.ts";

/** The status and, once finished, the results read from one answer, as before the split. */
function readStatus(body: unknown, b: Batch, maxErrors: number) {
  const st = readStatusOnly(body);
  return st.done ? { ...st, ...readResults(body, b, maxErrors) } : st;
}
import type { Batch, Submission, Target, TargetContext } from "../types.ts";

/** One status check and, once done, the results: the old `poll()` answer, for these tests. */
async function poll(t: Target, sub: Submission, b: Batch, c: TargetContext) {
  const st = await t.status(sub, b, c);
  if (!st.done) return st;
  const { data: _data, ...finished } = st;
  return { ...finished, ...(await t.results(sub, st, b, c)) };
}

const SHAPE = { key: "opportunity_id", fields: [] };

function batch(rows: Record<string, string | number | null>[]): Batch {
  return {
    index: 0,
    key: "opportunity_id",
    fields: Object.keys(rows[0] ?? {}),
    rows,
    lines: rows.map((_, i) => i + 2),
    keys: rows.map((r) => r.opportunity_id ?? null),
  };
}

const ROWS = batch([
  { opportunity_id: "a1", close_date: "2020-01-20", amount: 1 },
  { opportunity_id: "a2", close_date: "20-jan-2020", amount: 2 },
  { opportunity_id: "a2", close_date: "2020-01-22", amount: 3 },
  { opportunity_id: "", close_date: "2020-01-23", amount: 4 },
]);

Deno.test("readStatus() keeps polling while the execution runs", () => {
  assert.deepEqual(readStatus({ status: "running", input_count: 4 }, ROWS, 10), {
    done: false,
    remoteStatus: "running",
  });
});

Deno.test("readStatus() joins errors to rows by key, data_row settling duplicate keys", () => {
  const r = readStatus(
    {
      status: "completed",
      input_count: 4,
      success_count: 2,
      error_count: 2,
      skip_count: 0,
      errors: [
        {
          id: "a2",
          message: "invalid value in field 'close_date'",
          data_row: JSON.stringify({ opportunity_id: "a2", close_date: "20-jan-2020", amount: 2 }),
        },
        { id: "", message: "Missing value of key field", data_row: { opportunity_id: "" } },
      ],
    },
    ROWS,
    10,
  );
  assert.ok(r.done && r.status === "completed");
  assert.deepEqual(r.counts, { succeeded: 2, failed: 2, skipped: 0 });
  assert.deepEqual(r.failures.map((f) => [f.row, f.key, f.field]), [[1, "a2", "close_date"], [
    3,
    "",
    undefined,
  ]]);
  assert.deepEqual(r.problems, []);
});

Deno.test("readStatus() picks the duplicate-key row whose data_row matches", () => {
  const r = readStatus(
    {
      status: "completed",
      success_count: 3,
      error_count: 1,
      errors: [{ id: "a2", message: "x", data_row: { opportunity_id: "a2", amount: 3 } }],
    },
    ROWS,
    10,
  );
  assert.ok(r.done);
  assert.equal(r.failures[0]!.row, 2);
});

Deno.test("readStatus() reads the misspelt succcess_count and fills missing counts", () => {
  const r = readStatus({ status: "completed", succcess_count: 3, error_count: 1 }, ROWS, 10);
  assert.ok(r.done);
  assert.deepEqual(r.counts, { succeeded: 3, failed: 1, skipped: 0 });
  const r2 = readStatus({ status: "Completed", error_count: 1 }, ROWS, 10);
  assert.ok(r2.done);
  assert.deepEqual(r2.counts, { succeeded: 3, failed: 1, skipped: 0 });
});

Deno.test("readStatus() reports counts that do not add up and errors it did not list", () => {
  const r = readStatus(
    {
      status: "completed",
      input_count: 5,
      success_count: 4,
      error_count: 1,
      skip_count: 0,
    },
    ROWS,
    10,
  );
  assert.ok(r.done);
  assert.ok(r.problems.some((p) => /input_count 5, but 4 rows were sent/.test(p)));
  assert.ok(r.problems.some((p) => /success 4 \+ error 1 \+ skip 0 != 4 rows sent/.test(p)));
  assert.ok(r.problems.some((p) => /reports 1 failed rows but lists only 0/.test(p)));
});

Deno.test("readStatus() treats status_msg on a completed execution with no successes as failed", () => {
  const r = readStatus({ status: "completed", status_msg: "Integration is disabled" }, ROWS, 10);
  assert.ok(r.done);
  assert.equal(r.status, "failed");
  assert.equal(r.message, "Integration is disabled");
  assert.deepEqual(r.counts, { succeeded: 0, failed: 4, skipped: 0 });
});

Deno.test("readStatus() refuses an answer without a status rather than taking it as done", () => {
  assert.throws(() => readStatus({ input_count: 4 }, ROWS, 10), HttpError);
  assert.throws(() => readStatus("completed", ROWS, 10), /not a JSON object/);
});

function target(extra: Record<string, unknown> = {}) {
  const config = workspanSchema.parse({
    api: "workspan",
    base_url: "https://ws.example",
    integration_id: "WS-Integration_x",
    auth: { type: "bearer", token: "t0k" },
    retries: { attempts: 2, base_delay: "1ms", max_delay: "2ms" },
    ...extra,
  });
  return createWorkspanTarget(config, SHAPE);
}

function ctx(handler: (req: Request) => Response | Promise<Response>): TargetContext & {
  seen: Request[];
} {
  const seen: Request[] = [];
  return {
    seen,
    log: () => {},
    fetch: async (input, init) => {
      const sent = new Request(input, init);
      // As a server does, the whole body is read before the answer.
      const body = sent.body ? new Uint8Array(await sent.arrayBuffer()) : undefined;
      const req = new Request(sent.url, { method: sent.method, headers: sent.headers, body });
      seen.push(req.clone());
      return await handler(req);
    },
  };
}

Deno.test("submit() sends one query string, the bearer token and JSON rows", async () => {
  const c = ctx(() => Response.json({ execution_id: "abc12345678" }));
  const sub = await target().submit(ROWS, c);
  assert.equal(sub.id, "abc12345678");
  const req = c.seen[0]!;
  assert.equal(
    req.url,
    "https://ws.example/bulk/v1/bulkload_opportunity?integration_id=WS-Integration_x&content_type=JSON",
  );
  assert.equal(req.headers.get("authorization"), "Bearer t0k");
  assert.equal(req.headers.get("content-type"), "application/json");
  assert.deepEqual(await req.json(), ROWS.rows);
});

Deno.test("submit() sends CSV with a header row when content_type is csv", async () => {
  const c = ctx(() => Response.json({ execution_id: "e1" }));
  await target({ content_type: "csv" }).submit(batch([{ opportunity_id: "a,1", amount: 5 }]), c);
  const req = c.seen[0]!;
  assert.match(req.url, /content_type=CSV&column_delimiter=%2C&has_header_row=true$/);
  assert.equal(await req.text(), 'opportunity_id,amount\r\n"a,1",5\r\n');
});

Deno.test("submit() without an execution_id in the answer is an uncertain failure", async () => {
  await assert.rejects(
    () => target().submit(ROWS, ctx(() => Response.json({ ok: true }))),
    /accepted batch 1 but gave no execution_id/,
  );
});

Deno.test("submit() names the integration on a 404 and does not resend a 500", async () => {
  await assert.rejects(
    () => target().submit(ROWS, ctx(() => new Response("not found", { status: 404 }))),
    /HTTP 404.*is integration_id "WS-Integration_x" right/,
  );
  const c = ctx(() => new Response("boom", { status: 500 }));
  await assert.rejects(
    () => target().submit(ROWS, c),
    (e) => e instanceof HttpError && e.status === 500,
  );
  assert.equal(c.seen.length, 1, "an upload answered 500 is never resent");
});

Deno.test("submit() resends an upload refused with 429 (it was not processed)", async () => {
  let n = 0;
  const c = ctx(() =>
    n++ === 0
      ? new Response("slow down", { status: 429, headers: { "retry-after": "0" } })
      : Response.json({ execution_id: "e2" })
  );
  assert.equal((await target().submit(ROWS, c)).id, "e2");
  assert.equal(c.seen.length, 2);
});

Deno.test("submit() reports a network failure after sending as possibly delivered", async () => {
  const c: TargetContext = {
    log: () => {},
    fetch: () => Promise.reject(new TypeError("connection closed before message completed")),
  };
  await assert.rejects(
    () => target().submit(ROWS, c),
    (e) => e instanceof TransportError && e.maybeDelivered,
  );
});

Deno.test("client_credentials gets a token once, refreshes it once on 401, then gives up", async () => {
  let tokens = 0;
  let uploads = 0;
  const c = ctx((req) => {
    if (req.url.endsWith("/oauth/token")) {
      tokens++;
      return Response.json({
        access_token: `tok${tokens}`,
        token_type: "Bearer",
        expires_in: 3600,
      });
    }
    uploads++;
    return req.headers.get("authorization") === "Bearer tok2"
      ? Response.json({ execution_id: "e3" })
      : new Response("Authorization Error", { status: 401 });
  });
  const t = target({ auth: { type: "client_credentials", client_id: "id", client_secret: "sec" } });
  assert.equal((await t.submit(ROWS, c)).id, "e3");
  assert.deepEqual([tokens, uploads], [2, 2]);
  const form = new URLSearchParams(await c.seen[0]!.text());
  assert.equal(form.get("grant_type"), "client_credentials");
  const refused = ctx((req) =>
    req.url.endsWith("/oauth/token")
      ? Response.json({ access_token: "x", expires_in: 3600 })
      : new Response("no", { status: 401 })
  );
  await assert.rejects(() => t.submit(ROWS, refused), /refused the credentials/);
});

Deno.test("poll() asks for every error of the batch", async () => {
  const c = ctx(() => Response.json({ status: "running" }));
  const r = await poll(target(), { id: "e9" }, ROWS, c);
  assert.equal(r.done, false);
  const url = new URL(c.seen[0]!.url);
  assert.equal(url.pathname, "/bulk/v1/status/WS-Integration_x");
  assert.equal(url.searchParams.get("execution_id"), "e9");
  assert.equal(url.searchParams.get("include_errors"), "true");
  assert.equal(url.searchParams.get("max_errors"), "10");
});

Deno.test("readStatus() places an error among rows of one key of a packed batch, which kept all but the first", () => {
  // Packed under duplicates: allow: rows 0 and 2 share key a2; only row 2 (not the first) is kept.
  const packed = { ...ROWS, rows: [undefined, undefined, ROWS.rows[2], undefined] } as Batch;
  packed.keys = ["a1", "a2", "a2", ""];
  const answer = (dataRow: Record<string, unknown>) => ({
    status: "completed",
    input_count: 4,
    success_count: 3,
    error_count: 1,
    skip_count: 0,
    errors: [{ id: "a2", message: "invalid value in field 'close_date'", data_row: dataRow }],
  });
  const kept = readStatus(answer({ opportunity_id: "a2", close_date: "2020-01-22" }), packed, 10);
  const first = readStatus(answer({ opportunity_id: "a2", close_date: "20-jan-2020" }), packed, 10);
  assert.ok(kept.done && "failures" in kept && first.done && "failures" in first);
  assert.deepEqual(kept.failures.map((f) => f.row), [2], "the kept row whose values match");
  assert.deepEqual(first.failures.map((f) => f.row), [1], "no kept row matches: the first one");
});
