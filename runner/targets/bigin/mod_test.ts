import assert from "node:assert/strict";
import { strFromU8, strToU8, unzipSync, zipSync } from "fflate";
import { HttpError, RunnerError, TransportError } from "../../errors.ts";
import {
  BIGIN_DATA_CENTERS,
  biginDomains,
  biginSchema,
  createBiginTarget,
  fieldMappings,
  formatRowErrors,
  parseRowErrors,
  readJobDetails,
  readResultCsv,
} from "./mod.ts";
import { parseCsv } from "../_csv.ts";
import { unzipOne } from "../_zip.ts";
import type { Batch, RowShape, Submission, Target, TargetContext } from "../types.ts";

/** One status check and, once done, the results: the old `poll()` answer, for these tests. */
async function poll(t: Target, sub: Submission, b: Batch, c: TargetContext) {
  const st = await t.status(sub, b, c);
  if (!st.done) return st;
  const { data: _data, ...finished } = st;
  return { ...finished, ...(await t.results(sub, st, b, c)) };
}

/** An `assert.throws`/`rejects` check: the error's class and message. */
function fails(cls: new (...a: never[]) => Error, message: RegExp) {
  return (err: unknown) => {
    assert(err instanceof cls, `expected ${cls.name}, got ${err}`);
    assert.match(err.message, message);
    return true;
  };
}

const SECRETS = { client_id: "cid-123", client_secret: "csecret-456", refresh_token: "rtok-789" };
const API = "https://bigin.test";

/** A pipeline's `target` section as written (before parsing). */
const RAW = {
  api: "bigin",
  base_url: API,
  module: "Pipelines",
  operation: "upsert",
  find_by: "Deal_Name",
  org_id: "org-42",
  auth: { type: "zoho_refresh_token", ...SECRETS },
};

function config(extra: Record<string, unknown> = {}) {
  return biginSchema.parse({ ...RAW, ...extra });
}

const SHAPE: RowShape = {
  key: "Deal_Name",
  fields: [
    { name: "Deal_Name", type: "string" },
    { name: "Amount", type: "number" },
    { name: "Closing_Date", type: "date" },
    { name: "Last_Activity_Time", type: "datetime" },
  ],
};

