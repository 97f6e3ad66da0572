import assert from "node:assert/strict";
import { type Sandbox, type SandboxOptions, startSandbox } from "./server.ts";
import fc from "fast-check";
import { isCalendarDate, type WorkspanSandboxOptions } from "./workspan.ts";

const INTEGRATION = "WS-Integration_agpzfndzLW";
const AUTH = { authorization: "Bearer sandbox-token" };

/** Runs `fn` against a sandbox on a free port and always closes it. */
async function withSandbox(
  workspan: WorkspanSandboxOptions,
  fn: (sb: Sandbox) => Promise<void>,
  extra: Omit<SandboxOptions, "workspan"> = {},
): Promise<void> {
  const sb = await startSandbox({ port: 0, workspan: { processingMs: 50, ...workspan }, ...extra });
  try {
    await fn(sb);
  } finally {
    await sb.close();
  }
}

/** A clock the test moves by hand. */
function manualClock(start = Date.parse("2020-05-07T14:06:57.572Z")) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

interface Answer {
  status: number;
  // deno-lint-ignore no-explicit-any
  body: any;
  headers: Headers;
}

async function call(
  sb: Sandbox,
  method: string,
  pathAndQuery: string,
  init: { headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  const res = await fetch(`${sb.url}${pathAndQuery}`, { method, ...init });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch { /* not JSON: keep the text */ }
  return { status: res.status, body, headers: res.headers };
}

function loadJson(sb: Sandbox, rows: unknown, query = "", headers: Record<string, string> = AUTH) {
  return call(sb, "POST", `/bulk/v1/bulkload_opportunity?integration_id=${INTEGRATION}${query}`, {
    headers: { "content-type": "application/json", ...headers },
    body: typeof rows === "string" ? rows : JSON.stringify(rows),
  });
}

function loadCsv(sb: Sandbox, csv: string, query = "&content_type=CSV") {
  return call(sb, "POST", `/bulk/v1/bulkload_opportunity?integration_id=${INTEGRATION}${query}`, {
    headers: { "content-type": "text/csv", ...AUTH },
    body: csv,
  });
}

function getStatus(sb: Sandbox, executionId: string, query = "", integration = INTEGRATION) {
  return call(
    sb,
    "GET",
    `/bulk/v1/status/${integration}?execution_id=${executionId}${query}`,
    { headers: AUTH },
  );
}

/** Polls until the execution is completed (processingMs is 50 in these tests). */
async function waitCompleted(sb: Sandbox, executionId: string, query = ""): Promise<Answer> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const answer = await getStatus(sb, executionId, query);
    assert.equal(answer.status, 200);
    if (answer.body.status === "completed") return answer;
    if (Date.now() > deadline) throw new Error(`execution ${executionId} never completed`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const SEED_ERRORS = [
  {
    id: "aw00079",
    message: "invalid value in field 'close_date'",
    data_row: { opportunity_id: "aw00079", close_date: "20-jan-2020", amount: 250000 },
  },
  {
    id: "aw00082",
    message: "invalid value in field 'amount'",
    data_row: { opportunity_id: "aw00082", close_date: "2021-01-20", amount: "-" },
  },
  {
    id: "",
    message: "Missing value of key field",
    data_row: { opportunity_id: "", close_date: "2020-10-20", amount: 75000 },
  },
];

/** 200 rows: 197 good ones with the seed's three bad rows spread among them. */
function seedRows(): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  for (let i = 0; i < 197; i++) {
    rows.push({ opportunity_id: `op${i}`, close_date: "2020-01-20", amount: 1000 + i });
  }
  rows.splice(10, 0, SEED_ERRORS[0]!.data_row);
  rows.splice(100, 0, SEED_ERRORS[1]!.data_row);
  rows.splice(150, 0, SEED_ERRORS[2]!.data_row);
  return rows;
}

Deno.test("bulkload_opportunity answers a JSON array with the integration, an 11-hex execution_id and created_at", async () => {
  await withSandbox({}, async (sb) => {
    const before = Date.now();
    const answer = await loadJson(sb, [{ opportunity_id: "aw1", amount: 5 }]);
    assert.equal(answer.status, 200);
    assert.deepEqual(Object.keys(answer.body), ["integration_id", "execution_id", "created_at"]);
    assert.equal(answer.body.integration_id, INTEGRATION);
    assert.match(answer.body.execution_id, /^[0-9a-f]{11}$/);
    const created = Date.parse(answer.body.created_at);
    assert.equal(new Date(created).toISOString(), answer.body.created_at);
    assert.ok(created >= before - 1000 && created <= Date.now() + 1000);
  });
});

Deno.test("status reproduces the seed example: 200 rows with 3 bad ones give 197 successes and the three errors", async () => {
  await withSandbox({}, async (sb) => {
    const load = await loadJson(sb, seedRows());
    assert.equal(load.status, 200);
    const id = load.body.execution_id;
    const { body } = await waitCompleted(sb, id, "&include_errors=true");
    assert.equal(body.integration_id, INTEGRATION);
    assert.equal(body.execution_id, id);
    assert.equal(body.status, "completed");
    assert.equal(body.input_count, 200);
    assert.equal(body.success_count, 197);
    assert.equal(body.error_count, 3);
    assert.equal(body.skip_count, 0);
    assert.equal(body.include_errors, true);
    assert.equal(body.max_errors, 10);
    assert.deepEqual(body.errors, SEED_ERRORS);
    assert.equal(Date.parse(body.completed_at) - Date.parse(body.started_at), 50);
  });
});

Deno.test("status is running until processingMs have passed, then completed, with counts only once completed", async () => {
  const clock = manualClock();
  await withSandbox({ processingMs: 1000, now: clock.now }, async (sb) => {
    const id = (await loadJson(sb, [{ opportunity_id: "a", close_date: "2020-01-01" }])).body
      .execution_id;
    clock.advance(999);
    const running = await getStatus(sb, id, "&include_errors=true");
    assert.equal(running.status, 200);
    assert.deepEqual(running.body, {
      integration_id: INTEGRATION,
      execution_id: id,
      status: "running",
      input_count: 1,
      started_at: "2020-05-07T14:06:57.572Z",
      include_errors: true,
      max_errors: 10,
    });
    assert.equal(sb.workspan.loadCount("a"), 0);
    clock.advance(1);
    const done = await getStatus(sb, id);
    assert.equal(done.body.status, "completed");
    assert.equal(done.body.success_count, 1);
    assert.equal(done.body.completed_at, "2020-05-07T14:06:58.572Z");
    assert.equal(sb.workspan.loadCount("a"), 1);
  });
});

Deno.test("max_errors caps the errors returned while error_count stays the true total", async () => {
  await withSandbox({}, async (sb) => {
    const rows = Array.from({ length: 12 }, (_, i) => ({ opportunity_id: `b${i}`, amount: "x" }));
    const id = (await loadJson(sb, rows)).body.execution_id;
    const two = await waitCompleted(sb, id, "&include_errors=true&max_errors=2");
    assert.equal(two.body.error_count, 12);
    assert.equal(two.body.max_errors, 2);
    assert.deepEqual(two.body.errors.map((e: { id: string }) => e.id), ["b0", "b1"]);
    const dflt = await getStatus(sb, id, "&include_errors=TRUE");
    assert.equal(dflt.body.errors.length, 10);
    const zero = await getStatus(sb, id, "&include_errors=true&max_errors=0");
    assert.deepEqual(zero.body.errors, []);
  });
});

Deno.test("status leaves errors out unless include_errors=true", async () => {
  await withSandbox({}, async (sb) => {
    const id = (await loadJson(sb, [{ opportunity_id: "" }])).body.execution_id;
    const absent = await waitCompleted(sb, id);
    assert.equal(absent.body.error_count, 1);
    assert.equal(absent.body.include_errors, false);
    assert.equal("errors" in absent.body, false);
    const off = await getStatus(sb, id, "&include_errors=false&max_errors=5");
    assert.equal("errors" in off.body, false);
    assert.equal(off.body.max_errors, 5);
  });
});

Deno.test("maxErrorsDefault changes the cap used when max_errors is not given", async () => {
  await withSandbox({ maxErrorsDefault: 1 }, async (sb) => {
    const id = (await loadJson(sb, [{ opportunity_id: "" }, { opportunity_id: " " }])).body
      .execution_id;
    const { body } = await waitCompleted(sb, id, "&include_errors=true");
    assert.equal(body.max_errors, 1);
    assert.equal(body.errors.length, 1);
    assert.equal(body.error_count, 2);
  });
});

Deno.test("a CSV body with quotes, escaped quotes, delimiters, line breaks in fields and CRLF is read cell by cell", async () => {
  await withSandbox({}, async (sb) => {
    const csv = "\uFEFFopportunity_id,name,amount\r\n" +
      'q1,"Acme, Inc.",100\r\n' +
      'q2,"He said ""hi""",200\r\n' +
      "\r\n" +
      'q3,"two\r\nlines",""\r\n';
    const load = await loadCsv(sb, csv);
    assert.equal(load.status, 200);
    const { body } = await waitCompleted(sb, load.body.execution_id);
    assert.equal(body.input_count, 3);
    assert.equal(body.success_count, 3);
    const rows = Object.fromEntries(sb.workspan.records().map((r) => [r.key, r.row]));
    assert.deepEqual(rows, {
      q1: { opportunity_id: "q1", name: "Acme, Inc.", amount: "100" },
      q2: { opportunity_id: "q2", name: 'He said "hi"', amount: "200" },
      q3: { opportunity_id: "q3", name: "two\r\nlines", amount: "" },
    });
  });
});

Deno.test("CSV rows with the seed's bad values fail with the seed's messages and strings as data_row", async () => {
  await withSandbox({}, async (sb) => {
    const csv = "opportunity_id,close_date,amount\n" +
      "aw00079,20-jan-2020,250000\naw00082,2021-01-20,-\n,2020-10-20,75000\nok1,2021-02-28,1.5e3\n";
    const id = (await loadCsv(sb, csv)).body.execution_id;
    const { body } = await waitCompleted(sb, id, "&include_errors=true");
    assert.equal(body.success_count, 1);
    assert.deepEqual(body.errors, [
      {
        id: "aw00079",
        message: "invalid value in field 'close_date'",
        data_row: { opportunity_id: "aw00079", close_date: "20-jan-2020", amount: "250000" },
      },
      {
        id: "aw00082",
        message: "invalid value in field 'amount'",
        data_row: { opportunity_id: "aw00082", close_date: "2021-01-20", amount: "-" },
      },
      {
        id: "",
        message: "Missing value of key field",
        data_row: { opportunity_id: "", close_date: "2020-10-20", amount: "75000" },
      },
    ]);
  });
});

Deno.test("column_delimiter reads a semicolon-separated body", async () => {
  await withSandbox({}, async (sb) => {
    const load = await loadCsv(
      sb,
      "opportunity_id;amount\ns1;1,5\n",
      "&content_type=csv&column_delimiter=%3B",
    );
    assert.equal(load.status, 200);
    await waitCompleted(sb, load.body.execution_id);
    // "1,5" is one cell (so the row has two fields) but not a number the API accepts.
    assert.equal(sb.workspan.executions()[0]!.errorCount, 1);
    assert.equal(sb.workspan.loadCount("s1"), 0);
  });
});

Deno.test("content_type defaults to the Content-Type header and the query parameter overrides it", async () => {
  await withSandbox({}, async (sb) => {
    const csv = "opportunity_id\nh1\n";
    assert.equal((await loadCsv(sb, csv, "")).status, 200); // text/csv header only
    // The seed's curl sample: content_type=CSV with an application/json header.
    const seedStyle = await call(
      sb,
      "POST",
      `/bulk/v1/bulkload_opportunity?integration_id=${INTEGRATION}&content_type=CSV&column_delimiter=,&has_header_row=true`,
      { headers: { "content-type": "application/json", ...AUTH }, body: "opportunity_id\nh2\n" },
    );
    assert.equal(seedStyle.status, 200);
    const noHeader = await call(
      sb,
      "POST",
      `/bulk/v1/bulkload_opportunity?integration_id=${INTEGRATION}`,
      { headers: AUTH, body: '[{"opportunity_id":"h3"}]' },
    );
    assert.equal(noHeader.status, 200);
    assert.deepEqual(sb.workspan.executions().map((e) => e.contentType), ["CSV", "CSV", "JSON"]);
  });
});

Deno.test("bulkload_opportunity rejects unreadable bodies with 400 invalid input", async () => {
  await withSandbox({}, async (sb) => {
    const cases: [string, Promise<Answer>][] = [
      ["not JSON", loadJson(sb, "{oops")],
      ["empty body", loadJson(sb, "")],
      ["an object, not an array", loadJson(sb, { opportunity_id: "x" })],
      ["an empty array", loadJson(sb, [])],
      ["an array of scalars", loadJson(sb, [1, 2])],
      ["a nested object", loadJson(sb, [{ opportunity_id: "x", owner: { name: "a" } }])],
      ["a nested array", loadJson(sb, [{ opportunity_id: "x", tags: ["a"] }])],
      ["an unclosed quote", loadCsv(sb, 'opportunity_id,name\nx,"open\n')],
      ["a quote inside a bare field", loadCsv(sb, 'opportunity_id,name\nx,ab"c\n')],
      ["text after a closing quote", loadCsv(sb, 'opportunity_id,name\nx,"ab"c\n')],
      ["a ragged row", loadCsv(sb, "opportunity_id,name\nx,a,b\n")],
      ["a header only", loadCsv(sb, "opportunity_id,name\n")],
      ["a repeated column", loadCsv(sb, "opportunity_id,opportunity_id\nx,y\n")],
      ["has_header_row=false", loadCsv(sb, "x,y\n", "&content_type=CSV&has_header_row=false")],
      ["has_header_row=maybe", loadCsv(sb, "a\nx\n", "&content_type=CSV&has_header_row=maybe")],
      ["a two-character delimiter", loadCsv(sb, "a\nx\n", "&content_type=CSV&column_delimiter=ab")],
      ["content_type=XML", loadJson(sb, [{ opportunity_id: "x" }], "&content_type=XML")],
      [
        "a missing integration_id",
        call(sb, "POST", "/bulk/v1/bulkload_opportunity", { headers: AUTH, body: "[]" }),
      ],
    ];
    for (const [label, pending] of cases) {
      const answer = await pending;
      assert.equal(answer.status, 400, label);
      assert.equal(answer.body.message, "invalid input, object invalid", label);
      assert.equal(typeof answer.body.detail, "string", label);
    }
    assert.equal(sb.workspan.executions().length, 0);
  });
});

Deno.test("a CSV error's detail names the line, counting CRLF as one line break", async () => {
  await withSandbox({}, async (sb) => {
    const answer = await loadCsv(sb, 'opportunity_id,name\r\nx,"ok"\r\ny,ab"c\r\n');
    assert.equal(answer.status, 400);
    assert.match(answer.body.detail, /^CSV line 3: quote inside an unquoted field$/);
  });
});

Deno.test("both endpoints answer 401 Authorization Error without the right bearer token", async () => {
  await withSandbox({}, async (sb) => {
    const id = (await loadJson(sb, [{ opportunity_id: "x" }])).body.execution_id;
    const bad: Record<string, string>[] = [
      {},
      { authorization: "Bearer wrong" },
      { authorization: "Basic c2FuZGJveC10b2tlbg==" },
      { authorization: "sandbox-token" },
    ];
    for (const headers of bad) {
      const load = await loadJson(sb, [{ opportunity_id: "x" }], "", headers);
      assert.equal(load.status, 401, JSON.stringify(headers));
      assert.deepEqual(load.body, { message: "Authorization Error" });
      const status = await call(
        sb,
        "GET",
        `/bulk/v1/status/${INTEGRATION}?execution_id=${id}`,
        { headers },
      );
      assert.equal(status.status, 401, JSON.stringify(headers));
      assert.deepEqual(status.body, { message: "Authorization Error" });
    }
    assert.equal(
      (await loadJson(sb, [{ opportunity_id: "x" }], "", {
        authorization: "bearer sandbox-token",
      })).status,
      200,
    );
    assert.equal(sb.workspan.executions().length, 2);
  });
});

Deno.test("the token option replaces the static bearer token", async () => {
  await withSandbox({ token: "s3cret" }, async (sb) => {
    assert.equal((await loadJson(sb, [{ opportunity_id: "x" }])).status, 401);
    const ok = await loadJson(sb, [{ opportunity_id: "x" }], "", {
      authorization: "Bearer s3cret",
    });
    assert.equal(ok.status, 200);
  });
});

Deno.test("bulkload_opportunity answers 404 for an integration id that is not configured", async () => {
  await withSandbox({}, async (sb) => {
    const notPrefixed = await call(sb, "POST", "/bulk/v1/bulkload_opportunity?integration_id=abc", {
      headers: AUTH,
      body: '[{"opportunity_id":"x"}]',
    });
    assert.equal(notPrefixed.status, 404);
    // The seed's curl sample glues "?content_type=CSV" onto the id.
    const stray = await call(
      sb,
      "POST",
      `/bulk/v1/bulkload_opportunity?integration_id=${INTEGRATION}?content_type=CSV&has_header_row=true`,
      { headers: AUTH, body: "opportunity_id\nx\n" },
    );
    assert.equal(stray.status, 404);
    assert.equal(stray.body.message, "integration_id not found");
  });
  await withSandbox({ integrations: ["only-this-one"] }, async (sb) => {
    const other = await loadJson(sb, [{ opportunity_id: "x" }]);
    assert.equal(other.status, 404);
    const listed = await call(
      sb,
      "POST",
      "/bulk/v1/bulkload_opportunity?integration_id=only-this-one",
      { headers: AUTH, body: '[{"opportunity_id":"x"}]' },
    );
    assert.equal(listed.status, 200);
  });
});

Deno.test("status answers 400 invalid execution_id for a missing or malformed id", async () => {
  await withSandbox({}, async (sb) => {
    for (const query of ["", "?execution_id=", "?execution_id=xyz", "?execution_id=a64690c24501"]) {
      const answer = await call(sb, "GET", `/bulk/v1/status/${INTEGRATION}${query}`, {
        headers: AUTH,
      });
      assert.equal(answer.status, 400, query);
      assert.deepEqual(answer.body, { message: "invalid execution_id" }, query);
    }
    const badFlag = await getStatus(sb, "a64690c2450", "&include_errors=yes");
    assert.equal(badFlag.status, 400);
    const badMax = await getStatus(sb, "a64690c2450", "&max_errors=-1");
    assert.equal(badMax.status, 400);
  });
});

Deno.test("status answers 404 for an unknown execution or one of another integration", async () => {
  await withSandbox({}, async (sb) => {
    const id = (await loadJson(sb, [{ opportunity_id: "x" }])).body.execution_id;
    const unknown = await getStatus(sb, id === "a64690c2450" ? "a64690c2451" : "a64690c2450");
    assert.equal(unknown.status, 404);
    assert.deepEqual(unknown.body, { message: "integration_id or execution_id not found" });
    const elsewhere = await getStatus(sb, id, "", "WS-Integration_other");
    assert.equal(elsewhere.status, 404);
    assert.equal((await getStatus(sb, id)).status, 200);
  });
});

function tokenRequest(sb: Sandbox, form: Record<string, string>, headers = {}) {
  return call(sb, "POST", "/oauth/token", {
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams(form).toString(),
  });
}

const CLIENT = {
  grant_type: "client_credentials",
  client_id: "sandbox-client",
  client_secret: "sandbox-secret",
};

Deno.test("a token from /oauth/token is accepted on both endpoints", async () => {
  await withSandbox({}, async (sb) => {
    const answer = await tokenRequest(sb, CLIENT);
    assert.equal(answer.status, 200);
    assert.equal(answer.body.token_type, "Bearer");
    assert.equal(answer.body.expires_in, 3600);
    assert.equal(typeof answer.body.access_token, "string");
    const headers = { authorization: `Bearer ${answer.body.access_token}` };
    const load = await loadJson(sb, [{ opportunity_id: "t1" }], "", headers);
    assert.equal(load.status, 200);
    const status = await call(
      sb,
      "GET",
      `/bulk/v1/status/${INTEGRATION}?execution_id=${load.body.execution_id}`,
      { headers },
    );
    assert.equal(status.status, 200);
    assert.deepEqual(sb.workspan.requests.map((r) => r.auth), ["none", "issued", "issued"]);
  });
});

Deno.test("/oauth/token accepts client credentials sent as HTTP Basic", async () => {
  await withSandbox({}, async (sb) => {
    const answer = await tokenRequest(sb, { grant_type: "client_credentials" }, {
      authorization: `Basic ${btoa("sandbox-client:sandbox-secret")}`,
    });
    assert.equal(answer.status, 200);
    assert.match(answer.body.access_token, /^ws-sandbox-/);
  });
});

Deno.test("/oauth/token rejects bad requests with invalid_request and wrong credentials with invalid_client", async () => {
  await withSandbox({}, async (sb) => {
    const missing = await tokenRequest(sb, { grant_type: "client_credentials" });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.error, "invalid_request");
    const json = await call(sb, "POST", "/oauth/token", {
      headers: { "content-type": "application/json" },
      body: JSON.stringify(CLIENT),
    });
    assert.equal(json.status, 400);
    assert.equal(json.body.error, "invalid_request");
    const grant = await tokenRequest(sb, { ...CLIENT, grant_type: "password" });
    assert.equal(grant.status, 400);
    assert.equal(grant.body.error, "unsupported_grant_type");
    const wrong = await tokenRequest(sb, { ...CLIENT, client_secret: "nope" });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.error, "invalid_client");
    const get = await call(sb, "GET", "/oauth/token");
    assert.equal(get.status, 405);
  });
});

