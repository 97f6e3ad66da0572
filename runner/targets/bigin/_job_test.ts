import assert from "node:assert/strict";
import { HttpError, TransportError } from "../../errors.ts";
import type { Batch, RowShape, TargetContext } from "../types.ts";
import { biginSchema, createBiginTarget } from "./mod.ts";

const SHAPE: RowShape = { key: "Deal_Name", fields: [{ name: "Deal_Name", type: "string" }] };
const BATCH: Batch = {
  index: 0,
  key: "Deal_Name",
  fields: ["Deal_Name"],
  rows: [{ Deal_Name: "a" }],
  lines: [2],
  keys: ["a"],
};
const FAST = { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 };

function config(extra: Record<string, unknown> = {}) {
  return biginSchema.parse({
    api: "bigin",
    base_url: "https://bigin.test",
    module: "Pipelines",
    operation: "upsert",
    find_by: "Deal_Name",
    org_id: "org-1",
    auth: { type: "zoho_refresh_token", client_id: "c", client_secret: "s", refresh_token: "r" },
    ...extra,
  });
}

/** A context whose fetch answers by path and records each request's URL and auth header. */
function ctx(answer: (url: URL, n: number) => Response) {
  const seen: { url: string; auth: string | null }[] = [];
  const secrets: string[] = [];
  const c: TargetContext = {
    fetch: (input, init) => {
      const req = new Request(input, init);
      seen.push({ url: req.url, auth: req.headers.get("authorization") });
      const url = new URL(req.url);
      if (url.pathname === "/oauth/v2/token") {
        return Promise.resolve(Response.json({ access_token: "live-token-1", expires_in: 3600 }));
      }
      return Promise.resolve(answer(url, seen.length));
    },
    log: () => {},
    retry: FAST,
    secret: (v) => secrets.push(v),
  };
  return { c, seen, secrets };
}

function completed(downloadUrl: string): Response {
  return Response.json({
    status: "COMPLETED",
    id: "job-1",
    result: { download_url: downloadUrl },
    resource: [{ file: { added_count: 1, total_count: 1 } }],
  });
}

async function results(downloadUrl: string, extra: Record<string, unknown> = {}) {
  const { c, seen } = ctx((url) =>
    url.pathname.startsWith("/bigin/bulk/v2/write/") ? completed(downloadUrl) : new Response("no")
  );
  const t = createBiginTarget(config(extra), SHAPE);
  const st = await t.status({ id: "job-1" }, BATCH, c);
  assert(st.done);
  const err = await t.results({ id: "job-1" }, st, BATCH, c).then(() => undefined, (e) => e);
  return { err, seen };
}

Deno.test("results() refuses a download_url on another host and never sends the token there", async () => {
  const { err, seen } = await results("https://evil.test/r/job-1.zip");
  assert(err instanceof HttpError);
  assert.match(err.message, /download_url points to host "evil\.test"/);
  assert.match(err.message, /API domain "bigin\.test"/);
  assert.ok(seen.every((s) => new URL(s.url).host !== "evil.test"), "nothing sent to evil.test");
});

Deno.test("results() refuses a download_url over plain http on the account's own host", async () => {
  const { err, seen } = await results("http://bigin.test/r/job-1.zip");
  assert(err instanceof HttpError);
  assert.match(err.message, /uses "http:" rather than https:/);
  assert.equal(seen.filter((s) => s.url.startsWith("http:")).length, 0);
});

Deno.test("status() registers the access token from the refresh grant as a secret", async () => {
  const { c, secrets } = ctx(() => Response.json({ status: "IN PROGRESS", id: "job-1" }));
  await createBiginTarget(config(), SHAPE).status({ id: "job-1" }, BATCH, c);
  assert.deepEqual(secrets, ["live-token-1"]);
});

Deno.test("submit() uploads again after HTTP 200 INTERNAL_ERROR, then creates one job", async () => {
  let uploads = 0;
  const { c, seen } = ctx((url) => {
    if (url.pathname === "/bigin/v2/upload") {
      return ++uploads === 1
        ? Response.json({ status: "error", code: "INTERNAL_ERROR", message: "x", details: {} })
        : Response.json({ status: "success", details: { file_id: "f-2" } });
    }
    return Response.json({ status: "success", details: { id: "job-9" } });
  });
  const sub = await createBiginTarget(config(), SHAPE).submit(BATCH, c);
  assert.equal(sub.id, "job-9");
  assert.equal(uploads, 2);
  assert.equal(seen.filter((s) => s.url.endsWith("/bigin/bulk/v2/write")).length, 1);
});

Deno.test("submit() reports an upload that keeps failing with 503 as not loaded, never unknown", async () => {
  const { c } = ctx(() => new Response("down", { status: 503 }));
  const err = await createBiginTarget(config(), SHAPE).submit(BATCH, c).then(
    () => undefined,
    (e) => e,
  );
  assert(err instanceof TransportError);
  assert.equal(err.maybeDelivered, false);
  assert.match(err.message, /no job was created: nothing was loaded/);
});

Deno.test("submit() makes a job creation answered 200 without an id an error that may have loaded", async () => {
  const { c } = ctx((url) =>
    url.pathname === "/bigin/v2/upload"
      ? Response.json({ status: "success", details: { file_id: "f-1" } })
      : Response.json({ status: "success", details: {} })
  );
  const err = await createBiginTarget(config(), SHAPE).submit(BATCH, c).then(
    () => undefined,
    (e) => e,
  );
  assert(err instanceof HttpError);
  assert.equal(err.code, "transport");
  assert.equal(err.status, 200);
  assert.match(err.message, /gave no job id/);
});