function batch(n: number, index = 0): Batch {
  const rows = Array.from({ length: n }, (_, i) => ({
    Deal_Name: `Deal ${i + 1}`,
    Amount: 100 * (i + 1),
    Closing_Date: "2024-01-15",
    Last_Activity_Time: "2024-01-15T10:30:00Z",
  }));
  return {
    index,
    fields: SHAPE.fields.map((f) => f.name),
    rows,
    lines: rows.map((_, i) => i + 2),
    keys: rows.map((r) => r.Deal_Name ?? null),
    key: "Deal_Name",
  };
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

function zipResponse(files: Record<string, string>): Response {
  const zip = zipSync(Object.fromEntries(Object.entries(files).map(([k, v]) => [k, strToU8(v)])));
  return new Response(zip as Uint8Array<ArrayBuffer>, {
    headers: { "content-type": "application/zip" },
  });
}

/** A result CSV for `b`: its columns plus STATUS, RECORD_ID, ERRORS, one line per given status. */
function resultCsv(b: Batch, lines: [status: string, errors?: string][]): string {
  const head = [...b.fields, "STATUS", "RECORD_ID", "ERRORS"].join(",");
  const body = lines.map(([status, errors], i) => {
    const r = b.rows[i]!;
    const cells = b.fields.map((f) => String(r[f] ?? ""));
    return [...cells, status, status === "added" ? `rec-${i}` : "", `"${errors ?? ""}"`].join(",");
  });
  return [head, ...body].join("\r\n") + "\r\n";
}

interface Seen {
  method: string;
  url: string;
  headers: Headers;
  form?: FormData;
  text?: string;
}

/** A fake Bigin API: each route answers through a replaceable handler; every request is kept. */
class FakeBigin {
  seen: Seen[] = [];
  grants = 0;
  token: (n: number) => Response = (n) =>
    json({ access_token: `tok-${n}`, api_domain: API, token_type: "Bearer", expires_in: 3600 });
  upload: (req: Seen) => Response = () =>
    json({
      status: "success",
      code: "FILE_UPLOAD_SUCCESS",
      message: "file uploaded.",
      details: { file_id: "file-1" },
    });
  create: (req: Seen) => Response = () =>
    json({ status: "success", code: "SUCCESS", message: "success", details: { id: "job-1" } });
  details: (req: Seen) => Response = () => json({ status: "ADDED", id: "job-1" });
  download: (req: Seen) => Response = () => new Response("not found", { status: 404 });

  ctx(): TargetContext & { logs: string[] } {
    const logs: string[] = [];
    const fetch = async (input: string | URL | Request, init?: RequestInit) => {
      const req = new Request(input, init);
      const url = new URL(req.url);
      const seen: Seen = { method: req.method, url: req.url, headers: req.headers };
      if (url.pathname === "/bigin/v2/upload") seen.form = await req.formData();
      else if (req.method === "POST") seen.text = await req.text();
      this.seen.push(seen);
      if (url.pathname === "/oauth/v2/token") return this.token(++this.grants);
      if (url.pathname === "/bigin/v2/upload") return this.upload(seen);
      if (url.pathname === "/bigin/bulk/v2/write" && req.method === "POST") {
        return this.create(seen);
      }
      if (url.pathname.startsWith("/bigin/bulk/v2/write/")) return this.details(seen);
      return this.download(seen);
    };
    return { fetch: fetch as typeof globalThis.fetch, log: (m) => logs.push(m), logs };
  }

  paths(): string[] {
    return this.seen.map((s) => `${s.method} ${new URL(s.url).pathname}`);
  }
}

function completed(downloadUrl: string, file: Record<string, unknown> = {}): Response {
  return json({
    status: "COMPLETED",
    id: "job-1",
    operation: "upsert",
    resource: [{
      status: "COMPLETED",
      type: "data",
      module: "Deals",
      file: { status: "COMPLETED", ...file },
    }],
    result: { download_url: downloadUrl },
  });
}

// --- schema and domains -------------------------------------------------------------------------

Deno.test("biginSchema requires find_by for update and upsert but not for insert", () => {
  for (const operation of ["update", "upsert"]) {
    const r = biginSchema.safeParse({ ...RAW, operation, find_by: undefined });
    assert(!r.success);
    assert.deepEqual(r.error.issues.map((i) => i.path.join(".")), ["find_by"]);
    assert.match(r.error.issues[0]!.message, new RegExp(`^Required for operation "${operation}"`));
  }
  assert(biginSchema.safeParse({ ...RAW, operation: "insert", find_by: undefined }).success);
});

Deno.test("biginSchema treats an empty base_url as not set and refuses batch_size over 25000", () => {
  const c = config({ base_url: "" });
  assert.deepEqual(c.base_url, undefined);
  assert.deepEqual(c.batch_size, 25_000);
  assert.deepEqual(c.concurrency, 1);
  assert.deepEqual(c.ignore_empty, false);
  const r = biginSchema.safeParse({ ...RAW, batch_size: 25_001 });
  assert(!r.success);
  assert.match(
    r.error.issues[0]!.message,
    /^Must be at most 25000: Bigin takes at most 25000 rows/,
  );
  assert.deepEqual(createBiginTarget(config({ batch_size: 500 }), SHAPE).batchSize, 500);
});

Deno.test("biginDomains gives each data centre's API, upload and accounts domains", () => {
  const expected: Record<string, [string, string, string]> = {
    us: ["https://www.zohoapis.com", "https://content.zohoapis.com", "https://accounts.zoho.com"],
    eu: ["https://www.zohoapis.eu", "https://content.zohoapis.eu", "https://accounts.zoho.eu"],
    au: [
      "https://www.zohoapis.com.au",
      "https://content.zohoapis.com.au",
      "https://accounts.zoho.com.au",
    ],
    in: ["https://www.zohoapis.in", "https://content.zohoapis.in", "https://accounts.zoho.in"],
    cn: [
      "https://www.zohoapis.com.cn",
      "https://content.zohoapis.com.cn",
      "https://accounts.zoho.com.cn",
    ],
    jp: ["https://www.zohoapis.jp", "https://content.zohoapis.jp", "https://accounts.zoho.jp"],
    ca: ["https://www.zohoapis.ca", "https://content.zohoapis.ca", "https://accounts.zohocloud.ca"],
    sa: ["https://www.zohoapis.sa", "https://content.zohoapis.sa", "https://accounts.zoho.sa"],
  };
  assert.deepEqual([...BIGIN_DATA_CENTERS].sort(), Object.keys(expected).sort());
  for (const dc of BIGIN_DATA_CENTERS) {
    const [api, content, accounts] = expected[dc]!;
    assert.deepEqual(biginDomains(dc), { api, content, accounts }, dc);
  }
  assert.deepEqual(biginDomains("eu", "http://127.0.0.1:8080"), {
    api: "http://127.0.0.1:8080",
    content: "http://127.0.0.1:8080",
    accounts: "http://127.0.0.1:8080",
  });
});

Deno.test("requests() lists the token, upload, job, status and download requests with the data centre's URLs", () => {
  const t = createBiginTarget(config({ base_url: undefined, data_center: "eu" }), SHAPE);
  const steps = t.requests();
  assert.deepEqual(steps.map((s) => s.name), [
    "token",
    "upload",
    "create job",
    "status",
    "download",
  ]);
  assert.deepEqual(steps.map((s) => [s.when, s.safeToRepeat]), [
    ["per_run", true],
    ["per_batch", true],
    ["per_batch", false],
    ["per_poll", true],
    ["on_finish", true],
  ]);
  assert.match(steps[0]!.detail, /^POST https:\/\/accounts\.zoho\.eu\/oauth\/v2\/token /);
  assert.match(steps[1]!.detail, /^POST https:\/\/content\.zohoapis\.eu\/bigin\/v2\/upload /);
  assert.match(
    steps[2]!.detail,
    /^POST https:\/\/www\.zohoapis\.eu\/bigin\/bulk\/v2\/write \(upsert into Pipelines by Deal_Name\)/,
  );
  assert.match(
    steps[3]!.detail,
    /^GET https:\/\/www\.zohoapis\.eu\/bigin\/bulk\/v2\/write\/<job_id>/,
  );
  for (const s of steps) for (const v of Object.values(SECRETS)) assert(!s.detail.includes(v));
});

// --- pure readers -------------------------------------------------------------------------------

Deno.test("parseRowErrors splits codes and columns, and formatRowErrors makes them readable", () => {
  const errors = parseRowErrors("MANDATORY_NOT_FOUND-Company,Last_Name:DUPLICATE_DATA-Email");
  assert.deepEqual(errors, [
    { code: "MANDATORY_NOT_FOUND", fields: ["Company", "Last_Name"] },
    { code: "DUPLICATE_DATA", fields: ["Email"] },
  ]);
  assert.deepEqual(
    formatRowErrors(errors!),
    "MANDATORY_NOT_FOUND: Company, Last_Name; DUPLICATE_DATA: Email",
  );
  assert.deepEqual(parseRowErrors("INVALID_DATA-Account_Name.id"), [
    { code: "INVALID_DATA", fields: ["Account_Name.id"] },
  ]);
  assert.deepEqual(parseRowErrors("LIMIT_EXCEEDED"), [{ code: "LIMIT_EXCEEDED", fields: [] }]);
  assert.deepEqual(parseRowErrors("Something odd happened"), undefined);
});

Deno.test("parseCsv reads quotes, doubled quotes, line breaks, CRLF and a byte-order mark", () => {
  assert.deepEqual(parseCsv('\ufeffa,b,c\r\n"x, ""y""","multi\nline",3\n\nlast,,\r\n'), [
    ["a", "b", "c"],
    ['x, "y"', "multi\nline", "3"],
    ["last", "", ""],
  ]);
  assert.deepEqual(parseCsv("a,b"), [["a", "b"]]);
  assert.throws(
    () => parseCsv('a\n"open'),
    fails(RunnerError, /quoted field opened on line 2 is never closed/),
  );
});

Deno.test("readJobDetails treats ADDED, INPROGRESS and IN PROGRESS as pending, in any case", () => {
  for (const status of ["ADDED", "INPROGRESS", "IN PROGRESS", "In Progress", "in_progress"]) {
    assert.deepEqual(readJobDetails({ status, id: "j" }), {
      state: "pending",
      remoteStatus: status,
    });
  }
  assert.deepEqual(readJobDetails({ status: "PAUSED" }), {
    state: "pending",
    remoteStatus: "PAUSED",
    unknown: true,
  });
  const done = readJobDetails({
    status: "COMPLETED",
    resource: [{ file: { added_count: 2, updated_count: "1", skipped_count: 0, total_count: 3 } }],
    result: { download_url: "/v2/x.zip" },
  });
  assert.deepEqual(done, {
    state: "completed",
    remoteStatus: "COMPLETED",
    downloadUrl: "/v2/x.zip",
    counts: { added: 2, updated: 1, skipped: 0, total: 3 },
  });
  assert.throws(
    () => readJobDetails({ id: "j" }),
    fails(HttpError, /^Job details answer has no status/),
  );
});

Deno.test("readResultCsv joins result lines to batch rows by position, with parsed codes", () => {
  const b = batch(5);
  // An uploaded column named like a result column must not be mistaken for it.
  const text = [
    "Deal_Name,Status,status,RECORD_ID,Errors",
    "Deal 1,Open,Added,r1,",
    "Deal 2,Open,UPDATED,r2,",
    '"Deal 3",Open,skipped,,"DUPLICATE_DATA-Deal_Name"',
    'Deal 4,Open,unprocessed,,"MANDATORY_NOT_FOUND-Stage,Sub_Pipeline:INVALID_DATA-Amount"',
    "Deal 5,Open,,,",
  ].join("\n");
  const r = readResultCsv(text, b, { added: 1, updated: 1, skipped: 1, total: 5 });
  assert.deepEqual(r.counts, { succeeded: 2, skipped: 1, failed: 2 });
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.failures, [
    {
      row: 2,
      key: "Deal 3",
      field: "Deal_Name",
      code: "DUPLICATE_DATA",
      message: "DUPLICATE_DATA: Deal_Name",
      outcome: "skipped",
    },
    {
      row: 3,
      key: "Deal 4",
      field: "Stage",
      code: "MANDATORY_NOT_FOUND",
      message: "MANDATORY_NOT_FOUND: Stage, Sub_Pipeline; INVALID_DATA: Amount",
      outcome: "failed",
    },
    { row: 4, key: "Deal 5", message: 'Bigin did not load the row: status ""', outcome: "failed" },
  ]);
});

