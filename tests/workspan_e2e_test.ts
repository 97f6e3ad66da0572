/**
 * The runner end to end against the WorkSpan sandbox: the real CLI in a subprocess.
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
  workspanPipeline,
} from "./_harness.ts";
import type { Sandbox } from "../sandbox/server.ts";

const TOKEN = "tok-e2e-very-secret-123";

function envFor(sandbox: Sandbox, extra: Record<string, string> = {}) {
  return { WORKSPAN_BASE_URL: sandbox.url, WORKSPAN_TOKEN: TOKEN, ...extra };
}

function assertLoadedOnce(sandbox: Sandbox, keys: string[]) {
  for (const k of keys) assert.equal(sandbox.workspan.loadCount(k), 1, `key ${k} loaded once`);
}

Deno.test("run loads the example pipeline and reports local and remote failures by line", async () => {
  await withSandbox({
    workspan: {
      token: TOKEN,
      processingMs: 100,
      fields: {
        close_date: "date",
        amount: "number",
        stage: {
          oneOf: [
            "Prospecting",
            "Qualification",
            "Proposal",
            "Negotiation",
            "Closed Won",
            "Closed Lost",
          ],
        },
      },
    },
  }, async (sandbox) => {
    const dir = await tempDir({});
    const env = envFor(sandbox);
    // Copy the example so its outputs land in a temp folder.
    const yaml = (await Deno.readTextFile(`${ROOT}/examples/workspan-opportunities.yaml`))
      .replace("path: data/opportunities.csv", `path: ${ROOT}/examples/data/opportunities.csv`)
      .replace("interval: 2s", "interval: 50ms");
    await Deno.writeTextFile(`${dir}/p.yaml`, yaml);
    const r = await runCli(["run", `${dir}/p.yaml`], env, { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.summaries.length, 1);
    const s = r.summaries[0] as Summary;
    assert.equal(s.status, "completed_with_errors");
    assert.deepEqual(
      { ...s.counts },
      {
        read: 200,
        rejected: 1,
        sent: 199,
        succeeded: 197,
        failed: 2,
        skipped: 0,
        pending: 0,
        unknown: 0,
        unsent: 0,
      },
    );
    assertIdentities(s);
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
    assert.equal(s.errors[2]!.message, "Missing value of key field 'opportunity_id'");
    // What the sandbox received: every valid row once, the rejected row never.
    const keys = Array.from({ length: 200 }, (_, i) => `aw${String(i).padStart(5, "0")}`)
      .filter((k) => k !== "aw00120" && k !== "aw00079" && k !== "aw00082");
    assertLoadedOnce(sandbox, keys);
    assert.equal(sandbox.workspan.loadCount("aw00079"), 0);
    assert.equal(sandbox.workspan.executions().length, 1);
    const row = sandbox.workspan.records().find((x) => x.key === "aw00000")!.row;
    assert.deepEqual(row, {
      opportunity_id: "aw00000",
      opportunity_name: "Opportunity 0",
      close_date: "2023-03-11",
      amount: 338000,
      stage: "Prospecting",
      account: "Globex",
      owner_email: "li@example.com",
      source_system: "crm",
    });
    // The summary file equals stdout's; the rejects file has all three rows with lines.
    const file = JSON.parse(
      await Deno.readTextFile(`${dir}/out/workspan-opportunities.summary.json`),
    );
    assert.deepEqual(file.counts, s.counts);
    const rejects = (await Deno.readTextFile(`${dir}/out/workspan-opportunities.rejects.csv`))
      .trim()
      .split(/\r?\n/);
    assert.equal(
      rejects[0],
      "Opportunity ID,Name,Close Date,Amount,Stage,Account,Owner,source_line,key,error",
    );
    assert.equal(rejects.length, 4);
    assert.ok(
      rejects.some((l) =>
        l.startsWith("aw00079,") && l.includes(",81,aw00079,invalid value in field 'stage'")
      ),
    );
    assert.ok(!r.stdout.includes(TOKEN) && !r.stderr.includes(TOKEN), "the token is never printed");
  });
});

Deno.test("run sends CSV on the wire in several batches and joins remote errors to lines", async () => {
  await withSandbox({ workspan: { token: TOKEN, processingMs: 30 } }, async (sandbox) => {
    const yaml = (await Deno.readTextFile(`${ROOT}/examples/workspan-opportunities-export.yaml`))
      .replace("interval: 2s", "interval: 30ms")
      .replace(/output:[\s\S]*$/, "");
    const dir = await tempDir({ "p.yaml": yaml });
    await Deno.copyFile(`${ROOT}/examples/data/opportunities-export.csv`, `${dir}/data.csv`);
    await Deno.writeTextFile(
      `${dir}/p.yaml`,
      yaml.replace("path: data/opportunities-export.csv", "path: data.csv"),
    );
    const r = await runCli(["run", "--quiet", `${dir}/p.yaml`], envFor(sandbox));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "", "--quiet prints nothing on stderr");
    const s = r.summaries[0] as Summary;
    assertIdentities(s);
    assert.equal(s.counts.read, 200);
    assert.equal(s.counts.rejected, 1);
    assert.equal(s.counts.failed, 2);
    assert.equal(s.batches.length, 4);
    assert.deepEqual(s.batches.map((b) => b.rows), [50, 50, 50, 49]);
    assert.ok(
      s.batches.every((b) => b.status === "completed" && /^[0-9a-f]{11}$/.test(b.execution_id!)),
    );
    assert.deepEqual(
      s.errors.filter((e) => e.stage === "remote").map((
        e,
      ) => [e.source_line, e.key, e.field, e.message]),
      [
        [81, "aw00079", "close_date", "invalid value in field 'close_date'"],
        [84, "aw00082", "amount", "invalid value in field 'amount'"],
      ],
    );
    const execs = sandbox.workspan.executions();
    assert.ok(execs.every((e) => e.contentType === "CSV"));
    assert.equal(execs.reduce((n, e) => n + e.rowsReceived, 0), 199);
  });
});

Deno.test("run fails with exit 1 when failures exceed max_error_rate", async () => {
  await withSandbox({ workspan: { token: TOKEN, processingMs: 20 } }, async (sandbox) => {
    const dir = await tempDir({
      "data.csv": opportunitiesCsv(20, (i, row) => {
        if (i === 3) row[2] = "n/a";
      }),
      "p.yaml": workspanPipeline({ source: "data.csv", limits: "  max_error_rate: 0" }),
    });
    const r = await runCli(["run", "--json", `${dir}/p.yaml`], envFor(sandbox));
    assert.equal(r.code, 1);
    const s = r.summaries[0] as Summary;
    assert.equal(s.status, "failed");
    assert.equal(s.counts.rejected, 1);
    assert.equal(s.errors[0]!.source_line, 5);
    assert.match(s.errors[0]!.message, /invalid value in field 'amount'/);
    assertIdentities(s);
  });
});

Deno.test("run stops waiting at the timeout with exit 4 and keeps the execution ids", async () => {
  await withSandbox({ workspan: { token: TOKEN, statusAlwaysRunning: true } }, async (sandbox) => {
    const dir = await tempDir({
      "data.csv": opportunitiesCsv(30),
      "p.yaml": workspanPipeline({
        source: "data.csv",
        batchSize: 20,
        polling: "  interval: 50ms\n  timeout: 300ms",
      }),
    });
    const r = await runCli(["run", "--json", `${dir}/p.yaml`], envFor(sandbox));
    assert.equal(r.code, 4, r.stderr);
    const s = r.summaries[0] as Summary;
    assert.equal(s.status, "timed_out");
    assert.equal(s.counts.pending, 20);
    assert.equal(s.counts.unsent, 10, "the second batch is not sent once the first is stuck");
    assert.equal(s.batches[0]!.status, "timed_out");
    assert.equal(s.batches[0]!.execution_id, sandbox.workspan.executions()[0]!.executionId);
    assert.ok(s.batches[0]!.polls >= 2);
    assertIdentities(s);
  });
});

Deno.test("run exits 3 on a refused token, sends no rows, and never prints the token", async () => {
  await withSandbox({ workspan: { token: "the-right-one" } }, async (sandbox) => {
    const dir = await tempDir({
      "data.csv": opportunitiesCsv(5),
      "p.yaml": workspanPipeline({ source: "data.csv" }),
    });
    const r = await runCli(["run", `${dir}/p.yaml`], envFor(sandbox));
    assert.equal(r.code, 3);
    const s = r.summaries[0] as Summary;
    assert.equal(s.status, "failed");
    assert.equal(s.counts.unsent, 5);
    assert.equal(s.counts.sent, 0);
    assert.match(r.stderr, /refused the credentials/);
    assert.equal(sandbox.workspan.executions().length, 0);
    assert.ok(!r.stdout.includes(TOKEN) && !r.stderr.includes(TOKEN));
    assertIdentities(s);
  });
});

Deno.test("run gets a token with client credentials and uses it", async () => {
  await withSandbox({ workspan: { processingMs: 10 } }, async (sandbox) => {
    const dir = await tempDir({
      "data.csv": opportunitiesCsv(3),
      "p.yaml": workspanPipeline({
        source: "data.csv",
        auth:
          "    type: client_credentials\n    client_id: ${WS_ID}\n    client_secret: ${WS_SECRET}",
      }),
    });
    const r = await runCli(["run", "--json", `${dir}/p.yaml`], {
      WORKSPAN_BASE_URL: sandbox.url,
      WS_ID: "sandbox-client",
      WS_SECRET: "sandbox-secret",
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((r.summaries[0] as Summary).counts.succeeded, 3);
    assert.ok(sandbox.workspan.requests.some((q) => q.path === "/oauth/token" && q.status === 200));
    assert.ok(!r.stdout.includes("sandbox-secret") && !r.stderr.includes("sandbox-secret"));
  });
});

Deno.test("run reads JSON and JSON Lines sources", async () => {
  await withSandbox({ workspan: { token: TOKEN, processingMs: 10 } }, async (sandbox) => {
    const rows = [
      { id: "j1", amount: 10, when: "2024-01-02" },
      { id: "j2", amount: "12.5", when: "2024-02-03" },
      { id: "j3", amount: "x", when: "2024-02-03" },
    ];
    const mappings =
      `  opportunity_id: id\n  amount: { from: amount, type: number }\n  close_date: { from: when, type: date }`;
    const dir = await tempDir({
      "a.json": JSON.stringify(rows, null, 2),
      "b.jsonl": rows.map((r) => JSON.stringify(r)).join("\n") + "\n",
      "a.yaml": workspanPipeline({ source: "a.json", mappings, limits: "  max_error_rate: 0.5" }),
      "b.yaml": workspanPipeline({ source: "b.jsonl", mappings, limits: "  max_error_rate: 0.5" }),
    });
    const r = await runCli(["run", "--json", `${dir}/a.yaml`, `${dir}/b.yaml`], envFor(sandbox));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.summaries.length, 2);
    const [a, b] = r.summaries as Summary[];
    assert.equal(a!.counts.succeeded, 2);
    assert.equal(
      a!.errors[0]!.source_line,
      12,
      "the third object starts on line 12 of the pretty JSON",
    );
    assert.equal(b!.errors[0]!.source_line, 3);
    assert.equal(sandbox.workspan.loadCount("j1"), 2, "two pipelines, each loads j1 once");
  });
});

Deno.test("run refuses an invalid pipeline with exit 2 and sends nothing", async () => {
  await withSandbox({ workspan: { token: TOKEN } }, async (sandbox) => {
    const dir = await tempDir({
      "data.csv": opportunitiesCsv(3),
      "p.yaml": workspanPipeline({ source: "missing.csv" }).replace("batch_size", "batchsize"),
    });
    const r = await runCli(["run", `${dir}/p.yaml`], envFor(sandbox));
    assert.equal(r.code, 2);
    assert.equal(r.summaries.length, 0);
    assert.match(
      r.stderr,
      /p\.yaml:10:3 error Unknown key "batchsize" in target: did you mean "batch_size"\?/,
    );
    assert.equal(sandbox.workspan.requests.length, 0);
  });
});

Deno.test("validate and plan send nothing and describe the pipeline", async () => {
  const r = await runCli(["validate", `${ROOT}/examples/`], {
    WORKSPAN_TOKEN: "x",
    BIGIN_ORG_ID: "1",
    ZOHO_CLIENT_ID: "x",
    ZOHO_CLIENT_SECRET: "x",
    ZOHO_REFRESH_TOKEN: "x",
    SALESFORCE_INSTANCE_URL: "https://example.my.salesforce.com",
    SALESFORCE_CLIENT_ID: "x",
    SALESFORCE_CLIENT_SECRET: "x",
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /workspan-opportunities\.yaml: ok/);
  assert.match(r.stdout, /bigin-deals\.yaml: ok/);
  assert.match(r.stdout, /salesforce-opportunities\.yaml: ok/);
  const ci = await runCli(["validate", "--allow-missing-env", `${ROOT}/examples/`], {});
  assert.equal(ci.code, 0, ci.stderr);
  const list = await runCli(["run", "--list", "--json", `${ROOT}/examples`], {});
  assert.deepEqual(JSON.parse(list.stdout), [
    `${ROOT}/examples/bigin-deals.yaml`,
    `${ROOT}/examples/salesforce-opportunities.yaml`,
    `${ROOT}/examples/workspan-opportunities-export.yaml`,
    `${ROOT}/examples/workspan-opportunities.yaml`,
  ]);
  const missing = await runCli(["validate", `${ROOT}/examples/workspan-opportunities.yaml`], {});
  assert.equal(missing.code, 2);
  assert.match(
    missing.stderr,
    /workspan-opportunities\.yaml:\d+:\d+ error Environment variable WORKSPAN_TOKEN is not set/,
  );
  const plan = await runCli(["plan", `${ROOT}/examples/workspan-opportunities.yaml`], {
    WORKSPAN_TOKEN: "x",
  });
  assert.equal(plan.code, 0, plan.stderr);
  assert.match(
    plan.stdout,
    /a run would read 200 rows, reject 1 locally and send 199 in 1 batch:/,
  );
  assert.match(
    plan.stdout,
    /-> \{"opportunity_id":"aw00000","opportunity_name":"Opportunity 0","close_date":"2023-03-11"/,
  );
  assert.match(plan.stdout, /line 122: Missing value of key field 'opportunity_id'/);
});

Deno.test("run-ci writes a job summary, step outputs and line annotations in GitHub Actions", async () => {
  await withSandbox({ workspan: { token: TOKEN, processingMs: 20 } }, async (sandbox) => {
    const dir = await tempDir({
      "data.csv": opportunitiesCsv(6, (i, row) => {
        if (i === 2) row[2] = "lots";
      }),
      "p.yaml": workspanPipeline({ source: "data.csv", limits: "  max_error_rate: 0.5" }),
    });
    const temp = await Deno.makeTempDir({ prefix: "bulkrun-runner-temp-" });
    const env = {
      ...envFor(sandbox),
      GITHUB_ACTIONS: "true",
      RUNNER_TEMP: temp,
      GITHUB_STEP_SUMMARY: `${temp}/step_summary`,
      GITHUB_OUTPUT: `${temp}/output`,
      GITHUB_WORKSPACE: dir,
    };
    const r = await runCli(["run", `${dir}/p.yaml`], env, { cwd: dir, task: "run-ci" });
    assert.equal(r.code, 0, r.stderr);
    const md = await Deno.readTextFile(`${temp}/step_summary`);
    assert.match(md, /COMPLETED WITH ERRORS/i);
    assert.match(md, /\| *read *\|/);
    const outputs = await Deno.readTextFile(`${temp}/output`);
    assert.match(outputs, /^status=completed_with_errors$/m);
    assert.match(outputs, /^rejected=1$/m);
    assert.match(r.stderr, /^::group::/m);
    assert.match(r.stderr, /^::(warning|error) file=data\.csv,line=4/m);
    assert.ok(!md.includes(TOKEN) && !outputs.includes(TOKEN));
    // The plain run task may not write there: it warns and the run still succeeds.
    const plain = await runCli(["run", `${dir}/p.yaml`], env, { cwd: dir });
    assert.equal(plain.code, 0);
    assert.match(plain.stderr, /warning: no job summary or step outputs: .*use deno task run-ci/);
    assert.equal(plain.stderr.split("\n").filter((l) => l.includes("run-ci")).length, 1);
  });
});

/**
 * The WorkSpan example as `<dir>/p.yaml`, reading `source`, polling every 50 ms and tolerating any
 * error rate (so a test's remote failures do not fail the run).
 */
