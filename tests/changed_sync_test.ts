/**
 * `send: changed` end to end: the real CLI against the sandbox, which counts how many times each
 * key was loaded. Run 1 sends every good row; run 2 (after edits) sends exactly the rows whose
 * mapped values changed, the new rows and the fixed rejects; run 3 sends nothing. A kill during
 * run 2 and a rerun still deliver each of those rows once. Bigin insert sends only new keys.
 */
import assert from "node:assert/strict";
import {
  assertIdentities,
  biginEnv,
  biginPipeline,
  dealsCsv,
  runCli,
  spawnCli,
  type Summary,
  tempDir,
  withSandbox,
  workspanPipeline,
} from "./_harness.ts";

const TOKEN = "changed-token";
const id = (i: number) => `op${String(i).padStart(6, "0")}`;

/** Rows 0..n-1 (minus `gone`, plus `extra`), with an unmapped Owner column. */
function csv(o: {
  n: number;
  gone?: Set<number>;
  extra?: number[];
  amount?: (i: number) => number;
  owner?: (i: number) => string;
  badDate?: Set<number>;
}): string {
  const lines = ["Opportunity ID,Close Date,Amount,Stage,Owner"];
  const rows = [...Array(o.n).keys()].filter((i) => !o.gone?.has(i)).concat(o.extra ?? []);
  for (const i of rows) {
    lines.push([
      id(i),
      o.badDate?.has(i) ? "not a date" : "15-Jun-2026",
      String(o.amount?.(i) ?? 1000 + i),
      "Prospecting",
      o.owner?.(i) ?? "ann",
    ].join(","));
  }
  return lines.join("\n") + "\n";
}

const N = 100;
const CHANGED = new Set([...Array(15).keys()].map((i) => 10 + i)); // 10..24: new Amount
const OWNER_ONLY = new Set([30, 31, 32, 33, 34]); // only the unmapped column changes
const NEW = [100, 101, 102, 103, 104];
const GONE = new Set([95, 96, 97]);
const FIXED = new Set([50, 51]); // rejected in run 1, fixed in run 2

const first = () => csv({ n: N, badDate: FIXED });
const second = () =>
  csv({
    n: N,
    gone: GONE,
    extra: NEW,
    amount: (i) => (CHANGED.has(i) ? 5000 + i : 1000 + i),
    owner: (i) => (OWNER_ONLY.has(i) ? "bob" : "ann"),
  });

function pipeline(): string {
  return workspanPipeline({
    source: "data.csv",
    batchSize: 10,
    polling: "  interval: 50ms",
    mappings: `  opportunity_id: { from: "Opportunity ID", required: true }
  close_date: { from: "Close Date", type: date, format: "dd-MMM-yyyy" }
  amount: { from: Amount, type: number }
  stage: Stage`,
  }) + "send: changed\n";
}

/** The journal's events, in order (none before the first run). */
function journal(dir: string): string[] {
  try {
    const text = Deno.readTextFileSync(`${dir}/.state/e2e.journal.jsonl`);
    return text.trim().split("\n").map((l) => JSON.parse(l).event as string);
  } catch {
    return [];
  }
}

/** How many batches the journal's last run saw accepted, when it is not one of the first `runs`. */
function acceptedAfter(dir: string, runs: number): number {
  const events = journal(dir);
  if (events.filter((e) => e === "run").length <= runs) return 0;
  return events.slice(events.lastIndexOf("run")).filter((e) => e === "accepted").length;
}

/** Every key's load count after runs 1 and 2: changed rows twice, the others once. */
function assertDelivered(loadCount: (key: string) => number): void {
  for (let i = 0; i < N; i++) {
    const want = CHANGED.has(i) ? 2 : 1;
    assert.equal(loadCount(id(i)), want, `${id(i)} loaded ${want} times`);
  }
  for (const i of NEW) assert.equal(loadCount(id(i)), 1, `${id(i)} loaded once`);
}

