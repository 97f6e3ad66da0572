/**
 * The life of one batch: journal "submit" → submit → journal "accepted" → check on the poll
 * schedule until finished → fetch its results → journal "done" → settle in the ledger.
 *
 * The journal entry before each upload is what lets a later run tell an upload that may have
 * reached the API (never resent blindly) from one that provably did not.
 *
 * @module
 */
import { ConfigRefusedError, HttpError, RunnerError, TransportError } from "../errors.ts";
import type { BatchOutcome, JournalEvent } from "../journal.ts";
import type {
  Batch,
  BatchCounts,
  RowFailure,
  Submission,
  Target,
  TargetContext,
} from "../targets/mod.ts";
import type { InFlight, RejectsSink } from "./batcher.ts";
import type { RunLedger } from "./ledger.ts";
import { type PollPolicy, PollSchedule } from "./schedule.ts";

/** What the lifecycle of a batch uses. */
export interface LifecycleDeps {
  target: Target;
  ctx: TargetContext;
  ledger: RunLedger;
  /** Records a journal event durably (a no-op without a journal). */
  journal: (e: JournalEvent) => void;
  log: (line: string) => void;
  now: () => number;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  signal?: AbortSignal;
  polling: PollPolicy;
  rejects?: RejectsSink;
}

/** How a finished batch ended, before its per-row results are read. */
export interface Finished {
  status: "completed" | "failed";
  remoteStatus: string;
  message?: string;
}

/** The per-row results of a finished batch. */
export interface Results {
  counts: BatchCounts;
  failures: RowFailure[];
  problems: string[];
}

/** One check of a batch: still running, or finished with a way to read its results. */
export type Check =
  | { done: false; remoteStatus: string }
  | { done: true; finished: Finished; results: () => Promise<Results> };

/**
 * The one place that asks the target about a batch. It asks the status; once finished, results
 * are read by a separate call the lifecycle can repeat alone.
 */
export async function check(
  target: Target,
  sub: Submission,
  batch: Batch,
  ctx: TargetContext,
): Promise<Check> {
  const st = await target.status(sub, batch, ctx);
  if (!st.done) return { done: false, remoteStatus: st.remoteStatus };
  return {
    done: true,
    finished: {
      status: st.status,
      remoteStatus: st.remoteStatus,
      ...(st.message ? { message: st.message } : {}),
    },
    // Results are safe to ask for again: a failed download is retried alone, not the status.
    results: () => target.results(sub, st, batch, ctx),
  };
}

/**
 * Runs one batch to its end and reports every step to the ledger and the journal. Never throws
 * for API or transport problems: they become the batch's state and stop the run.
 *
 * @param accepted the submission of an earlier run to wait for instead of sending the batch
 */
export async function runBatch(
  f: InFlight,
  d: LifecycleDeps,
  accepted?: Submission,
): Promise<void> {
  const { batch } = f;
  let sub: Submission | undefined;
  if (accepted) {
    sub = accepted;
    d.ledger.batchAccepted(batch.index, sub.id);
    d.log(`Batch ${batch.index + 1}: waiting for execution ${sub.id} from the earlier run`);
  } else {
    sub = await submit(batch, d);
    if (!sub) return;
  }
  const outcome = await waitForOutcome(batch, sub, d);
  if (!outcome) return;
  d.journal({ event: "done", batch: batch.index, at: new Date(d.now()).toISOString(), ...outcome });
  settle(f, outcome, d, { executionId: sub.id });
  const c = outcome.counts;
  d.log(
    `Batch ${
      batch.index + 1
    }: execution ${sub.id} ${outcome.status}: ${c.succeeded} succeeded, ${c.failed} failed, ${c.skipped} skipped`,
  );
}

