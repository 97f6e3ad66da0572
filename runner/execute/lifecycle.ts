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
import type { MappedRow } from "../mapping/mod.ts";
import type {
  Batch,
  BatchCounts,
  RowFailure,
  Submission,
  Target,
  TargetContext,
} from "../targets/mod.ts";
import { type InFlight, isResend, type RejectsSink, resendBatch } from "./batcher.ts";
import type { ChangeTracker } from "./changes.ts";
import type { RunLedger } from "./ledger.ts";
import { type PollPolicy, PollSchedule } from "./schedule.ts";
import type { UploadTurns } from "./turns.ts";

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
  /**
   * Runs the follow-up batch of rows an API left unprocessed, in the slot of the batch that
   * left them (without it, those rows stay unsent).
   */
  followUp?: (f: InFlight) => Promise<void>;
  /** `send: changed`: told each batch's results, to confirm what the API confirmed. */
  changes?: ChangeTracker;
  /** Counts each submission as an upload on its way, so the reader gives the runtime turns. */
  uploads?: UploadTurns;
  /**
   * Maps the source records at these lines again (one pass over the source), for unprocessed
   * rows of a batch whose rows were let go once packed; a line the source no longer has, or whose
   * row no longer maps, is missing from the answer.
   */
  remap?: (lines: ReadonlySet<number>) => Promise<ReadonlyMap<number, MappedRow>>;
}

/** How a batch an earlier run got to the API starts in this run. */
export type Resumed =
  | { kind: "wait"; submission: Submission }
  | { kind: "recover"; submission: Submission };

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
  /** Rows (indexes in the batch) the API never processed. */
  unprocessed?: number[];
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
 * @param resumed what an earlier run left: an accepted submission to wait for, or a created job
 *   for the target to recover (polled if it was closed, else aborted and the batch sent again)
 */
export async function runBatch(
  f: InFlight,
  d: LifecycleDeps,
  resumed?: Resumed,
): Promise<void> {
  const { batch } = f;
  const sub = resumed ? await resume(batch, resumed, d) : await submit(batch, d);
  if (!sub) return;
  let outcome = await waitForOutcome(batch, sub, d);
  if (!outcome) return;
  // Unprocessed rows get one more job; what a second job leaves unprocessed failed.
  if (outcome.unprocessed && isResend(batch)) {
    outcome = unprocessedFailed(
      outcome,
      outcome.unprocessed,
      "Not processed by the API in two jobs",
    );
  }
  let mapped: ReadonlyMap<number, MappedRow> | undefined;
  ({ outcome, mapped } = await remapUnprocessed(batch, outcome, d));
  d.journal({ event: "done", batch: batch.index, at: new Date(d.now()).toISOString(), ...outcome });
  const next = settle(f, outcome, d, { executionId: sub.id }, mapped);
  const c = outcome.counts;
  d.log(
    `Batch ${
      batch.index + 1
    }: execution ${sub.id} ${outcome.status}: ${c.succeeded} succeeded, ${c.failed} failed, ${c.skipped} skipped${
      next ? `, ${next.batch.rows.length} unprocessed (sent again)` : ""
    }`,
  );
  if (next && d.followUp) await d.followUp(next);
  else if (next) d.ledger.batchNotSent(next.batch.index);
}

/** Unprocessed rows `rows`, counted failed with `message` rather than sent again. */
function unprocessedFailed(
  outcome: BatchOutcome,
  rows: readonly number[],
  message: string,
): BatchOutcome {
  const { unprocessed = [], ...rest } = outcome;
  const failed = new Set(rows);
  const left = unprocessed.filter((i) => !failed.has(i));
  return {
    ...rest,
    counts: { ...rest.counts, failed: rest.counts.failed + failed.size },
    failures: [...rest.failures, ...rows.map((row) => ({ row, message }))],
    ...(left.length > 0 ? { unprocessed: left } : {}),
  };
}

/**
 * The unprocessed rows of a batch, for their follow-up batch: when the batch was packed (its rows
 * let go), mapped again from the source. A row that cannot be (its line is gone, no longer maps,
 * or now has another key) is counted failed: what would be sent is no longer what the API was
 * given. Used for a batch finished now and for one an earlier run finished (`replay`).
 */
export async function remapUnprocessed(
  batch: Batch,
  outcome: BatchOutcome,
  d: Pick<LifecycleDeps, "remap">,
): Promise<{ outcome: BatchOutcome; mapped?: ReadonlyMap<number, MappedRow> }> {
  const rows = outcome.unprocessed ?? [];
  if (!rows.some((i) => batch.rows[i] === undefined)) return { outcome };
  let byLine: ReadonlyMap<number, MappedRow> = new Map();
  let unread = "";
  try {
    if (d.remap) byLine = await d.remap(new Set(rows.map((i) => batch.lines[i]!)));
  } catch (err) {
    unread = `: the source could not be read again (${
      err instanceof Error ? err.message : String(err)
    })`;
  }
  const mapped = new Map<number, MappedRow>();
  const lost: number[] = [];
  for (const i of rows) {
    const row = batch.rows[i] ?? byLine.get(batch.lines[i]!);
    if (row !== undefined && (row[batch.key] ?? null) === batch.keys.at(i)) mapped.set(i, row);
    else lost.push(i);
  }
  if (lost.length === 0) return { outcome, mapped };
  const message = unread
    ? `Not processed by the API, and not sent again${unread}`
    : "Not processed by the API, and not sent again: its line of the source changed during the run";
  return { outcome: unprocessedFailed(outcome, lost, message), mapped };
}

