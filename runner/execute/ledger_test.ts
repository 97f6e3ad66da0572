import assert from "node:assert/strict";
import fc from "fast-check";
import { RunnerError } from "../errors.ts";
import type { BatchOutcome } from "../journal.ts";
import { checkCounts, type Counts } from "../report/summary.ts";
import type { Batch } from "../targets/mod.ts";
import { RunLedger, splitRows } from "./ledger.ts";

const clock = () => Date.UTC(2026, 0, 1);

function batchOf(index: number, rows: number, firstLine = 2): Batch {
  return {
    index,
    fields: ["id"],
    rows: Array.from({ length: rows }, (_, i) => ({ id: `k${index}-${i}` })),
    lines: Array.from({ length: rows }, (_, i) => firstLine + i),
    keys: Array.from({ length: rows }, (_, i) => `k${index}-${i}`),
    key: "id",
  };
}

function outcome(o: Partial<BatchOutcome> = {}): BatchOutcome {
  return {
    status: "completed",
    remote_status: "completed",
    counts: { succeeded: 0, failed: 0, skipped: 0 },
    failures: [],
    problems: [],
    polls: 1,
    ...o,
  };
}

/** Stages `n` rows and opens them as batch `index`. */
function open(l: RunLedger, index: number, n: number): Batch {
  for (let i = 0; i < n; i++) l.rowStaged();
  const b = batchOf(index, n);
  l.openBatch(b);
  return b;
}

Deno.test("RunLedger counts a batch from staging to settled with the identities at each step", () => {
  const l = new RunLedger({ maxErrors: 10, now: clock });
  const seen: Counts[] = [];
  const snap = () => seen.push(l.counts());
  l.rowRejected([{ source_line: 2, message: "bad", stage: "local" }]);
  snap();
  const b = open(l, 0, 3);
  snap();
  l.batchSending(0);
  snap();
  l.batchAccepted(0, "x0");
  snap();
  l.batchFinished(b, outcome({ counts: { succeeded: 2, failed: 1, skipped: 0 } }));
  snap();
  for (const c of seen) assert.deepEqual(checkCounts(c), []);
  assert.deepEqual(seen.at(-1), {
    read: 4,
    rejected: 1,
    sent: 3,
    succeeded: 2,
    failed: 1,
    skipped: 0,
    pending: 0,
    unknown: 0,
    unsent: 0,
  });
  assert.equal(l.batchesSent, 1);
  assert.equal(l.lists().batches[0]!.execution_id, "x0");
});

Deno.test("RunLedger puts rows the API does not account for in unknown", () => {
  const l = new RunLedger({ maxErrors: 10, now: clock });
  const b = open(l, 0, 5);
  l.batchSending(0);
  l.batchAccepted(0, "x0");
  l.batchFinished(b, outcome({ counts: { succeeded: 3, failed: 0, skipped: 0 } }));
  const c = l.counts();
  assert.equal(c.unknown, 2);
  assert.deepEqual(checkCounts(c), []);
  assert.equal(l.facts().overcounted, 0);
});

Deno.test("RunLedger keeps the identities when the API counts more rows than were sent", () => {
  const l = new RunLedger({ maxErrors: 10, now: clock });
  const b = open(l, 0, 3);
  l.batchSending(0);
  l.batchAccepted(0, "x0");
  l.batchFinished(b, outcome({ counts: { succeeded: 5, failed: 2, skipped: 0 } }));
  const c = l.counts();
  assert.deepEqual(checkCounts(c), []);
  assert.deepEqual([c.sent, c.failed, c.succeeded], [3, 2, 1], "failures first, no over-claim");
  assert.equal(l.facts().overcounted, 1);
  assert.match(l.lists().problems[0]!, /accounts for 7 rows, but the batch has 3/);
  // The summary keeps what the API said for the batch itself.
  assert.deepEqual(l.lists().batches[0]!.counts, { succeeded: 5, failed: 2, skipped: 0 });
});

Deno.test("RunLedger refuses a transition a batch cannot make, and its counts stay whole", () => {
  const l = new RunLedger({ maxErrors: 10, now: clock });
  const b = open(l, 0, 2);
  const before = l.counts();
  assert.throws(() => l.batchTimedOut(0, 1000), RunnerError);
  assert.throws(() => l.batchAccepted(7, "x"), /never opened/);
  l.batchSending(0);
  l.batchAccepted(0, "x0");
  l.batchFinished(b, outcome({ counts: { succeeded: 2, failed: 0, skipped: 0 } }));
  assert.throws(() => l.batchFinished(b, outcome()), /cannot go from settled to settled/);
  assert.throws(() => l.openBatch(b), /cannot be opened twice/);
  assert.equal(l.counts().read, before.read);
  assert.deepEqual(checkCounts(l.counts()), []);
});