async function writeLenientExample(dir: string, source: string): Promise<void> {
  const yaml = (await Deno.readTextFile(`${ROOT}/examples/workspan-opportunities.yaml`))
    .replace("path: data/opportunities.csv", `path: ${source}`)
    .replace("interval: 2s", "interval: 50ms")
    .replace(/max_error_rate: [0-9.]+/, "max_error_rate: 1");
  await Deno.writeTextFile(`${dir}/p.yaml`, yaml);
}

Deno.test("a source rewritten during the run: failed rows keep their line, key and error, and say their values changed", async () => {
  await withSandbox({
    workspan: {
      token: TOKEN,
      // Long enough to rewrite the file while the runner waits for the execution.
      processingMs: 1500,
      fields: { close_date: "date", amount: "number", stage: { oneOf: ["Prospecting"] } },
    },
  }, async (sandbox) => {
    const dir = await tempDir({});
    const source = `${dir}/data.csv`;
    await Deno.copyFile(`${ROOT}/examples/data/opportunities.csv`, source);
    await writeLenientExample(dir, source);
    const run = runCli(["run", `${dir}/p.yaml`], envFor(sandbox), { cwd: dir });
    // Once the execution exists, the file has been read: give every row another key.
    while (sandbox.workspan.executions().length === 0) await new Promise((r) => setTimeout(r, 20));
    const text = await Deno.readTextFile(source);
    await Deno.writeTextFile(source, text.replaceAll(/^aw/gm, "zz"));
    const r = await run;
    const s = r.summaries[0] as Summary;
    assert.ok(s, r.stderr);
    assertIdentities(s);
    assert.ok(s.counts.failed > 0, "rows failed remotely");
    const rejects = (await Deno.readTextFile(`${dir}/out/workspan-opportunities.rejects.csv`))
      .trim()
      .split(/\r?\n/);
    const remote = rejects.filter((l) => l.includes("invalid value in field 'stage'"));
    assert.equal(remote.length, s.counts.failed);
    for (const l of remote) {
      // Not the rewritten values: the key sent, and why the values are missing.
      assert.match(
        l,
        /^,,,,,,,\d+,aw\d+,invalid value in field 'stage' \(values not shown: line \d+ of the source changed during the run\)$/,
      );
    }
  });
});

