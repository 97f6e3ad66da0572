import assert from "node:assert/strict";
import { compile, type Plan } from "../compile.ts";
import { parsePipeline } from "../config/mod.ts";
import { execute } from "./mod.ts";
import { keyFile } from "./spool.ts";
import { UploadTurns } from "./turns.ts";
import { PIPELINE_SCHEMA } from "../registry.ts";
import type { Source, SourceRecord } from "../sources/mod.ts";
import type { Batch, BatchResults, StatusResult, Submission, Target } from "../targets/mod.ts";

async function planOf(
  extra = "",
  mappings = "  id: ID\n  n: { from: N, type: number }",
): Promise<Plan> {
  const text = `version: 1
name: unit
source: { path: data.csv }
target:
  api: workspan
  base_url: http://127.0.0.1:1
  integration_id: WS-Integration_u
  batch_size: 3
  auth: { type: none }
key: id
mappings:
${mappings}
polling: { interval: 10ms, backoff: 2, max_interval: 40ms, timeout: 1s }
${extra}`;
  const loaded = {
    ...parsePipeline("unit.yaml", text, () => undefined, PIPELINE_SCHEMA),
    dir: ".",
  };
  return await compile(loaded, {
    stat: () => Promise.resolve({ isFile: true, isDirectory: false }),
  });
}

function sourceOf(records: SourceRecord[]): () => Source {
  return () => ({
    columns: () => ["ID", "N"],
    async *records() {
      for (const r of records) yield r;
    },
  });
}

function rows(n: number, bad: (i: number) => boolean = () => false): SourceRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    line: i + 2,
    values: { ID: `k${i}`, N: bad(i) ? "oops" : String(i) },
  }));
}

/** A target that completes each batch after `pollsToFinish` polls and fails rows by key. */
function fakeTarget(
  o: { concurrency?: number; pollsToFinish?: number; failKeys?: Set<string> } = {},
) {
  let inFlight = 0;
  let maxInFlight = 0;
  const polls = new Map<string, number>();
  const sent: string[][] = [];
  const target: Target = {
    api: "fake",
    batchSize: 3,
    concurrency: o.concurrency ?? 1,
    duplicatesOnResend: false,
    limits: {},
    requests: () => [],
    submit(batch: Batch): Promise<Submission> {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      sent.push(batch.rows.map((r) => String(r.id)));
      return Promise.resolve({ id: `x${batch.index}` });
    },
    status(sub: Submission): Promise<StatusResult> {
      const n = (polls.get(sub.id) ?? 0) + 1;
      polls.set(sub.id, n);
      if (n < (o.pollsToFinish ?? 2)) {
        return Promise.resolve({ done: false, remoteStatus: "running" });
      }
      inFlight--;
      return Promise.resolve({ done: true, status: "completed", remoteStatus: "completed" });
    },
    results(_sub, _done, batch: Batch): Promise<BatchResults> {
      const failures = batch.rows.flatMap((r, i) =>
        o.failKeys?.has(String(r.id)) ? [{ row: i, key: String(r.id), message: "nope" }] : []
      );
      return Promise.resolve({
        counts: {
          succeeded: batch.rows.length - failures.length,
          failed: failures.length,
          skipped: 0,
        },
        failures,
        problems: [],
      });
    },
  };
  return { target, sent, maxInFlight: () => maxInFlight };
}

function deps(records: SourceRecord[]) {
  return {
    fetch: () => Promise.reject(new Error("no network in unit tests")),
    log: () => {},
    sleep: () => Promise.resolve(),
    openSource: sourceOf(records),
  };
}

Deno.test("execute() sends full batches in order and accounts for every row", async () => {
  const plan = await planOf("limits: { max_error_rate: 0.5 }");
  const fake = fakeTarget({ failKeys: new Set(["k4"]) });
  plan.target = fake.target;
  const s = await execute(plan, deps(rows(8, (i) => i === 6)));
  assert.deepEqual(fake.sent, [["k0", "k1", "k2"], ["k3", "k4", "k5"], ["k7"]]);
  assert.deepEqual(s.counts, {
    read: 8,
    rejected: 1,
    sent: 7,
    succeeded: 6,
    failed: 1,
    skipped: 0,
    pending: 0,
    unknown: 0,
    unsent: 0,
  });
  assert.equal(s.status, "completed_with_errors");
  assert.deepEqual(s.errors.map((e) => [e.source_line, e.key, e.stage]), [[6, "k4", "remote"], [
    8,
    "k6",
    "local",
  ]]);
  assert.deepEqual(s.batches.map((b) => [b.first_line, b.last_line, b.polls]), [[2, 4, 2], [
    5,
    7,
    2,
  ], [
    9,
    9,
    2,
  ]]);
});