Deno.test("readResultCsv reports missing lines, disagreeing job counts and out-of-order keys as problems", () => {
  const b = batch(3);
  const text = ["Deal_Name,STATUS,RECORD_ID,ERRORS", "Deal 1,added,r1,", "Deal 9,added,r2,"].join(
    "\n",
  );
  const r = readResultCsv(text, b, { added: 3, updated: 0, skipped: 1, total: 4 });
  assert.deepEqual(r.counts, { succeeded: 2, skipped: 0, failed: 1 });
  assert.deepEqual(r.failures, [
    {
      row: 2,
      key: "Deal 3",
      message: "Bigin's result file has no line for this row",
      outcome: "failed",
    },
  ]);
  assert.deepEqual(r.problems, [
    "Result file has 2 rows, but 3 rows were sent",
    'Result file is not in upload order for 1 rows (line 3 has Deal_Name "Deal 9" where row 2 sent "Deal 2"): rows may be misattributed',
    "Job reports added_count 3, but the result file has 2",
    "Job reports skipped_count 1, but the result file has 0",
    "Job reports total_count 4, but 3 rows were sent",
  ]);
  assert.throws(
    () => readResultCsv("Deal_Name,RECORD_ID\nDeal 1,r1\n", b),
    fails(HttpError, /^Result file has no STATUS column/),
  );
});