/**
 * Counts a finished batch in the ledger and writes its failed rows to the rejects file.
 *
 * @returns the follow-up batch of the rows the API left unprocessed, opened in the ledger
 */
export function settle(
  f: InFlight,
  outcome: BatchOutcome,
  d: Pick<LifecycleDeps, "ledger" | "rejects" | "changes">,
  o: { executionId?: string; at?: string; message?: string },
  mapped?: ReadonlyMap<number, MappedRow>,
): InFlight | undefined {
  const left = outcome.unprocessed ?? [];
  const next = left.length > 0 ? resendBatch(f, left, mapped) : undefined;
  const failed = d.ledger.batchFinished(f.batch, outcome, {
    ...o,
    ...(next ? { resend: next.batch } : {}),
  });
  d.changes?.settled(f.batch, outcome, next?.batch);
  if (d.rejects) {
    for (const r of failed) {
      // The values are read from the source by line when the run ends: none is held till then.
      if (r.line === undefined) d.rejects.write({}, undefined, r.message);
      else {
        const key = r.row === undefined ? undefined : f.batch.keys.at(r.row);
        d.rejects.writeLater(
          r.line,
          r.message,
          key === undefined || key === null ? undefined : String(key),
        );
      }
    }
  }
  return next;
}

/** Picks up a batch an earlier run got to the API; undefined when that failed (ledger knows). */
async function resume(
  batch: Batch,
  r: Resumed,
  d: LifecycleDeps,
): Promise<Submission | undefined> {
  const n = batch.index + 1;
  if (r.kind === "wait") {
    d.ledger.batchAccepted(batch.index, r.submission.id);
    d.log(`Batch ${n}: waiting for execution ${r.submission.id} from the earlier run`);
    return r.submission;
  }
  let found: Submission | "resend";
  try {
    found = await d.target.recover!(r.submission, batch, d.ctx);
  } catch (err) {
    // The journal still says "created": the next run looks at the job again.
    const msg = `Cannot recover job ${r.submission.id} of the earlier run: ${
      err instanceof Error ? err.message : String(err)
    }`;
    d.ledger.batchUnknown(batch.index, msg);
    d.ledger.stop("transport", msg);
    return undefined;
  }
  if (found === "resend") {
    d.log(`Batch ${n}: job ${r.submission.id} of the earlier run was never closed; sending again`);
    return await submit(batch, d);
  }
  d.journal({
    event: "accepted",
    batch: batch.index,
    submission: found,
    at: new Date(d.now()).toISOString(),
  });
  d.ledger.batchAccepted(batch.index, found.id);
  d.log(`Batch ${n}: job ${found.id} of the earlier run was closed; waiting for it`);
  return found;
}

/**
 * Whether a failed submit may have been processed by the server. Only an answer that says it
 * was not (a 4xx or 3xx refusal, a Zoho `"status": "error"`), or a request that provably never
 * left, counts as not processed; anything else — a 5xx, a lost or stalled answer, a 2xx the
 * runner could not read (cut short, HTML, no id, too large), an unexpected error — may have
 * been, so the batch is `unknown` and never resent blindly.
 */
export function mayHaveBeenProcessed(err: unknown): boolean {
  if (err instanceof TransportError) return err.maybeDelivered;
  if (err instanceof HttpError) {
    return err.status >= 500 || (err.status >= 200 && err.status < 300 && err.code === "transport");
  }
  // Raised by the runner itself before it sent anything (a batch it cannot pack).
  if (err instanceof RunnerError) return false;
  return true;
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
  // A job id is journaled the moment it exists, so a crash before close can be recovered.
  let checkpointed = false;
  const ctx: TargetContext = {
    ...d.ctx,
    checkpoint: (partial) => {
      checkpointed = true;
      d.journal({ event: "created", batch: batch.index, submission: partial, at: at() });
    },
  };
  let sub: Submission;
  try {
    const sending = d.target.submit(batch, ctx);
    sub = await (d.uploads ? d.uploads.during(sending) : sending);
  } catch (err) {
    let msg = err instanceof Error ? err.message : String(err);
    // Before its checkpoint, such a target has sent no row: whatever became of its last request,
    // at most an empty job was left, and the batch may be sent again.
    const beforeRows = d.target.loadsNothingBeforeCheckpoint === true && !checkpointed;
    if (beforeRows && mayHaveBeenProcessed(err)) {
      msg += " (before any row was sent: nothing was loaded; an empty job may be left open)";
    }
    if (!beforeRows && mayHaveBeenProcessed(err)) {
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
        ...(r.unprocessed && r.unprocessed.length > 0 ? { unprocessed: r.unprocessed } : {}),
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
