/**
 * WorkSpan through its description (apis/workspan.yaml, `api: workspan-described`): the core
 * scenarios of workspan_e2e_test.ts, the real CLI against the WorkSpan sandbox. The built-in
 * `workspan` target stays the default (docs/api-descriptions.md says why).
 */
import assert from "node:assert/strict";
import {
  assertIdentities,
  opportunitiesCsv,
  ROOT,
  runCli,
  type Summary,
  tempDir,
  withSandbox,
} from "./_harness.ts";

const TOKEN = "tok-described-very-secret-456";
const STAGES = [
  "Prospecting",
  "Qualification",
  "Proposal",
  "Negotiation",
  "Closed Won",
  "Closed Lost",
];

/** The example pipeline, pointed at the description instead of the built-in target. */
async function describedExample(dir: string): Promise<string> {
  const yaml = (await Deno.readTextFile(`${ROOT}/examples/workspan-opportunities.yaml`))
    .replace("api: workspan", "api: workspan-described")
    .replace(/ {2}content_type: json\n/, "")
    .replace(/ {2}auth:\n {4}type: bearer\n {4}token: (\$\{WORKSPAN_TOKEN\})\n/, "  token: $1\n")
    .replace("path: data/opportunities.csv", `path: ${ROOT}/examples/data/opportunities.csv`)
    .replace("interval: 2s", "interval: 50ms");
  assert.match(yaml, /api: workspan-described\n[\s\S]* {2}token: \$\{WORKSPAN_TOKEN\}\n/);
  await Deno.writeTextFile(`${dir}/p.yaml`, yaml);
  return `${dir}/p.yaml`;
}

/** A small described-WorkSpan pipeline over `data.csv` (harness opportunities). */
function pipeline(o: { batchSize?: number; auth?: string }): string {
  return `version: 1
name: ws-described
source: { path: data.csv }
target:
  api: workspan-described
  base_url: \${WORKSPAN_BASE_URL}
  integration_id: WS-Integration_test
  batch_size: ${o.batchSize ?? 5000}
${o.auth ?? "  token: ${WORKSPAN_TOKEN}"}
key: opportunity_id
mappings:
  opportunity_id: { from: "Opportunity ID", required: true }
  close_date: { from: "Close Date", type: date, format: "dd-MMM-yyyy" }
  amount: { from: Amount, type: number }
  stage: Stage
polling: { interval: 30ms, backoff: 1.5, max_interval: 200ms, timeout: 20s }
limits: { max_error_rate: 0.2 }
`;
}