Deno.test("execute() never has more batches in flight than the target's concurrency", async () => {
  for (const concurrency of [1, 2, 3]) {
    const plan = await planOf();
    const fake = fakeTarget({ concurrency, pollsToFinish: 3 });
    plan.target = fake.target;
    // Real (short) waits, so batches overlap the way they do against an API.
    const s = await execute(plan, {
      ...deps(rows(20)),
      sleep: () => new Promise((r) => setTimeout(r, 3)),
    });
    assert.equal(s.counts.succeeded, 20);
    assert.equal(fake.maxInFlight(), concurrency);
  }
});

Deno.test("execute() lists the first errors by line up to output.max_errors", async () => {
  const plan = await planOf("limits: { max_error_rate: 1 }\noutput: { max_errors: 3 }");
  plan.target = fakeTarget().target;
  const s = await execute(plan, deps(rows(30, (i) => i % 2 === 0)));
  assert.equal(s.counts.rejected, 15);
  assert.deepEqual(s.errors.map((e) => e.source_line), [2, 4, 6]);
  assert.equal(s.errors_omitted, 12);
  assert.equal(s.status, "completed_with_errors");
});

Deno.test("execute() fails the run when the error rate is above the limit", async () => {
  const plan = await planOf("limits: { max_error_rate: 0.1 }");
  plan.target = fakeTarget().target;
  const s = await execute(plan, deps(rows(10, (i) => i < 2)));
  assert.equal(s.status, "failed");
  assert.equal(s.exit_code, 1);
  assert.match(s.reason!, /2 of 10 rows failed \(20%\), above max_error_rate 10%/);
});

Deno.test("execute() succeeds with nothing to send for a header-only source", async () => {
  const plan = await planOf();
  const fake = fakeTarget();
  plan.target = fake.target;
  const s = await execute(plan, deps([]));
  assert.equal(s.status, "succeeded");
  assert.equal(s.counts.read, 0);
  assert.equal(fake.sent.length, 0);
});

Deno.test("execute() waits with growing intervals capped at max_interval", async () => {
  const plan = await planOf();
  plan.target = fakeTarget({ pollsToFinish: 5 }).target;
  const waits: number[] = [];
  let clock = 0;
  await execute(plan, {
    ...deps(rows(1)),
    now: () => clock,
    sleep: (ms: number) => {
      waits.push(ms);
      clock += ms + 3; // each status answer takes 3 ms
      return Promise.resolve();
    },
  });
  // On schedule: polls at 10, 30, 70, 110, 150 ms after the upload, whatever the answers took.
  assert.deepEqual(waits, [10, 17, 37, 37, 37]);
});

Deno.test("execute() finds the same duplicates when the keys move to files as when they stay in memory", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // 40 rows, 20 distinct keys: a key comes back 5 to 30 lines after it was first seen, long
    // after it moved to a file (4 keys in memory).
    const records = Array.from({ length: 40 }, (_, i) => ({
      line: i + 2,
      values: { ID: `k${(i * 7) % 20}`, N: String(i) },
    }));
    for (const policy of ["reject", "first_wins", "last_wins"]) {
      const runOnce = async (files: boolean) => {
        const plan = await planOf(`duplicates: ${policy}\nlimits: { max_error_rate: 1 }`);
        const fake = fakeTarget();
        plan.target = fake.target;
        const s = await execute(plan, {
          ...deps(records),
          ...(files ? { keyFiles: () => keyFile(dir), keyMemory: 4 } : {}),
        });
        return { sent: fake.sent.flat(), errors: s.errors.map((e) => [e.source_line, e.message]) };
      };
      const inMemory = await runOnce(false);
      const onDisk = await runOnce(true);
      assert.equal(inMemory.sent.length, 20, policy);
      assert.equal(inMemory.errors.length, 20, policy);
      assert.deepEqual(onDisk, inMemory, policy);
    }
    // Every file was closed (the test's resource check) and none has a name.
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Records what the reader saw: the uploads on their way at each record. */
class RecordingTurns extends UploadTurns {
  seen: number[] = [];
  submissions = 0;
  override during<T>(upload: Promise<T>): Promise<T> {
    this.submissions++;
    return super.during(upload);
  }
  override afterRecord(): Promise<void> | undefined {
    this.seen.push(this.uploads);
    return super.afterRecord();
  }
}

Deno.test("execute() counts each submission as an upload while the reader reads on", async () => {
  const plan = await planOf();
  const fake = fakeTarget({ concurrency: 2 });
  // Uploads that take a while: the reader goes on with the next batch meanwhile.
  plan.target = {
    ...fake.target,
    submit: (batch, ctx) =>
      new Promise((r) => setTimeout(() => r(fake.target.submit(batch, ctx)), 5)),
  };
  const uploads = new RecordingTurns();
  const s = await execute(plan, { ...deps(rows(12)), uploads });
  assert.equal(s.counts.succeeded, 12);
  assert.equal(uploads.submissions, 4);
  // Each record that does not close a batch (two of every three) is shown to the turns, and the
  // reader read some of them while the batch before was being uploaded.
  assert.equal(uploads.seen.length, 8);
  assert.ok(uploads.seen.some((n) => n > 0), `uploads seen: ${uploads.seen}`);
  assert.equal(uploads.uploads, 0);
});
