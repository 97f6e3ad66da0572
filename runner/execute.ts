/**
 * Execute: runs a compiled plan. Streams the source, maps each record, sends full batches (at
 * most `concurrency` in flight, so memory holds only those), polls each execution with the
 * policy's backoff, and accounts for every row read.
 *
 * Effects are injected (`fetch`, clock, sleep, log) so the same plan runs against the real API,
 * the sandbox, or a fake in a unit test.
 *
 * @module
 */
import type { Plan } from "./compile.ts";
import { HttpError, RunnerError, TransportError } from "./errors.ts";
import { RejectsWriter } from "./report/rejects.ts";
import {
  type BatchSummary,
  checkCounts,
  type Counts,
  type RowError,
  type RunStatus,
  type Summary,
} from "./report/summary.ts";
import { openSource as defaultOpenSource, type Source, type SourceOptions } from "./sources/mod.ts";
import type { Batch, RowFailure, Submission, TargetContext } from "./targets/mod.ts";
import { sleep as defaultSleep } from "./targets/_http.ts";
import type { JournalEvent, JournalWriter, PriorBatch } from "./journal.ts";

type DoneEvent = Extract<JournalEvent, { event: "done" }>;

/** A snapshot of a run in progress, for the progress line. */
export interface Progress {
  phase: "reading" | "waiting" | "done";
  read: number;
  rejected: number;
  batchesSent: number;
  /** Executions submitted and not finished. */
  pending: number;
  elapsedMs: number;
}

/** Effects `execute` uses. */
export interface ExecuteDeps {
  fetch: typeof fetch;
  /** See `TargetContext.fetchOnce`. */
  fetchOnce?: typeof fetch;
  /** Diagnostic lines for stderr. */
  log: (line: string) => void;
  progress?: (p: Progress) => void;
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  signal?: AbortSignal;
  openSource?: (options: SourceOptions) => Source;
  /** The run journal, and what an unfinished earlier run left per batch (for a resume). */
  journal?: { writer: JournalWriter; prior: Map<number, PriorBatch> };
}

interface InFlight {
  batch: Batch;
  /** The source records, kept only while the batch is in flight, for the rejects file. */
  records: Readonly<Record<string, unknown>>[];
  summary: BatchSummary;
}

type Stop = { kind: "transport" | "input" | "timeout"; reason: string };

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Runs a plan to the end and returns its summary. Never throws for row-level or API problems:
 * they end up in the summary with the matching status and exit code.
 *
 * @throws {RunnerError} only for problems found before anything was sent (an unreadable source)
 */
