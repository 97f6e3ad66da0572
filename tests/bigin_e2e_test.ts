/**
 * The runner end to end against the Bigin sandbox: the real CLI in a subprocess.
 */
import assert from "node:assert/strict";
import {
  assertIdentities,
  biginEnv,
  biginPipeline,
  dealsCsv,
  runCli,
  type Summary,
  tempDir,
  withSandbox,
} from "./_harness.ts";

Deno.test("bigin: insert then upsert of the same file updates instead of duplicating", async () => {
  await withSandbox({ bigin: { processingMs: 40 } }, async (sandbox) => {
    const dir = await tempDir({
      "deals.csv": dealsCsv(30),
      "insert.yaml": biginPipeline({ source: "deals.csv", operation: "insert" }),
      "upsert.yaml": biginPipeline({ source: "deals.csv", operation: "upsert" }),
    });
    const env = biginEnv(sandbox.url);
    const first = await runCli(["run", "--json", `${dir}/insert.yaml`], env);
    assert.equal(first.code, 0, first.stderr);
    const s1 = first.summaries[0] as Summary;
    assert.equal(s1.status, "succeeded");
    assert.equal(s1.counts.succeeded, 30);
    assertIdentities(s1);

    const second = await runCli(["run", "--json", `${dir}/upsert.yaml`], env);
    assert.equal(second.code, 0, second.stderr);
    const s2 = second.summaries[0] as Summary;
    assert.equal(s2.counts.succeeded, 30);
    const records = sandbox.bigin.records("Pipelines");
    assert.equal(records.length, 30, "no duplicates");
    assert.ok(records.every((r) => r.timesAdded === 1 && r.timesUpdated === 1));
    const won = records.find((r) => r.fields.Deal_Name === "Deal 00001")!;
    assert.equal(won.fields.Stage, "Closed Won");
    assert.equal(won.fields.Closing_Date, "2026-06-15");
    assert.equal(won.fields.Sub_Pipeline, "Standard");

    // Inserting again skips every row as a duplicate: skipped, not failed, and not loaded twice.
    const third = await runCli(["run", "--json", `${dir}/insert.yaml`], env);
    const s3 = third.summaries[0] as Summary;
    assert.equal(s3.counts.skipped, 30);
    assert.equal(s3.counts.failed, 0);
    assert.equal(s3.status, "completed_with_errors");
    assert.equal(s3.errors[0]!.code, "DUPLICATE_DATA");
    assert.equal(sandbox.bigin.records("Pipelines").length, 30);
    assertIdentities(s3);
  });
});

Deno.test("bigin: rows refused by the job are joined back to their source lines", async () => {
  await withSandbox({ bigin: { processingMs: 30 } }, async (sandbox) => {
    const dir = await tempDir({
      "deals.csv": dealsCsv(12, (i, row) => {
        if (i === 3) row[1] = ""; // no stage: Bigin requires it
        if (i === 7) row[0] = "Deal " + "y".repeat(300); // longer than Bigin's 255
        if (i === 9) row[2] = "30/02/2026"; // no such date: rejected locally
      }),
      "p.yaml": biginPipeline({ source: "deals.csv", limits: "  max_error_rate: 0.5" }),
    });
    const r = await runCli(["run", "--json", `${dir}/p.yaml`], biginEnv(sandbox.url));
    assert.equal(r.code, 0, r.stderr);
    const s = r.summaries[0] as Summary;
    assertIdentities(s);
    assert.deepEqual(
      {
        read: s.counts.read,
        rejected: s.counts.rejected,
        succeeded: s.counts.succeeded,
        failed: s.counts.failed,
      },
      { read: 12, rejected: 1, succeeded: 9, failed: 2 },
    );
    assert.deepEqual(
      s.errors.map((e) => [e.source_line, e.stage, e.code, e.field]),
      [[5, "remote", "MANDATORY_NOT_FOUND", "Stage"], [9, "remote", "INVALID_DATA", "Deal_Name"], [
        11,
        "local",
        "invalid_date",
        "Closing_Date",
      ]],
    );
    assert.equal(s.errors[0]!.key, "Deal 00003");
    assert.equal(sandbox.bigin.records("Pipelines").length, 9);
  });
});

Deno.test("bigin: a file over the batch size is split into jobs run concurrently and merged", async () => {
  await withSandbox({ bigin: { processingMs: 60 } }, async (sandbox) => {
    const dir = await tempDir({
      "deals.csv": dealsCsv(95),
      "p.yaml": biginPipeline({ source: "deals.csv", batchSize: 25, concurrency: 2 }),
    });
    const r = await runCli(["run", "--json", `${dir}/p.yaml`], biginEnv(sandbox.url));
    assert.equal(r.code, 0, r.stderr);
    const s = r.summaries[0] as Summary;
    assert.deepEqual(s.batches.map((b) => b.rows), [25, 25, 25, 20]);
    assert.equal(new Set(s.batches.map((b) => b.execution_id)).size, 4);
    assert.equal(s.counts.succeeded, 95);
    assert.equal(sandbox.bigin.jobs().length, 4);
    assert.equal(sandbox.bigin.records("Pipelines").length, 95);
    assert.equal(sandbox.bigin.state().tokenGrants, 1, "one token for the whole run");
  });
});

Deno.test("bigin: an expired token is refreshed once and the run completes", async () => {
  await withSandbox({ bigin: { processingMs: 30, expireTokensAfterUses: 2 } }, async (sandbox) => {
    const dir = await tempDir({
      "deals.csv": dealsCsv(5),
      "p.yaml": biginPipeline({ source: "deals.csv" }),
    });
    const r = await runCli(["run", `${dir}/p.yaml`], biginEnv(sandbox.url), { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((r.summaries[0] as Summary).counts.succeeded, 5);
    assert.ok(sandbox.bigin.state().tokenGrants >= 2, "a new token was fetched");
    const state = [...Deno.readDirSync(`${dir}/.state`)].map((e) =>
      Deno.readTextFileSync(`${dir}/.state/${e.name}`)
    ).join("\n");
    assert.ok(state.length > 0, "a journal was written");
    for (const secret of ["sandbox-secret", "sandbox-refresh-token"]) {
      assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret), `${secret} not printed`);
      assert.ok(!state.includes(secret), `${secret} not in the journal`);
    }
  });
});

Deno.test("bigin: refused client credentials end the run with exit 3 before any upload", async () => {
  await withSandbox({ bigin: {} }, async (sandbox) => {
    const dir = await tempDir({
      "deals.csv": dealsCsv(3),
      "p.yaml": biginPipeline({ source: "deals.csv" }),
    });
    const r = await runCli(["run", "--json", `${dir}/p.yaml`], {
      ...biginEnv(sandbox.url),
      ZOHO_REFRESH_TOKEN: "not-the-right-refresh-token",
    });
    assert.equal(r.code, 3);
    const s = r.summaries[0] as Summary;
    assert.equal(s.counts.unsent, 3);
    assert.equal(sandbox.bigin.state().uploads.length, 0);
    assert.ok(
      !r.stdout.includes("not-the-right-refresh-token") &&
        !r.stderr.includes("not-the-right-refresh-token"),
    );
  });
});
