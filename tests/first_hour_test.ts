/**
 * A user's first hour, end to end: each mistake a new user made is named before anything is sent
 * (exit 2 with the field or column), or reported in honest words. The real CLI against the sandbox.
 */
import assert from "node:assert/strict";
import {
  biginEnv,
  biginPipeline,
  dealsCsv,
  opportunitiesCsv,
  runCli,
  type Summary,
  tempDir,
  withSandbox,
  workspanPipeline,
} from "./_harness.ts";

const TOKEN = "tok-first-hour-1234";
const wsEnv = (url: string) => ({ WORKSPAN_BASE_URL: url, WORKSPAN_TOKEN: TOKEN });

Deno.test("a field the Bigin module does not have fails the run with exit 2, naming the field and its line", async () => {
  await withSandbox({ bigin: { processingMs: 30 } }, async (sandbox) => {
    const p = biginPipeline({ source: "deals.csv" }).replace(
      "  Amount: { from: Amount, type: number }",
      "  Amount: { from: Amount, type: number }\n  Amonut: Amount",
    );
    const dir = await tempDir({ "deals.csv": dealsCsv(5), "p.yaml": p });
    const r = await runCli(["run", `${dir}/p.yaml`], biginEnv(sandbox.url));
    assert.equal(r.code, 2, r.stderr);
    // run repeats validate's warning before it starts
    assert.match(r.stderr, /p\.yaml:25:3 warning "Amonut" is not a standard field of bigin/);
    const s = r.summaries[0] as Summary;
    assert.match(s.reason!, /field "Amonut" is not in the module: did you mean "Amount"\?/);
    assert.deepEqual(s.config_error, {
      file: `${dir}/p.yaml`,
      field: "Amonut",
      line: 25,
      column: 3,
    });
    assert.equal(s.counts.succeeded, 0);
    assert.equal(sandbox.bigin.records("Pipelines").length, 0, "nothing was loaded");
  });
});

Deno.test("validate refuses a mapped column the CSV header lacks, with did-you-mean at the mapping", async () => {
  const p = workspanPipeline({ source: "data.csv" }).replace(
    "amount: { from: Amount",
    "amount: { from: Amuont",
  );
  const dir = await tempDir({ "data.csv": opportunitiesCsv(3), "p.yaml": p });
  const r = await runCli(["validate", `${dir}/p.yaml`], wsEnv("http://127.0.0.1:1"));
  assert.equal(r.code, 2, r.stderr);
  assert.match(
    r.stderr,
    /p\.yaml:18:\d+ error Column "Amuont" \(mapped to "amount"\) is not in the header of "[^"]+data\.csv": did you mean "Amount"\?/,
  );
});

Deno.test("validate names each missing secret's variable and the field that needs it", async () => {
  const dir = await tempDir({
    "data.csv": opportunitiesCsv(3),
    "p.yaml": workspanPipeline({ source: "data.csv" }),
  });
  const r = await runCli(["validate", `${dir}/p.yaml`], {
    WORKSPAN_BASE_URL: "http://127.0.0.1:1",
  });
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /p\.yaml:13:\d+ error Environment variable WORKSPAN_TOKEN is not set .*: target\.auth\.token needs it/,
  );
  const ok = await runCli(["validate", "--allow-missing-env", `${dir}/p.yaml`], {
    WORKSPAN_BASE_URL: "http://127.0.0.1:1",
  });
  assert.equal(ok.code, 0, ok.stderr);
});

