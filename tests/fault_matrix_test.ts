/**
 * The fault matrix: the real CLI against a sandbox with one fault switched on per case. Every
 * case asserts the exit code, the summary status, the accounting identities and — from the
 * sandbox's own record — that no row was loaded twice and every valid row was loaded once or
 * reported as unknown.
 */
import assert from "node:assert/strict";
import type { Fault } from "../sandbox/faults.ts";
import {
  assertIdentities,
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
import { FAST_RETRIES, KEYS, ROWS, unknownKeys } from "./_faults.ts";

const TOKEN = "fault-token";

/** No key loaded twice; each loaded once unless its batch is reported unknown (or never read). */
function noLossNoDuplicate(
  loads: { get(key: string): number | undefined },
  s: Summary,
  mustLoad: (key: string) => boolean,
) {
  const unknown = unknownKeys(s);
  for (const k of KEYS) {
    const n = loads.get(k) ?? 0;
    assert.ok(n <= 1, `${k} loaded ${n} times`);
    if (mustLoad(k) && !unknown.has(k)) assert.equal(n, 1, `${k} loaded once`);
  }
}

async function workspanCase(
  faults: Fault[],
  o: {
    targetExtra?: string;
    polling?: string;
    processingMs?: number;
    /** Waits for the sandbox to finish what the runner left running, before it is closed. */
    drainMs?: number;
  } = {},
) {
  return await withSandbox(
    { workspan: { token: TOKEN, processingMs: o.processingMs ?? 20 }, faults },
    async (sandbox) => {
      const dir = await tempDir({
        "data.csv": opportunitiesCsv(ROWS),
        "p.yaml": workspanPipeline({
          source: "data.csv",
          batchSize: 10,
          targetExtra: o.targetExtra ?? FAST_RETRIES,
          polling: o.polling ?? "  interval: 20ms\n  max_interval: 100ms\n  timeout: 10s",
        }),
      });
      const r = await runCli(["run", "--json", `${dir}/p.yaml`], {
        WORKSPAN_BASE_URL: sandbox.url,
        WORKSPAN_TOKEN: TOKEN,
      }, { cwd: dir });
      assert.equal(r.summaries.length, 1, r.stderr);
      const s = r.summaries[0] as Summary;
      assertIdentities(s);
      assert.ok(!r.stdout.includes(TOKEN) && !r.stderr.includes(TOKEN), "token never printed");
      // Executions complete when the sandbox is next asked; let it finish what it accepted.
      await new Promise((res) => setTimeout(res, o.drainMs ?? 60));
      await sandbox.idle();
      sandbox.workspan.state();
      return {
        r,
        s,
        dir,
        executions: sandbox.workspan.executions().length,
        loads: new Map(KEYS.map((k) => [k, sandbox.workspan.loadCount(k)])),
        faultsFired: sandbox.faultLog.length,
      };
    },
  );
}

/** Cases where the fault is absorbed: everything loads exactly once, exit 0. */
const ABSORBED: [string, Fault[]][] = [
  ["status checks answered slowly", [{
    endpoint: "ws.status",
    kind: "latency",
    ms: 200,
    times: 3,
  }]],
  ["a status check answered 500 once", [{ endpoint: "ws.status", kind: "status", status: 500 }]],
  ["status checks answered 503 three times", [{
    endpoint: "ws.status",
    kind: "status",
    status: 503,
    times: 3,
  }]],
  ["a status check answered 429 with Retry-After", [{
    endpoint: "ws.status",
    kind: "too_many_requests",
    retryAfter: "1",
  }]],
  ["a status answer that is not JSON", [{
    endpoint: "ws.status",
    kind: "malformed_json",
    times: 2,
  }]],
  ["a status check whose connection is reset", [{ endpoint: "ws.status", kind: "reset_after" }]],
  ["an upload refused with 503 and Retry-After (not processed)", [{
    endpoint: "ws.upload",
    kind: "status",
    status: 503,
    retryAfter: "0",
    after: 1,
  }]],
  ["an upload refused with 429 (not processed)", [{
    endpoint: "ws.upload",
    kind: "too_many_requests",
    retryAfter: "0",
  }]],
];

for (const [name, faults] of ABSORBED) {
  Deno.test(`fault: ${name} is absorbed with no row lost or loaded twice`, async () => {
    const { r, s, executions, loads, faultsFired } = await workspanCase(faults);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(s.status, "succeeded");
    assert.equal(s.counts.succeeded, ROWS);
    assert.equal(executions, 3);
    assert.ok(faultsFired > 0, "the fault fired");
    noLossNoDuplicate(loads, s, () => true);
  });
}

/** Cases where an upload's fate is unknown: the batch is reported, never resent. */
const AMBIGUOUS: [string, Fault[], boolean][] = [
  ["an upload answered 500 (not processed)", [{
    endpoint: "ws.upload",
    kind: "status",
    status: 500,
    after: 1,
  }], false],
  ["an upload answered 502 after it was processed", [{
    endpoint: "ws.upload",
    kind: "status_after",
    status: 502,
    after: 1,
  }], true],
  ["an upload whose connection is reset before it is read", [{
    endpoint: "ws.upload",
    kind: "reset_before",
    after: 1,
  }], false],
  ["an upload whose connection is reset after it was processed", [{
    endpoint: "ws.upload",
    kind: "reset_after",
    after: 1,
  }], true],
];

for (const [name, faults, processed] of AMBIGUOUS) {
  Deno.test(`fault: ${name} is reported unknown and not resent`, async () => {
    const { r, s, executions, loads } = await workspanCase(faults);
    assert.equal(r.code, 3, r.stderr);
    assert.equal(s.status, "failed");
    assert.equal(s.batches[1]!.status, "unknown");
    assert.equal(s.counts.unknown, 10);
    assert.equal(s.counts.succeeded, 10, "batch 1 loaded before the fault");
    assert.ok(s.hints.some((h) => /source lines 12-21\) may or may not have been loaded/.test(h)));
    assert.equal(executions, processed ? 2 : 1);
    assert.equal(loads.get(KEYS[10]!), processed ? 1 : 0);
    noLossNoDuplicate(loads, s, (k) => KEYS.indexOf(k) < 10);
  });
}

