import assert from "node:assert/strict";
import { parse } from "csv-parse/sync";
import { type Sandbox, type SandboxOptions, startSandbox } from "./server.ts";
import { type Fault, FAULT_ENDPOINTS } from "./faults.ts";
import { DEFAULT_JOB_FAILURE, SALESFORCE_DEFAULTS } from "./salesforce.ts";
import { readJobCsv, seededRandom, shuffle } from "./_salesforce_csv.ts";

const API = "/services/data/v62.0/jobs/ingest";
const HEADER = "Name,StageName,CloseDate,Amount,External_Ref__c";

/** Runs `fn` against a sandbox on a free port and always closes it. */
async function withSf(
  options: SandboxOptions,
  fn: (sb: Sandbox) => Promise<void>,
): Promise<void> {
  const sb = await startSandbox({
    port: 0,
    ...options,
    salesforce: { processingMs: 30, ...options.salesforce },
  });
  try {
    await fn(sb);
  } finally {
    await sb.close();
  }
}

/** A clock the test moves by hand. */
function manualClock(start = Date.parse("2026-03-02T10:00:00Z")) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

interface Answer {
  status: number;
  text: string;
  // deno-lint-ignore no-explicit-any
  body: any;
  headers: Headers;
}

async function call(sb: Sandbox, path: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(`${sb.url}${path}`, init);
  const text = await res.text();
  let body: unknown = undefined;
  try {
    body = JSON.parse(text);
  } catch { /* CSV or empty: tests look at `text` */ }
  return { status: res.status, text, body, headers: res.headers };
}

function tokenRequest(sb: Sandbox, params: Record<string, string>): Promise<Answer> {
  return call(sb, "/services/oauth2/token", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(params).toString(),
  });
}

const CLIENT = {
  grant_type: "client_credentials",
  client_id: SALESFORCE_DEFAULTS.clientId,
  client_secret: SALESFORCE_DEFAULTS.clientSecret,
};

async function bearer(sb: Sandbox): Promise<Record<string, string>> {
  const res = await tokenRequest(sb, CLIENT);
  assert.equal(res.status, 200, res.text);
  return { authorization: `Bearer ${res.body.access_token}` };
}

