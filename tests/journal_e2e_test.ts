/**
 * The run journal end to end: resume after a timeout or a kill, refusals, --fresh and --force.
 */
import assert from "node:assert/strict";
import {
  biginEnv,
  biginPipeline,
  dealsCsv,
  opportunitiesCsv,
  runCli,
  spawnCli,
  type Summary,
  tempDir,
  withSandbox,
  workspanPipeline,
} from "./_harness.ts";

const TOKEN = "journal-token";

function journalEvents(dir: string, name: string): { event: string }[] {
  const text = Deno.readTextFileSync(`${dir}/.state/${name}.journal.jsonl`);
  return text.trim().split("\n").map((l) => JSON.parse(l));
}

Deno.test("a timed-out run is resumed by the next run without uploading again", async () => {
  await withSandbox({ workspan: { token: TOKEN, processingMs: 1500 } }, async (sandbox) => {
    const dir = await tempDir({
      "data.csv": opportunitiesCsv(30),
      "p.yaml": workspanPipeline({
        source: "data.csv",
        batchSize: 10,
        polling: "  interval: 50ms\n  timeout: 300ms",
      }),
    });
    const env = { WORKSPAN_BASE_URL: sandbox.url, WORKSPAN_TOKEN: TOKEN };
    const first = await runCli(["run", "--json", `${dir}/p.yaml`], env, { cwd: dir });
    assert.equal(first.code, 4, first.stderr);
    const s1 = first.summaries[0] as Summary;
    assert.equal(s1.counts.pending, 10);
    // Batch 2 was read but not sent; reading stopped there (the summary's hints say so).
    assert.equal(s1.counts.unsent, 10);
    assert.equal(s1.counts.read, 20);
    assert.equal(sandbox.workspan.executions().length, 1);

    // The next scheduled run may wait longer: polling is not part of what the journal pins.
    await Deno.writeTextFile(
      `${dir}/p.yaml`,
      workspanPipeline({
        source: "data.csv",
        batchSize: 10,
        polling: "  interval: 50ms\n  timeout: 10s",
      }),
    );
    const second = await runCli(["run", "--json", `${dir}/p.yaml`], env, { cwd: dir });
    assert.equal(second.code, 0, second.stderr);
    const s2 = second.summaries[0] as Summary;
    assert.equal(s2.resumed, true);
    assert.equal(s2.status, "succeeded");
    assert.equal(s2.counts.succeeded, 30);
    assert.equal(s2.batches[0]!.execution_id, s1.batches[0]!.execution_id, "the same execution");
    assert.equal(sandbox.workspan.executions().length, 3, "one upload per batch in all");
    for (let i = 0; i < 30; i++) {
      assert.equal(sandbox.workspan.loadCount(`op${String(i).padStart(6, "0")}`), 1);
    }
    const events = journalEvents(dir, "e2e").map((e) => e.event);
    assert.deepEqual(events.filter((e) => e === "submit").length, 3);
    assert.ok(events.includes("resume"));
    const journalText = Deno.readTextFileSync(`${dir}/.state/e2e.journal.jsonl`);
    assert.ok(!journalText.includes(TOKEN), "the journal never holds the token");
  });
});

Deno.test("a run killed while waiting is finished by the next run with no duplicates", async () => {
  await withSandbox({ workspan: { token: TOKEN, processingMs: 1200 } }, async (sandbox) => {
    const dir = await tempDir({
      "data.csv": opportunitiesCsv(20),
      "p.yaml": workspanPipeline({
        source: "data.csv",
        batchSize: 10,
        polling: "  interval: 100ms",
      }),
    });
    const env = { WORKSPAN_BASE_URL: sandbox.url, WORKSPAN_TOKEN: TOKEN, NO_COLOR: "1" };
    const child = spawnCli(["run", "--json", `${dir}/p.yaml`], env, dir);
    // Wait until the journal shows the first execution accepted, then kill -9.
    for (let i = 0; i < 200; i++) {
      await new Promise((r) => setTimeout(r, 25));
      try {
        if (journalEvents(dir, "e2e").some((e) => e.event === "accepted")) break;
      } catch { /* not written yet */ }
    }
    child.kill("SIGKILL");
    await child.status;
    assert.equal(sandbox.workspan.executions().length, 1);

    const again = await runCli(["run", "--json", `${dir}/p.yaml`], env, { cwd: dir });
    assert.equal(again.code, 0, again.stderr);
    const s = again.summaries[0] as Summary;
    assert.equal(s.resumed, true);
    assert.equal(s.counts.succeeded, 20);
    assert.equal(sandbox.workspan.executions().length, 2, "batch 1 was not uploaded again");
    for (let i = 0; i < 20; i++) {
      assert.equal(sandbox.workspan.loadCount(`op${String(i).padStart(6, "0")}`), 1);
    }
  });
});