Deno.test("fault: an upload that outlasts the request timeout is unknown, and loaded once", async () => {
  const { r, s, executions, loads } = await workspanCase(
    [{ endpoint: "ws.upload", kind: "latency", ms: 800 }],
    { targetExtra: `${FAST_RETRIES}\n  request_timeout: 200ms`, drainMs: 1000 },
  );
  assert.equal(r.code, 3, r.stderr);
  assert.equal(s.batches[0]!.status, "unknown");
  assert.match(JSON.stringify(s.batches[0]), /no answer within 200 ms/);
  assert.equal(executions, 1, "the server processed the upload the runner gave up on, once");
  noLossNoDuplicate(loads, s, () => false);
});

Deno.test("fault: an execution that stays running ends the run timed_out with its id", async () => {
  const { r, s, loads } = await workspanCase(
    [{ endpoint: "ws.status", kind: "stuck", after: 1 }],
    { polling: "  interval: 20ms\n  timeout: 400ms" },
  );
  assert.equal(r.code, 4, r.stderr);
  assert.equal(s.status, "timed_out");
  assert.equal(s.batches[1]!.status, "timed_out");
  assert.match(s.batches[1]!.execution_id!, /^[0-9a-f]{11}$/);
  assert.equal(s.counts.pending, 10);
  noLossNoDuplicate(loads, s, (k) => KEYS.indexOf(k) < 10);
});

Deno.test("fault: an execution that fails as a whole fails the run with every row reported", async () => {
  const { r, s, loads } = await workspanCase([{
    endpoint: "ws.status",
    kind: "execution_failed",
    message: "Integration is disabled",
    after: 2,
  }]);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(s.status, "failed");
  assert.equal(s.batches[2]!.status, "failed");
  assert.equal(s.counts.failed, 10);
  assert.equal(s.counts.succeeded, 20);
  assert.deepEqual(
    s.errors.map((e) => e.source_line),
    Array.from({ length: 10 }, (_, i) => 22 + i),
  );
  assert.match(s.errors[0]!.message, /Integration is disabled/);
  noLossNoDuplicate(loads, s, (k) => KEYS.indexOf(k) < 20);
});

Deno.test("fault: an unreachable API ends the run with exit 3 and nothing sent", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const dir = await tempDir({
    "data.csv": opportunitiesCsv(5),
    "p.yaml": workspanPipeline({ source: "data.csv", targetExtra: FAST_RETRIES }),
  });
  const r = await runCli(["run", "--json", `${dir}/p.yaml`], {
    WORKSPAN_BASE_URL: `http://127.0.0.1:${port}`,
    WORKSPAN_TOKEN: TOKEN,
  }, { cwd: dir });
  assert.equal(r.code, 3);
  const s = r.summaries[0] as Summary;
  assert.equal(s.counts.unsent, 5);
  assert.equal(s.counts.unknown, 0, "a refused connection provably sent nothing");
  assertIdentities(s);
});