Deno.test("fieldMappings numbers each CSV column and gives date columns their format", () => {
  assert.deepEqual(fieldMappings(SHAPE.fields.map((f) => f.name), SHAPE), [
    { api_name: "Deal_Name", index: 0 },
    { api_name: "Amount", index: 1 },
    { api_name: "Closing_Date", index: 2, format: "yyyy-MM-dd" },
    { api_name: "Last_Activity_Time", index: 3 },
  ]);
});

// --- ZIP bounds ---------------------------------------------------------------------------------

/** Rewrites the uncompressed size of every entry in a ZIP's local and central headers. */
function lieAboutSize(zip: Uint8Array, size: number): Uint8Array {
  const out = zip.slice();
  const view = new DataView(out.buffer);
  for (let i = 0; i + 4 <= out.length; i++) {
    const sig = view.getUint32(i, true);
    if (sig === 0x04034b50) view.setUint32(i + 22, size, true);
    if (sig === 0x02014b50) view.setUint32(i + 24, size, true);
  }
  return out;
}

Deno.test("unzipOne refuses an entry that inflates past the limit although it declares less", () => {
  const zip = zipSync({ "r.csv": new Uint8Array(200_000) }); // zeros: a tiny ZIP
  assert.equal(strFromU8(unzipOne(zip, 300_000).data).length, 200_000);
  assert.throws(
    () => unzipOne(zip, 100_000, "the result"),
    fails(
      RunnerError,
      /^Cannot read the result: "r.csv" declares 200000 bytes uncompressed, over the limit of 100000$/,
    ),
  );
  assert.throws(
    () => unzipOne(lieAboutSize(zip, 10), 100_000, "the result"),
    fails(
      RunnerError,
      /^Cannot read the result: "r.csv" inflates to more than 100000 bytes \(declared 10\)$/,
    ),
  );
});