Deno.test("send: changed sends new, changed and fixed rows only, then nothing", async () => {
  await withSandbox({ workspan: { token: TOKEN } }, async (sandbox) => {
    const dir = await tempDir({ "data.csv": first(), "p.yaml": pipeline() });
    const env = { WORKSPAN_BASE_URL: sandbox.url, WORKSPAN_TOKEN: TOKEN };
    const run = async () => {
      const r = await runCli(["run", `${dir}/p.yaml`], env, { cwd: dir });
      const s = r.summaries[0] as Summary;
      assert.ok(s, r.stderr);
      assertIdentities(s);
      return { ...r, s };
    };

    const r1 = await run();
    assert.equal(r1.code, 0, r1.stderr);
    assert.equal(r1.s.counts.sent, N - FIXED.size);
    assert.equal(r1.s.counts.rejected, FIXED.size);
    assert.equal(r1.s.counts.unchanged, 0);
    assert.match(r1.stderr, /Sending every row: no state from an earlier run/);

    await Deno.writeTextFile(`${dir}/data.csv`, second());
    const plan = await runCli(["plan", `${dir}/p.yaml`], env, { cwd: dir });
    assert.match(
      plan.stdout,
      /would send 22 rows \(7 new, 15 changed, 0 retry\) and skip 80 unchanged; 3 keys/,
    );

    const r2 = await run();
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(r2.s.counts.sent, CHANGED.size + NEW.length + FIXED.size);
    assert.equal(r2.s.counts.succeeded, 22);
    assert.equal(r2.s.counts.unchanged, N - GONE.size + NEW.length - 22);
    assert.equal(r2.s.counts.removed, GONE.size);
    assert.match(r2.stderr, /unchanged/);
    assertDelivered((k) => sandbox.workspan.loadCount(k));

    const r3 = await run();
    assert.equal(r3.code, 0, r3.stderr);
    assert.equal(r3.s.counts.sent, 0);
    assert.equal(r3.s.counts.unchanged, N - GONE.size + NEW.length);
    assertDelivered((k) => sandbox.workspan.loadCount(k));
  });
});