Deno.test("an issued token stops working after tokenTtlMs", async () => {
  const clock = manualClock();
  await withSandbox({ tokenTtlMs: 60_000, now: clock.now, token: null }, async (sb) => {
    const { body } = await tokenRequest(sb, CLIENT);
    assert.equal(body.expires_in, 60);
    const headers = { authorization: `Bearer ${body.access_token}` };
    clock.advance(59_999);
    assert.equal((await loadJson(sb, [{ opportunity_id: "x" }], "", headers)).status, 200);
    clock.advance(1);
    const expired = await loadJson(sb, [{ opportunity_id: "x" }], "", headers);
    assert.equal(expired.status, 401);
    assert.equal(sb.workspan.requests.at(-1)!.auth, "expired");
  });
});

Deno.test("token: null accepts only issued tokens", async () => {
  await withSandbox({ token: null }, async (sb) => {
    assert.equal((await loadJson(sb, [{ opportunity_id: "x" }])).status, 401);
    const { body } = await tokenRequest(sb, CLIENT);
    const ok = await loadJson(sb, [{ opportunity_id: "x" }], "", {
      authorization: `Bearer ${body.access_token}`,
    });
    assert.equal(ok.status, 200);
  });
});

Deno.test("loadCount counts every successful load of a key and records keep the latest row", async () => {
  await withSandbox({}, async (sb) => {
    const first = await loadJson(sb, [
      { opportunity_id: "dup", amount: 1 },
      { opportunity_id: "once", amount: 2 },
      { opportunity_id: "bad", amount: "n/a" },
    ]);
    await waitCompleted(sb, first.body.execution_id);
    const second = await loadJson(sb, [{ opportunity_id: "dup", amount: 3 }]);
    await waitCompleted(sb, second.body.execution_id);
    assert.equal(sb.workspan.loadCount("dup"), 2);
    assert.equal(sb.workspan.loadCount("once"), 1);
    assert.equal(sb.workspan.loadCount("bad"), 0);
    assert.equal(sb.workspan.loadCount("never"), 0);
    const dup = sb.workspan.records().find((r) => r.key === "dup")!;
    assert.deepEqual(dup.row, { opportunity_id: "dup", amount: 3 });
    assert.equal(dup.executionId, second.body.execution_id);
  });
});