Deno.test("fault: a run killed during an upload is finished by the next run with no duplicates", async () => {
  await withSandbox({
    workspan: { token: TOKEN, processingMs: 20 },
    faults: [{ endpoint: "ws.upload", kind: "latency", ms: 1500 }],
  }, async (sandbox) => {
    const dir = await tempDir({
      "data.csv": opportunitiesCsv(ROWS),
      "p.yaml": workspanPipeline({
        source: "data.csv",
        batchSize: 10,
        targetExtra: FAST_RETRIES,
        polling: "  interval: 20ms",
      }),
    });
    const env = { WORKSPAN_BASE_URL: sandbox.url, WORKSPAN_TOKEN: TOKEN, NO_COLOR: "1" };
    const child = spawnCli(["run", `${dir}/p.yaml`], env, dir);
    const journal = `${dir}/.state/e2e.journal.jsonl`;
    // Kill once the server holds the upload (the latency fault fired) and the journal says
    // "submit" but not "accepted": the runner cannot know whether batch 1 landed.
    for (let i = 0; i < 200 && sandbox.faultLog.length === 0; i++) {
      await new Promise((res) => setTimeout(res, 20));
    }
    const text = await Deno.readTextFile(journal);
    assert.ok(text.includes('"event":"submit"') && !text.includes('"event":"accepted"'));
    child.kill("SIGKILL");
    await child.status;
    await sandbox.idle(); // the server finishes the upload the killed runner started
    sandbox.setFaults([]);

    const r = await runCli(["run", "--json", `${dir}/p.yaml`], env, { cwd: dir });
    const s = r.summaries[0] as Summary;
    assertIdentities(s);
    assert.equal(r.code, 3, "batch 1's fate is unknown to the runner: reported, not resent");
    assert.equal(s.batches[0]!.status, "unknown");
    assert.equal(s.counts.succeeded, 20);
    assert.equal(sandbox.workspan.executions().length, 3, "one upload per batch in all");
    await new Promise((res) => setTimeout(res, 60));
    sandbox.workspan.state();
    const loads = new Map(KEYS.map((k) => [k, sandbox.workspan.loadCount(k)]));
    noLossNoDuplicate(loads, s, () => true);
    assert.equal(loads.get(KEYS[0]!), 1, "the killed upload did land, once");
  });
});

// Bigin faults.

async function biginCase(faults: Fault[], rows = 8) {
  return await withSandbox({ bigin: { processingMs: 30 }, faults }, async (sandbox) => {
    const dir = await tempDir({
      "deals.csv": dealsCsv(rows),
      "p.yaml": biginPipeline({ source: "deals.csv", limits: "  max_error_rate: 0" }).replace(
        "  concurrency: 1",
        `  concurrency: 1\n${FAST_RETRIES}`,
      ),
    });
    const r = await runCli(["run", "--json", `${dir}/p.yaml`], biginEnv(sandbox.url), { cwd: dir });
    assert.equal(r.summaries.length, 1, r.stderr);
    const s = r.summaries[0] as Summary;
    assertIdentities(s);
    const records = sandbox.bigin.records("Pipelines");
    assert.ok(records.every((x) => x.timesAdded === 1 && x.timesUpdated === 0), "no duplicates");
    return { r, s, sandbox };
  });
}

Deno.test("fault: bigin token and upload refusals that were not processed are retried", async () => {
  const { r, s, sandbox } = await biginCase([
    { endpoint: "bigin.token", kind: "status", status: 500 },
    { endpoint: "bigin.upload", kind: "too_many_requests", retryAfter: "0" },
    { endpoint: "bigin.details", kind: "malformed_json" },
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(s.counts.succeeded, 8);
  assert.equal(sandbox.bigin.records("Pipelines").length, 8);
});

Deno.test("fault: a bigin job created but not answered is unknown, and loaded once", async () => {
  const { r, s, sandbox } = await biginCase([{ endpoint: "bigin.job", kind: "reset_after" }]);
  assert.equal(r.code, 3, r.stderr);
  assert.equal(s.counts.unknown, 8);
  await new Promise((res) => setTimeout(res, 100));
  assert.equal(sandbox.bigin.jobs().length, 1, "the job was created once");
});

Deno.test("fault: a bigin job that ends FAILED fails the run", async () => {
  const { r, s } = await biginCase([{ endpoint: "bigin.details", kind: "job_failed" }]);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(s.status, "failed");
  assert.equal(s.counts.failed, 8);
  assert.equal(s.errors.length, 8);
});

Deno.test("fault: a bigin result file missing rows is reported, never counted as loaded", async () => {
  const { r, s } = await biginCase([{
    endpoint: "bigin.download",
    kind: "result_missing_rows",
    rows: 2,
  }]);
  assert.notEqual(r.code, 0);
  assert.equal(s.counts.succeeded, 6);
  assert.ok(
    s.problems.some((p) => /Result file has 6 rows, but 8 rows were sent/.test(p)),
    s.problems.join("\n"),
  );
  assert.ok(
    s.problems.some((p) => /added_count 8, but the result file has 6/.test(p)),
    s.problems.join("\n"),
  );
});

Deno.test("fault: a bigin upload answered HTTP 200 with status error is refused, nothing loaded", async () => {
  const { r, s, sandbox } = await biginCase([{
    endpoint: "bigin.upload",
    kind: "status",
    status: 200,
    body: JSON.stringify({
      status: "error",
      code: "INVALID_FILE_FORMAT",
      message: "The file is not a valid zip",
      details: {},
    }),
  }]);
  assert.equal(r.code, 3, r.stderr);
  assert.equal(s.status, "failed");
  assert.equal(s.counts.unsent, 8, "a refused upload was not processed: its rows are unsent");
  assert.match(s.reason ?? "", /INVALID_FILE_FORMAT/);
  assert.equal(sandbox.bigin.jobs().length, 0, "no job was created from it");
});