Deno.test("an unfinished run whose source changed is not resumed, and --fresh starts over", async () => {
  await withSandbox({ workspan: { token: TOKEN, processingMs: 5000 } }, async (sandbox) => {
    const dir = await tempDir({
      "data.csv": opportunitiesCsv(5),
      "p.yaml": workspanPipeline({
        source: "data.csv",
        polling: "  interval: 50ms\n  timeout: 150ms",
      }),
    });
    const env = { WORKSPAN_BASE_URL: sandbox.url, WORKSPAN_TOKEN: TOKEN };
    assert.equal((await runCli(["run", "--json", `${dir}/p.yaml`], env, { cwd: dir })).code, 4);
    await Deno.writeTextFile(`${dir}/data.csv`, opportunitiesCsv(6));
    const refused = await runCli(["run", "--json", `${dir}/p.yaml`], env, { cwd: dir });
    assert.equal(refused.code, 2);
    assert.match(
      refused.stderr,
      /did not finish and has 1 executions it never saw complete, and the source file changed since/,
    );
    assert.equal(sandbox.workspan.executions().length, 1, "nothing sent");
    const fresh = await runCli(["run", "--json", "--fresh", `${dir}/p.yaml`], env, { cwd: dir });
    assert.equal(fresh.code, 4, "a fresh run uploads again (and times out again here)");
    assert.equal(sandbox.workspan.executions().length, 2);
  });
});

Deno.test("an insert pipeline refuses to load the same file twice unless forced", async () => {
  await withSandbox({ bigin: { processingMs: 30 } }, async (sandbox) => {
    const dir = await tempDir({
      "deals.csv": dealsCsv(4),
      "p.yaml": biginPipeline({ source: "deals.csv", operation: "insert" }),
    });
    const env = biginEnv(sandbox.url);
    assert.equal((await runCli(["run", "--json", `${dir}/p.yaml`], env, { cwd: dir })).code, 0);
    const again = await runCli(["run", "--json", `${dir}/p.yaml`], env, { cwd: dir });
    assert.equal(again.code, 2);
    assert.match(
      again.stderr,
      /was already loaded by this pipeline .*inserting it again would create every record twice. Use --force/,
    );
    assert.equal(sandbox.bigin.jobs().length, 1, "nothing sent");
    const forced = await runCli(["run", "--json", "--force", `${dir}/p.yaml`], env, { cwd: dir });
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal((forced.summaries[0] as Summary).counts.skipped, 4, "Bigin skips the duplicates");
    assert.equal(sandbox.bigin.records("Pipelines").length, 4);
  });
});

Deno.test("run refuses an output path outside out/ before sending anything", async () => {
  await withSandbox({ workspan: { token: TOKEN } }, async (sandbox) => {
    const dir = await tempDir({
      "data.csv": opportunitiesCsv(2),
      "p.yaml": workspanPipeline({ source: "data.csv", output: "  summary: elsewhere/s.json" }),
    });
    const env = { WORKSPAN_BASE_URL: sandbox.url, WORKSPAN_TOKEN: TOKEN };
    const r = await runCli(["run", `${dir}/p.yaml`], env, { cwd: dir });
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /Cannot write "elsewhere\/s.json": deno task run may write only under out\/ and .state\//,
    );
    assert.equal(sandbox.workspan.requests.length, 0);
  });
});
