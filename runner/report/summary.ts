/**
 * The run summary: one JSON object per pipeline, the runner's contract with scripts and CI.
 *
 * @module
 */
import { redactDeep } from "../util/redact.ts";

/** How a run ended. */
export type RunStatus = "succeeded" | "completed_with_errors" | "failed" | "timed_out";

/**
 * Row counts. Always `read = rejected + unchanged + sent + unsent` and
 * `sent = succeeded + failed + skipped + pending + unknown`.
 */
export interface Counts {
  /** Records read from the source. */
  read: number;
  /** Rejected locally (could not be mapped or checked); never sent. */
  rejected: number;
  /** Sent in a batch the API accepted, or may have received. */
  sent: number;
  succeeded: number;
  failed: number;
  skipped: number;
  /** In executions still running when the runner stopped waiting (status `timed_out`). */
  pending: number;
  /** In uploads whose fate is unknown (the connection broke after the body was sent). */
  unknown: number;
  /** Read and mapped, but not sent because the run stopped first. */
  unsent: number;
  /**
   * `send: changed` only: read and mapped, not sent because the API confirmed the same values
   * for the key before.
   */
  unchanged?: number;
  /**
   * `send: changed` only, outside the identities: keys the API confirmed in earlier runs that
   * this run's source does not have (reported, never deleted remotely).
   */
  removed?: number;
}

/**
 * The counts in the order reports show them; the exceptional ones matter only when not zero, and
 * `unchanged` and `removed` only when present (`send: changed`).
 */
export const COUNT_ORDER = [
  "read",
  "rejected",
  "unchanged",
  "sent",
  "succeeded",
  "failed",
  "skipped",
  "pending",
  "unknown",
  "unsent",
  "removed",
] as const satisfies readonly (keyof Counts)[];

/** Counts that are zero in a run that finished normally, shown only when they are not. */
export const EXCEPTIONAL_COUNTS: ReadonlySet<keyof Counts> = new Set([
  "pending",
  "unknown",
  "unsent",
]);

/** One row that did not load, with where it came from. */
export interface RowError {
  /** Line of the source file the row starts on; absent when the API did not say which row. */
  source_line?: number;
  key?: string;
  field?: string;
  /** The API's error code or the runner's check that failed (`invalid_date`, ...). */
  code?: string;
  message: string;
  /** `local`: rejected before sending; `remote`: the API refused it. */
  stage: "local" | "remote";
  /** `skipped`: the API skipped the row (a duplicate to insert, a record not found to update). */
  outcome?: "skipped";
}

/** One upload and what became of it. */
export interface BatchSummary {
  index: number;
  /** WorkSpan execution id or Bigin job id; absent when the upload never got one. */
  execution_id?: string;
  rows: number;
  first_line: number;
  last_line: number;
  /** `completed`, `failed` (the execution failed as a whole), `timed_out`, `unknown`, `not_sent`. */
  status: "completed" | "failed" | "timed_out" | "unknown" | "not_sent";
  /** The status the API last gave, verbatim. */
  remote_status?: string;
  message?: string;
  polls: number;
  counts: { succeeded: number; failed: number; skipped: number };
  submitted_at?: string;
  finished_at?: string;
}

/** The whole summary, printed as one JSON line on stdout. */
export interface Summary {
  version: 1;
  pipeline: string;
  target: string;
  status: RunStatus;
  /** Why the status is not `succeeded`, in a sentence. */
  reason?: string;
  started_at: string;
  finished_at: string;
  duration_ms: number;
  /** True when this run picked up an unfinished earlier run from the journal. */
  resumed?: boolean;
  source: string;
  /**
   * Where the pipeline file should be fixed when the API refused what it asked for (exit 2): the
   * pipeline file, and the line and column of the mapping of the field the API named.
   */
  config_error?: { file: string; field?: string; line: number; column: number };
  counts: Counts;
  /** (rejected + failed) / read; 0 when nothing was read. */
  error_rate: number;
  max_error_rate: number;
  batches: BatchSummary[];
  /** Row errors by source line, at most `output.max_errors` of them. */
  errors: RowError[];
  /** Row errors not listed because of `output.max_errors` (the rejects file has them all). */
  errors_omitted: number;
  /** Contradictions found in the API's answers or in the runner's own accounting. */
  problems: string[];
  /** What the user can do next, when the run did not succeed. */
  hints: string[];
  /**
   * The process exit code this run maps to: 0 succeeded (or within max_error_rate), 1 rows
   * failed above the limit or an execution failed, 2 the source could not be read, 3 an API or
   * transport error, 4 timed out waiting.
   */
  exit_code: 0 | 1 | 2 | 3 | 4;
  /** Files written. */
  outputs: {
    summary?: string;
    rejects?: string;
    /** `send: changed`: the keys counted `removed`, one a line (next to the rejects file). */
    removed?: string;
  };
}

/** Checks the accounting identities; returns a problem per breach. */
export function checkCounts(c: Counts): string[] {
  const out: string[] = [];
  const unchanged = c.unchanged ?? 0;
  if (c.read !== c.rejected + unchanged + c.sent + c.unsent) {
    out.push(
      `Accounting breach: read ${c.read} != rejected ${c.rejected}${
        c.unchanged === undefined ? "" : ` + unchanged ${unchanged}`
      } + sent ${c.sent} + unsent ${c.unsent}`,
    );
  }
  const settled = c.succeeded + c.failed + c.skipped + c.pending + c.unknown;
  if (c.sent !== settled) {
    out.push(
      `Accounting breach: sent ${c.sent} != succeeded ${c.succeeded} + failed ${c.failed} + skipped ${c.skipped} + pending ${c.pending} + unknown ${c.unknown}`,
    );
  }
  return out;
}

/**
 * The summary as JSON text, secrets hidden in its values before it is serialised (so a secret
 * that is also a count, say `1000`, never turns `"read":1000` into `"read":***`).
 *
 * @param indent as `JSON.stringify`'s; with an indent the text ends with a line break (a file)
 * @example
 * io.out(summaryJson(summary, plan.secrets));
 */
export function summaryJson(s: Summary, secrets: readonly string[], indent?: number): string {
  const text = JSON.stringify(redactDeep(s, secrets), null, indent);
  return indent === undefined ? text : text + "\n";
}