export async function execute(plan: Plan, deps: ExecuteDeps): Promise<Summary> {
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? defaultSleep;
  const started = now();
  const target = plan.target;
  const ctx: TargetContext = {
    fetch: deps.fetch,
    ...(deps.fetchOnce ? { fetchOnce: deps.fetchOnce } : {}),
    log: deps.log,
    signal: deps.signal,
    retry: plan.retry,
  };
  const journal = deps.journal;
  const at = () => iso(now());
  const record = (e: JournalEvent) => journal?.writer.record(e);
  const counts: Counts = {
    read: 0,
    rejected: 0,
    sent: 0,
    succeeded: 0,
    failed: 0,
    skipped: 0,
    pending: 0,
    unknown: 0,
    unsent: 0,
  };
  const batches: BatchSummary[] = [];
  let errors: RowError[] = [];
  let errorsSeen = 0;
  const problems: string[] = [];
  const hints: string[] = [];
  let stop: Stop | undefined;
  let stoppedAtLine: number | undefined;
  const executionFailures: string[] = [];

  const source = (deps.openSource ?? defaultOpenSource)(plan.source);
  const rejects = plan.output.rejects
    ? new RejectsWriter(plan.output.rejects, () => source.columns())
    : undefined;

  const cap = plan.output.maxErrors;
  const addError = (e: RowError) => {
    errorsSeen++;
    if (cap === 0) return;
    // Source values can be slices of a large read buffer; copies keep the buffer collectable.
    if (e.key !== undefined) e.key = own(e.key);
    e.message = own(e.message);
    errors.push(e);
    if (errors.length > cap * 2) {
      errors.sort(byLine);
      errors = errors.slice(0, cap);
    }
  };

  let batchesSent = 0;
  let lastProgress = 0;
  const progress = (phase: Progress["phase"], force = false) => {
    if (!deps.progress) return;
    const t = now();
    if (!force && t - lastProgress < 200) return;
    lastProgress = t;
    deps.progress({
      phase,
      read: counts.read,
      rejected: counts.rejected,
      batchesSent,
      pending: inflight.size,
      elapsedMs: t - started,
    });
  };

  const setStop = (s: Stop) => {
    if (!stop || (stop.kind === "timeout" && s.kind !== "timeout")) stop = s;
  };

  function recordFailures(f: InFlight, failures: RowFailure[], fallback?: string) {
    const { batch, records } = f;
    const listed = new Set<number>();
    const report = (row: number | undefined, fail: RowFailure) => {
      const line = row === undefined ? undefined : batch.lines[row];
      const keyValue = fail.key ?? (row === undefined ? undefined : batch.rows[row]![batch.key]);
      addError({
        ...(line === undefined ? {} : { source_line: line }),
        ...(keyValue === undefined || keyValue === null ? {} : { key: String(keyValue) }),
        ...(fail.field ? { field: fail.field } : {}),
        ...(fail.code ? { code: fail.code } : {}),
        message: fail.message,
        stage: "remote",
      });
      if (rejects) {
        rejects.write(row === undefined ? {} : records[row]!, line, fail.message);
      }
    };
    for (const fail of failures) {
      if (fail.row !== undefined) listed.add(fail.row);
      report(fail.row, fail);
    }
    if (fallback !== undefined) {
      // The execution failed as a whole without naming rows: every row failed for that reason.
      for (let i = 0; i < batch.rows.length; i++) {
        if (!listed.has(i)) report(i, { message: fallback });
      }
    }
  }

  /** Marks a batch whose upload may or may not have reached the API: never resent blindly. */
  function markUnknown(f: InFlight, message: string) {
    const { batch, summary: bs } = f;
    bs.status = "unknown";
    bs.message = message;
    bs.finished_at = at();
    counts.sent += batch.rows.length;
    counts.unknown += batch.rows.length;
    hints.push(
      `Batch ${
        batch.index + 1
      } (source lines ${bs.first_line}-${bs.last_line}) may or may not have been loaded (${message}): check the target for these keys. The runner does not send them again unless target.resend_uncertain is true, which is safe only where loading a row twice is harmless`,
    );
  }

  /** Adds a finished batch's outcome to the run's counts, errors and rejects. */
  function settle(f: InFlight, id: string, e: Omit<DoneEvent, "event" | "batch" | "at">) {
    const rows = f.batch.rows.length;
    const c = e.counts;
    counts.succeeded += c.succeeded;
    counts.failed += c.failed;
    counts.skipped += c.skipped;
    // Keep the run's identities whatever the API says: the difference becomes a problem.
    const diff = rows - (c.succeeded + c.failed + c.skipped);
    if (diff > 0) counts.unknown += diff;
    for (const p of e.problems) problems.push(`Batch ${f.batch.index + 1} (execution ${id}): ${p}`);
    if (e.status === "failed") {
      executionFailures.push(`Execution ${id} failed${e.message ? `: ${e.message}` : ""}`);
    }
    recordFailures(
      f,
      e.failures,
      e.status === "failed" && e.failures.length === 0 && c.failed === rows
        ? `Execution failed${e.message ? `: ${e.message}` : ""}`
        : undefined,
    );
  }

  /** Counts a batch an earlier run of this journal finished, without sending it again. */
  function replayDone(f: InFlight, prior: Extract<PriorBatch, { state: "done" }>) {
    const { summary: bs } = f;
    const e = prior.event;
    if (prior.submission) bs.execution_id = prior.submission.id;
    bs.status = e.status;
    bs.remote_status = e.remote_status;
    bs.message = `Finished in the earlier run${e.message ? `: ${e.message}` : ""}`;
    bs.polls = e.polls;
    bs.counts = { ...e.counts };
    bs.finished_at = e.at;
    counts.sent += f.batch.rows.length;
    settle(f, prior.submission?.id ?? "?", e);
  }

  async function runBatch(f: InFlight, accepted?: Submission): Promise<void> {
    const { batch, summary: bs } = f;
    const rows = batch.rows.length;
    bs.submitted_at = at();
    let sub: Submission;
    if (accepted) {
      sub = accepted;
      deps.log(`Batch ${batch.index + 1}: waiting for execution ${sub.id} from the earlier run`);
    } else {
      // Journal first: if the process dies mid-upload, the next run knows this batch is uncertain.
      record({
        event: "submit",
        batch: batch.index,
        first_line: bs.first_line,
        last_line: bs.last_line,
        rows,
        at: at(),
      });
      try {
        sub = await target.submit(batch, ctx);
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        const maybe = (err instanceof TransportError && err.maybeDelivered) ||
          (err instanceof HttpError && err.status >= 500);
        if (maybe) {
          record({ event: "unknown", batch: batch.index, message: msg, at: at() });
          markUnknown(f, msg);
        } else {
          // Refused outright: nothing was processed, so a later run may send it again.
          record({ event: "refused", batch: batch.index, message: msg, at: at() });
          bs.status = "not_sent";
          bs.message = msg;
          bs.finished_at = at();
          counts.unsent += rows;
        }
        setStop({ kind: "transport", reason: msg });
        return;
      }
      record({ event: "accepted", batch: batch.index, submission: sub, at: at() });
      deps.log(`Batch ${batch.index + 1}: ${rows} rows sent, execution ${sub.id}`);
    }
    batchesSent++;
    bs.execution_id = sub.id;
    counts.sent += rows;
    counts.pending += rows;

    const { interval, backoff, max_interval, timeout } = plan.polling;
    const deadline = now() + timeout;
    let wait = interval;
    // Polls keep to a schedule (upload + interval, + interval*backoff, ...) rather than sleeping
    // a full interval after each answer, so slow status answers do not delay noticing completion.
    let pollAt = now() + wait;
    let lastError: string | undefined;
    for (;;) {
      const remaining = deadline - now();
      if (remaining <= 0) {
        bs.status = "timed_out";
        bs.message = `Still ${bs.remote_status ?? "running"} after ${Math.round(timeout / 1000)} s${
          lastError ? `; last error: ${lastError}` : ""
        }`;
        bs.finished_at = at();
        setStop({ kind: "timeout", reason: `Stopped waiting for execution ${sub.id}` });
        return;
      }
      await sleep(Math.max(0, Math.min(pollAt - now(), remaining)), deps.signal);
      wait = Math.min(wait * backoff, max_interval);
      pollAt = Math.max(pollAt + wait, now());
      bs.polls++;
      let r;
      try {
        const st = await target.status(sub, batch, ctx);
        r = st.done ? { ...st, ...(await target.results(sub, st, batch, ctx)) } : st;
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        if (err instanceof RunnerError && err.code === "transport") {
          // A garbled or failed status answer is not an outcome: keep asking until the deadline.
          lastError = msg;
          deps.log(`Execution ${sub.id}: ${msg}; asking again`);
          continue;
        }
        // The journal still says "accepted": the next run asks again rather than resending.
        counts.pending -= rows;
        counts.unknown += rows;
        bs.status = "unknown";
        bs.message = msg;
        bs.finished_at = at();
        setStop({ kind: "transport", reason: msg });
        hints.push(
          `Execution ${sub.id} was accepted but its outcome could not be read (${msg}); the next run asks again`,
        );
        return;
      }
      bs.remote_status = r.remoteStatus;
      if (!r.done) continue;
      counts.pending -= rows;
      bs.finished_at = at();
      bs.status = r.status;
      bs.counts = { ...r.counts };
      if (r.message) bs.message = r.message;
      const done: Omit<DoneEvent, "event" | "batch" | "at"> = {
        status: r.status,
        remote_status: r.remoteStatus,
        ...(r.message ? { message: r.message } : {}),
        counts: r.counts,
        failures: r.failures,
        problems: r.problems,
        polls: bs.polls,
      };
      record({ event: "done", batch: batch.index, at: at(), ...done });
      settle(f, sub.id, done);
      deps.log(
        `Batch ${
          batch.index + 1
        }: execution ${sub.id} ${r.status}: ${r.counts.succeeded} succeeded, ${r.counts.failed} failed, ${r.counts.skipped} skipped`,
      );
      return;
    }
  }

  const inflight = new Set<Promise<void>>();
  let next = 0;
  const newBatch = (): InFlight => ({
    batch: { index: next++, fields: plan.mapper.fields, rows: [], lines: [], key: plan.key },
    records: [],
    summary: {
      index: 0,
      rows: 0,
      first_line: 0,
      last_line: 0,
      status: "not_sent",
      polls: 0,
      counts: { succeeded: 0, failed: 0, skipped: 0 },
    },
  });

  async function dispatch(f: InFlight): Promise<void> {
    const s = f.summary;
    s.index = f.batch.index;
    s.rows = f.batch.rows.length;
    s.first_line = f.batch.lines[0] ?? 0;
    s.last_line = f.batch.lines[f.batch.lines.length - 1] ?? 0;
    batches.push(s);
    const prior = journal?.prior.get(f.batch.index);
    if (prior?.state === "done") return replayDone(f, prior);
    if (prior?.state === "uncertain" && !plan.resendUncertain) {
      return markUnknown(f, `${prior.message} (earlier run)`);
    }
    while (inflight.size >= target.concurrency && !stop) await Promise.race(inflight);
    if (stop) {
      s.message = "Not sent: the run stopped before this batch";
      counts.unsent += s.rows;
      return;
    }
    const p = runBatch(f, prior?.state === "accepted" ? prior.submission : undefined).finally(
      () => {
        inflight.delete(p);
        progress("waiting");
      },
    );
    inflight.add(p);
  }

  let cur = newBatch();
  const batchSize = target.batchSize;
  try {
    for await (const rec of source.records()) {
      if (stop) {
        stoppedAtLine = rec.line;
        break;
      }
      counts.read++;
      if (rec.error !== undefined) {
        counts.rejected++;
        addError({
          source_line: rec.line,
          code: "invalid_row",
          message: rec.error,
          stage: "local",
        });
        rejects?.write(rec.values, rec.line, rec.error);
        continue;
      }
      const r = plan.mapper.map(rec.values);
      if (!r.ok) {
        counts.rejected++;
        const key = plan.keyOf(rec.values);
        for (const e of r.errors) {
          addError({
            source_line: rec.line,
            ...(key === undefined ? {} : { key }),
            field: e.field,
            code: e.code,
            message: e.message,
            stage: "local",
          });
        }
        rejects?.write(rec.values, rec.line, r.errors.map((e) => e.message).join("; "));
        continue;
      }
      cur.batch.rows.push(r.row);
      cur.batch.lines.push(rec.line);
      // Source records are kept only to write failed rows to the rejects file.
      if (rejects) cur.records.push(rec.values);
      progress("reading");
      if (cur.batch.rows.length >= batchSize) {
        await dispatch(cur);
        cur = newBatch();
      }
    }
  } catch (err) {
    if (!(err instanceof RunnerError && err.code === "invalid_source")) throw err;
    if (batchesSent === 0 && inflight.size === 0) {
      rejects?.close();
      throw err;
    }
    setStop({ kind: "input", reason: err.message });
    const sent = batches.filter((b) => b.status !== "not_sent");
    hints.push(
      `The source became unreadable after ${sent.length} batch${
        sent.length === 1 ? "" : "es"
      } (up to line ${
        sent.at(-1)?.last_line ?? "?"
      }) had been sent: those rows stay loaded; the rows read after them were not sent and nothing after the error was read. Fix the file and rerun: an insert pipeline then loads the first rows again unless they are removed from the file`,
    );
  }
  if (cur.batch.rows.length > 0) {
    if (stop) {
      counts.unsent += cur.batch.rows.length;
    } else await dispatch(cur);
  }
  progress("waiting", true);
  await Promise.all(inflight);
  rejects?.close();
  progress("done", true);

  // Timed-out executions still hold their rows as pending; nothing else may.
  for (const b of batches) {
    if (b.status === "timed_out") {
      hints.push(`Execution ${b.execution_id} is still running: its ${b.rows} rows are pending`);
    }
  }
  problems.push(...checkCounts(counts));
  errors.sort(byLine);
  if (errors.length > cap) errors = errors.slice(0, cap);

  const errorRate = counts.read === 0 ? 0 : (counts.rejected + counts.failed) / counts.read;
  let status: RunStatus;
  let reason: string | undefined;
  let exit: Summary["exit_code"];
  const stopS = stop as Stop | undefined;
  if (stopS?.kind === "transport") {
    [status, exit, reason] = ["failed", 3, stopS.reason];
  } else if (stopS?.kind === "input") {
    [status, exit, reason] = ["failed", 2, stopS.reason];
  } else if (stopS?.kind === "timeout") {
    const n = batches.filter((b) => b.status === "timed_out").length;
    [status, exit, reason] = [
      "timed_out",
      4,
      `${n} execution${n === 1 ? "" : "s"} still running after the polling timeout`,
    ];
  } else if (counts.unknown > 0) {
    [status, exit, reason] = [
      "failed",
      3,
      `${counts.unknown} rows are in uploads whose fate is unknown (see hints)`,
    ];
  } else if (executionFailures.length > 0) {
    [status, exit, reason] = ["failed", 1, executionFailures.join("; ")];
  } else if (errorRate > plan.maxErrorRate) {
    [status, exit, reason] = [
      "failed",
      1,
      `${counts.rejected + counts.failed} of ${counts.read} rows failed (${
        pct(errorRate)
      }), above max_error_rate ${pct(plan.maxErrorRate)}`,
    ];
  } else if (checkCounts(counts).length > 0) {
    [status, exit, reason] = ["failed", 1, "The run's row counts do not add up (see problems)"];
  } else if (counts.rejected + counts.failed + counts.skipped > 0 || problems.length > 0) {
    [status, exit, reason] = [
      "completed_with_errors",
      0,
      `${counts.rejected} rejected, ${counts.failed} failed, ${counts.skipped} skipped, within max_error_rate ${
        pct(plan.maxErrorRate)
      }`,
    ];
  } else {
    [status, exit] = ["succeeded", 0];
  }
  if (stoppedAtLine !== undefined) {
    hints.push(`Source lines from ${stoppedAtLine} on were not read because the run stopped`);
  }
  if (rejects && rejects.rows > 0) {
    hints.push(
      `${rejects.rows} ${
        rejects.rows === 1 ? "row that did not load is" : "rows that did not load are"
      } in ${rejects.path}, with ${rejects.rows === 1 ? "its" : "their"} line and error`,
    );
  }

  const finished = now();
  record({ event: "end", status, exit_code: exit, at: iso(finished) });
  return {
    version: 1,
    pipeline: plan.name,
    target: target.api,
    status,
    ...(reason ? { reason } : {}),
    started_at: iso(started),
    finished_at: iso(finished),
    duration_ms: finished - started,
    ...(journal && journal.prior.size > 0 ? { resumed: true } : {}),
    source: plan.source.path,
    counts,
    error_rate: round(errorRate),
    max_error_rate: plan.maxErrorRate,
    batches,
    errors,
    errors_omitted: errorsSeen - errors.length,
    problems,
    hints,
    exit_code: exit,
    outputs: {
      ...(plan.output.summary ? { summary: plan.output.summary } : {}),
      ...(rejects ? { rejects: rejects.path } : {}),
    },
  };
}

/** A copy of a string that shares no memory with the string it came from. */
function own(s: string): string {
  return s.length < 13 ? s : JSON.parse(JSON.stringify(s));
}

function byLine(a: RowError, b: RowError): number {
  return (a.source_line ?? Infinity) - (b.source_line ?? Infinity);
}

function pct(x: number): string {
  return `${Math.round(x * 10000) / 100}%`;
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