function createJob(sb: Sandbox, auth: Record<string, string>, body: unknown): Promise<Answer> {
  return call(sb, API, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

function upload(sb: Sandbox, auth: Record<string, string>, id: string, csv: string) {
  return call(sb, `${API}/${id}/batches`, {
    method: "PUT",
    headers: { ...auth, "content-type": "text/csv" },
    body: csv,
  });
}

function setState(sb: Sandbox, auth: Record<string, string>, id: string, state: string) {
  return call(sb, `${API}/${id}`, {
    method: "PATCH",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify({ state }),
  });
}

// deno-lint-ignore no-explicit-any
async function waitForJob(sb: Sandbox, auth: Record<string, string>, id: string): Promise<any> {
  for (let i = 0; i < 500; i++) {
    const res = await call(sb, `${API}/${id}`, { headers: auth });
    assert.equal(res.status, 200, res.text);
    if (["JobComplete", "Failed", "Aborted"].includes(res.body.state)) return res.body;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail("the job never finished");
}

/** A result file as objects keyed by column. */
async function results(
  sb: Sandbox,
  auth: Record<string, string>,
  id: string,
  kind: "successfulResults" | "failedResults" | "unprocessedrecords",
): Promise<Record<string, string>[]> {
  const res = await call(sb, `${API}/${id}/${kind}/`, { headers: auth });
  assert.equal(res.status, 200, res.text);
  assert.match(res.headers.get("content-type") ?? "", /^text\/csv/);
  return res.text === "" ? [] : parse(res.text, { columns: true });
}

/** Creates an upsert job, uploads `csv`, closes it and waits; returns the final job info. */
async function runJob(
  sb: Sandbox,
  auth: Record<string, string>,
  csv: string,
  job: Record<string, unknown> = {},
  // deno-lint-ignore no-explicit-any
): Promise<any> {
  const created = await createJob(sb, auth, {
    object: "Opportunity",
    operation: "upsert",
    externalIdFieldName: "External_Ref__c",
    contentType: "CSV",
    lineEnding: "LF",
    ...job,
  });
  assert.equal(created.status, 200, created.text);
  assert.equal((await upload(sb, auth, created.body.id, csv)).status, 201);
  assert.equal((await setState(sb, auth, created.body.id, "UploadComplete")).status, 200);
  return await waitForJob(sb, auth, created.body.id);
}

function rows(n: number, from = 1): string {
  return Array.from(
    { length: n },
    (_, i) => `Deal ${from + i},Prospecting,2026-06-30,${(from + i) * 100},REF-${from + i}`,
  ).join("\n");
}

// ---- auth ----------------------------------------------------------------------------------

Deno.test("the token endpoint grants client_credentials and refresh_token, and refuses bad clients", async () => {
  await withSf({}, async (sb) => {
    const ok = await tokenRequest(sb, CLIENT);
    assert.equal(ok.status, 200);
    assert.equal(ok.body.instance_url, sb.url);
    assert.equal(ok.body.token_type, "Bearer");
    assert.match(ok.body.issued_at, /^\d{13}$/);
    assert.ok(ok.body.access_token.length > 20);
    const refreshed = await tokenRequest(sb, {
      grant_type: "refresh_token",
      refresh_token: SALESFORCE_DEFAULTS.refreshToken,
      client_id: SALESFORCE_DEFAULTS.clientId,
    });
    assert.equal(refreshed.status, 200);
    const bad = await tokenRequest(sb, { ...CLIENT, client_secret: "nope" });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error, "invalid_client");
    const badGrant = await tokenRequest(sb, { ...CLIENT, grant_type: "password" });
    assert.equal(badGrant.body.error, "unsupported_grant_type");
    assert.equal(sb.salesforce.tokenGrants, 2);
  });
});

Deno.test("an expired token answers 401 INVALID_SESSION_ID; a static token works when configured", async () => {
  const clock = manualClock();
  await withSf(
    { salesforce: { now: clock.now, tokenTtlMs: 1000, token: "static-session" } },
    async (sb) => {
      const auth = await bearer(sb);
      assert.equal((await call(sb, API, { headers: auth })).status, 200);
      clock.advance(1000);
      const expired = await call(sb, API, { headers: auth });
      assert.equal(expired.status, 401);
      assert.deepEqual(expired.body, [{
        errorCode: "INVALID_SESSION_ID",
        message: "Session expired or invalid",
      }]);
      const fixed = await call(sb, API, { headers: { authorization: "Bearer static-session" } });
      assert.equal(fixed.status, 200);
      assert.equal((await call(sb, API)).status, 401, "no token at all");
    },
  );
});

// ---- the whole lifecycle -------------------------------------------------------------------

Deno.test("create, upload, close, poll and the three result files, joined by external id", async () => {
  await withSf({ salesforce: { resultSeed: 7 } }, async (sb) => {
    const auth = await bearer(sb);
    const created = await createJob(sb, auth, {
      object: "Opportunity",
      operation: "upsert",
      externalIdFieldName: "External_Ref__c",
      contentType: "CSV",
      lineEnding: "LF",
    });
    assert.equal(created.status, 200);
    const id = created.body.id;
    assert.match(id, /^750[A-Za-z0-9]{15}$/);
    assert.equal(created.body.state, "Open");
    assert.equal(created.body.contentUrl, `services/data/v62.0/jobs/ingest/${id}/batches`);
    assert.equal(created.body.externalIdFieldName, "External_Ref__c");
    assert.equal(created.body.lineEnding, "LF");
    assert.equal(created.body.columnDelimiter, "COMMA");
    assert.equal(sb.salesforce.openJobs().length, 1);

    const csv = `${HEADER}\n${rows(6)}\n"Quoted, ""big""\nline",Prospecting,2026-07-01,5,REF-Q\n` +
      `Broken,,2026-07-01,1,REF-BAD\n`;
    const put = await upload(sb, auth, id, csv);
    assert.equal(put.status, 201);
    assert.equal(put.text, "");
    const closed = await setState(sb, auth, id, "UploadComplete");
    assert.equal(closed.body.state, "UploadComplete");
    assert.equal(sb.salesforce.openJobs().length, 0, "no job left Open");

    const info = await waitForJob(sb, auth, id);
    assert.equal(info.state, "JobComplete");
    assert.equal(info.numberRecordsProcessed, 8);
    assert.equal(info.numberRecordsFailed, 1);
    assert.equal(info.jobType, "V2Ingest");

    const ok = await results(sb, auth, id, "successfulResults");
    assert.equal(ok.length, 7);
    const uploadOrder = ["REF-1", "REF-2", "REF-3", "REF-4", "REF-5", "REF-6", "REF-Q"];
    assert.notDeepEqual(ok.map((r) => r.External_Ref__c), uploadOrder, "shuffled");
    assert.deepEqual(ok.map((r) => r.External_Ref__c).sort(), [...uploadOrder].sort());
    const quoted = ok.find((r) => r.External_Ref__c === "REF-Q")!;
    assert.equal(quoted.Name, 'Quoted, "big"\nline');
    assert.equal(quoted.sf__Created, "true");
    const stored = sb.salesforce.records("Opportunity");
    for (const r of ok) {
      const record = stored.find((s) => s.id === r.sf__Id);
      assert.equal(record?.fields.External_Ref__c, r.External_Ref__c, "joins by external id");
    }
    const failed = await results(sb, auth, id, "failedResults");
    assert.deepEqual(failed.map((r) => [r.External_Ref__c, r.sf__Id, r.sf__Error]), [
      [
        "REF-BAD",
        "",
        "REQUIRED_FIELD_MISSING:Required fields are missing: [StageName]:StageName --",
      ],
    ]);
    const unprocessed = await call(sb, `${API}/${id}/unprocessedrecords/`, { headers: auth });
    assert.equal(unprocessed.text, `"${HEADER.replaceAll(",", '","')}"\n`);
    assert.equal(sb.salesforce.writeCount("Opportunity", "External_Ref__c", "REF-1"), 1);
  });
});

Deno.test("row errors: picklist, date, number, range, length and several required fields", async () => {
  await withSf({}, async (sb) => {
    const auth = await bearer(sb);
    const long = "x".repeat(121);
    const csv = "Name,StageName,CloseDate,Amount,Probability,External_Ref__c\n" +
      "A,Nope,2026-01-01,1,10,E1\nB,Prospecting,2026-02-30,1,10,E2\n" +
      "C,Prospecting,2026-01-01,1.000.0,10,E3\nD,Prospecting,2026-01-01,1,150,E4\n" +
      `${long},Prospecting,2026-01-01,1,10,E5\n,,2026-01-01,1,10,E6\n`;
    const info = await runJob(sb, auth, csv);
    assert.equal(info.numberRecordsFailed, 6);
    const failed = await results(sb, auth, info.id, "failedResults");
    const byRef = Object.fromEntries(failed.map((r) => [r.External_Ref__c, r.sf__Error]));
    assert.deepEqual(byRef, {
      E1:
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST:Stage: bad value for restricted picklist field: Nope:StageName --",
      E2:
        "INVALID_TYPE_ON_FIELD_IN_RECORD:Close Date: value not of required type: 2026-02-30:CloseDate --",
      E3: "INVALID_TYPE_ON_FIELD_IN_RECORD:Amount: value not of required type: 1.000.0:Amount --",
      E4:
        "NUMBER_OUTSIDE_VALID_RANGE:Probability (%): value outside of valid range on numeric field: 150:Probability --",
      E5: `STRING_TOO_LONG:Name: data value too large: ${long} (max length=120):Name --`,
      E6: "REQUIRED_FIELD_MISSING:Required fields are missing: [Name, StageName]:Name StageName --",
    });
    assert.equal(sb.salesforce.records("Opportunity").length, 0);
  });
});

Deno.test("upsert twice updates the same records; empty leaves a value, #N/A clears it", async () => {
  await withSf({}, async (sb) => {
    const auth = await bearer(sb);
    const first = await runJob(sb, auth, `${HEADER}\n${rows(2)}\n`);
    assert.equal(first.numberRecordsFailed, 0);
    const again = await runJob(
      sb,
      auth,
      `${HEADER}\nDeal 1 renamed,Closed Won,,#N/A,REF-1\nDeal 2,Prospecting,2026-06-30,,REF-2\n`,
    );
    assert.equal(again.numberRecordsFailed, 0);
    const ok = await results(sb, auth, again.id, "successfulResults");
    assert.deepEqual(ok.map((r) => r.sf__Created), ["false", "false"]);
    const records = sb.salesforce.records("Opportunity");
    assert.equal(records.length, 2, "no duplicates");
    const one = records.find((r) => r.fields.External_Ref__c === "REF-1")!;
    assert.deepEqual(one.fields, {
      Name: "Deal 1 renamed",
      StageName: "Closed Won",
      CloseDate: "2026-06-30",
      External_Ref__c: "REF-1",
    });
    assert.equal(one.writes, 2);
    assert.equal(sb.salesforce.writeCount("Opportunity", "External_Ref__c", "REF-2"), 2);
  });
});

Deno.test("a duplicate external id within one upsert job fails both rows", async () => {
  await withSf({}, async (sb) => {
    const auth = await bearer(sb);
    const csv = `${HEADER}\n${rows(1)}\nOther,Prospecting,2026-06-30,1,ref-1\n${rows(1, 2)}\n`;
    const info = await runJob(sb, auth, csv);
    assert.equal(info.numberRecordsFailed, 2);
    const failed = await results(sb, auth, info.id, "failedResults");
    assert.deepEqual(failed.map((r) => r.sf__Error).sort(), [
      "DUPLICATE_VALUE:Duplicate external id specified: REF-1:--",
      "DUPLICATE_VALUE:Duplicate external id specified: ref-1:--",
    ]);
    assert.equal(sb.salesforce.writeCount("Opportunity", "External_Ref__c", "REF-1"), 0);
    assert.equal(sb.salesforce.writeCount("Opportunity", "External_Ref__c", "REF-2"), 1);
  });
});

Deno.test("insert, update by Id and delete act on the store", async () => {
  await withSf({}, async (sb) => {
    const auth = await bearer(sb);
    const ins = await runJob(sb, auth, `${HEADER}\n${rows(2)}\n`, { operation: "insert" });
    const [a, b] = sb.salesforce.records("Opportunity");
    assert.equal(ins.numberRecordsProcessed, 2);
    const upd = await runJob(sb, auth, `Id,Amount\n${a!.id},999\n006SB9999999999AAA,1\n`, {
      operation: "update",
    });
    assert.equal(upd.numberRecordsFailed, 1);
    const failed = await results(sb, auth, upd.id, "failedResults");
    assert.equal(failed[0]?.sf__Error, "INVALID_CROSS_REFERENCE_KEY:invalid cross reference id:--");
    assert.equal(sb.salesforce.records("Opportunity")[0]?.fields.Amount, "999");
    const del = await runJob(sb, auth, `Id\n${b!.id}\n`, { operation: "delete" });
    assert.equal(del.numberRecordsFailed, 0);
    assert.deepEqual(sb.salesforce.records("Opportunity").map((r) => r.id), [a!.id]);
  });
});

// ---- job-level refusals --------------------------------------------------------------------

Deno.test("create refuses bad jobs the way Salesforce shapes them", async () => {
  await withSf({}, async (sb) => {
    const auth = await bearer(sb);
    const cases: [unknown, string, RegExp][] = [
      ["{not json", "JSON_PARSER_ERROR", /Cannot read/],
      [{ object: "Opportunity", operation: "upsert" }, "INVALIDJOB", /External ID was blank/],
      [
        { object: "Opportunity", operation: "upsert", externalIdFieldName: "Name" },
        "INVALIDJOB",
        /Name is not an External ID or indexed field for Opportunity/,
      ],
      [{ object: "Nope__c", operation: "insert" }, "INVALIDENTITY", /'Nope__c' is not supported/],
      [{ object: "Opportunity", operation: "merge" }, "INVALIDJOB", /Invalid operation: merge/],
      [
        { object: "Opportunity", operation: "insert", lineEnding: "CR" },
        "INVALIDJOB",
        /lineEnding/,
      ],
      [
        { object: "Opportunity", operation: "insert", contentType: "JSON" },
        "INVALIDJOB",
        /CSV|JSON/,
      ],
    ];
    for (const [body, code, message] of cases) {
      const res = await createJob(sb, auth, body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body[0].errorCode, code);
      assert.match(res.body[0].message, message);
    }
    assert.equal(sb.salesforce.jobs().length, 0);
    const old = await call(sb, "/services/data/v46.0/jobs/ingest", { headers: auth });
    assert.equal(old.status, 404);
    assert.equal(old.body[0].errorCode, "NOT_FOUND");
  });
});

Deno.test("a second upload is taken, then closing answers Salesforce's multiple-contents error", async () => {
  await withSf({}, async (sb) => {
    const auth = await bearer(sb);
    const job = await createJob(sb, auth, { object: "Opportunity", operation: "insert" });
    const id = job.body.id;
    assert.equal((await upload(sb, auth, id, `${HEADER}\n${rows(1)}\n`)).status, 201);
    assert.equal((await upload(sb, auth, id, `${HEADER}\n${rows(1, 2)}\n`)).status, 201);
    const close = await setState(sb, auth, id, "UploadComplete");
    assert.equal(close.status, 400);
    assert.equal(close.body[0].errorCode, "INVALIDJOB");
    assert.match(close.body[0].message, /^Found multipe contents for job: <750/);
    assert.deepEqual(sb.salesforce.openJobs().map((j) => [j.id, j.uploads]), [[id, 2]]);
    const aborted = await setState(sb, auth, id, "Aborted");
    assert.equal(aborted.body.state, "Aborted");
    assert.equal(sb.salesforce.openJobs().length, 0);
    const late = await upload(sb, auth, id, `${HEADER}\n`);
    assert.equal(late.status, 409);
    assert.equal(late.body[0].errorCode, "INVALIDJOBSTATE");
    const un = await results(sb, auth, id, "unprocessedrecords");
    assert.equal(un.length, 1, "the first upload's rows were never processed");
  });
});

Deno.test("a CRLF file in an LF job (and the reverse) fails the whole job", async () => {
  await withSf({}, async (sb) => {
    const auth = await bearer(sb);
    const crlf = `${HEADER}\r\n${rows(2).replaceAll("\n", "\r\n")}\r\n`;
    const lf = await runJob(sb, auth, crlf);
    assert.equal(lf.state, "Failed");
    assert.equal(
      lf.errorMessage,
      "ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is LF",
    );
    assert.equal((await results(sb, auth, lf.id, "unprocessedrecords")).length, 2);
    const crlfJob = await runJob(sb, auth, `${HEADER}\n${rows(1)}\n`, { lineEnding: "CRLF" });
    assert.match(crlfJob.errorMessage, /Current LineEnding setting is CRLF$/);
    const fine = await runJob(sb, auth, crlf, { lineEnding: "CRLF" });
    assert.equal(fine.state, "JobComplete");
    const quotedLf = await runJob(sb, auth, `${HEADER}\r\n"a\nb",Prospecting,2026-01-01,1,R9\r\n`, {
      lineEnding: "CRLF",
    });
    assert.equal(quotedLf.state, "JobComplete", "a newline inside quotes is data");
  });
});

Deno.test("an unknown column fails the job with InvalidBatch; a semicolon job reads semicolons", async () => {
  await withSf({}, async (sb) => {
    const auth = await bearer(sb);
    const bad = await runJob(sb, auth, `${HEADER},Foo__c\n${rows(1)},x\n`);
    assert.equal(bad.state, "Failed");
    assert.equal(bad.errorMessage, "InvalidBatch : Field name not found : Foo__c");
    assert.equal(sb.salesforce.records("Opportunity").length, 0);
    const semi = await runJob(
      sb,
      auth,
      `${HEADER.replaceAll(",", ";")}\n"A; B";Prospecting;2026-01-01;1;S1\n`,
      { columnDelimiter: "SEMICOLON" },
    );
    assert.equal(semi.state, "JobComplete");
    assert.equal(sb.salesforce.records("Opportunity")[0]?.fields.Name, "A; B");
  });
});

Deno.test("an upload over the limit is refused; results of an unfinished job are not ready", async () => {
  await withSf({ salesforce: { maxUploadBytes: 100 } }, async (sb) => {
    const auth = await bearer(sb);
    const job = await createJob(sb, auth, { object: "Opportunity", operation: "insert" });
    const big = await upload(sb, auth, job.body.id, `${HEADER}\n${rows(10)}\n`);
    assert.equal(big.status, 413);
    assert.equal(sb.salesforce.jobs()[0]?.uploads, 0);
    const early = await call(sb, `${API}/${job.body.id}/successfulResults/`, { headers: auth });
    assert.equal(early.status, 409);
    assert.equal(early.body[0].errorCode, "INVALIDJOBSTATE");
  });
});

Deno.test("a job never closed stays Open and is listed by openJobs()", async () => {
  const clock = manualClock();
  await withSf({ salesforce: { now: clock.now } }, async (sb) => {
    const auth = await bearer(sb);
    const job = await createJob(sb, auth, { object: "Opportunity", operation: "insert" });
    await upload(sb, auth, job.body.id, `${HEADER}\n${rows(1)}\n`);
    clock.advance(86_400_000);
    const info = await call(sb, `${API}/${job.body.id}`, { headers: await bearer(sb) });
    assert.equal(info.body.state, "Open");
    assert.deepEqual(sb.salesforce.openJobs().map((j) => j.id), [job.body.id]);
    assert.equal(sb.salesforce.records("Opportunity").length, 0);
  });
});

Deno.test("the phases follow the clock: UploadComplete, InProgress, JobComplete", async () => {
  const clock = manualClock();
  await withSf({ salesforce: { now: clock.now, processingMs: 300 } }, async (sb) => {
    const auth = await bearer(sb);
    const job = await createJob(sb, auth, { object: "Opportunity", operation: "insert" });
    await upload(sb, auth, job.body.id, `${HEADER}\n${rows(1)}\n`);
    await setState(sb, auth, job.body.id, "UploadComplete");
    const seen = [];
    for (let i = 0; i < 4; i++) {
      seen.push((await call(sb, `${API}/${job.body.id}`, { headers: auth })).body.state);
      clock.advance(100);
    }
    assert.deepEqual(seen, ["UploadComplete", "InProgress", "InProgress", "JobComplete"]);
  });
});

// ---- faults --------------------------------------------------------------------------------

Deno.test("job_failed_partway fails a job after some rows: successful, failed and unprocessed", async () => {
  await withSf({
    faults: [{ endpoint: "sf.job", kind: "job_failed_partway", processed: 3 }],
  }, async (sb) => {
    const auth = await bearer(sb);
    const csv = `${HEADER}\n${rows(2)}\nBad,Nope,2026-01-01,1,REF-X\n${rows(3, 3)}\n`;
    const info = await runJob(sb, auth, csv);
    assert.equal(info.state, "Failed");
    assert.equal(info.errorMessage, DEFAULT_JOB_FAILURE);
    assert.equal(info.numberRecordsProcessed, 3);
    assert.equal(info.numberRecordsFailed, 1);
    const ok = await results(sb, auth, info.id, "successfulResults");
    const failed = await results(sb, auth, info.id, "failedResults");
    const un = await results(sb, auth, info.id, "unprocessedrecords");
    assert.deepEqual(ok.map((r) => r.External_Ref__c).sort(), ["REF-1", "REF-2"]);
    assert.deepEqual(failed.map((r) => r.External_Ref__c), ["REF-X"]);
    assert.deepEqual(un.map((r) => r.External_Ref__c).sort(), ["REF-3", "REF-4", "REF-5"]);
    assert.equal(sb.salesforce.writeCount("Opportunity", "External_Ref__c", "REF-3"), 0);
    assert.equal(sb.faultLog[0]?.target, info.id);
  });
});

Deno.test("token_expired answers 401 and revokes the token; a new token works", async () => {
  await withSf({ faults: [{ endpoint: "sf.upload", kind: "token_expired" }] }, async (sb) => {
    const auth = await bearer(sb);
    const job = await createJob(sb, auth, { object: "Opportunity", operation: "insert" });
    const refused = await upload(sb, auth, job.body.id, `${HEADER}\n${rows(1)}\n`);
    assert.equal(refused.status, 401);
    assert.equal(refused.body[0].errorCode, "INVALID_SESSION_ID");
    assert.equal(sb.salesforce.jobs()[0]?.uploads, 0, "not processed");
    assert.equal((await call(sb, `${API}/${job.body.id}`, { headers: auth })).status, 401);
    const fresh = await bearer(sb);
    assert.equal((await upload(sb, fresh, job.body.id, `${HEADER}\n${rows(1)}\n`)).status, 201);
  });
});

Deno.test("every sf fault endpoint can be faulted, in Salesforce's error shape", async () => {
  const endpoints = FAULT_ENDPOINTS.filter((e) => e.startsWith("sf."));
  assert.deepEqual(endpoints, [
    "sf.token",
    "sf.create",
    "sf.upload",
    "sf.close",
    "sf.job",
    "sf.results",
  ]);
  const faults: Fault[] = endpoints.map((endpoint) => ({
    endpoint,
    kind: "status",
    status: 503,
    retryAfter: "3",
  }));
  await withSf({ faults }, async (sb) => {
    const token = await tokenRequest(sb, CLIENT);
    assert.equal(token.status, 503);
    assert.equal(token.body.error, "server_error");
    const auth = await bearer(sb);
    const steps: (() => Promise<Answer>)[] = [];
    let id = "";
    steps.push(() => createJob(sb, auth, { object: "Opportunity", operation: "insert" }));
    steps.push(() => upload(sb, auth, id, `${HEADER}\n${rows(1)}\n`));
    steps.push(() => setState(sb, auth, id, "UploadComplete"));
    steps.push(() => call(sb, `${API}/${id}`, { headers: auth }));
    for (const step of steps) {
      const refused = await step();
      assert.equal(refused.status, 503);
      assert.equal(refused.headers.get("retry-after"), "3");
      assert.deepEqual(refused.body, [{
        errorCode: "SERVER_UNAVAILABLE",
        message: "Service Unavailable",
      }]);
      const real = await step();
      assert.ok(real.status < 300, real.text);
      id ||= real.body.id;
    }
    await waitForJob(sb, auth, id);
    const refused = await call(sb, `${API}/${id}/successfulResults/`, { headers: auth });
    assert.equal(refused.status, 503);
    assert.equal((await results(sb, auth, id, "successfulResults")).length, 1);
    assert.deepEqual(sb.faultLog.map((e) => e.endpoint), endpoints);
  });
});

Deno.test("status_after on close processes it; a retried close then meets INVALIDJOBSTATE", async () => {
  await withSf(
    { faults: [{ endpoint: "sf.close", kind: "status_after", status: 500 }] },
    async (sb) => {
      const auth = await bearer(sb);
      const job = await createJob(sb, auth, { object: "Opportunity", operation: "insert" });
      await upload(sb, auth, job.body.id, `${HEADER}\n${rows(1)}\n`);
      const first = await setState(sb, auth, job.body.id, "UploadComplete");
      assert.equal(first.status, 500);
      assert.equal(first.body[0].errorCode, "UNKNOWN_EXCEPTION");
      const again = await setState(sb, auth, job.body.id, "UploadComplete");
      assert.equal(again.status, 409);
      assert.equal((await waitForJob(sb, auth, job.body.id)).state, "JobComplete");
    },
  );
});

Deno.test("too_many_requests, reset_before, reset_after and malformed_json act on sf endpoints", async () => {
  await withSf({
    faults: [
      { endpoint: "sf.create", kind: "too_many_requests", retryAfter: "5" },
      { endpoint: "sf.create", kind: "reset_after", after: 1 },
      { endpoint: "sf.job", kind: "malformed_json" },
      { endpoint: "sf.results", kind: "reset_before" },
    ],
  }, async (sb) => {
    const auth = await bearer(sb);
    const body = { object: "Opportunity", operation: "insert" };
    const limited = await createJob(sb, auth, body);
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get("retry-after"), "5");
    assert.equal(limited.body[0].errorCode, "REQUEST_LIMIT_EXCEEDED");
    assert.equal(sb.salesforce.jobs().length, 0);
    const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
    try {
      await assert.rejects(
        fetch(`${sb.url}${API}`, {
          method: "POST",
          headers: { ...auth, "content-type": "application/json" },
          body: JSON.stringify(body),
          client,
        }),
      );
      assert.equal(sb.salesforce.jobs().length, 1, "processed, though the client never knew");
      const id = sb.salesforce.jobs()[0]!.id;
      const cut = await call(sb, `${API}/${id}`, { headers: auth });
      assert.equal(cut.status, 200);
      assert.equal(cut.body, undefined, "not JSON");
      assert.ok(cut.text.startsWith('{"id":"750'));
      await upload(sb, auth, id, `${HEADER}\n${rows(1)}\n`);
      await setState(sb, auth, id, "UploadComplete");
      await waitForJob(sb, auth, id);
      await assert.rejects(fetch(`${sb.url}${API}/${id}/successfulResults/`, {
        headers: auth,
        client,
      }));
    } finally {
      client.close();
    }
  });
});

Deno.test("latency, stuck, job_failed and result_missing_rows work on sf endpoints", async () => {
  await withSf({
    faults: [
      { endpoint: "sf.job", kind: "latency", ms: 20 },
      { endpoint: "sf.job", kind: "stuck" },
      { endpoint: "sf.job", kind: "job_failed", after: 1 },
      { endpoint: "sf.results", kind: "result_missing_rows", rows: 1 },
    ],
  }, async (sb) => {
    const auth = await bearer(sb);
    const send = async () => {
      const job = await createJob(sb, auth, { object: "Opportunity", operation: "insert" });
      await upload(sb, auth, job.body.id, `${HEADER}\n${rows(2)}\n`);
      await setState(sb, auth, job.body.id, "UploadComplete");
      return job.body.id as string;
    };
    const stuck = await send();
    await new Promise((r) => setTimeout(r, 60));
    assert.equal((await call(sb, `${API}/${stuck}`, { headers: auth })).body.state, "InProgress");
    const failed = await waitForJob(sb, auth, await send());
    assert.equal(failed.state, "Failed");
    assert.equal(failed.errorMessage, DEFAULT_JOB_FAILURE);
    assert.equal((await results(sb, auth, failed.id, "unprocessedrecords")).length, 2);
    const third = await waitForJob(sb, auth, await send());
    assert.equal(third.numberRecordsProcessed, 2);
    assert.equal((await results(sb, auth, third.id, "successfulResults")).length, 1);
    assert.equal(sb.salesforce.records("Opportunity").length, 2);
    assert.ok(sb.faultLog.some((e) => e.kind === "latency"));
  });
});

// ---- helpers -------------------------------------------------------------------------------

Deno.test("readJobCsv keeps quoted delimiters, quotes and newlines, and flags the other line ending", () => {
  const csv = readJobCsv('a,b\n"x,1","say ""hi""\nthere"\n', ",", "LF");
  assert.deepEqual(csv.rows, [["x,1", 'say "hi"\nthere']]);
  assert.equal(csv.lineEndingOk, true);
  assert.equal(readJobCsv("a\r\nb\r\n", ",", "LF").lineEndingOk, false);
  assert.equal(readJobCsv("a\nb\n", ",", "CRLF").lineEndingOk, false);
  assert.equal(readJobCsv('a\r\n"b\nc"\r\n', ",", "CRLF").lineEndingOk, true);
});

Deno.test("shuffle is repeatable with a seed and never keeps the given order", () => {
  const items = [1, 2, 3, 4, 5];
  assert.deepEqual(shuffle(items, seededRandom(3)), shuffle(items, seededRandom(3)));
  for (let seed = 0; seed < 50; seed++) {
    assert.notDeepEqual(shuffle([1, 2], seededRandom(seed)), [1, 2]);
  }
});