Deno.test("send: changed killed mid-run and rerun delivers each changed row once", async () => {
  await withSandbox({ workspan: { token: TOKEN, processingMs: 400 } }, async (sandbox) => {
    const dir = await tempDir({ "data.csv": first(), "p.yaml": pipeline() });
    const env = { WORKSPAN_BASE_URL: sandbox.url, WORKSPAN_TOKEN: TOKEN, NO_COLOR: "1" };
    const r1 = await runCli(["run", "--json", `${dir}/p.yaml`], env, { cwd: dir });
    assert.equal(r1.code, 0, r1.stderr);

    await Deno.writeTextFile(`${dir}/data.csv`, second());
    const runs = journal(dir).filter((e) => e === "run").length;
    const child = spawnCli(["run", "--json", `${dir}/p.yaml`], env, dir);
    // Kill -9 once run 2's first batch finished and its second was accepted (still running).
    for (let i = 0; i < 400 && acceptedAfter(dir, runs) < 2; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    child.kill("SIGKILL");
    await child.status;
    assert.equal(acceptedAfter(dir, runs), 2, "killed with one batch done and one running");

    const again = await runCli(["run", "--json", `${dir}/p.yaml`], env, { cwd: dir });
    assert.equal(again.code, 0, again.stderr + again.stdout);
    const s = again.summaries[0] as Summary;
    assertIdentities(s);
    assert.equal(s.counts.sent, 22, "the resumed run forms the batches of the run it resumes");
    assert.equal(s.counts.removed, GONE.size);
    assertDelivered((k) => sandbox.workspan.loadCount(k));

    const r3 = await runCli(["run", "--json", `${dir}/p.yaml`], env, { cwd: dir });
    assert.equal(r3.code, 0, r3.stderr);
    assert.equal((r3.summaries[0] as Summary).counts.sent, 0);
    assertDelivered((k) => sandbox.workspan.loadCount(k));
  });
});

Deno.test("send: changed with --full sends every row once and keeps the state", async () => {
  await withSandbox({ workspan: { token: TOKEN } }, async (sandbox) => {
    const dir = await tempDir({ "data.csv": csv({ n: 20 }), "p.yaml": pipeline() });
    const env = { WORKSPAN_BASE_URL: sandbox.url, WORKSPAN_TOKEN: TOKEN };
    assert.equal((await runCli(["run", `${dir}/p.yaml`], env, { cwd: dir })).code, 0);
    const full = await runCli(["run", "--full", `${dir}/p.yaml`], env, { cwd: dir });
    assert.equal(full.code, 0, full.stderr);
    assert.equal((full.summaries[0] as Summary).counts.sent, 20);
    assert.match(full.stderr, /--full/);
    for (let i = 0; i < 20; i++) assert.equal(sandbox.workspan.loadCount(id(i)), 2);
    const after = await runCli(["run", `${dir}/p.yaml`], env, { cwd: dir });
    assert.equal((after.summaries[0] as Summary).counts.sent, 0);
  });
});

Deno.test("a second run of a send: changed pipeline while one holds its state is refused", async () => {
  await withSandbox({ workspan: { token: TOKEN, processingMs: 2000 } }, async (sandbox) => {
    const dir = await tempDir({ "data.csv": csv({ n: 10 }), "p.yaml": pipeline() });
    const env = { WORKSPAN_BASE_URL: sandbox.url, WORKSPAN_TOKEN: TOKEN, NO_COLOR: "1" };
    const child = spawnCli(["run", "--json", `${dir}/p.yaml`], env, dir);
    try {
      for (let i = 0; i < 400 && sandbox.workspan.executions().length === 0; i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      const second = await runCli(["run", `${dir}/p.yaml`], env, { cwd: dir });
      assert.equal(second.code, 2, second.stderr);
      assert.match(
        second.stderr,
        /Another run of this pipeline is in progress: run \d+ .* holds ".*e2e\.lock"/,
      );
      assert.equal(sandbox.workspan.executions().length, 1, "the second run sent nothing");
    } finally {
      child.kill("SIGKILL");
      await child.status;
    }
  });
});

Deno.test("send: changed with a Bigin insert sends only keys never confirmed", async () => {
  await withSandbox({ bigin: {} }, async (sandbox) => {
    const yaml = biginPipeline({ source: "deals.csv", operation: "insert" }) + "send: changed\n";
    const dir = await tempDir({ "deals.csv": dealsCsv(10), "p.yaml": yaml });
    const env = biginEnv(sandbox.url);
    const r1 = await runCli(["run", `${dir}/p.yaml`], env, { cwd: dir });
    assert.equal(r1.code, 0, r1.stderr);
    assert.equal(sandbox.bigin.records("Pipelines").length, 10);

    // Three amounts change and two deals are new: an insert sends only the two new keys.
    await Deno.writeTextFile(
      `${dir}/deals.csv`,
      dealsCsv(12, (i, row) => {
        if (i < 3) row[3] = "999";
      }),
    );
    const r2 = await runCli(["run", `${dir}/p.yaml`], env, { cwd: dir });
    assert.equal(r2.code, 0, r2.stderr);
    const s = r2.summaries[0] as Summary;
    assert.equal(s.counts.sent, 2);
    assert.equal(s.counts.unchanged, 10);
    const records = sandbox.bigin.records("Pipelines");
    assert.equal(records.length, 12, "no key inserted twice");
    assert.ok(records.every((r) => r.timesAdded === 1));

    const r3 = await runCli(["run", `${dir}/p.yaml`], env, { cwd: dir });
    assert.equal(r3.code, 0, r3.stderr);
    assert.equal((r3.summaries[0] as Summary).counts.sent, 0);
  });
});