Deno.test("unzipOne refuses an archive with other than one file, and bytes that are not a ZIP", () => {
  const two = zipSync({ "a.csv": strToU8("a"), "b.csv": strToU8("b") });
  assert.throws(
    () => unzipOne(two, 1000),
    fails(RunnerError, /expected one file in the ZIP, found 2: "a.csv", "b.csv"/),
  );
  assert.throws(
    () => unzipOne(strToU8("plain text"), 1000),
    fails(RunnerError, /not a ZIP archive/),
  );
  const withDir = zipSync({ "out/": new Uint8Array(0), "out/r.csv": strToU8("x,y") });
  assert.deepEqual(unzipOne(withDir, 1000).name, "out/r.csv");
});

// --- the target against a fake API --------------------------------------------------------------

Deno.test("submit() zips the CSV, uploads it with feature and X-CRM-ORG, and creates the job", async () => {
  const api = new FakeBigin();
  const t = createBiginTarget(config({ ignore_empty: true }), SHAPE);
  const sub = await t.submit(batch(2), api.ctx());
  assert.deepEqual(sub, { id: "job-1" });
  assert.deepEqual(api.paths(), [
    "POST /oauth/v2/token",
    "POST /bigin/v2/upload",
    "POST /bigin/bulk/v2/write",
  ]);

  const grant = new URLSearchParams(api.seen[0]!.text);
  assert.deepEqual(Object.fromEntries(grant), { ...SECRETS, grant_type: "refresh_token" });

  const up = api.seen[1]!;
  assert.equal(up.headers.get("authorization"), "Zoho-oauthtoken tok-1");
  assert.equal(up.headers.get("feature"), "bulk-write");
  assert.equal(up.headers.get("x-crm-org"), "org-42");
  const file = up.form!.get("file");
  assert(file instanceof File);
  const entries = unzipSync(new Uint8Array(await file.arrayBuffer()));
  assert.deepEqual(Object.keys(entries), ["batch-1.csv"]);
  assert.equal(
    strFromU8(entries["batch-1.csv"]!),
    "Deal_Name,Amount,Closing_Date,Last_Activity_Time\r\n" +
      "Deal 1,100,2024-01-15,2024-01-15T10:30:00+00:00\r\n" +
      "Deal 2,200,2024-01-15,2024-01-15T10:30:00+00:00\r\n",
  );

  const job = api.seen[2]!;
  assert.equal(job.headers.get("authorization"), "Zoho-oauthtoken tok-1");
  assert.equal(job.headers.get("x-crm-org"), null);
  assert.deepEqual(JSON.parse(job.text!), {
    operation: "upsert",
    character_encoding: "UTF-8",
    ignore_empty: true,
    resource: [{
      type: "data",
      module: { api_name: "Pipelines" },
      file_id: "file-1",
      find_by: "Deal_Name",
      field_mappings: [
        { api_name: "Deal_Name", index: 0 },
        { api_name: "Amount", index: 1 },
        { api_name: "Closing_Date", index: 2, format: "yyyy-MM-dd" },
        { api_name: "Last_Activity_Time", index: 3 },
      ],
    }],
  });
});

