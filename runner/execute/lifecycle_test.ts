import assert from "node:assert/strict";
import { HttpError, RunnerError, TransportError } from "../errors.ts";
import type { JournalEvent } from "../journal.ts";
import { checkCounts } from "../report/summary.ts";
import type {
  Batch,
  BatchResults,
  Finished,
  StatusResult,
  Submission,
  Target,
} from "../targets/mod.ts";

/** A scripted answer: still running, or finished together with its results. */
type PollResult = StatusResult | (Finished & BatchResults);
import { RunLedger } from "./ledger.ts";
import { type LifecycleDeps, runBatch } from "./lifecycle.ts";

const batch: Batch = {
  index: 0,
  fields: ["id"],
  rows: [{ id: "a" }, { id: "b" }],
  lines: [2, 3],
  keys: ["a", "b"],
  key: "id",
};

const finished: PollResult = {
  done: true,
  status: "completed",
  remoteStatus: "Completed",
  counts: { succeeded: 1, failed: 1, skipped: 0 },
  failures: [{ row: 1, message: "nope" }],
  problems: [],
};

/** A target whose submit and poll answers are scripted, one per call (the last repeats). */
function fake(o: { submit?: () => Promise<Submission>; polls?: (() => Promise<PollResult>)[] }) {
  const calls: string[] = [];
  let n = 0;
  let last: PollResult | undefined;
  const target: Target = {
    api: "fake",
    batchSize: 2,
    concurrency: 1,
    duplicatesOnResend: false,
    limits: {},
    requests: () => [],
    submit() {
      calls.push("submit");
      return o.submit?.() ?? Promise.resolve({ id: "x0" });
    },
    async status() {
      calls.push("poll");
      const p = o.polls ?? [() => Promise.resolve(finished)];
      last = await p[Math.min(n++, p.length - 1)]!();
      return last;
    },
    results() {
      if (!last?.done || !("counts" in last)) throw new Error("results() before a finished status");
      const { counts, failures, problems } = last;
      return Promise.resolve({ counts, failures, problems });
    },
  };
  return { target, calls };
}

/** Lifecycle deps with a fake clock, an in-memory journal and a rejects list. */
function depsOf(target: Target) {
  let clock = 0;
  const events: JournalEvent[] = [];
  const rejected: [unknown, number | undefined, string][] = [];
  const logs: string[] = [];
  const ledger = new RunLedger({ maxErrors: 10, now: () => clock });
  ledger.rowStaged();
  ledger.rowStaged();
  ledger.openBatch(batch);
  const d: LifecycleDeps = {
    target,
    ctx: { fetch: () => Promise.reject(new Error("no network")), log: () => {} },
    ledger,
    journal: (e) => events.push(e),
    log: (l) => logs.push(l),
    now: () => clock,
    sleep: (ms) => {
      clock += ms;
      return Promise.resolve();
    },
    polling: { interval: 100, backoff: 2, max_interval: 400, timeout: 1000 },
    rejects: {
      write: (v, l, m) => rejected.push([v, l, m]),
      writeLater: (l, m, k) => rejected.push([{ later: k }, l, m]),
    },
  };
  return { d, events, rejected, logs, ledger };
}

const f = { batch };
const running = () => Promise.resolve<PollResult>({ done: false, remoteStatus: "Running" });

Deno.test("runBatch() journals submit, accepted and done in that order and settles the batch", async () => {
  const { target, calls } = fake({ polls: [running, () => Promise.resolve(finished)] });
  const { d, events, rejected, ledger } = depsOf(target);
  await runBatch(f, d);
  assert.deepEqual(events.map((e) => e.event), ["submit", "accepted", "done"]);
  assert.deepEqual(calls, ["submit", "poll", "poll"]);
  const b = ledger.lists().batches[0]!;
  assert.deepEqual([b.status, b.execution_id, b.polls, b.remote_status], [
    "completed",
    "x0",
    2,
    "Completed",
  ]);
  // A remote failure's values are read from the source at the end: here its line and key.
  assert.deepEqual(rejected, [[{ later: "b" }, 3, "nope"]]);
  assert.deepEqual(checkCounts(ledger.counts()), []);
  assert.equal(ledger.stopped, false);
});

Deno.test("runBatch() marks an upload that may have been delivered unknown and stops the run", async () => {
  const { target, calls } = fake({
    submit: () => Promise.reject(new TransportError("Connection reset after the body", true)),
  });
  const { d, events, ledger } = depsOf(target);
  await runBatch(f, d);
  assert.deepEqual(events.map((e) => e.event), ["submit", "unknown"]);
  assert.deepEqual(calls, ["submit"]);
  assert.equal(ledger.counts().unknown, 2);
  assert.equal(ledger.facts().stop?.kind, "transport");
});