Deno.test("keyField and fields options change which values are checked", async () => {
  await withSandbox({
    keyField: "deal_ref",
    fields: { won: "boolean", signed_on: "date" },
  }, async (sb) => {
    const id = (await loadJson(sb, [
      { deal_ref: "d1", won: "TRUE", signed_on: "2024-02-29", amount: "-" },
      { deal_ref: "d2", won: "yes" },
      { deal_ref: "d3", signed_on: "2023-02-29" },
      { deal_ref: null, won: true },
      { opportunity_id: "o1" },
    ])).body.execution_id;
    const { body } = await waitCompleted(sb, id, "&include_errors=true");
    assert.deepEqual(
      body.errors.map((e: { id: string; message: string }) => [e.id, e.message]),
      [
        ["d2", "invalid value in field 'won'"],
        ["d3", "invalid value in field 'signed_on'"],
        ["", "Missing value of key field"],
        ["", "Missing value of key field"],
      ],
    );
    assert.equal(sb.workspan.loadCount("d1"), 1);
  });
});

Deno.test("the default checks accept numeric strings, blank values and unknown fields but not impossible dates", async () => {
  await withSandbox({}, async (sb) => {
    const id = (await loadJson(sb, [
      { opportunity_id: "v1", amount: "-12.50", close_date: "2024-02-29", stage: "won" },
      { opportunity_id: "v2", amount: "", close_date: null },
      { opportunity_id: 42, amount: 0 },
      { opportunity_id: "v4", amount: "1,000" },
      { opportunity_id: "v5", close_date: "2023-02-29" },
      { opportunity_id: "v6", close_date: "2023-2-28" },
      { opportunity_id: "v7", amount: true },
    ])).body.execution_id;
    const { body } = await waitCompleted(sb, id, "&include_errors=true");
    assert.deepEqual(body.errors.map((e: { id: string }) => e.id), ["v4", "v5", "v6", "v7"]);
    assert.equal(body.success_count, 3);
    assert.equal(sb.workspan.loadCount("42"), 1);
  });
});