Deno.test("RunLedger words an unknown upload and an unknown outcome differently", () => {
  const l = new RunLedger({ maxErrors: 10, now: clock });
  open(l, 0, 2);
  open(l, 1, 2);
  l.batchSending(0);
  l.batchUnknown(0, "connection reset");
  l.batchSending(1);
  l.batchAccepted(1, "x1");
  l.batchUnknown(1, "HTTP 404");
  const { hints } = l.lists();
  assert.match(hints[0]!, /^Batch 1 \(source lines 2-3\) may or may not have been loaded/);
  assert.match(hints[1]!, /^Execution x1 was accepted but its outcome could not be read/);
  assert.equal(l.counts().unknown, 4);
});

Deno.test("RunLedger lists row errors by line up to the cap and counts the rest as omitted", () => {
  const l = new RunLedger({ maxErrors: 2, now: clock });
  for (const line of [9, 4, 7, 2, 5]) {
    l.rowRejected([{ source_line: line, message: `bad ${line}`, stage: "local" }]);
  }
  l.finish();
  const { errors, errorsOmitted } = l.lists();
  assert.deepEqual(errors.map((e) => e.source_line), [2, 4]);
  assert.equal(errorsOmitted, 3);
});

Deno.test("RunLedger fails every unnamed row of an execution that failed as a whole", () => {
  const l = new RunLedger({ maxErrors: 10, now: clock });
  const b = open(l, 0, 3);
  l.batchSending(0);
  l.batchAccepted(0, "x0");
  const failed = l.batchFinished(
    b,
    outcome({
      status: "failed",
      message: "boom",
      counts: { succeeded: 0, failed: 3, skipped: 0 },
    }),
  );
  assert.deepEqual(failed.map((f) => [f.row, f.line]), [[0, 2], [1, 3], [2, 4]]);
  assert.deepEqual(l.lists().errors.map((e) => e.key), ["k0-0", "k0-1", "k0-2"]);
  assert.deepEqual(l.facts().executionFailures, ["Execution x0 failed: boom"]);
});

Deno.test("RunLedger lets a transport stop outrank a timeout, never the reverse", () => {
  const l = new RunLedger({ maxErrors: 10, now: clock });
  l.stop("timeout", "waited");
  l.stop("transport", "reset");
  l.stop("timeout", "waited again");
  assert.deepEqual(l.facts().stop, { kind: "transport", reason: "reset" });
});

Deno.test("splitRows takes failed and skipped rows before succeeded ones", () => {
  assert.deepEqual(splitRows({ succeeded: 4, failed: 1, skipped: 1 }, 4), {
    share: { succeeded: 2, failed: 1, skipped: 1, unknown: 0 },
    over: 6,
  });
  assert.deepEqual(splitRows({ succeeded: 1, failed: 0, skipped: 0 }, 3), {
    share: { succeeded: 1, failed: 0, skipped: 0, unknown: 2 },
  });
});

type Op =
  | { op: "reject" }
  | { op: "stage"; n: number }
  | { op: "open"; n: number }
  | { op: "sending" | "accept" | "refuse" | "notSent" | "unknown" | "timeout"; b: number }
  | { op: "finish"; b: number; s: number; f: number; k: number };

const ops: fc.Arbitrary<Op> = fc.oneof(
  fc.constant({ op: "reject" as const }),
  fc.record({ op: fc.constant("stage" as const), n: fc.integer({ min: 0, max: 5 }) }),
  fc.record({ op: fc.constant("open" as const), n: fc.integer({ min: 0, max: 8 }) }),
  fc.record({
    op: fc.constantFrom(
      "sending" as const,
      "accept" as const,
      "refuse" as const,
      "notSent" as const,
      "unknown" as const,
      "timeout" as const,
    ),
    b: fc.integer({ min: 0, max: 6 }),
  }),
  fc.record({
    op: fc.constant("finish" as const),
    b: fc.integer({ min: 0, max: 6 }),
    s: fc.integer({ min: -2, max: 10 }),
    f: fc.integer({ min: -2, max: 10 }),
    k: fc.integer({ min: -2, max: 10 }),
  }),
);