Deno.test("submit() gets the access token once and reuses it for later batches", async () => {
  const api = new FakeBigin();
  const t = createBiginTarget(config(), SHAPE);
  const ctx = api.ctx();
  await t.submit(batch(1, 0), ctx);
  await t.submit(batch(1, 1), ctx);
  assert.equal(api.grants, 1);
  const authed = api.seen.filter((s) => !s.url.endsWith("/oauth/v2/token"));
  assert.equal(authed.length, 4);
  for (const s of authed) assert.equal(s.headers.get("authorization"), "Zoho-oauthtoken tok-1");
});

Deno.test("submit() gets a new token once on 401 INVALID_TOKEN, then fails with an auth error", async () => {
  const api = new FakeBigin();
  const invalid = () =>
    json(
      { code: "INVALID_TOKEN", details: {}, message: "invalid oauth token", status: "error" },
      401,
    );
  let refusals = 1;
  api.upload = (req) =>
    refusals-- > 0 ? invalid() : json({
      status: "success",
      details: { file_id: `file-for-${req.headers.get("authorization")}` },
    });
  const t = createBiginTarget(config(), SHAPE);
  const ctx = api.ctx();
  await t.submit(batch(1), ctx);
  assert.equal(api.grants, 2);
  assert.match(JSON.parse(api.seen.at(-1)!.text!).resource[0].file_id, /tok-2$/);
  assert.deepEqual(ctx.logs, ["Bigin refused the access token; getting a new one"]);

  const api2 = new FakeBigin();
  api2.upload = invalid;
  const t2 = createBiginTarget(config(), SHAPE);
  await assert.rejects(
    t2.submit(batch(1), api2.ctx()),
    fails(
      HttpError,
      /^Bigin refused the credentials: HTTP 401 INVALID_TOKEN: invalid oauth token: check target.auth$/,
    ),
  );
  assert.equal(api2.grants, 2);
  assert.deepEqual(api2.paths(), [
    "POST /oauth/v2/token",
    "POST /bigin/v2/upload",
    "POST /oauth/v2/token",
    "POST /bigin/v2/upload",
  ]);
});

Deno.test("submit() reports an auth error with code auth and no secrets when the grant is refused", async () => {
  const api = new FakeBigin();
  api.token = () => json({ error: "invalid_code" });
  const t = createBiginTarget(config(), SHAPE);
  await assert.rejects(t.submit(batch(1), api.ctx()), (err: unknown) => {
    assert(err instanceof HttpError);
    assert.equal(err.code, "auth");
    assert.match(
      err.message,
      /^Zoho refused the refresh token: HTTP 200 invalid_code: check target.auth/,
    );
    for (const v of Object.values(SECRETS)) assert(!err.message.includes(v));
    return true;
  });
  assert.deepEqual(api.paths(), ["POST /oauth/v2/token"]);
});

Deno.test("submit() fails when the upload answers HTTP 200 with status error, and creates no job", async () => {
  const api = new FakeBigin();
  api.upload = () =>
    json({
      status: "error",
      code: "INVALID_FILE_FORMAT",
      message: "file format not supported",
      details: {},
    });
  const t = createBiginTarget(config(), SHAPE);
  await assert.rejects(t.submit(batch(1, 2), api.ctx()), (err: unknown) => {
    assert(err instanceof HttpError);
    assert.equal(err.code, "api");
    assert.equal(
      err.message,
      "Bigin refused the upload of batch 3: HTTP 200 INVALID_FILE_FORMAT: file format not supported",
    );
    return true;
  });
  assert.deepEqual(api.paths(), ["POST /oauth/v2/token", "POST /bigin/v2/upload"]);
});

