import assert from "node:assert/strict";
import { EXIT } from "../exit.ts";
import type { Counts } from "../report/summary.ts";
import type { LedgerFacts } from "./ledger.ts";
import { verdict } from "./verdict.ts";

function facts(
  o: Partial<Omit<LedgerFacts, "counts">> & { counts?: Partial<Counts> } = {},
): LedgerFacts {
  const counts: Counts = {
    read: 10,
    rejected: 0,
    sent: 10,
    succeeded: 10,
    failed: 0,
    skipped: 0,
    pending: 0,
    unknown: 0,
    unsent: 0,
    ...o.counts,
  };
  return { timedOut: 0, executionFailures: [], problems: 0, overcounted: 0, ...o, counts };
}

Deno.test("verdict() calls a clean run succeeded with exit 0 and no reason", () => {
  assert.deepEqual(verdict(facts(), 0), { status: "succeeded", exit: EXIT.ok, errorRate: 0 });
});

Deno.test("verdict() maps each stop to its status and exit code", () => {
  const cases: [LedgerFacts["stop"], string, number][] = [
    [{ kind: "transport", reason: "reset" }, "failed", EXIT.transport],
    [{ kind: "input", reason: "bad file" }, "failed", EXIT.invalid],
    [{ kind: "timeout", reason: "waited" }, "timed_out", EXIT.timedOut],
  ];
  for (const [stop, status, exit] of cases) {
    const v = verdict(facts({ stop, timedOut: 2 }), 0);
    assert.deepEqual([v.status, v.exit], [status, exit]);
  }
  assert.equal(
    verdict(facts({ stop: { kind: "timeout", reason: "x" }, timedOut: 1 }), 0).reason,
    "1 execution still running after the polling timeout",
  );
});

Deno.test("verdict() puts a stop before unknown rows, and unknown rows before failures", () => {
  const unknown = { counts: { unknown: 2, succeeded: 8 } };
  assert.equal(verdict(facts({ ...unknown, stop: { kind: "input", reason: "x" } }), 0).exit, 2);
  const v = verdict(facts({ ...unknown, executionFailures: ["Execution x failed"] }), 0);
  assert.deepEqual([v.status, v.exit], ["failed", EXIT.transport]);
  assert.match(v.reason!, /2 rows are in uploads whose fate is unknown/);
});

Deno.test("verdict() fails above max_error_rate and tolerates errors within it", () => {
  const c = { rejected: 1, sent: 9, succeeded: 8, failed: 1 };
  const above = verdict(facts({ counts: c }), 0.1);
  assert.deepEqual([above.status, above.exit], ["failed", EXIT.rowsFailed]);
  assert.equal(above.reason, "2 of 10 rows failed (20%), above max_error_rate 10%");
  const within = verdict(facts({ counts: c }), 0.2);
  assert.deepEqual([within.status, within.exit], ["completed_with_errors", EXIT.ok]);
  assert.equal(within.errorRate, 0.2);
});

Deno.test("verdict() fails a run whose API counted more rows than were sent", () => {
  const v = verdict(facts({ overcounted: 1, problems: 1 }), 1);
  assert.deepEqual([v.status, v.exit], ["failed", EXIT.rowsFailed]);
  assert.match(v.reason!, /do not add up/);
});

Deno.test("verdict() notes problems alone as completed_with_errors", () => {
  const v = verdict(facts({ problems: 1 }), 0);
  assert.deepEqual([v.status, v.exit], ["completed_with_errors", EXIT.ok]);
});