Deno.test("dataRowAsString sends data_row as a JSON string", async () => {
  await withSandbox({ dataRowAsString: true }, async (sb) => {
    const row = { opportunity_id: "aw00082", close_date: "2021-01-20", amount: "-" };
    const id = (await loadJson(sb, [row])).body.execution_id;
    const { body } = await waitCompleted(sb, id, "&include_errors=true");
    assert.equal(typeof body.errors[0].data_row, "string");
    assert.deepEqual(JSON.parse(body.errors[0].data_row), row);
  });
});

Deno.test("statusAlwaysRunning keeps every execution running and loads nothing", async () => {
  const clock = manualClock();
  await withSandbox({ statusAlwaysRunning: true, now: clock.now }, async (sb) => {
    const id = (await loadJson(sb, [{ opportunity_id: "r" }])).body.execution_id;
    clock.advance(24 * 3600_000);
    const answer = await getStatus(sb, id);
    assert.equal(answer.body.status, "running");
    assert.equal("success_count" in answer.body, false);
    assert.equal(sb.workspan.loadCount("r"), 0);
  });
});

Deno.test("subscriptionKey makes the bulk endpoints require Ocp-Apim-Subscription-Key", async () => {
  await withSandbox({ subscriptionKey: "k1" }, async (sb) => {
    const missing = await loadJson(sb, [{ opportunity_id: "x" }]);
    assert.equal(missing.status, 401);
    assert.match(missing.body.message, /missing subscription key/);
    const wrong = await loadJson(sb, [{ opportunity_id: "x" }], "", {
      ...AUTH,
      "ocp-apim-subscription-key": "k2",
    });
    assert.match(wrong.body.message, /invalid subscription key/);
    const ok = await loadJson(sb, [{ opportunity_id: "x" }], "", {
      ...AUTH,
      "ocp-apim-subscription-key": "k1",
    });
    assert.equal(ok.status, 200);
  });
});