Deno.test("submit() names the uploaded file_id when job creation fails", async () => {
  const api = new FakeBigin();
  api.create = () =>
    json({
      status: "error",
      code: "MANDATORY_NOT_FOUND",
      message: "required field not found",
      details: {},
    }, 400);
  const t = createBiginTarget(config(), SHAPE);
  await assert.rejects(
    t.submit(batch(1), api.ctx()),
    fails(
      HttpError,
      /^Bigin refused the job for batch 1: HTTP 400 MANDATORY_NOT_FOUND: required field not found \(uploaded file_id "file-1"\)$/,
    ),
  );
});

Deno.test("submit() names the uploaded file_id when job creation may have reached Bigin", async () => {
  const api = new FakeBigin();
  api.create = () => {
    throw new TypeError("connection reset by peer");
  };
  const t = createBiginTarget(config(), SHAPE);
  await assert.rejects(t.submit(batch(1), api.ctx()), (err: unknown) => {
    assert(err instanceof TransportError);
    assert.equal(err.maybeDelivered, true);
    assert.match(
      err.message,
      /^Cannot create a Bigin job for batch 1: connection reset by peer; not resent/,
    );
    assert.match(err.message, / \(uploaded file_id "file-1"\)$/);
    return true;
  });
  assert.equal(api.paths().filter((p) => p === "POST /bigin/bulk/v2/write").length, 1);
});

Deno.test("submit() refuses a batch whose ZIP is over 25 MB and says how to lower batch_size", async () => {
  const api = new FakeBigin();
  const t = createBiginTarget(config(), SHAPE);
  // Random base64 barely compresses: 200 rows of 180 KB make a ZIP of about 27 MB.
  const b = batch(200);
  const random = new Uint8Array(45_000);
  for (const row of b.rows) {
    let cell = "";
    for (let part = 0; part < 3; part++) {
      crypto.getRandomValues(random);
      cell += btoa(Array.from(random, (x) => String.fromCharCode(x)).join(""));
    }
    row.Deal_Name = cell;
  }
  await assert.rejects(
    t.submit(b, api.ctx()),
    fails(
      RunnerError,
      /^Cannot upload batch 1: its ZIP is 2\d\.\d MB, over Bigin's 25 MB limit: lower target\.batch_size \(now 25000\) to about 1\d\d$/,
    ),
  );
  assert.deepEqual(api.paths(), []);
});

Deno.test("poll() reports ADDED, INPROGRESS and IN PROGRESS jobs as not done, and flags other states", async () => {
  const api = new FakeBigin();
  const t = createBiginTarget(config(), SHAPE);
  const ctx = api.ctx();
  for (const status of ["ADDED", "INPROGRESS", "IN PROGRESS", "PAUSED"]) {
    api.details = () => json({ status, id: "job-1" });
    assert.deepEqual(await poll(t, { id: "job-1" }, batch(1), ctx), {
      done: false,
      remoteStatus: status,
    });
  }
  // Only the state the docs do not name is flagged.
  assert.deepEqual(ctx.logs, ['Bigin job "job-1" has undocumented status "PAUSED": still waiting']);
  assert.equal(new URL(api.seen.at(-1)!.url).pathname, "/bigin/bulk/v2/write/job-1");
  assert.equal(api.seen.at(-1)!.method, "GET");
});