/** Counts a finished batch in the ledger and writes its failed rows to the rejects file. */
export function settle(
  f: InFlight,
  outcome: BatchOutcome,
  d: Pick<LifecycleDeps, "ledger" | "rejects">,
  o: { executionId?: string; at?: string; message?: string },
): void {
  const failed = d.ledger.batchFinished(f.batch, outcome, o);
  if (!d.rejects) return;
  for (const r of failed) {
    d.rejects.write(r.row === undefined ? {} : f.records[r.row]!, r.line, r.message);
  }
}

/** Uploads the batch; undefined when the upload failed (the ledger knows how). */
async function submit(batch: Batch, d: LifecycleDeps): Promise<Submission | undefined> {
  const s = d.ledger;
  const at = () => new Date(d.now()).toISOString();
  const rows = batch.rows.length;
  // Journal first: if the process dies mid-upload, the next run knows this batch is uncertain.
  d.journal({
    event: "submit",
    batch: batch.index,
    first_line: batch.lines[0] ?? 0,
    last_line: batch.lines[rows - 1] ?? 0,
    rows,
    at: at(),
  });
  s.batchSending(batch.index);
  let sub: Submission;
  try {
    sub = await d.target.submit(batch, d.ctx);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    const maybe = (err instanceof TransportError && err.maybeDelivered) ||
      (err instanceof HttpError && err.status >= 500);
    if (maybe) {
      d.journal({ event: "unknown", batch: batch.index, message: msg, at: at() });
      s.batchUnknown(batch.index, msg);
    } else {
      // Refused outright: nothing was processed, so a later run may send it again.
      d.journal({ event: "refused", batch: batch.index, message: msg, at: at() });
      s.batchRefused(batch.index, msg);
    }
    // A refusal of what the pipeline asked for is a config mistake (exit 2), not an outage.
    if (err instanceof ConfigRefusedError) s.stop("config", msg, err.field);
    else s.stop("transport", msg);
    return undefined;
  }
  d.journal({ event: "accepted", batch: batch.index, submission: sub, at: at() });
  s.batchAccepted(batch.index, sub.id);
  d.log(`Batch ${batch.index + 1}: ${rows} rows sent, execution ${sub.id}`);
  return sub;
}

/**
 * Checks the batch on its schedule until it finished and its results were read. A garbled or
 * failed answer is not an outcome: the same step (status, or results alone once the batch is
 * known to have finished) is asked again until the timeout.
 *
 * @returns the outcome, or undefined when the batch timed out or its outcome was lost
 */
async function waitForOutcome(
  batch: Batch,
  sub: Submission,
  d: LifecycleDeps,
): Promise<BatchOutcome | undefined> {
  const s = d.ledger;
  const schedule = new PollSchedule(d.polling, d.now);
  let lastError: string | undefined;
  let finished: Extract<Check, { done: true }> | undefined;
  for (;;) {
    if (!(await schedule.next(d.sleep, d.signal))) {
      s.batchTimedOut(batch.index, d.polling.timeout, lastError);
      s.stop("timeout", `Stopped waiting for execution ${sub.id}`);
      return undefined;
    }
    const polls = s.batchPolled(batch.index);
    try {
      if (!finished) {
        const c = await check(d.target, sub, batch, d.ctx);
        s.batchRemoteStatus(batch.index, c.done ? c.finished.remoteStatus : c.remoteStatus);
        if (!c.done) continue;
        // Here a "finished" journal event will let a resumed run read the results alone.
        finished = c;
      }
      const r = await finished.results();
      const f = finished.finished;
      return {
        status: f.status,
        remote_status: f.remoteStatus,
        ...(f.message ? { message: f.message } : {}),
        counts: r.counts,
        failures: r.failures,
        problems: r.problems,
        polls,
      };
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      if (err instanceof RunnerError && err.code === "transport") {
        lastError = msg;
        d.log(`Execution ${sub.id}: ${msg}; asking again`);
        continue;
      }
      // The journal still says "accepted": the next run asks again rather than resending.
      s.batchUnknown(batch.index, msg);
      s.stop("transport", msg);
      return undefined;
    }
  }
}
