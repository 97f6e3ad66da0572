import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { parseCsv } from "../_csv.ts";
import { unzipOne, zipOne } from "../_zip.ts";
import type { Batch, TargetContext } from "../types.ts";
import { describedDefinition } from "./target.ts";

const DEF = describedDefinition(
  fileURLToPath(new URL("../../../apis/bigin.yaml", import.meta.url)),
  "bigin-described",
);
const BASE = "https://zoho.test";
const ROWS = [
  { Last_Name: "Ada", Email: "ada@x.test" },
  { Last_Name: "", Email: "nobody@x.test" },
];

function batch(): Batch {
  return {
    index: 0,
    key: "Email",
    fields: ["Last_Name", "Email"],
    rows: ROWS,
    lines: [2, 3],
    keys: ROWS.map((r) => r.Email),
  };
}

/** A small Bigin: refresh token, multipart ZIP upload, job, details, zipped result. */
function fakeBigin(refuseFile = false) {
  let csv = "";
  let tokens = 0;
  const enc = new TextEncoder();
  const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status });
  const handler = async (req: Request): Promise<Response> => {
    const path = new URL(req.url).pathname;
    if (path === "/oauth/v2/token") {
      return json({ access_token: `z-${++tokens}`, expires_in: 3600 });
    }
    assert.match(req.headers.get("authorization") ?? "", /^Zoho-oauthtoken z-\d$/);
    if (path === "/bigin/v2/upload") {
      assert.equal(req.headers.get("X-CRM-ORG"), "org1");
      const file = (await req.formData()).get("file") as File;
      assert.equal(file.name, "batch-1.zip");
      if (refuseFile) return json({ status: "error", code: "INVALID_FILE_FORMAT" });
      const entry = unzipOne(new Uint8Array(await file.arrayBuffer()), 1e6);
      assert.equal(entry.name, "batch-1.csv");
      csv = new TextDecoder().decode(entry.data);
      return json({ status: "success", details: { file_id: "F1" } });
    }
    if (path === "/bigin/bulk/v2/write") {
      const body = await req.json();
      assert.equal(body.resource[0].file_id, "F1");
      assert.equal(body.ignore_empty, false);
      assert.equal("find_by" in body.resource[0], false);
      return json({ status: "success", details: { id: "J1" } });
    }
    if (path === "/bigin/bulk/v2/write/J1") {
      return json({
        status: "COMPLETED",
        result: { download_url: "/bigin/bulk/v2/write/J1/result" },
      });
    }
    if (path === "/bigin/bulk/v2/write/J1/result") {
      const [header, ...rows] = parseCsv(csv);
      const lines = [[...header!, "STATUS", "RECORD_ID", "ERRORS"].join(",")];
      rows.forEach((r, i) =>
        lines.push(
          [
            ...r,
            r[0] ? "added" : "skipped",
            r[0] ? `R${i}` : "",
            r[0] ? "" : "MANDATORY_NOT_FOUND-Last_Name",
          ].join(","),
        )
      );
      return new Response(
        zipOne("result.csv", enc.encode(lines.join("\r\n"))) as Uint8Array<ArrayBuffer>,
      );
    }
    return json({ status: "error", code: "INVALID_URL_PATTERN" }, 404);
  };
  return { handler };
}

function target() {
  const config = DEF.schema.parse({
    api: "bigin-described",
    api_domain: BASE,
    content_domain: BASE,
    accounts_domain: BASE,
    module: "Contacts",
    operation: "insert",
    org_id: "org1",
    client_id: "c",
    client_secret: "s",
    refresh_token: "r",
  });
  return DEF.create(config, { key: "Email", fields: [] }, {});
}

function context(handler: (req: Request) => Promise<Response>): TargetContext {
  return {
    fetch: (input, init) => handler(new Request(input, init)),
    log: () => {},
    retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 },
  };
}

Deno.test("the Bigin description uploads a zipped CSV as a form, then reads the zipped result", async () => {
  const ctx = context(fakeBigin().handler);
  const t = target();
  const sub = await t.submit(batch(), ctx);
  assert.equal(sub.id, "J1");
  const done = await t.status(sub, batch(), ctx);
  assert.ok(done.done);
  const r = await t.results(sub, done, batch(), ctx);
  assert.deepEqual(r.counts, { succeeded: 1, failed: 1, skipped: 0 });
  assert.deepEqual(r.failures, [{
    row: 1,
    key: "nobody@x.test",
    code: "MANDATORY_NOT_FOUND",
    field: "Last_Name",
    message: "MANDATORY_NOT_FOUND-Last_Name",
    outcome: "failed",
  }]);
  assert.equal(t.duplicatesOnResend, true);
});

Deno.test("the Bigin description refuses an upload answered HTTP 200 with status error", async () => {
  await assert.rejects(
    () => target().submit(batch(), context(fakeBigin(true).handler)),
    /refused to upload batch 1: HTTP 200 INVALID_FILE_FORMAT/,
  );
});

Deno.test("the Bigin description's rows go before its job's id exists: a lost job creation may have loaded them", () => {
  assert.equal(target().loadsNothingBeforeCheckpoint, false);
});
