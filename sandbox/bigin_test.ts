import assert from "node:assert/strict";
import { strToU8, unzipSync, zipSync } from "fflate";
import { parse } from "csv-parse/sync";
import { type Sandbox, startSandbox } from "./server.ts";
import { type BiginSandboxOptions, createBiginSandbox } from "./bigin.ts";
import { CsvSyntaxError, parseCsv, writeCsv } from "./_bigin_csv.ts";
import { compileDateFormat, parseDate } from "./_bigin_modules.ts";

const ORG = "6196138";
const CREDS = {
  grant_type: "refresh_token",
  refresh_token: "sandbox-refresh-token",
  client_id: "sandbox-client",
  client_secret: "sandbox-secret",
};
const UPLOAD_HEADERS = { feature: "bulk-write", "X-CRM-ORG": ORG };
const EIGHTEEN_DIGITS = /^\d{18}$/;

/** Runs `fn` against a sandbox on a free port and always closes it. */
async function withBigin(
  bigin: BiginSandboxOptions,
  fn: (sb: Sandbox) => Promise<void>,
): Promise<void> {
  const sb = await startSandbox({ port: 0, bigin: { processingMs: 50, ...bigin } });
  try {
    await fn(sb);
  } finally {
    await sb.close();
  }
}

/** A clock the test moves by hand. */
function manualClock(start = Date.parse("2019-01-30T14:21:32Z")) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

interface Answer {
  status: number;
  // deno-lint-ignore no-explicit-any
  body: any;
  headers: Headers;
}

async function call(sb: Sandbox, path: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(`${sb.url}${path}`, init);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch { /* not JSON: keep the text */ }
  return { status: res.status, body, headers: res.headers };
}

function grant(sb: Sandbox, params: Record<string, string> = CREDS): Promise<Answer> {
  return call(sb, "/oauth/v2/token", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(params).toString(),
  });
}

async function token(sb: Sandbox): Promise<string> {
  const res = await grant(sb);
  assert.equal(res.status, 200);
  return res.body.access_token;
}

const auth = (tok: string) => ({ authorization: `Zoho-oauthtoken ${tok}` });

function zipCsv(csv: string, name = "rows.csv"): Uint8Array<ArrayBuffer> {
  return zipSync({ [name]: strToU8(csv) }) as Uint8Array<ArrayBuffer>;
}

function upload(
  sb: Sandbox,
  tok: string,
  file: Uint8Array<ArrayBuffer> | string | null,
  headers: Record<string, string> = UPLOAD_HEADERS,
): Promise<Answer> {
  const form = new FormData();
  if (typeof file === "string") form.append("file", file);
  else if (file) form.append("file", new Blob([file]), "rows.zip");
  return call(sb, "/bigin/v2/upload", {
    method: "POST",
    headers: { ...auth(tok), ...headers },
    body: form,
  });
}

async function uploadCsv(sb: Sandbox, tok: string, csv: string): Promise<string> {
  const res = await upload(sb, tok, zipCsv(csv));
  assert.equal(res.body.status, "success", JSON.stringify(res.body));
  return res.body.details.file_id;
}