Deno.test("poll() downloads a relative download_url from the API domain and joins rows to the batch", async () => {
  const api = new FakeBigin();
  const b = batch(3);
  api.details = () =>
    completed("/v2/bigin/org6196138/bulk-write/job-1/job-1.zip", {
      added_count: 1,
      updated_count: 0,
      skipped_count: 1,
      total_count: 3,
    });
  api.download = (req) => {
    assert.equal(req.headers.get("authorization"), "Zoho-oauthtoken tok-1");
    return zipResponse({
      "job-1.csv": resultCsv(b, [["added"], ["skipped", "DUPLICATE_DATA-Deal_Name"], [
        "unprocessed",
        "MANDATORY_NOT_FOUND-Stage,Sub_Pipeline",
      ]]),
    });
  };
  const t = createBiginTarget(config(), SHAPE);
  const r = await poll(t, { id: "job-1" }, b, api.ctx());
  assert.equal(api.seen.at(-1)!.url, `${API}/v2/bigin/org6196138/bulk-write/job-1/job-1.zip`);
  assert.deepEqual(r, {
    done: true,
    status: "completed",
    remoteStatus: "COMPLETED",
    counts: { succeeded: 1, skipped: 1, failed: 1 },
    failures: [
      {
        row: 1,
        key: "Deal 2",
        field: "Deal_Name",
        code: "DUPLICATE_DATA",
        message: "DUPLICATE_DATA: Deal_Name",
        outcome: "skipped",
      },
      {
        row: 2,
        key: "Deal 3",
        field: "Stage",
        code: "MANDATORY_NOT_FOUND",
        message: "MANDATORY_NOT_FOUND: Stage, Sub_Pipeline",
        outcome: "failed",
      },
    ],
    problems: [],
  });
});

Deno.test("poll() uses an absolute download_url as is and reports count mismatches as problems", async () => {
  const api = new FakeBigin();
  const b = batch(2);
  api.details = () =>
    completed("https://bigin.test/result/job-1.zip", { added_count: 2, total_count: 2 });
  api.download = () => zipResponse({ "r.csv": resultCsv(b, [["added"], ["unprocessed"]]) });
  const t = createBiginTarget(config(), SHAPE);
  const r = await poll(t, { id: "job-1" }, b, api.ctx());
  assert.equal(api.seen.at(-1)!.url, "https://bigin.test/result/job-1.zip");
  assert(r.done);
  assert.deepEqual(r.counts, { succeeded: 1, skipped: 0, failed: 1 });
  assert.deepEqual(r.problems, ["Job reports added_count 2, but the result file has 1"]);
});

Deno.test("poll() refuses a result ZIP whose entry declares more than 256 MB", async () => {
  const api = new FakeBigin();
  const b = batch(1);
  api.details = () => completed("/r.zip");
  api.download = () => {
    const zip = zipSync({ "r.csv": strToU8(resultCsv(b, [["added"]])) });
    return new Response(lieAboutSize(zip, 300 * 1024 * 1024) as Uint8Array<ArrayBuffer>);
  };
  const t = createBiginTarget(config(), SHAPE);
  await assert.rejects(
    poll(t, { id: "job-1" }, b, api.ctx()),
    fails(
      RunnerError,
      /^Cannot read the result of Bigin job "job-1": "r.csv" declares 314572800 bytes uncompressed, over the limit of 268435456$/,
    ),
  );
});

Deno.test("poll() reports a FAILED job as failed with every row listed when it gives no counts", async () => {
  const api = new FakeBigin();
  api.details = () =>
    json({ status: "FAILED", id: "job-1", code: "INTERNAL_ERROR", message: "job aborted" });
  const t = createBiginTarget(config(), SHAPE);
  const r = await poll(t, { id: "job-1" }, batch(2), api.ctx());
  assert.deepEqual(r, {
    done: true,
    status: "failed",
    remoteStatus: "FAILED",
    message: "Bigin job failed: INTERNAL_ERROR: job aborted",
    counts: { succeeded: 0, skipped: 0, failed: 2 },
    failures: [
      {
        row: 0,
        key: "Deal 1",
        message: "Bigin job failed: INTERNAL_ERROR: job aborted",
        outcome: "failed",
      },
      {
        row: 1,
        key: "Deal 2",
        message: "Bigin job failed: INTERNAL_ERROR: job aborted",
        outcome: "failed",
      },
    ],
    problems: [],
  });
  assert(!api.paths().some((p) => p.endsWith(".zip")));
});