Deno.test("wrong methods get 405 and paths that are not WorkSpan's are left to the other simulators", async () => {
  await withSandbox({}, async (sb) => {
    const get = await call(
      sb,
      "GET",
      `/bulk/v1/bulkload_opportunity?integration_id=${INTEGRATION}`,
      {
        headers: AUTH,
      },
    );
    assert.equal(get.status, 405);
    assert.equal(get.headers.get("allow"), "POST");
    const post = await call(sb, "POST", `/bulk/v1/status/${INTEGRATION}?execution_id=a64690c2450`, {
      headers: AUTH,
    });
    assert.equal(post.status, 405);
    const url = new URL(`${sb.url}/bigin/bulk/v2/write`);
    assert.equal(await sb.workspan.handle(new Request(url), url, sb.url), undefined);
  });
});

Deno.test("state() is JSON-safe, served at /_sandbox/state, and the request log holds no credentials", async () => {
  const lines: string[] = [];
  await withSandbox({}, async (sb) => {
    const id = (await loadJson(sb, [{ opportunity_id: "s1", amount: 1 }])).body.execution_id;
    await waitCompleted(sb, id);
    await tokenRequest(sb, CLIENT);
    const served = await call(sb, "GET", "/_sandbox/state");
    const state = sb.workspan.state();
    assert.deepEqual(served.body.workspan, JSON.parse(JSON.stringify(state)));
    assert.equal(state.records.s1?.loads, 1);
    const [execution] = state.executions;
    assert.equal(execution?.executionId, id);
    assert.equal(execution?.status, "completed");
    assert.equal(execution?.rowsReceived, 1);
    assert.equal(execution?.successCount, 1);
    assert.equal(execution?.errorCount, 0);
    assert.deepEqual(sb.workspan.requests[0], {
      method: "POST",
      path: "/bulk/v1/bulkload_opportunity",
      query: `?integration_id=${INTEGRATION}`,
      status: 200,
      auth: "static",
    });
    const logged = JSON.stringify(state);
    assert.equal(logged.includes("sandbox-token"), false);
    assert.equal(logged.includes("sandbox-secret"), false);
  }, { log: (line) => lines.push(line) });
  assert.ok(
    lines.some((l) => l.startsWith("POST /bulk/v1/bulkload_opportunity?") && l.endsWith("200")),
  );
});

Deno.test("isCalendarDate agrees with Date (no roll-over) on every yyyy-MM-dd string", () => {
  const viaDate = (v: string) => {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v);
    if (!m) return false;
    const date = new Date(0);
    date.setUTCFullYear(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
    return date.toISOString().slice(0, 10) === v;
  };
  const pad = (n: number, w: number) => String(n).padStart(w, "0");
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 9999 }),
      fc.integer({ min: 0, max: 99 }),
      fc.integer({ min: 0, max: 99 }),
      (y, m, d) => {
        const v = `${pad(y, 4)}-${pad(m, 2)}-${pad(d, 2)}`;
        assert.equal(isCalendarDate(v), viaDate(v), v);
      },
    ),
    { numRuns: 20_000 },
  );
  for (
    const v of ["2024-02-29", "2023-02-29", "1900-02-29", "2000-02-29", "0000-02-29", "2024-2-01"]
  ) {
    assert.equal(isCalendarDate(v), viaDate(v), v);
  }
});