Deno.test("plan shows exactly --rows mapped rows, accepts --allow-missing-env and warns about the error rate", async () => {
  const csv = opportunitiesCsv(10, (i, row) => {
    if (i < 4) row[0] = ""; // no key: rejected locally
  });
  const dir = await tempDir({
    "data.csv": csv,
    "p.yaml": workspanPipeline({ source: "data.csv" }),
  });
  const r = await runCli(["plan", "--rows", "5", "--allow-missing-env", `${dir}/p.yaml`], {
    WORKSPAN_BASE_URL: "http://127.0.0.1:1",
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.split("\n").filter((l) => /^ {2}line \d+: \{/.test(l)).length, 5);
  assert.match(r.stdout, /preview \(first 5 mapped rows/);
  assert.match(
    r.stderr,
    /warning 4 of 10 rows \(40%\) would be rejected locally, above limits\.max_error_rate 5%/,
  );
});

Deno.test("stop_before_send_on_error_rate sends nothing when local rejects exceed the limit", async () => {
  await withSandbox({ workspan: { token: TOKEN } }, async (sandbox) => {
    const csv = opportunitiesCsv(20, (i, row) => {
      if (i % 2 === 0) row[1] = "not a date";
    });
    const dir = await tempDir({
      "data.csv": csv,
      "p.yaml": workspanPipeline({
        source: "data.csv",
        limits: "  max_error_rate: 0.1\n  stop_before_send_on_error_rate: true",
        batchSize: 2,
      }),
    });
    const r = await runCli(["run", "--json", `${dir}/p.yaml`], wsEnv(sandbox.url));
    assert.equal(r.code, 1, r.stderr);
    const s = r.summaries[0] as Summary;
    assert.match(s.reason!, /10 of 20 rows \(50%\) are rejected locally.*nothing was sent/);
    assert.equal(s.counts.sent, 0);
    assert.equal(s.counts.rejected, 10);
    assert.equal(sandbox.workspan.requests.length, 0, "nothing was sent");
  });
});

Deno.test("two rows with the same key are rejected locally, naming both lines", async () => {
  await withSandbox({ workspan: { token: TOKEN } }, async (sandbox) => {
    const csv = opportunitiesCsv(5, (i, row) => {
      if (i === 3) row[0] = "op000002";
    });
    const dir = await tempDir({
      "data.csv": csv,
      "p.yaml": workspanPipeline({ source: "data.csv", limits: "  max_error_rate: 0.5" }),
    });
    const r = await runCli(["run", "--json", `${dir}/p.yaml`], wsEnv(sandbox.url));
    const s = r.summaries[0] as Summary;
    assert.equal(s.counts.rejected, 1, r.stderr);
    const e = s.errors.find((x) => x.code === "duplicate_key")!;
    assert.equal(e.source_line, 5);
    assert.match(e.message, /Duplicate key "op000002": line 4 has the same key/);
  });
});

Deno.test("the rejects file keeps values exactly as read; the spreadsheet copy neutralises formulas", async () => {
  await withSandbox({ workspan: { token: TOKEN } }, async (sandbox) => {
    const csv = opportunitiesCsv(3, (i, row) => {
      if (i === 1) [row[1], row[2]] = ["bad date", "+1-555-0100"];
    });
    const cwd = await tempDir({});
    const dir = await tempDir({
      "data.csv": csv,
      "p.yaml": workspanPipeline({
        source: "data.csv",
        limits: "  max_error_rate: 0.5",
        output: "  rejects: out/rejects.csv\n  rejects_spreadsheet: true",
      }),
    });
    const r = await runCli(["run", "--json", `${dir}/p.yaml`], wsEnv(sandbox.url), { cwd });
    assert.equal(r.code, 0, r.stderr);
    const text = await Deno.readTextFile(`${cwd}/out/rejects.csv`);
    const [header, row] = text.trimEnd().split("\r\n");
    assert.equal(header, "Opportunity ID,Close Date,Amount,Stage,source_line,key,error");
    assert.ok(row!.startsWith("op000001,bad date,+1-555-0100,Prospecting,3,op000001,"), row);
    const sheet = await Deno.readTextFile(`${cwd}/out/rejects.spreadsheet.csv`);
    assert.ok(sheet.includes(",'+1-555-0100,"), sheet);
  });
});

Deno.test("a datetime without an offset in a DST gap is rejected locally under the pipeline's timezone", async () => {
  await withSandbox({ workspan: { token: TOKEN } }, async (sandbox) => {
    const csv = "Opportunity ID,When\nA1,2024-03-31 02:30\nA2,2024-03-31 04:30\n";
    const dir = await tempDir({
      "data.csv": csv,
      "p.yaml": workspanPipeline({
        source: "data.csv",
        limits: "  max_error_rate: 0.5",
        mappings:
          '  opportunity_id: { from: "Opportunity ID", required: true }\n  closed_at: { from: When, type: datetime, format: "yyyy-MM-dd HH:mm", timezone: Europe/Paris }',
      }),
    });
    const r = await runCli(["run", "--json", `${dir}/p.yaml`], wsEnv(sandbox.url));
    const s = r.summaries[0] as Summary;
    assert.equal(s.counts.rejected, 1, r.stderr);
    assert.match(
      s.errors[0]!.message,
      /"2024-03-31 02:30" does not exist in time zone "Europe\/Paris"/,
    );
    assert.equal(s.counts.succeeded, 1);
  });
});

Deno.test("in GitHub Actions a failed row is annotated at its source line, relative to the workspace", async () => {
  await withSandbox({ workspan: { token: TOKEN } }, async (sandbox) => {
    const dir = await tempDir({
      "data.csv": opportunitiesCsv(4, (i, row) => {
        if (i === 2) row[2] = "lots";
      }),
      "p.yaml": workspanPipeline({ source: "data.csv", limits: "  max_error_rate: 0" }),
    });
    const temp = await Deno.makeTempDir({ prefix: "bulkrun-runner-temp-" });
    const env = {
      ...wsEnv(sandbox.url),
      GITHUB_ACTIONS: "true",
      RUNNER_TEMP: temp,
      GITHUB_STEP_SUMMARY: `${temp}/step_summary`,
      GITHUB_WORKSPACE: dir,
    };
    const r = await runCli(["run", `${dir}/p.yaml`], env, { cwd: dir, task: "run-ci" });
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stderr.split("\n");
    assert.ok(
      lines.includes(
        `::error file=data.csv,line=4,title=e2e::row "op000002", field "amount": invalid value in field 'amount': "lots" is not a number (invalid_number) [local]`,
      ),
      r.stderr,
    );
  });
});