Deno.test("workspan-described loads the example and joins remote and local failures to lines", async () => {
  await withSandbox({
    workspan: {
      token: TOKEN,
      processingMs: 100,
      fields: { close_date: "date", amount: "number", stage: { oneOf: STAGES } },
    },
  }, async (sandbox) => {
    const dir = await tempDir({});
    const file = await describedExample(dir);
    const env = { WORKSPAN_BASE_URL: sandbox.url, WORKSPAN_TOKEN: TOKEN };
    const r = await runCli(["run", "--json", file], env, { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    const s = r.summaries[0] as Summary;
    assert.equal(s.target, "workspan-described");
    assert.equal(s.status, "completed_with_errors");
    assertIdentities(s);
    assert.deepEqual(
      [s.counts.read, s.counts.rejected, s.counts.sent, s.counts.succeeded, s.counts.failed],
      [200, 1, 199, 197, 2],
    );
    assert.deepEqual(
      s.errors.map((e) => [e.source_line, e.key ?? "", e.field, e.stage]),
      [[81, "aw00079", "stage", "remote"], [84, "aw00082", "stage", "remote"], [
        122,
        "",
        "opportunity_id",
        "local",
      ]],
    );
    assert.equal(s.errors[0]!.message, "invalid value in field 'stage'");
    const keys = Array.from({ length: 200 }, (_, i) => `aw${String(i).padStart(5, "0")}`)
      .filter((k) => !["aw00120", "aw00079", "aw00082"].includes(k));
    for (const k of keys) assert.equal(sandbox.workspan.loadCount(k), 1, `key ${k} loaded once`);
    assert.equal(sandbox.workspan.loadCount("aw00079"), 0);
    assert.equal(sandbox.workspan.executions().length, 1);
    const row = sandbox.workspan.records().find((x) => x.key === "aw00000")!.row;
    assert.equal(row.close_date, "2023-03-11");
    assert.equal(row.amount, 338000);
    assert.ok(!r.stdout.includes(TOKEN) && !r.stderr.includes(TOKEN), "the token is never printed");
  });
});

Deno.test("workspan-described sends several batches and joins each batch's errors to lines", async () => {
  await withSandbox({ workspan: { token: TOKEN, processingMs: 30 } }, async (sandbox) => {
    const csv = opportunitiesCsv(120, (i, row) => {
      if (i === 17) row[0] = ""; // local: no key
      if (i === 45) row[2] = "12,5"; // remote: not a number
      if (i === 101) row[1] = "31-Feb-2024"; // local: no such date
    });
    const dir = await tempDir({ "data.csv": csv, "p.yaml": pipeline({ batchSize: 40 }) });
    // The amount of row 45 must reach WorkSpan as text to be refused there.
    await Deno.writeTextFile(
      `${dir}/p.yaml`,
      (await Deno.readTextFile(`${dir}/p.yaml`)).replace(
        "{ from: Amount, type: number }",
        "Amount",
      ),
    );
    const env = { WORKSPAN_BASE_URL: sandbox.url, WORKSPAN_TOKEN: TOKEN };
    const r = await runCli(["run", "--json", `${dir}/p.yaml`], env, { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    const s = r.summaries[0] as Summary;
    assertIdentities(s);
    assert.equal(s.batches.length, 3);
    assert.deepEqual(s.batches.map((b) => b.rows), [40, 40, 38]);
    assert.deepEqual(
      [s.counts.read, s.counts.rejected, s.counts.succeeded, s.counts.failed],
      [120, 2, 117, 1],
    );
    const remote = s.errors.filter((e) => e.stage === "remote");
    assert.deepEqual(remote.map((e) => [e.source_line, e.key, e.field]), [
      [47, "op000045", "amount"],
    ]);
    assert.equal(sandbox.workspan.executions().length, 3);
    assert.equal(sandbox.workspan.loadCount("op000045"), 0);
    assert.equal(sandbox.workspan.loadCount("op000044"), 1);
  });
});

Deno.test("workspan-described gets a token with client credentials and never prints the secret", async () => {
  await withSandbox({ workspan: { processingMs: 10 } }, async (sandbox) => {
    const dir = await tempDir({
      "data.csv": opportunitiesCsv(3),
      "p.yaml": pipeline({ auth: "  client_id: ${WS_ID}\n  client_secret: ${WS_SECRET}" }),
    });
    const r = await runCli(["run", "--json", `${dir}/p.yaml`], {
      WORKSPAN_BASE_URL: sandbox.url,
      WS_ID: "sandbox-client",
      WS_SECRET: "sandbox-secret",
    }, { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((r.summaries[0] as Summary).counts.succeeded, 3);
    assert.ok(sandbox.workspan.requests.some((q) => q.path === "/oauth/token" && q.status === 200));
    assert.ok(!r.stdout.includes("sandbox-secret") && !r.stderr.includes("sandbox-secret"));
    const journal = await Deno.readTextFile(`${dir}/.state/ws-described.journal.jsonl`);
    assert.ok(!journal.includes("sandbox-secret"), "the journal never holds the secret");
  });
});

Deno.test("workspan-described exits 3 on a refused token and sends no rows", async () => {
  await withSandbox({ workspan: { token: TOKEN, processingMs: 10 } }, async (sandbox) => {
    const dir = await tempDir({ "data.csv": opportunitiesCsv(3), "p.yaml": pipeline({}) });
    const r = await runCli(["run", "--json", `${dir}/p.yaml`], {
      WORKSPAN_BASE_URL: sandbox.url,
      WORKSPAN_TOKEN: "wrong-token-789",
    }, { cwd: dir });
    assert.equal(r.code, 3, r.stderr);
    assert.equal(sandbox.workspan.executions().length, 0);
    assert.ok(!r.stdout.includes("wrong-token-789") && !r.stderr.includes("wrong-token-789"));
  });
});