function createJob(sb: Sandbox, tok: string, body: unknown): Promise<Answer> {
  return call(sb, "/bigin/bulk/v2/write", {
    method: "POST",
    headers: { ...auth(tok), "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

function jobBody(
  operation: string,
  resource: Record<string, unknown>,
  extra: Record<string, unknown> = {},
) {
  return { operation, ...extra, resource: [{ type: "data", ...resource }] };
}

function getJob(sb: Sandbox, tok: string, id: string): Promise<Answer> {
  return call(sb, `/bigin/bulk/v2/write/${id}`, { headers: auth(tok) });
}

/** Polls a job until it is COMPLETED or FAILED (processingMs is 50, so a few polls do). */
// deno-lint-ignore no-explicit-any
async function waitForJob(sb: Sandbox, tok: string, id: string): Promise<any> {
  for (let i = 0; i < 500; i++) {
    const res = await getJob(sb, tok, id);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    if (res.body.status === "COMPLETED" || res.body.status === "FAILED") return res.body;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`Job ${id} did not finish`);
}

async function download(
  sb: Sandbox,
  tok: string,
  downloadUrl: string,
): Promise<{ name: string; rows: string[][] }> {
  const res = await fetch(new URL(downloadUrl, sb.url), { headers: auth(tok) });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/zip");
  const files = unzipSync(new Uint8Array(await res.arrayBuffer()));
  const names = Object.keys(files);
  assert.equal(names.length, 1);
  const text = new TextDecoder().decode(files[names[0]!]);
  return { name: names[0]!, rows: parse(text, { relax_column_count: true }) };
}

/** Uploads `csv`, runs one job over it and returns the finished details and the result rows. */
async function runJob(
  sb: Sandbox,
  tok: string,
  csv: string,
  operation: string,
  resource: Record<string, unknown>,
  // deno-lint-ignore no-explicit-any
): Promise<{ details: any; rows: string[][] }> {
  const fileId = await uploadCsv(sb, tok, csv);
  const created = await createJob(sb, tok, jobBody(operation, { file_id: fileId, ...resource }));
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const details = await waitForJob(sb, tok, created.body.details.id);
  if (details.status !== "COMPLETED") return { details, rows: [] };
  const { rows } = await download(sb, tok, details.result.download_url);
  return { details, rows };
}

const CONTACTS = { module: { api_name: "Contacts" } };
const PIPELINES = { module: { api_name: "Pipelines" } };
const ACCOUNTS = { module: { api_name: "Accounts" } };

// ---- OAuth ----------------------------------------------------------------------------------

Deno.test("the token endpoint grants a Zoho-style access token and counts the grant", async () => {
  await withBigin({}, async (sb) => {
    const res = await grant(sb);
    assert.equal(res.status, 200);
    assert.match(res.body.access_token, /^1000\.[0-9a-f]{32}\.[0-9a-f]{32}$/);
    assert.deepEqual(
      { ...res.body, access_token: "x" },
      { access_token: "x", api_domain: sb.url, token_type: "Bearer", expires_in: 3600 },
    );
    assert.equal(sb.bigin.tokenGrants, 1);
    assert.equal(sb.bigin.state().tokenGrants, 1);
  });
});

Deno.test("the token endpoint also reads its parameters from the query string", async () => {
  await withBigin({}, async (sb) => {
    const res = await call(sb, `/oauth/v2/token?${new URLSearchParams(CREDS)}`, {
      method: "POST",
    });
    assert.equal(res.status, 200);
    assert.equal(typeof res.body.access_token, "string");
  });
});

for (
  const [what, change] of [
    ["refresh token", { refresh_token: "nope" }],
    ["client id", { client_id: "nope" }],
    ["client secret", { client_secret: "nope" }],
    ["grant type", { grant_type: "authorization_code" }],
  ] as const
) {
  Deno.test(`the token endpoint answers HTTP 400 invalid_code for a wrong ${what}`, async () => {
    await withBigin({}, async (sb) => {
      const res = await grant(sb, { ...CREDS, ...change });
      assert.equal(res.status, 400);
      assert.deepEqual(res.body, { error: "invalid_code" });
      assert.equal(sb.bigin.tokenGrants, 0);
    });
  });
}

Deno.test("the token endpoint honours configured credentials", async () => {
  await withBigin({ clientId: "c", clientSecret: "s", refreshToken: "r" }, async (sb) => {
    assert.equal((await grant(sb)).status, 400);
    const ok = await grant(sb, {
      grant_type: "refresh_token",
      refresh_token: "r",
      client_id: "c",
      client_secret: "s",
    });
    assert.equal(ok.status, 200);
  });
});

Deno.test("a call without a token, with an unknown one or a Bearer one answers 401 INVALID_TOKEN", async () => {
  await withBigin({}, async (sb) => {
    const tok = await token(sb);
    const expected = {
      status: "error",
      code: "INVALID_TOKEN",
      message: "invalid oauth token",
      details: {},
    };
    for (
      const headers of [
        {},
        { authorization: "Zoho-oauthtoken 1000.unknown.token" },
        { authorization: `Bearer ${tok}` },
      ] as Record<string, string>[]
    ) {
      const res = await call(sb, "/bigin/bulk/v2/write/111111000000000001", { headers });
      assert.equal(res.status, 401);
      assert.deepEqual(res.body, expected);
    }
  });
});

Deno.test("expireTokensAfterUses makes a token answer INVALID_TOKEN once used up, and a refresh works", async () => {
  await withBigin({ expireTokensAfterUses: 2 }, async (sb) => {
    const tok = await token(sb);
    assert.equal((await getJob(sb, tok, "1")).status, 404);
    assert.equal((await getJob(sb, tok, "1")).status, 404);
    const third = await getJob(sb, tok, "1");
    assert.equal(third.status, 401);
    assert.equal(third.body.code, "INVALID_TOKEN");
    const fresh = await token(sb);
    assert.equal((await getJob(sb, fresh, "1")).status, 404);
    assert.equal(sb.bigin.tokenGrants, 2);
  });
});

Deno.test("expireAllTokens expires every token granted so far but not later ones", async () => {
  await withBigin({}, async (sb) => {
    const old = await token(sb);
    sb.bigin.expireAllTokens();
    assert.equal((await getJob(sb, old, "1")).body.code, "INVALID_TOKEN");
    const fresh = await token(sb);
    assert.equal((await getJob(sb, fresh, "1")).status, 404);
  });
});

Deno.test("an access token expires after tokenTtlMs and expires_in follows it", async () => {
  const clock = manualClock();
  await withBigin({ tokenTtlMs: 60_000, now: clock.now }, async (sb) => {
    const res = await grant(sb);
    assert.equal(res.body.expires_in, 60);
    const tok = res.body.access_token;
    clock.advance(59_999);
    assert.equal((await getJob(sb, tok, "1")).status, 404);
    clock.advance(1);
    assert.equal((await getJob(sb, tok, "1")).body.code, "INVALID_TOKEN");
  });
});

// ---- upload ---------------------------------------------------------------------------------

Deno.test("upload accepts a ZIP holding one CSV and answers FILE_UPLOAD_SUCCESS with an 18-digit id", async () => {
  await withBigin({}, async (sb) => {
    const tok = await token(sb);
    const res = await upload(sb, tok, zipCsv("Last_Name;Email\nKennedy;k@example.com\n"));
    assert.equal(res.status, 200);
    assert.equal(res.body.status, "success");
    assert.equal(res.body.code, "FILE_UPLOAD_SUCCESS");
    assert.equal(res.body.message, "file uploaded.");
    assert.match(res.body.details.file_id, EIGHTEEN_DIGITS);
    assert.match(res.body.details.created_time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$/);
    const [up] = sb.bigin.state().uploads;
    assert.deepEqual(
      { ...up, createdTime: "" },
      {
        fileId: res.body.details.file_id,
        name: "rows.csv",
        org: ORG,
        columns: ["Last_Name", "Email"],
        rowCount: 1,
        delimiter: ";",
        createdTime: "",
      },
    );
  });
});

Deno.test("upload answers INVALID_FILE_FORMAT with HTTP 200 for a file that is not a ZIP", async () => {
  await withBigin({}, async (sb) => {
    const tok = await token(sb);
    const res = await upload(sb, tok, new TextEncoder().encode("Last_Name\nKennedy\n"));
    assert.equal(res.status, 200);
    assert.equal(res.body.status, "error");
    assert.equal(res.body.code, "INVALID_FILE_FORMAT");
    assert.equal(sb.bigin.state().uploads.length, 0);
  });
});

Deno.test("upload answers INVALID_FILE_FORMAT for a ZIP with two CSV files, none, or a non-CSV file", async () => {
  await withBigin({}, async (sb) => {
    const tok = await token(sb);
    const zips = [
      zipSync({ "a.csv": strToU8("Last_Name\nA\n"), "b.csv": strToU8("Last_Name\nB\n") }),
      zipSync({}),
      zipSync({ "rows.txt": strToU8("Last_Name\nA\n") }),
    ] as Uint8Array<ArrayBuffer>[];
    for (const zip of zips) {
      const res = await upload(sb, tok, zip);
      assert.equal(res.status, 200);
      assert.equal(res.body.code, "INVALID_FILE_FORMAT");
    }
  });
});

Deno.test("upload ignores directory entries next to the one CSV", async () => {
  await withBigin({}, async (sb) => {
    const tok = await token(sb);
    const zip = zipSync({ "dir/": new Uint8Array(), "dir/rows.csv": strToU8("Last_Name\nA\n") });
    const res = await upload(sb, tok, zip as Uint8Array<ArrayBuffer>);
    assert.equal(res.body.code, "FILE_UPLOAD_SUCCESS", JSON.stringify(res.body));
  });
});

Deno.test("upload answers INVALID_FILE_FORMAT for a CSV with an unterminated quote", async () => {
  await withBigin({}, async (sb) => {
    const tok = await token(sb);
    const res = await upload(sb, tok, zipCsv('Last_Name\n"Kennedy\n'));
    assert.equal(res.status, 200);
    assert.equal(res.body.code, "INVALID_FILE_FORMAT");
    assert.match(res.body.message, /Unterminated quoted field/);
  });
});

Deno.test("upload requires the feature header with the value bulk-write", async () => {
  await withBigin({}, async (sb) => {
    const tok = await token(sb);
    const zip = zipCsv("Last_Name\nA\n");
    const missing = await upload(sb, tok, zip, { "X-CRM-ORG": ORG });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.code, "MANDATORY_NOT_FOUND");
    assert.deepEqual(missing.body.details, { header: "feature" });
    const wrong = await upload(sb, tok, zip, { "X-CRM-ORG": ORG, feature: "bulk-read" });
    assert.equal(wrong.status, 400);
    assert.equal(wrong.body.code, "INVALID_DATA");
  });
});

Deno.test("upload requires the X-CRM-ORG header, and the configured org when one is set", async () => {
  await withBigin({ orgId: ORG }, async (sb) => {
    const tok = await token(sb);
    const zip = zipCsv("Last_Name\nA\n");
    const missing = await upload(sb, tok, zip, { feature: "bulk-write" });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.code, "MANDATORY_NOT_FOUND");
    assert.deepEqual(missing.body.details, { header: "X-CRM-ORG" });
    const other = await upload(sb, tok, zip, { feature: "bulk-write", "X-CRM-ORG": "999" });
    assert.equal(other.body.code, "INVALID_DATA");
    assert.equal((await upload(sb, tok, zip)).body.code, "FILE_UPLOAD_SUCCESS");
  });
});

Deno.test("upload without a file part answers MANDATORY_NOT_FOUND, and a text part INVALID_FILE_FORMAT", async () => {
  await withBigin({}, async (sb) => {
    const tok = await token(sb);
    const none = await upload(sb, tok, null);
    assert.equal(none.status, 400);
    assert.equal(none.body.code, "MANDATORY_NOT_FOUND");
    const text = await upload(sb, tok, "Last_Name\nA\n");
    assert.equal(text.status, 200);
    assert.equal(text.body.code, "INVALID_FILE_FORMAT");
  });
});

Deno.test("upload needs a valid token", async () => {
  await withBigin({}, async (sb) => {
    const res = await upload(sb, "1000.bad.token", zipCsv("Last_Name\nA\n"));
    assert.equal(res.status, 401);
    assert.equal(res.body.code, "INVALID_TOKEN");
  });
});

Deno.test("upload refuses a ZIP larger than maxZipBytes with HTTP 400 FILE_TOO_LARGE", async () => {
  await withBigin({ maxZipBytes: 2000 }, async (sb) => {
    const tok = await token(sb);
    const random = crypto.getRandomValues(new Uint8Array(3000)); // does not compress
    const zip = zipSync({ "rows.csv": random }, { level: 0 }) as Uint8Array<ArrayBuffer>;
    const res = await upload(sb, tok, zip);
    assert.equal(res.status, 400);
    assert.equal(res.body.code, "FILE_TOO_LARGE");
    assert.equal((await upload(sb, tok, zipCsv("Last_Name\nA\n"))).status, 200);
  });
});

/** Overwrites the declared uncompressed size of every entry, as a ZIP bomb would. */
function understateSizes(zip: Uint8Array, size: number): Uint8Array<ArrayBuffer> {
  const out = zip.slice() as Uint8Array<ArrayBuffer>;
  const view = new DataView(out.buffer);
  for (let i = 0; i + 4 <= out.length; i++) {
    const sig = view.getUint32(i, true);
    if (sig === 0x04034b50) view.setUint32(i + 22, size, true); // local header
    if (sig === 0x02014b50) view.setUint32(i + 24, size, true); // central directory
  }
  return out;
}

Deno.test("upload refuses a CSV that inflates past maxUncompressedBytes, even when its header lies", async () => {
  await withBigin({ maxUncompressedBytes: 10_000 }, async (sb) => {
    const tok = await token(sb);
    const big = "Last_Name\n" + "Kennedy\n".repeat(50_000); // 400 kB, compresses to ~1 kB
    const honest = await upload(sb, tok, zipCsv(big));
    assert.equal(honest.status, 400);
    assert.equal(honest.body.code, "FILE_TOO_LARGE");
    const lying = await upload(sb, tok, understateSizes(zipCsv(big), 100));
    assert.equal(lying.status, 400);
    assert.equal(lying.body.code, "FILE_TOO_LARGE");
    assert.equal(sb.bigin.state().uploads.length, 0);
  });
});

// ---- create job -----------------------------------------------------------------------------

Deno.test("create job answers HTTP 201 SUCCESS with an 18-digit id and created_by", async () => {
  await withBigin({}, async (sb) => {
    const tok = await token(sb);
    const fileId = await uploadCsv(sb, tok, "Last_Name,Email\nKennedy,k@example.com\n");
    const res = await createJob(sb, tok, {
      operation: "insert",
      character_encoding: "UTF-8",
      ignore_empty: false,
      callback: { url: "https://example.com/cb", method: "post" },
      resource: [{
        type: "data",
        module: { api_name: "Contacts" },
        file_id: fileId,
        field_mappings: [{ api_name: "Last_Name", index: 0 }, { api_name: "Email", index: 1 }],
      }],
    });
    assert.equal(res.status, 201);
    assert.equal(res.body.status, "success");
    assert.equal(res.body.code, "SUCCESS");
    assert.equal(res.body.message, "success");
    assert.match(res.body.details.id, EIGHTEEN_DIGITS);
    assert.match(res.body.details.created_by.id, EIGHTEEN_DIGITS);
    assert.equal(typeof res.body.details.created_by.name, "string");
  });
});

const TWO_COLUMNS = "Last_Name,Email\nKennedy,k@example.com\n";
const OK_MAPPINGS = [{ api_name: "Last_Name", index: 0 }, { api_name: "Email", index: 1 }];
type Case = [string, string, (fileId: string) => unknown];
const CREATE_JOB_ERRORS: Case[] = [
  ["a body that is not JSON", "INVALID_DATA", () => "{not json"],
  [
    "an operation other than insert, update or upsert",
    "INVALID_DATA",
    (f) => jobBody("delete", { ...CONTACTS, file_id: f, field_mappings: OK_MAPPINGS }),
  ],
  [
    "a missing operation",
    "MANDATORY_NOT_FOUND",
    (f) => ({ resource: [{ type: "data", ...CONTACTS, file_id: f }] }),
  ],
  [
    "a resource type other than data",
    "INVALID_DATA",
    (f) => ({ operation: "insert", resource: [{ type: "meta", ...CONTACTS, file_id: f }] }),
  ],
  [
    "an unknown module",
    "MODULE_NOT_AVAILABLE",
    (f) => jobBody("insert", { module: { api_name: "Leads" }, file_id: f }),
  ],
  [
    "an unknown file id",
    "INVALID_FILE_ID",
    () => jobBody("insert", { ...CONTACTS, file_id: "111111000000000000" }),
  ],
  [
    "an upsert without find_by",
    "MANDATORY_NOT_FOUND",
    (f) => jobBody("upsert", { ...CONTACTS, file_id: f, field_mappings: OK_MAPPINGS }),
  ],
  [
    "an update without find_by",
    "MANDATORY_NOT_FOUND",
    (f) => jobBody("update", { ...CONTACTS, file_id: f, field_mappings: OK_MAPPINGS }),
  ],
  [
    "a find_by that is not a unique field of the module",
    "INVALID_FIELD",
    (f) =>
      jobBody("upsert", {
        ...CONTACTS,
        file_id: f,
        find_by: "Last_Name",
        field_mappings: OK_MAPPINGS,
      }),
  ],
  [
    "a find_by that is not mapped",
    "MANDATORY_FIELDS_NOT_MAPPED",
    (f) =>
      jobBody("upsert", {
        ...CONTACTS,
        file_id: f,
        find_by: "Email",
        field_mappings: [{ api_name: "Last_Name", index: 0 }],
      }),
  ],
  [
    "a mapping to a field the module lacks",
    "INVALID_FIELD",
    (f) =>
      jobBody("insert", {
        ...CONTACTS,
        file_id: f,
        field_mappings: [{ api_name: "Last_Name", index: 0 }, { api_name: "Emial", index: 1 }],
      }),
  ],
  [
    "a mapping to the record id on insert",
    "INVALID_FIELD",
    (f) =>
      jobBody("insert", {
        ...CONTACTS,
        file_id: f,
        field_mappings: [{ api_name: "Last_Name", index: 0 }, { api_name: "id", index: 1 }],
      }),
  ],
  [
    "an index past the last column",
    "COLUMN_INDEX_NOT_FOUND",
    (f) =>
      jobBody("insert", {
        ...CONTACTS,
        file_id: f,
        field_mappings: [{ api_name: "Last_Name", index: 2 }],
      }),
  ],
  [
    "a negative index",
    "INVALID_DATA",
    (f) =>
      jobBody("insert", {
        ...CONTACTS,
        file_id: f,
        field_mappings: [{ api_name: "Last_Name", index: -1 }],
      }),
  ],
  [
    "a mapping with neither index nor default_value",
    "MANDATORY_NOT_FOUND",
    (f) =>
      jobBody("insert", {
        ...CONTACTS,
        file_id: f,
        field_mappings: [{ api_name: "Last_Name", index: 0 }, { api_name: "Email" }],
      }),
  ],
  [
    "a field mapped twice",
    "INVALID_DATA",
    (f) =>
      jobBody("insert", {
        ...CONTACTS,
        file_id: f,
        field_mappings: [{ api_name: "Last_Name", index: 0 }, { api_name: "Last_Name", index: 1 }],
      }),
  ],
  [
    "an insert that leaves a required field unmapped",
    "MANDATORY_FIELDS_NOT_MAPPED",
    (f) =>
      jobBody("insert", {
        ...CONTACTS,
        file_id: f,
        field_mappings: [{ api_name: "Email", index: 1 }],
      }),
  ],
  [
    "a date format with Java week-year and day-of-year letters",
    "INVALID_FORMAT",
    (f) =>
      jobBody("insert", {
        ...PIPELINES,
        file_id: f,
        field_mappings: [
          { api_name: "Deal_Name", index: 0 },
          { api_name: "Sub_Pipeline", default_value: { value: "Sales" } },
          { api_name: "Stage", default_value: { value: "Qualification" } },
          { api_name: "Closing_Date", index: 1, format: "YYYY-MM-DD" },
        ],
      }),
  ],
  [
    "header names that are not fields when no mappings are given",
    "INVALID_FIELD",
    (f) => jobBody("insert", { ...ACCOUNTS, file_id: f }),
  ],
  [
    "a callback without an http(s) url",
    "INVALID_DATA",
    (f) =>
      jobBody("insert", { ...CONTACTS, file_id: f, field_mappings: OK_MAPPINGS }, {
        callback: { url: "ftp://x", method: "post" },
      }),
  ],
];

for (const [what, code, body] of CREATE_JOB_ERRORS) {
  Deno.test(`create job rejects ${what} with HTTP 400 ${code}`, async () => {
    await withBigin({}, async (sb) => {
      const tok = await token(sb);
      const fileId = await uploadCsv(sb, tok, TWO_COLUMNS);
      const res = await createJob(sb, tok, body(fileId));
      assert.equal(res.status, 400);
      assert.equal(res.body.status, "error");
      assert.equal(res.body.code, code, JSON.stringify(res.body));
      assert.equal(typeof res.body.message, "string");
      assert.equal(typeof res.body.details, "object");
      assert.equal(sb.bigin.jobs().length, 0);
    });
  });
}

Deno.test("create job rejects a file of more than 25,000 records with LIMIT_EXCEEDED", async () => {
  await withBigin({}, async (sb) => {
    const tok = await token(sb);
    const rows = (n: number) => "Last_Name\n" + "K\n".repeat(n);
    const over = await uploadCsv(sb, tok, rows(25_001));
    const res = await createJob(sb, tok, jobBody("insert", { ...CONTACTS, file_id: over }));
    assert.equal(res.status, 400);
    assert.equal(res.body.code, "LIMIT_EXCEEDED");
    const atLimit = await uploadCsv(sb, tok, rows(25_000));
    const ok = await createJob(sb, tok, jobBody("insert", { ...CONTACTS, file_id: atLimit }));
    assert.equal(ok.status, 201);
  });
});

Deno.test("create job rejects a file of more than 200 columns with HEADER_LIMIT_EXCEEDED", async () => {
  await withBigin({}, async (sb) => {
    const tok = await token(sb);
    const header = ["Last_Name", ...Array.from({ length: 200 }, (_, i) => `C${i}`)];
    const fileId = await uploadCsv(sb, tok, header.join(",") + "\n");
    const res = await createJob(
      sb,
      tok,
      jobBody("insert", {
        ...CONTACTS,
        file_id: fileId,
        field_mappings: [{ api_name: "Last_Name", index: 0 }],
      }),
    );
    assert.equal(res.status, 400);
    assert.equal(res.body.code, "HEADER_LIMIT_EXCEEDED");
  });
});

Deno.test("create job without field_mappings takes header names as API names, lookups as Field.id", async () => {
  await withBigin({}, async (sb) => {
    const tok = await token(sb);
    const csv = "Last_Name,Email,Account_Name.id\nKennedy,k@example.com,111111000000000077\n" +
      "Lee,lee@example.com,not-an-id\n";
    const { details, rows } = await runJob(sb, tok, csv, "insert", CONTACTS);
    assert.deepEqual(details.resource[0].field_mappings, [
      { api_name: "Last_Name", index: 0, format: null, find_by: null, default_value: null },
      { api_name: "Email", index: 1, format: null, find_by: null, default_value: null },
      { api_name: "Account_Name", index: 2, format: null, find_by: "id", default_value: null },
    ]);
    assert.deepEqual(rows.map((r) => r.slice(3, 4).concat(r.slice(5))), [
      ["STATUS", "ERRORS"],
      ["added", ""],
      ["skipped", "INVALID_DATA-Account_Name"],
    ]);
    assert.equal(sb.bigin.records("Contacts")[0]!.fields["Account_Name"], "111111000000000077");
  });
});

// ---- job details ----------------------------------------------------------------------------

Deno.test("job details go ADDED, INPROGRESS, then COMPLETED, shaped like the seed's samples", async () => {
  const clock = manualClock();
  await withBigin({ processingMs: 300, now: clock.now }, async (sb) => {
    const tok = await token(sb);
    const fileId = await uploadCsv(sb, tok, "Deal_Name,Stage\nBig deal,Qualification\n");
    const created = await createJob(
      sb,
      tok,
      jobBody("insert", {
        ...PIPELINES,
        file_id: fileId,
        field_mappings: [
          { api_name: "Deal_Name", index: 0 },
          { api_name: "Stage", index: 1 },
          { api_name: "Sub_Pipeline", default_value: { value: "Sales" } },
        ],
      }),
    );
    const id = created.body.details.id;
    const mappings = [
      { api_name: "Deal_Name", index: 0, format: null, find_by: null, default_value: null },
      { api_name: "Stage", index: 1, format: null, find_by: null, default_value: null },
      {
        api_name: "Sub_Pipeline",
        index: null,
        format: null,
        find_by: null,
        default_value: { value: "Sales" },
      },
    ];
    const createdTime = "2019-01-30T14:21:32+00:00";
    const createdBy = created.body.details.created_by;

    const added = await getJob(sb, tok, id);
    assert.equal(added.status, 200);
    assert.deepEqual(added.body, {
      status: "ADDED",
      resource: [{
        status: "INPROGRESS",
        type: "data",
        module: "Pipelines",
        field_mappings: mappings,
        file: { status: "INPROGRESS" },
      }],
      id,
      created_by: createdBy,
      operation: "insert",
      created_time: createdTime,
    });
    assert.deepEqual(Object.keys(added.body), [
      "status",
      "resource",
      "id",
      "created_by",
      "operation",
      "created_time",
    ]);

    clock.advance(100);
    const running = await getJob(sb, tok, id);
    const file = {
      name: "rows.csv",
      added_count: 0,
      skipped_count: 0,
      updated_count: 0,
      total_count: 0,
    };
    assert.deepEqual(running.body, {
      status: "INPROGRESS",
      character_encoding: "UTF-8",
      resource: [{
        status: "INPROGRESS",
        type: "data",
        module: "Pipelines",
        field_mappings: mappings,
        file: { status: "INPROGRESS", ...file },
      }],
      id,
      created_by: createdBy,
      operation: "insert",
      created_time: createdTime,
    });
    assert.equal(sb.bigin.records("Pipelines").length, 0);

    clock.advance(200);
    const done = await getJob(sb, tok, id);
    const path = `/v2/bigin/org${ORG}/bulk-write/${id}/${id}.zip`;
    assert.deepEqual(done.body, {
      status: "COMPLETED",
      character_encoding: "UTF-8",
      resource: [{
        status: "COMPLETED",
        type: "data",
        module: "Pipelines",
        field_mappings: mappings,
        file: { status: "COMPLETED", ...file, added_count: 1, total_count: 1 },
      }],
      id,
      result: { download_url: path },
      created_by: createdBy,
      operation: "insert",
      created_time: createdTime,
    });
    assert.deepEqual(Object.keys(done.body), [
      "status",
      "character_encoding",
      "resource",
      "id",
      "result",
      "created_by",
      "operation",
      "created_time",
    ]);
    assert.deepEqual(Object.keys(done.body.resource[0]!.file), [
      "status",
      "name",
      "added_count",
      "skipped_count",
      "updated_count",
      "total_count",
    ]);
  });
});

Deno.test("inProgressSpelling IN PROGRESS spells every in-progress status with a space", async () => {
  const clock = manualClock();
  await withBigin(
    { processingMs: 300, now: clock.now, inProgressSpelling: "IN PROGRESS" },
    async (sb) => {
      const tok = await token(sb);
      const fileId = await uploadCsv(sb, tok, "Last_Name\nK\n");
      const created = await createJob(sb, tok, jobBody("insert", { ...CONTACTS, file_id: fileId }));
      const added = await getJob(sb, tok, created.body.details.id);
      assert.equal(added.body.status, "ADDED");
      assert.equal(added.body.resource[0].status, "IN PROGRESS");
      clock.advance(150);
      const running = await getJob(sb, tok, created.body.details.id);
      assert.equal(running.body.status, "IN PROGRESS");
      assert.equal(running.body.resource[0].file.status, "IN PROGRESS");
    },
  );
});

Deno.test("absoluteDownloadUrl gives the download URL with the sandbox origin", async () => {
  await withBigin({ absoluteDownloadUrl: true }, async (sb) => {
    const tok = await token(sb);
    const { details, rows } = await runJob(sb, tok, "Last_Name\nK\n", "insert", CONTACTS);
    assert.ok(details.result.download_url.startsWith(`${sb.url}/v2/bigin/org${ORG}/bulk-write/`));
    assert.equal(rows.length, 2);
  });
});

Deno.test("an unknown job answers 404 RESOURCE_NOT_FOUND", async () => {
  await withBigin({}, async (sb) => {
    const tok = await token(sb);
    const res = await getJob(sb, tok, "111111000000000404");
    assert.equal(res.status, 404);
    assert.equal(res.body.code, "RESOURCE_NOT_FOUND");
  });
});

Deno.test("an unknown Bigin path answers INVALID_URL_PATTERN and a wrong method INVALID_REQUEST_METHOD", async () => {
  await withBigin({}, async (sb) => {
    const tok = await token(sb);
    const path = await call(sb, "/bigin/bulk/v2/read", { headers: auth(tok) });
    assert.equal(path.status, 404);
    assert.equal(path.body.code, "INVALID_URL_PATTERN");
    const method = await call(sb, "/bigin/bulk/v2/write", { headers: auth(tok) });
    assert.equal(method.status, 400);
    assert.equal(method.body.code, "INVALID_REQUEST_METHOD");
  });
});

Deno.test("the Bigin simulator leaves requests that are not its own to other simulators", async () => {
  const bigin = createBiginSandbox();
  for (const path of ["/bulk/v1/bulkload_opportunity", "/oauth/token", "/v2/crm/x"]) {
    const url = new URL(path, "http://127.0.0.1:1");
    assert.equal(await bigin.handle(new Request(url), url, url.origin), undefined);
  }
  const mine = new URL("/bigin/bulk/v2/write/1", "http://127.0.0.1:1");
  assert.equal((await bigin.handle(new Request(mine), mine, mine.origin))?.status, 401);
});

Deno.test("failJobs makes jobs end FAILED with no result and no records written", async () => {
  await withBigin({ failJobs: true }, async (sb) => {
    const tok = await token(sb);
    const { details } = await runJob(sb, tok, "Last_Name\nK\n", "insert", CONTACTS);
    assert.equal(details.status, "FAILED");
    assert.equal(details.resource[0].status, "FAILED");
    assert.equal(details.resource[0].file.status, "FAILED");
    assert.equal(details.result, undefined);
    assert.equal(sb.bigin.records("Contacts").length, 0);
    assert.equal(sb.bigin.jobs()[0]!.status, "FAILED");
    const id = details.id;
    const res = await call(sb, `/v2/bigin/org${ORG}/bulk-write/${id}/${id}.zip`, {
      headers: auth(tok),
    });
    assert.equal(res.status, 404);
  });
});

// ---- processing and results -----------------------------------------------------------------

Deno.test("the result ZIP holds the uploaded columns then STATUS, RECORD_ID and ERRORS in upload order", async () => {
  await withBigin({}, async (sb) => {
    const tok = await token(sb);
    const csv = 'Email,Last_Name,Note\nb@example.com,"Bee, Jr.",x\na@example.com,,y\n' +
      'c@example.com,"Say ""hi""\r\nthere",z\n';
    const fileId = await uploadCsv(sb, tok, csv);
    const created = await createJob(
      sb,
      tok,
      jobBody("insert", {
        ...CONTACTS,
        file_id: fileId,
        field_mappings: [{ api_name: "Email", index: 0 }, { api_name: "Last_Name", index: 1 }],
      }),
    );
    const details = await waitForJob(sb, tok, created.body.details.id);
    const { name, rows } = await download(sb, tok, details.result.download_url);
    assert.equal(name, "Contacts-rows.csv");
    assert.deepEqual(rows[0], ["Email", "Last_Name", "Note", "STATUS", "RECORD_ID", "ERRORS"]);
    assert.deepEqual(rows.slice(1).map((r) => [r[0], r[1], r[2], r[3], r[5]]), [
      ["b@example.com", "Bee, Jr.", "x", "added", ""],
      ["a@example.com", "", "y", "skipped", "MANDATORY_NOT_FOUND-Last_Name"],
      ["c@example.com", 'Say "hi"\r\nthere', "z", "added", ""],
    ]);
    assert.match(rows[1]![4]!, EIGHTEEN_DIGITS);
    assert.equal(rows[2]![4], "");
    const file = details.resource[0].file;
    assert.deepEqual(
      [file.added_count, file.updated_count, file.skipped_count, file.total_count],
      [2, 0, 1, 3],
    );
    const records = sb.bigin.records("Contacts");
    assert.deepEqual(records.map((r) => r.id), [rows[1]![4], rows[3]![4]]);
    assert.equal(records[0]!.fields["Last_Name"], "Bee, Jr.");
    assert.equal(records[0]!.fields["Note"], undefined);
  });
});

Deno.test("failing rows are skipped with errors joined by comma per code and colon between codes", async () => {
  await withBigin({}, async (sb) => {
    const tok = await token(sb);
    await runJob(sb, tok, "Deal_Name,Sub_Pipeline,Stage\nTaken,Sales,Won\n", "insert", PIPELINES);
    const csv = "Deal_Name,Sub_Pipeline,Stage,Closing_Date,Amount\n" +
      "Good,Sales,Won,01/31/2024,1200.50\n" +
      "Taken,,,02/30/2024,12k\n" +
      ",Sales,Won,2024-01-31,\n";
    const { details, rows } = await runJob(sb, tok, csv, "insert", PIPELINES);
    assert.deepEqual(rows.slice(1).map((r) => [r[5], r[7]]), [
      ["added", ""],
      [
        "skipped",
        "MANDATORY_NOT_FOUND-Sub_Pipeline,Stage:INVALID_DATA-Closing_Date,Amount:DUPLICATE_DATA-Deal_Name",
      ],
      ["skipped", "MANDATORY_NOT_FOUND-Deal_Name:INVALID_DATA-Closing_Date"],
    ]);
    const file = details.resource[0].file;
    assert.deepEqual([file.added_count, file.skipped_count, file.total_count], [1, 2, 3]);
    const good = sb.bigin.records("Pipelines").find((r) => r.fields["Deal_Name"] === "Good");
    assert.equal(good?.fields["Closing_Date"], "2024-01-31");
    assert.equal(good?.fields["Amount"], "1200.50");
  });
});

Deno.test("a mapping's format reads dates and default_value fills empty cells", async () => {
  await withBigin({}, async (sb) => {
    const tok = await token(sb);
    const csv = "Deal,Close,Stage\nA,2024-02-29,\nB,31/01/2024,Won\n";
    const { rows } = await runJob(sb, tok, csv, "insert", {
      ...PIPELINES,
      field_mappings: [
        { api_name: "Deal_Name", index: 0 },
        { api_name: "Closing_Date", index: 1, format: "yyyy-MM-dd" },
        { api_name: "Stage", index: 2, default_value: { value: "Qualification" } },
        { api_name: "Sub_Pipeline", default_value: { value: "Sales" } },
      ],
    });
    assert.deepEqual(rows.slice(1).map((r) => [r[3], r[5]]), [
      ["added", ""],
      ["skipped", "INVALID_DATA-Closing_Date"],
    ]);
    assert.deepEqual(sb.bigin.records("Pipelines")[0]!.fields, {
      Deal_Name: "A",
      Closing_Date: "2024-02-29",
      Stage: "Qualification",
      Sub_Pipeline: "Sales",
    });
  });
});

Deno.test("emails, phones and websites that do not parse are INVALID_DATA", async () => {
  await withBigin({}, async (sb) => {
    const tok = await token(sb);
    const contacts = await runJob(
      sb,
      tok,
      "Last_Name,Email,Mobile\nA,not-an-email,+1 (555) 010-0000\nB,b@example.com,call me\n",
      "insert",
      CONTACTS,
    );
    assert.deepEqual(contacts.rows.slice(1).map((r) => r[5]), [
      "INVALID_DATA-Email",
      "INVALID_DATA-Mobile",
    ]);
    const accounts = await runJob(
      sb,
      tok,
      "Account_Name,Website\nAcme,acme.example\nZed,not a site\n",
      "insert",
      ACCOUNTS,
    );
    assert.deepEqual(accounts.rows.slice(1).map((r) => [r[2], r[4]]), [
      ["added", ""],
      ["skipped", "INVALID_DATA-Website"],
    ]);
  });
});

Deno.test("insert skips a row whose unique field already exists, in the store or earlier in the file", async () => {
  await withBigin({}, async (sb) => {
    const tok = await token(sb);
    await runJob(sb, tok, "Last_Name,Email\nA,a@example.com\n", "insert", CONTACTS);
    const { rows } = await runJob(
      sb,
      tok,
      "Last_Name,Email\nA2,A@Example.com\nB,b@example.com\nB2,b@example.com\nC,\nD,\n",
      "insert",
      CONTACTS,
    );
    assert.deepEqual(rows.slice(1).map((r) => [r[2], r[4]]), [
      ["skipped", "DUPLICATE_DATA-Email"],
      ["added", ""],
      ["skipped", "DUPLICATE_DATA-Email"],
      ["added", ""],
      ["added", ""],
    ]);
    assert.equal(sb.bigin.records("Contacts").length, 4);
  });
});

Deno.test("inserting rows and then upserting the same rows updates them instead of adding duplicates", async () => {
  await withBigin({}, async (sb) => {
    const tok = await token(sb);
    const csv = "Last_Name,Email\nKennedy,k@example.com\nLee,lee@example.com\n";
    const first = await runJob(sb, tok, csv, "insert", CONTACTS);
    const again = csv.replace("Kennedy", "Kennedy-Smith");
    const second = await runJob(sb, tok, again, "upsert", { ...CONTACTS, find_by: "Email" });
    const counts = (d: { resource: { file: Record<string, number> }[] }) => {
      const f = d.resource[0]!.file;
      return [f.added_count, f.updated_count, f.skipped_count, f.total_count];
    };
    assert.deepEqual(counts(first.details), [2, 0, 0, 2]);
    assert.deepEqual(counts(second.details), [0, 2, 0, 2]);
    assert.deepEqual(second.rows.slice(1).map((r) => r[2]), ["updated", "updated"]);
    assert.deepEqual(second.rows.slice(1).map((r) => r[3]), first.rows.slice(1).map((r) => r[3]));
    assert.equal(second.details.resource[0].find_by, "Email");
    const records = sb.bigin.records("Contacts");
    assert.equal(records.length, 2);
    assert.deepEqual(records.map((r) => [r.timesAdded, r.timesUpdated]), [[1, 1], [1, 1]]);
    assert.equal(records[0]!.fields["Last_Name"], "Kennedy-Smith");
  });
});

Deno.test("upsert inserts rows whose find_by value is new and updates the rest", async () => {
  await withBigin({}, async (sb) => {
    const tok = await token(sb);
    await runJob(sb, tok, "Account_Name,Phone\nAcme,111\n", "insert", ACCOUNTS);
    const { details, rows } = await runJob(
      sb,
      tok,
      "Account_Name,Phone\nacme,222\nGlobex,333\n",
      "upsert",
      { ...ACCOUNTS, find_by: "Account_Name" },
    );
    assert.deepEqual(rows.slice(1).map((r) => r[2]), ["updated", "added"]);
    assert.equal(details.resource[0].file.added_count, 1);
    assert.equal(details.resource[0].file.updated_count, 1);
    assert.deepEqual(sb.bigin.records("Accounts").map((r) => r.fields["Phone"]), ["222", "333"]);
  });
});

Deno.test("update skips rows whose find_by value matches nothing with RESOURCE_NOT_FOUND", async () => {
  await withBigin({}, async (sb) => {
    const tok = await token(sb);
    const first = await runJob(sb, tok, "Last_Name,Email\nA,a@example.com\n", "insert", CONTACTS);
    const id = first.rows[1]![3]!;
    const { details, rows } = await runJob(
      sb,
      tok,
      `id,First_Name\n${id},Ann\n111111000000000999,Bob\n,Cy\n`,
      "update",
      { ...CONTACTS, find_by: "id" },
    );
    assert.deepEqual(rows.slice(1).map((r) => [r[2], r[3], r[4]]), [
      ["updated", id, ""],
      ["skipped", "", "RESOURCE_NOT_FOUND-id"],
      ["skipped", "", "MANDATORY_NOT_FOUND-id"],
    ]);
    assert.equal(details.resource[0].file.updated_count, 1);
    assert.deepEqual(sb.bigin.records("Contacts")[0]!.fields, {
      Last_Name: "A",
      Email: "a@example.com",
      First_Name: "Ann",
    });
  });
});

Deno.test("update may leave required fields unmapped but not empty them, unless ignore_empty", async () => {
  await withBigin({}, async (sb) => {
    const tok = await token(sb);
    await runJob(sb, tok, "Last_Name,Email\nA,a@example.com\n", "insert", CONTACTS);
    const emptied = await runJob(sb, tok, "Email,Last_Name\na@example.com,\n", "update", {
      ...CONTACTS,
      find_by: "Email",
    });
    assert.deepEqual(emptied.rows[1]!.slice(2), ["skipped", "", "MANDATORY_NOT_FOUND-Last_Name"]);
    const fileId = await uploadCsv(sb, tok, "Email,Last_Name,First_Name\na@example.com,,Ann\n");
    const created = await createJob(
      sb,
      tok,
      jobBody("update", { ...CONTACTS, file_id: fileId, find_by: "Email" }, {
        ignore_empty: true,
      }),
    );
    const details = await waitForJob(sb, tok, created.body.details.id);
    assert.equal(details.resource[0].file.updated_count, 1);
    assert.deepEqual(sb.bigin.records("Contacts")[0]!.fields, {
      Last_Name: "A",
      Email: "a@example.com",
      First_Name: "Ann",
    });
  });
});

Deno.test("recordLimit leaves the rest of a job unprocessed with LIMIT_EXCEEDED, outside total_count", async () => {
  await withBigin({ recordLimit: 2 }, async (sb) => {
    const tok = await token(sb);
    const { details, rows } = await runJob(
      sb,
      tok,
      "Last_Name\nA\n\nB\nC\nD\n",
      "insert",
      CONTACTS,
    );
    assert.deepEqual(rows.slice(1).map((r) => [r[1], r[3]]), [
      ["added", ""],
      ["added", ""],
      ["unprocessed", "LIMIT_EXCEEDED"],
      ["unprocessed", "LIMIT_EXCEEDED"],
    ]);
    assert.equal(details.status, "COMPLETED");
    assert.equal(details.resource[0].file.total_count, 2);
    assert.equal(sb.bigin.jobs()[0]!.unprocessedCount, 2);
  });
});

Deno.test("resultColumns firstThreeMapped and resultStatusCase upper change the result file", async () => {
  await withBigin({ resultColumns: "firstThreeMapped", resultStatusCase: "upper" }, async (sb) => {
    const tok = await token(sb);
    const { rows: mapped } = await runJob(
      sb,
      tok,
      "Skip,Last_Name,First_Name,Email,Mobile\nx,A,Ann,a@example.com,123\n",
      "insert",
      {
        ...CONTACTS,
        field_mappings: [
          { api_name: "Mobile", index: 4 },
          { api_name: "Email", index: 3 },
          { api_name: "First_Name", index: 2 },
          { api_name: "Last_Name", index: 1 },
        ],
      },
    );
    assert.deepEqual(mapped[0], [
      "Last_Name",
      "First_Name",
      "Email",
      "STATUS",
      "RECORD_ID",
      "ERRORS",
    ]);
    assert.equal(mapped[1]![3], "ADDED");
  });
});

Deno.test("state() is JSON-safe and lists token grants, uploads, jobs and records per module", async () => {
  await withBigin({}, async (sb) => {
    const tok = await token(sb);
    await runJob(sb, tok, "Last_Name,Email\nA,a@example.com\n", "insert", CONTACTS);
    const state = sb.bigin.state();
    assert.deepEqual(JSON.parse(JSON.stringify(state)), state);
    assert.equal(state.tokenGrants, 1);
    assert.equal(state.uploads.length, 1);
    assert.deepEqual(
      state.jobs.map((j) => [j.operation, j.module, j.status, j.addedCount, j.totalCount]),
      [["insert", "Contacts", "COMPLETED", 1, 1]],
    );
    assert.deepEqual(Object.keys(state.records), ["Pipelines", "Contacts", "Accounts"]);
    assert.equal(state.records["Contacts"]!.length, 1);
    const served = await (await fetch(`${sb.url}/_sandbox/state`)).json();
    assert.deepEqual(served.bigin, JSON.parse(JSON.stringify(sb.bigin.state())));
  });
});

// ---- CSV and dates (the sandbox's own readers) ------------------------------------------------

Deno.test("parseCsv detects the delimiter from the header row only", () => {
  assert.equal(parseCsv("a|b|c\n1,2|3|4\n").delimiter, "|");
  assert.equal(parseCsv("a:b\n1;2\n").delimiter, ":");
  assert.equal(parseCsv('"x;y",b\n').delimiter, ",");
  assert.deepEqual(parseCsv("a|b|c\n1,2|3|4\n").rows, [["1,2", "3", "4"]]);
});

Deno.test("parseCsv reads quotes, doubled quotes, CRLF and a byte-order mark, and skips empty lines", () => {
  const parsed = parseCsv('\uFEFFa,b\r\n"1,""2""","x\r\ny"\r\n\r\n3,\r\n');
  assert.deepEqual(parsed.header, ["a", "b"]);
  assert.deepEqual(parsed.rows, [['1,"2"', "x\r\ny"], ["3", ""]]);
});

Deno.test("parseCsv rejects stray quotes and a file without a header", () => {
  assert.throws(() => parseCsv('a\nab"c\n'), CsvSyntaxError);
  assert.throws(() => parseCsv('a\n"ab"c\n'), CsvSyntaxError);
  assert.throws(() => parseCsv(""), CsvSyntaxError);
});

Deno.test("writeCsv quotes only where needed and reads back through parseCsv", () => {
  const rows = [["h1", "h2"], ["a,b", 'say "x"'], [" pad", "line\nbreak"], ["plain", ""]];
  const text = writeCsv(rows);
  assert.ok(text.startsWith('h1,h2\n"a,b","say ""x"""\n'));
  const back = parseCsv(text);
  assert.deepEqual([back.header, ...back.rows], rows);
});

Deno.test("compileDateFormat accepts yyyy MM dd HH mm ss and rejects anything else", () => {
  assert.ok(compileDateFormat("MM/dd/yyyy"));
  assert.ok(compileDateFormat("yyyy-MM-dd HH:mm:ss"));
  for (const bad of ["YYYY-MM-DD", "yyyy-MMM-dd", "dd/MM", "yyyy-MM-dd'T'"]) {
    assert.equal(compileDateFormat(bad), undefined, bad);
  }
});

Deno.test("parseDate returns ISO dates and rejects days that do not exist", () => {
  const us = compileDateFormat("MM/dd/yyyy")!;
  assert.equal(parseDate("1/5/2024", us), "2024-01-05");
  assert.equal(parseDate("02/29/2023", us), undefined);
  assert.equal(parseDate("13/01/2024", us), undefined);
  assert.equal(parseDate("2024-01-05", us), undefined);
});