Deno.test("RunLedger keeps both identities under any sequence of events, legal or not", () => {
  fc.assert(
    fc.property(fc.array(ops, { maxLength: 60 }), (seq) => {
      const l = new RunLedger({ maxErrors: 3, now: clock });
      const batches = new Map<number, Batch>();
      let rowsIn = 0;
      for (const o of seq) {
        try {
          switch (o.op) {
            case "reject":
              l.rowRejected([{ message: "x", stage: "local" }]);
              rowsIn++;
              break;
            case "stage":
              for (let i = 0; i < o.n; i++) l.rowStaged();
              rowsIn += o.n;
              break;
            case "open": {
              const b = batchOf(batches.size, o.n);
              l.openBatch(b);
              batches.set(b.index, b);
              break;
            }
            case "sending":
              l.batchSending(o.b);
              break;
            case "accept":
              l.batchAccepted(o.b, `x${o.b}`);
              break;
            case "refuse":
              l.batchRefused(o.b, "no");
              break;
            case "notSent":
              l.batchNotSent(o.b);
              break;
            case "unknown":
              l.batchUnknown(o.b, "lost");
              break;
            case "timeout":
              l.batchTimedOut(o.b, 1000);
              break;
            case "finish":
              l.batchFinished(
                batches.get(o.b) ?? batchOf(o.b, 1),
                outcome({ counts: { succeeded: o.s, failed: o.f, skipped: o.k } }),
              );
              break;
          }
        } catch (e) {
          // Illegal events are refused as internal errors, never half-applied.
          if (!(e instanceof RunnerError && e.code === "internal")) throw e;
        }
        const c = l.counts();
        assert.deepEqual(checkCounts(c), []);
        assert.equal(c.read, rowsIn, "every row read is counted once");
        for (const v of Object.values(c)) assert.ok(v >= 0, "no bucket goes negative");
      }
    }),
    { numRuns: 300 },
  );
});

Deno.test("batchFinished() moves unprocessed rows to a follow-up batch, counted sent once", () => {
  const l = new RunLedger({ maxErrors: 10, now: clock });
  const b = open(l, 0, 10);
  l.batchSending(0);
  l.batchAccepted(0, "j1");
  const resend = { ...batchOf(1_000_000_000, 4, 8) };
  l.batchFinished(
    b,
    outcome({
      status: "failed",
      message: "half-way",
      counts: { succeeded: 5, failed: 1, skipped: 0 },
      failures: [{ row: 0, message: "bad" }],
      unprocessed: [6, 7, 8, 9],
    }),
    { resend },
  );
  let c = l.counts();
  assert.deepEqual([c.read, c.sent, c.succeeded, c.failed, c.unsent, c.unknown], [
    10,
    6,
    5,
    1,
    4,
    0,
  ]);
  assert.equal(l.facts().executionFailures.length, 0, "a job failed part-way is not the run's");
  l.batchSending(resend.index);
  l.batchAccepted(resend.index, "j2");
  l.batchFinished(resend, outcome({ counts: { succeeded: 4, failed: 0, skipped: 0 } }));
  c = l.counts();
  assert.deepEqual([c.read, c.sent, c.succeeded, c.failed, c.unsent], [10, 10, 9, 1, 0]);
  assert.equal(checkCounts(c).length, 0);
  assert.match(l.lists().batches[0]!.message!, /4 unprocessed rows sent again/);
  assert.equal(l.lists().batches[1]!.rows, 4);
});

Deno.test("RunLedger lists the first errors by line, local and remote mixed, whatever the order they come in", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 6 }),
      // Per step: a local reject on a line, or a batch whose listed rows failed.
      fc.array(
        fc.oneof(
          fc.integer({ min: 2, max: 400 }).map((line) => ({ local: line })),
          fc.uniqueArray(fc.integer({ min: 0, max: 19 }), { maxLength: 20 }).map((rows) => ({
            rows,
          })),
        ),
        { maxLength: 25 },
      ),
      (cap, steps) => {
        const l = new RunLedger({ maxErrors: cap, now: clock });
        const lines: number[] = [];
        let index = 0;
        for (const step of steps) {
          if ("local" in step) {
            l.rowRejected([{ source_line: step.local, message: "bad", stage: "local" }]);
            lines.push(step.local);
            continue;
          }
          // Batches of 20 rows on lines from 500 on, in any order of rows.
          for (let i = 0; i < 20; i++) l.rowStaged();
          const b = batchOf(index, 20, 500 + 20 * index);
          index++;
          l.openBatch(b);
          l.batchSending(b.index);
          l.batchAccepted(b.index, `x${b.index}`);
          const failures = step.rows.map((row) => ({ row, message: "nope" }));
          l.batchFinished(
            b,
            outcome({
              counts: { succeeded: 20 - failures.length, failed: failures.length, skipped: 0 },
              failures,
            }),
          );
          lines.push(...step.rows.map((row) => b.lines[row]!));
        }
        l.finish();
        const { errors, errorsOmitted } = l.lists();
        const want = [...lines].sort((a, b) => a - b).slice(0, cap);
        assert.deepEqual(errors.map((e) => e.source_line), want);
        assert.equal(errorsOmitted, lines.length - want.length);
      },
    ),
    { numRuns: 300 },
  );
});