Deno.test("a rejects file that cannot be written: the run still ends with its summary, names the problem and exits 3", async () => {
  await withSandbox({
    workspan: {
      token: TOKEN,
      processingMs: 20,
      fields: { close_date: "date", amount: "number", stage: { oneOf: ["Prospecting"] } },
    },
  }, async (sandbox) => {
    const dir = await tempDir({});
    await writeLenientExample(dir, `${ROOT}/examples/data/opportunities.csv`);
    // The rejects file's temporary file cannot be created: a folder has its name.
    await Deno.mkdir(`${dir}/out/workspan-opportunities.rejects.csv.part`, { recursive: true });
    const r = await runCli(["run", `${dir}/p.yaml`], envFor(sandbox), { cwd: dir });
    assert.equal(r.code, 3, r.stderr);
    const s = r.summaries[0] as Summary;
    assertIdentities(s);
    assert.equal(s.exit_code, 3);
    assert.ok(s.counts.failed > 0 && s.counts.succeeded > 0);
    assert.ok(
      s.problems.some((p) => p.startsWith("Cannot write the rejects file")),
      s.problems.join(),
    );
    assert.equal(s.outputs.rejects, undefined, "no rejects file is named");
    assert.ok(!s.hints.some((h) => h.includes("rejects.csv")), "no hint points to it");
  });
});
