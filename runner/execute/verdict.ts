/**
 * The verdict of a run: its status, exit code and reason, from one table read top to bottom (the
 * first matching row wins). A pure function of the ledger's facts.
 *
 * @module
 */
import { EXIT, type ExitCode } from "../exit.ts";
import type { RunStatus } from "../report/summary.ts";
import type { LedgerFacts } from "./ledger.ts";

/** How a run ended. */
export interface Verdict {
  status: RunStatus;
  exit: ExitCode;
  reason?: string;
  /** (rejected + failed) / read; 0 when nothing was read. */
  errorRate: number;
}

interface Facts extends LedgerFacts {
  errorRate: number;
  maxErrorRate: number;
}

interface Row {
  when: (f: Facts) => boolean;
  status: RunStatus;
  exit: ExitCode;
  reason: (f: Facts) => string | undefined;
}

/** The verdict table: the first row whose `when` holds decides. */
const TABLE: readonly Row[] = [
  {
    when: (f) => f.stop?.kind === "transport",
    status: "failed",
    exit: EXIT.transport,
    reason: (f) => f.stop?.reason,
  },
  {
    when: (f) => f.stop?.kind === "config",
    status: "failed",
    exit: EXIT.invalid,
    reason: (f) => f.stop?.reason,
  },
  {
    when: (f) => f.stop?.kind === "limit",
    status: "failed",
    exit: EXIT.rowsFailed,
    reason: (f) => f.stop?.reason,
  },
  {
    when: (f) => f.stop?.kind === "input",
    status: "failed",
    exit: EXIT.invalid,
    reason: (f) => f.stop?.reason,
  },
  {
    when: (f) => f.stop?.kind === "timeout",
    status: "timed_out",
    exit: EXIT.timedOut,
    reason: (f) =>
      `${f.timedOut} execution${
        f.timedOut === 1 ? "" : "s"
      } still running after the polling timeout`,
  },
  {
    when: (f) => f.counts.unknown > 0,
    status: "failed",
    exit: EXIT.transport,
    reason: (f) => `${f.counts.unknown} rows are in uploads whose fate is unknown (see hints)`,
  },
  {
    when: (f) => f.executionFailures.length > 0,
    status: "failed",
    exit: EXIT.rowsFailed,
    reason: (f) => f.executionFailures.join("; "),
  },
  {
    when: (f) => f.errorRate > f.maxErrorRate,
    status: "failed",
    exit: EXIT.rowsFailed,
    reason: (f) =>
      `${f.counts.rejected + f.counts.failed} of ${f.counts.read} rows failed (${
        pct(f.errorRate)
      }), above max_error_rate ${pct(f.maxErrorRate)}`,
  },
  {
    when: (f) => f.overcounted > 0,
    status: "failed",
    exit: EXIT.rowsFailed,
    reason: () => "The run's row counts do not add up (see problems)",
  },
  {
    when: (f) => f.counts.rejected + f.counts.failed + f.counts.skipped > 0 || f.problems > 0,
    status: "completed_with_errors",
    exit: EXIT.ok,
    reason: (f) =>
      `${f.counts.rejected} rejected, ${f.counts.failed} failed, ${f.counts.skipped} skipped, within max_error_rate ${
        pct(f.maxErrorRate)
      }`,
  },
  { when: () => true, status: "succeeded", exit: EXIT.ok, reason: () => undefined },
];

/**
 * Decides how a run ended.
 *
 * @param facts the ledger's facts at the end of the run
 * @param maxErrorRate `limits.max_error_rate`
 */
export function verdict(facts: LedgerFacts, maxErrorRate: number): Verdict {
  const c = facts.counts;
  const errorRate = c.read === 0 ? 0 : (c.rejected + c.failed) / c.read;
  const f: Facts = { ...facts, errorRate, maxErrorRate };
  const row = TABLE.find((r) => r.when(f))!;
  const reason = row.reason(f);
  return { status: row.status, exit: row.exit, ...(reason ? { reason } : {}), errorRate };
}

function pct(x: number): string {
  return `${Math.round(x * 10000) / 100}%`;
}