Deno.test("runBatch(): a target that loads nothing before its checkpoint has an answer lost before it counted unsent, after it unknown", async () => {
  for (const checkpointFirst of [false, true]) {
    const { target } = fake({});
    const t: Target = {
      ...target,
      loadsNothingBeforeCheckpoint: true,
      submit(_b, ctx) {
        if (checkpointFirst) ctx.checkpoint?.({ id: "job1" });
        return Promise.reject(new TransportError("Connection reset after the body", true));
      },
    };
    const { d, events, ledger } = depsOf(t);
    await runBatch(f, d);
    if (checkpointFirst) {
      assert.deepEqual(events.map((e) => e.event), ["submit", "created", "unknown"]);
      assert.equal(ledger.counts().unknown, 2);
    } else {
      assert.deepEqual(events.map((e) => e.event), ["submit", "refused"]);
      assert.deepEqual([ledger.counts().unsent, ledger.counts().unknown], [2, 0]);
      assert.match(ledger.lists().batches[0]!.message ?? "", /before any row was sent/);
    }
    assert.equal(ledger.facts().stop?.kind, "transport");
  }
});

Deno.test("runBatch() counts an upload refused outright as unsent, so a later run may send it", async () => {
  const { target } = fake({
    submit: () => Promise.reject(new HttpError("api", 400, "Upload refused: HTTP 400")),
  });
  const { d, events, ledger } = depsOf(target);
  await runBatch(f, d);
  assert.deepEqual(events.map((e) => e.event), ["submit", "refused"]);
  assert.deepEqual([ledger.counts().unsent, ledger.counts().sent], [2, 0]);
  assert.equal(ledger.lists().batches[0]!.status, "not_sent");
});

Deno.test("runBatch() asks again after a garbled status answer and names it on timeout", async () => {
  const garbled = () => Promise.reject(new RunnerError("transport", "Status answer is not JSON"));
  const { target, calls } = fake({ polls: [garbled, running] });
  const { d, events, logs, ledger } = depsOf(target);
  await runBatch(f, d);
  assert.ok(calls.filter((c) => c === "poll").length > 2);
  assert.match(logs.join("\n"), /Execution x0: Status answer is not JSON; asking again/);
  const b = ledger.lists().batches[0]!;
  assert.equal(b.status, "timed_out");
  assert.equal(b.message, "Still Running after 1 s; last error: Status answer is not JSON");
  assert.equal(ledger.counts().pending, 2);
  assert.equal(ledger.facts().stop?.kind, "timeout");
  assert.deepEqual(events.map((e) => e.event), ["submit", "accepted"], "no outcome journaled");
});

Deno.test("runBatch() keeps the last status error in the timeout message", async () => {
  const garbled = () => Promise.reject(new RunnerError("transport", "Status answer is not JSON"));
  const { d, ledger } = depsOf(fake({ polls: [garbled] }).target);
  await runBatch(f, d);
  assert.equal(
    ledger.lists().batches[0]!.message,
    "Still running after 1 s; last error: Status answer is not JSON",
  );
});

Deno.test("runBatch() leaves an accepted batch whose outcome cannot be read for the next run", async () => {
  const gone = () => Promise.reject(new HttpError("api", 404, "Execution not found"));
  const { d, events, ledger } = depsOf(fake({ polls: [gone] }).target);
  await runBatch(f, d);
  assert.deepEqual(events.map((e) => e.event), ["submit", "accepted"]);
  assert.equal(ledger.lists().batches[0]!.status, "unknown");
  assert.match(ledger.lists().hints[0]!, /Execution x0 was accepted .*the next run asks again/);
  assert.equal(ledger.facts().stop?.kind, "transport");
});

Deno.test("runBatch() waits for an earlier run's execution without sending the batch again", async () => {
  const { target, calls } = fake({});
  const { d, events, ledger } = depsOf(target);
  await runBatch(f, d, { kind: "wait", submission: { id: "x9" } });
  assert.deepEqual(calls, ["poll"]);
  assert.deepEqual(events.map((e) => e.event), ["done"]);
  assert.equal(ledger.lists().batches[0]!.execution_id, "x9");
  assert.equal(ledger.batchesSent, 1);
});

Deno.test("runBatch() maps unprocessed rows of a packed batch again from the source, and fails one whose line changed", async () => {
  const target: Target = {
    ...fake({}).target,
    status: () => Promise.resolve({ done: true, status: "completed", remoteStatus: "Done" }),
    results: () =>
      Promise.resolve({
        counts: { succeeded: 0, failed: 0, skipped: 0 },
        failures: [],
        problems: [],
        unprocessed: [0, 1],
      }),
  };
  const { d, events, ledger } = depsOf(target);
  // Packed as it filled: the batch kept no row, only keys and lines.
  const packed = { ...batch, rows: new Array(2) };
  const asked: number[][] = [];
  d.remap = (lines) => {
    asked.push([...lines]);
    // Line 3 now holds another key: what would be sent is not what the API was given.
    return Promise.resolve(new Map([[2, { id: "a" }], [3, { id: "b2" }]]));
  };
  const followed: Batch[] = [];
  d.followUp = (next) => {
    followed.push(next.batch);
    return Promise.resolve();
  };
  await runBatch({ batch: packed }, d);
  assert.deepEqual(asked, [[2, 3]]);
  assert.equal(followed.length, 1);
  assert.deepEqual([followed[0]!.rows, followed[0]!.keys, followed[0]!.lines], [
    [{ id: "a" }],
    ["a"],
    [2],
  ]);
  const done = events.find((e) => e.event === "done") as Extract<JournalEvent, { event: "done" }>;
  assert.deepEqual(done.unprocessed, [0]);
  assert.equal(done.counts.failed, 1);
  assert.match(done.failures[0]!.message, /line of the source changed/);
  assert.equal(ledger.counts().failed, 1);
});
