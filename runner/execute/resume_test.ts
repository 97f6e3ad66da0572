import assert from "node:assert/strict";
import type { PriorBatch } from "../journal.ts";
import { checkCounts } from "../report/summary.ts";
import { RunLedger } from "./ledger.ts";
import { replay, resumeAction } from "./resume.ts";

const done: Extract<PriorBatch, { state: "done" }> = {
  state: "done",
  submission: { id: "x0" },
  event: {
    event: "done",
    batch: 0,
    status: "completed",
    remote_status: "Completed",
    counts: { succeeded: 1, failed: 1, skipped: 0 },
    failures: [{ row: 1, message: "nope" }],
    problems: [],
    polls: 3,
    at: "2026-01-01T00:00:00.000Z",
  },
};

Deno.test("resumeAction() replays done batches, waits for accepted ones and sends the rest", () => {
  assert.equal(resumeAction(done, false).kind, "replay");
  assert.deepEqual(resumeAction({ state: "accepted", submission: { id: "x1" } }, false), {
    kind: "wait",
    submission: { id: "x1" },
  });
  assert.deepEqual(resumeAction(undefined, false), { kind: "send" });
});

Deno.test("resumeAction() marks an uncertain upload unknown unless resend_uncertain", () => {
  const prior: PriorBatch = { state: "uncertain", message: "The runner stopped" };
  assert.deepEqual(resumeAction(prior, false), {
    kind: "unknown",
    message: "The runner stopped (earlier run)",
  });
  assert.deepEqual(resumeAction(prior, true), { kind: "send" });
});

Deno.test("resumeAction() sends a batch whose run died before its job id, when the target loads nothing before it", () => {
  const bare: PriorBatch = { state: "uncertain", message: "The runner stopped", submitOnly: true };
  assert.deepEqual(resumeAction(bare, false, true, true), { kind: "send" });
  assert.equal(
    resumeAction(bare, false, true, false).kind,
    "unknown",
    "an upload of rows: unknown",
  );
  const answerLost: PriorBatch = { state: "uncertain", message: "Connection reset" };
  assert.equal(
    resumeAction(answerLost, false, true, true).kind,
    "unknown",
    "an uncertainty the earlier run journaled keeps its verdict",
  );
});

Deno.test("replay() counts a finished batch again without sending it, with its earlier times", async () => {
  const ledger = new RunLedger({ maxErrors: 10, now: () => 0 });
  const batch = {
    index: 0,
    fields: ["id"],
    rows: [{ id: "a" }, { id: "b" }],
    lines: [2, 3],
    keys: ["a", "b"],
    key: "id",
  };
  ledger.rowStaged();
  ledger.rowStaged();
  ledger.openBatch(batch);
  const written: [unknown, number | undefined, string][] = [];
  const rejects = {
    write: (v: unknown, l: number | undefined, m: string) => written.push([v, l, m]),
    writeLater: (l: number, m: string, k?: string) => written.push([{ later: k }, l, m]),
  };
  assert.equal(await replay({ batch }, done, { ledger, rejects }), undefined);
  const b = ledger.lists().batches[0]!;
  assert.deepEqual([b.status, b.execution_id, b.polls, b.finished_at], [
    "completed",
    "x0",
    3,
    "2026-01-01T00:00:00.000Z",
  ]);
  assert.equal(b.message, "Finished in the earlier run");
  assert.deepEqual([ledger.counts().succeeded, ledger.counts().failed], [1, 1]);
  assert.deepEqual(written, [[{ later: "b" }, 3, "nope"]]);
  assert.equal(ledger.batchesSent, 0, "nothing was sent by this run");
});

Deno.test("resumeAction() recovers a created job when the target can, else treats it as unknown", () => {
  const created: PriorBatch = { state: "created", submission: { id: "750x" } };
  assert.deepEqual(resumeAction(created, false, true), {
    kind: "recover",
    submission: { id: "750x" },
  });
  const unknown = resumeAction(created, false, false);
  assert.equal(unknown.kind, "unknown");
  assert.match((unknown as { message: string }).message, /job 750x was created/);
  assert.equal(resumeAction(created, true, false).kind, "send");
});

Deno.test("replay() of a packed batch with unprocessed rows maps them again from the source for the follow-up", async () => {
  const ledger = new RunLedger({ maxErrors: 10, now: () => 0 });
  // Re-formed by the resumed run and packed as it filled: no row is kept.
  const batch = {
    index: 0,
    fields: ["id"],
    rows: new Array(3),
    lines: [2, 3, 4],
    keys: ["a", "b", "c"],
    key: "id",
  };
  for (let i = 0; i < 3; i++) ledger.rowStaged();
  ledger.openBatch(batch);
  const unprocessed: typeof done = {
    ...done,
    event: {
      ...done.event,
      counts: { succeeded: 1, failed: 0, skipped: 0 },
      failures: [],
      unprocessed: [1, 2],
    },
  };
  const asked: number[][] = [];
  const next = await replay({ batch }, unprocessed, {
    ledger,
    remap: (lines) => {
      asked.push([...lines]);
      return Promise.resolve(new Map([[3, { id: "b" }], [4, { id: "c" }]]));
    },
  });
  assert.deepEqual(asked, [[3, 4]]);
  assert.deepEqual([next!.batch.rows, next!.batch.keys, next!.batch.lines], [
    [{ id: "b" }, { id: "c" }],
    ["b", "c"],
    [3, 4],
  ]);
  // The replayed batch's two unprocessed rows wait, unsent, in its follow-up batch.
  const c = ledger.counts();
  assert.deepEqual([c.read, c.succeeded, c.unsent, c.pending], [3, 1, 2, 0]);
  assert.deepEqual(checkCounts(c), []);
});
