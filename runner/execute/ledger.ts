/**
 * The run ledger: the one owner of a run's counts, batch states, row errors, problems and hints.
 * The other parts of the executor report events to it and never count for themselves.
 *
 * Every row read sits in exactly one bucket (rejected, unchanged, unsent, pending, unknown,
 * succeeded, failed, skipped), and every event moves rows from one bucket to another. `read` and
 * `sent` are sums of buckets, so `read = rejected + unchanged + sent + unsent` and
 * `sent = succeeded + failed + skipped + pending + unknown` hold by construction, whatever the
 * API answers.
 *
 * @module
 */
import { RunnerError } from "../errors.ts";
import { count, own } from "../util/format.ts";
import type { BatchOutcome } from "../journal.ts";
import type { BatchSummary, Counts, RowError } from "../report/summary.ts";
import type { Batch, BatchCounts, RowFailure } from "../targets/mod.ts";

/** Why a run stopped before the end. */
export interface Stop {
  /** `config`: the API refused what the pipeline asked for (a field the module does not have). */
  kind: "transport" | "input" | "config" | "limit" | "timeout";
  reason: string;
  /** The target field a `config` stop is about, when the API named it. */
  field?: string;
}

/** A row that did not load remotely, for the rejects file. */
export interface FailedRow {
  /** Index of the row in its batch; absent when the API did not say which row. */
  row?: number;
  line?: number;
  message: string;
}

/** What the verdict is decided from: a snapshot of the ledger. */
export interface LedgerFacts {
  counts: Counts;
  stop?: Stop;
  /** Batches whose executions were still running when the run stopped waiting. */
  timedOut: number;
  /** One sentence per execution the API failed as a whole. */
  executionFailures: readonly string[];
  problems: number;
  /** Batches whose API counts covered more rows than the batch held. */
  overcounted: number;
}

type Bucket =
  | "rejected"
  | "unchanged"
  | "unsent"
  | "pending"
  | "unknown"
  | "succeeded"
  | "failed"
  | "skipped";
type Share = Partial<Record<Bucket, number>>;

/** Where a batch is in its life; decides which bucket its rows are in. */
type Phase = "queued" | "sending" | "pending" | "timed_out" | "unknown" | "unsent" | "settled";

const NEXT: Record<Phase, readonly Phase[]> = {
  queued: ["sending", "pending", "unknown", "unsent", "settled"],
  sending: ["pending", "unknown", "unsent"],
  pending: ["timed_out", "unknown", "settled"],
  timed_out: [],
  unknown: [],
  unsent: [],
  settled: [],
};

const SENT: readonly Bucket[] = ["succeeded", "failed", "skipped", "pending", "unknown"];

interface Entry {
  summary: BatchSummary;
  phase: Phase;
  share: Share;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Records the events of one run; see the module doc. */
export class RunLedger {
  readonly #now: () => number;
  readonly #cap: number;
  readonly #rows: Record<Bucket, number> = {
    rejected: 0,
    unchanged: 0,
    unsent: 0,
    pending: 0,
    unknown: 0,
    succeeded: 0,
    failed: 0,
    skipped: 0,
  };
  /** Mapped rows not yet in a batch (part of `unsent`). */
  #staged = 0;
  readonly #entries = new Map<number, Entry>();
  readonly #batches: BatchSummary[] = [];
  #errors: RowError[] = [];
  #errorsSeen = 0;
  readonly #problems: string[] = [];
  readonly #hints: string[] = [];
  readonly #executionFailures: string[] = [];
  #overcounted = 0;
  #batchesSent = 0;
  #stop: Stop | undefined;
  #stoppedAtLine: number | undefined;
  /** `send: changed`: the counts show `unchanged` and `removed`. */
  readonly #changes: boolean;
  #removed = 0;

  /**
   * @param o.maxErrors how many row errors the summary lists (`output.max_errors`)
   * @param o.now the clock that stamps batch times
   * @param o.changes the run sends only changed rows (`send: changed`)
   */
  constructor(o: { maxErrors: number; now: () => number; changes?: boolean }) {
    this.#cap = o.maxErrors;
    this.#now = o.now;
    this.#changes = o.changes ?? false;
  }

  // ---- rows ----

  /** A source row was read and rejected locally, with one error per problem found. */
  rowRejected(errors: RowError[]): void {
    this.#rows.rejected++;
    for (const e of errors) this.#addError(e);
  }

  /** A source row was read and mapped; it waits for its batch. */
  rowStaged(): void {
    this.#rows.unsent++;
    this.#staged++;
  }

  /** A source row was read and mapped, and is not sent: the API confirmed these values before. */
  rowUnchanged(): void {
    this.#rows.unchanged++;
  }

  /** Keys confirmed in earlier runs that this run's source does not have (never deleted). */
  keysRemoved(n: number): void {
    this.#removed = n;
  }

  /** The run stopped before reading the source line `line`. */
  notRead(line: number): void {
    this.#stoppedAtLine = line;
  }

  // ---- batches ----

  /** A batch of staged rows was formed, in source order; its rows stay unsent until it is sent. */
  openBatch(batch: Batch): void {
    const rows = batch.rows.length;
    if (this.#entries.has(batch.index)) {
      throw new RunnerError("internal", `Batch ${batch.index + 1} cannot be opened twice`);
    }
    if (rows > this.#staged) {
      throw new RunnerError(
        "internal",
        `Batch ${batch.index + 1} holds ${rows} rows, but only ${this.#staged} were staged`,
      );
    }
    this.#staged -= rows;
    const summary: BatchSummary = {
      index: batch.index,
      rows,
      first_line: batch.lines[0] ?? 0,
      last_line: batch.lines[rows - 1] ?? 0,
      status: "not_sent",
      polls: 0,
      counts: { succeeded: 0, failed: 0, skipped: 0 },
    };
    this.#batches.push(summary);
    this.#entries.set(batch.index, { summary, phase: "queued", share: { unsent: rows } });
  }

  /** The batch's upload starts: its rows may reach the API from now on. */
  batchSending(index: number): void {
    const e = this.#move(index, "sending");
    e.summary.submitted_at = this.#at();
  }

  /** The API accepted the batch (or an earlier run's accepted batch is being waited for). */
  batchAccepted(index: number, executionId: string): void {
    const e = this.#entry(index);
    if (e.phase === "queued") e.summary.submitted_at = this.#at();
    this.#move(index, "pending");
    e.summary.execution_id = executionId;
    this.#batchesSent++;
  }

  /** The API refused the upload outright: nothing was processed, the rows are unsent. */
  batchRefused(index: number, message: string): void {
    const e = this.#move(index, "unsent");
    Object.assign(e.summary, { status: "not_sent", message, finished_at: this.#at() });
  }

  /** The run stopped before this batch was sent. */
  batchNotSent(index: number): void {
    this.#move(index, "unsent").summary.message = "Not sent: the run stopped before this batch";
  }

  /** One status check of the batch starts; returns how many there have been. */
  batchPolled(index: number): number {
    return ++this.#entry(index).summary.polls;
  }

  /** The API's status of the batch, verbatim. */
  batchRemoteStatus(index: number, remoteStatus: string): void {
    this.#entry(index).summary.remote_status = remoteStatus;
  }

  /**
   * The batch's fate is unknown: its upload may have reached the API (never resent blindly), or
   * it was accepted and its outcome could not be read (the next run asks again).
   */
  batchUnknown(index: number, message: string): void {
    const before = this.#entry(index).phase;
    const e = this.#move(index, "unknown");
    const s = e.summary;
    Object.assign(s, { status: "unknown", message, finished_at: this.#at() });
    this.#hints.push(
      before === "pending"
        ? `Execution ${s.execution_id} was accepted but its outcome could not be read (${message}); the next run asks again`
        : `Batch ${
          index + 1
        } (source lines ${s.first_line}-${s.last_line}) may or may not have been loaded (${message}): check the target for these keys. The runner does not send them again unless target.resend_uncertain is true, which is safe only where loading a row twice is harmless`,
    );
  }

  /** The run stopped waiting for the batch; its rows stay pending. */
  batchTimedOut(index: number, timeoutMs: number, lastError?: string): void {
    const s = this.#move(index, "timed_out").summary;
    s.status = "timed_out";
    s.message = `Still ${s.remote_status ?? "running"} after ${Math.round(timeoutMs / 1000)} s${
      lastError ? `; last error: ${lastError}` : ""
    }`;
    s.finished_at = this.#at();
  }

  /**
   * The batch finished (now, or in an earlier run): its rows move to succeeded, failed and
   * skipped as the API counts them, and the rest to unknown. Rows the API left unprocessed
   * move to `o.resend`, a new batch that holds them unsent until it is sent.
   *
   * @param o.at when it finished (default: now)
   * @param o.message the batch's message (default: the API's)
   * @param o.resend the follow-up batch of `done.unprocessed`
   * @returns the rows that did not load, for the rejects file
   */
  batchFinished(
    batch: Batch,
    done: BatchOutcome,
    o: { executionId?: string; at?: string; message?: string; resend?: Batch } = {},
  ): FailedRow[] {
    const id = o.executionId ?? this.#entry(batch.index).summary.execution_id ?? "?";
    const moved = new Set(o.resend ? done.unprocessed : []);
    if (o.resend) this.#moveRows(batch.index, o.resend);
    const rows = batch.rows.length - moved.size;
    const split = splitRows(done.counts, rows);
    const e = this.#move(batch.index, "settled", split.share);
    const s = e.summary;
    if (o.executionId !== undefined) s.execution_id = o.executionId;
    s.status = done.status;
    s.remote_status = done.remote_status;
    s.polls = done.polls;
    s.counts = { ...done.counts };
    s.finished_at = o.at ?? this.#at();
    const message = o.message ?? done.message;
    if (message !== undefined) s.message = message;
    if (split.over) {
      this.#overcounted++;
      this.#problems.push(
        `Batch ${
          batch.index + 1
        } (execution ${id}): the API accounts for ${split.over} rows, but the batch has ${rows}: counted as ${split.share.failed} failed, ${split.share.skipped} skipped, ${split.share.succeeded} succeeded`,
      );
    }
    for (const p of done.problems) {
      this.#problems.push(`Batch ${batch.index + 1} (execution ${id}): ${p}`);
    }
    const why = done.message ? `: ${done.message}` : "";
    if (o.resend) {
      const again = `${moved.size} unprocessed rows sent again as batch ${o.resend.index + 1}`;
      s.message = s.message === undefined ? again : `${s.message}; ${again}`;
      // A job that failed part-way is not the run's failure: what it processed is counted, and
      // the rows it never processed get a second job.
      if (done.status === "failed") {
        this.#hints.push(
          `Execution ${id} failed part-way${why}: its ${moved.size} unprocessed rows were sent again in a new job (batch ${
            o.resend.index + 1
          })`,
        );
      }
    } else if (done.status === "failed") {
      this.#executionFailures.push(`Execution ${id} failed${why}`);
    }
    // An execution that failed as a whole without naming rows failed every row for that reason.
    const whole = done.status === "failed" && done.failures.length === 0 &&
      done.counts.failed === rows;
    const failed = failedRows(
      batch,
      done.failures,
      whole ? `Execution failed${why}` : undefined,
      moved,
    );
    // Past the cap, most of a large batch's failures are only counted: no error is made.
    for (const f of failed) {
      if (this.#beyondCap(f.row === undefined ? undefined : batch.lines[f.row])) this.#errorsSeen++;
      else this.#addError(remoteError(batch, f));
    }
    return failed.map(({ row, fail }) => ({
      ...(row === undefined ? {} : { row }),
      ...(row === undefined || batch.lines[row] === undefined ? {} : { line: batch.lines[row] }),
      message: fail.message,
    }));
  }

  // ---- the run ----

  /** The run stops; a transport or input stop outranks a timeout. */
  stop(kind: Stop["kind"], reason: string, field?: string): void {
    if (!this.#stop || (this.#stop.kind === "timeout" && kind !== "timeout")) {
      this.#stop = { kind, reason, ...(field === undefined ? {} : { field }) };
    }
  }

  /** Whether the run has stopped (nothing more is read or sent). */
  get stopped(): boolean {
    return this.#stop !== undefined;
  }

  /** Batches the API accepted so far. */
  get batchesSent(): number {
    return this.#batchesSent;
  }

  /** The source became unreadable after some batches were sent. */
  sourceFailed(reason: string): void {
    this.stop("input", reason);
    const sent = this.#batches.filter((b) => b.status !== "not_sent");
    this.#hints.push(
      `The source became unreadable after ${sent.length} batch${
        sent.length === 1 ? "" : "es"
      } (up to line ${
        sent.at(-1)?.last_line ?? "?"
      }) had been sent: those rows stay loaded; the rows read after them were not sent and nothing after the error was read. Fix the file and rerun: an insert pipeline then loads the first rows again unless they are removed from the file`,
    );
  }

  /** Ends the run: adds the closing hints and keeps the first row errors by line. */
  finish(rejects?: { rows: number; path: string }): void {
    for (const b of this.#batches) {
      if (b.status === "timed_out") {
        this.#hints.push(
          `Execution ${b.execution_id} is still running: its ${b.rows} rows are pending`,
        );
      }
    }
    if (this.#stoppedAtLine !== undefined) {
      this.#hints.push(
        `Source lines from ${this.#stoppedAtLine} on were not read because the run stopped`,
      );
    }
    if (rejects && rejects.rows > 0) {
      const r = this.#rows;
      const parts = [
        r.rejected > 0 ? `${count(r.rejected, "row")} rejected locally` : "",
        r.failed > 0 ? `${count(r.failed, "row")} the API failed` : "",
        r.skipped > 0 ? `${count(r.skipped, "row")} the API skipped (see their errors)` : "",
      ].filter(Boolean);
      const one = rejects.rows === 1;
      this.#hints.push(
        `${count(rejects.rows, "row")} that did not load ${one ? "is" : "are"} in ${rejects.path}${
          parts.length > 0 ? ` (${parts.join(", ")})` : ""
        }, with ${one ? "its" : "their"} line and error`,
      );
    }
    this.#errors.sort(byLine);
    if (this.#errors.length > this.#cap) this.#errors = this.#errors.slice(0, this.#cap);
  }

  /** The row counts; the identities hold at every moment. */
  counts(): Counts {
    const r = this.#rows;
    const sent = SENT.reduce((n, b) => n + r[b], 0);
    return {
      read: r.rejected + r.unchanged + sent + r.unsent,
      rejected: r.rejected,
      ...(this.#changes || r.unchanged > 0 ? { unchanged: r.unchanged } : {}),
      sent,
      succeeded: r.succeeded,
      failed: r.failed,
      skipped: r.skipped,
      pending: r.pending,
      unknown: r.unknown,
      unsent: r.unsent,
      ...(this.#changes || this.#removed > 0 ? { removed: this.#removed } : {}),
    };
  }

  /** What the verdict is decided from. */
  facts(): LedgerFacts {
    return {
      counts: this.counts(),
      ...(this.#stop ? { stop: { ...this.#stop } } : {}),
      timedOut: this.#batches.filter((b) => b.status === "timed_out").length,
      executionFailures: [...this.#executionFailures],
      problems: this.#problems.length,
      overcounted: this.#overcounted,
    };
  }

  /** The summary's lists: batches in the order they were formed, errors, problems, hints. */
  lists(): {
    batches: BatchSummary[];
    errors: RowError[];
    errorsOmitted: number;
    problems: string[];
    hints: string[];
  } {
    return {
      batches: this.#batches,
      errors: this.#errors,
      errorsOmitted: this.#errorsSeen - this.#errors.length,
      problems: this.#problems,
      hints: this.#hints,
    };
  }

  #entry(index: number): Entry {
    const e = this.#entries.get(index);
    if (!e) throw new RunnerError("internal", `Batch ${index + 1} was never opened`);
    return e;
  }

  /**
   * Moves the unprocessed rows of a pending batch into its follow-up batch, which is opened
   * with them unsent: they leave `pending` (and so `sent`) until the follow-up is sent, so no
   * row is in two batches or counted sent twice. A batch an earlier run finished (replayed, so
   * still queued in this run) gives up rows that are unsent already.
   */
  #moveRows(index: number, to: Batch): void {
    const e = this.#entry(index);
    const n = to.rows.length;
    const from = e.phase === "pending" ? "pending" : "unsent";
    const held = e.share[from] ?? 0;
    if (
      (e.phase !== "pending" && e.phase !== "queued") || n > held || this.#entries.has(to.index)
    ) {
      throw new RunnerError(
        "internal",
        `Cannot move ${n} rows of batch ${index + 1} (${e.phase}) to batch ${to.index + 1}`,
      );
    }
    e.share = { ...e.share, [from]: held - n };
    this.#rows[from] -= n;
    this.#rows.unsent += n;
    const summary: BatchSummary = {
      index: to.index,
      rows: n,
      first_line: to.lines[0] ?? 0,
      last_line: to.lines[n - 1] ?? 0,
      status: "not_sent",
      polls: 0,
      counts: { succeeded: 0, failed: 0, skipped: 0 },
      message: `Rows batch ${index + 1} left unprocessed, sent again`,
    };
    this.#batches.push(summary);
    this.#entries.set(to.index, { summary, phase: "queued", share: { unsent: n } });
  }

  /** Moves a batch's rows to the buckets of its next phase; the one place rows change bucket. */
  #move(index: number, phase: Phase, share?: Share): Entry {
    const e = this.#entry(index);
    if (!NEXT[e.phase].includes(phase)) {
      throw new RunnerError("internal", `Batch ${index + 1} cannot go from ${e.phase} to ${phase}`);
    }
    const rows = e.summary.rows;
    const next = share ?? { [bucketOf(phase)]: rows };
    for (const [b, n] of Object.entries(e.share)) this.#rows[b as Bucket] -= n;
    for (const [b, n] of Object.entries(next)) this.#rows[b as Bucket] += n;
    e.phase = phase;
    e.share = next;
    return e;
  }

  #addError(e: RowError): void {
    this.#errorsSeen++;
    if (this.#cap === 0) return;
    // Source values can be slices of a large read buffer; copies keep the buffer collectable.
    if (e.key !== undefined) e.key = own(e.key);
    e.message = own(e.message);
    this.#errors.push(e);
    if (this.#errors.length > this.#cap * 2) {
      this.#errors.sort(byLine);
      this.#errors = this.#errors.slice(0, this.#cap);
      this.#lastKept = this.#errors.at(-1)?.source_line ?? Infinity;
    }
  }

  /** The line of the last error kept at the last trim: one on a later line is only counted. */
  #lastKept = Infinity;

  #beyondCap(line: number | undefined): boolean {
    return this.#cap === 0 || (line ?? Infinity) > this.#lastKept;
  }

  #at(): string {
    return iso(this.#now());
  }
}

function bucketOf(phase: Phase): Bucket {
  switch (phase) {
    case "queued":
    case "unsent":
      return "unsent";
    case "sending":
    case "pending":
    case "timed_out":
      return "pending";
    case "unknown":
      return "unknown";
    case "settled":
      // A settled batch's rows are split by its counts, never put in one bucket.
      throw new RunnerError("internal", "A settled batch needs its counts");
  }
}

/**
 * Splits a finished batch's rows as the API counted them. Rows the API does not account for are
 * unknown; when it accounts for more rows than were sent, failed and skipped rows are taken first
 * so that no more rows are claimed loaded than could have been.
 */
export function splitRows(
  c: BatchCounts,
  rows: number,
): { share: Required<Pick<Share, "succeeded" | "failed" | "skipped" | "unknown">>; over?: number } {
  let left = rows;
  const take = (n: number) => {
    const t = Math.max(0, Math.min(n, left));
    left -= t;
    return t;
  };
  const failed = take(c.failed);
  const skipped = take(c.skipped);
  const succeeded = take(c.succeeded);
  const total = c.succeeded + c.failed + c.skipped;
  return {
    share: { succeeded, failed, skipped, unknown: left },
    ...(total > rows ? { over: total } : {}),
  };
}

/**
 * The rows of a batch the API reported failed, plus every other row (but those in `resent`)
 * when `fallback` is given.
 */
function failedRows(
  batch: Batch,
  failures: RowFailure[],
  fallback?: string,
  resent: ReadonlySet<number> = new Set(),
): { row?: number; fail: RowFailure }[] {
  const out = failures.map((fail) => fail.row === undefined ? { fail } : { row: fail.row, fail });
  if (fallback !== undefined) {
    const listed = new Set(failures.flatMap((f) => f.row === undefined ? [] : [f.row]));
    for (let i = 0; i < batch.rows.length; i++) {
      if (!listed.has(i) && !resent.has(i)) out.push({ row: i, fail: { message: fallback } });
    }
  }
  return out;
}

function remoteError(batch: Batch, f: { row?: number; fail: RowFailure }): RowError {
  const { row, fail } = f;
  const line = row === undefined ? undefined : batch.lines[row];
  const key = fail.key ?? (row === undefined ? undefined : batch.keys.at(row));
  return {
    ...(line === undefined ? {} : { source_line: line }),
    ...(key === undefined || key === null ? {} : { key: String(key) }),
    ...(fail.field ? { field: fail.field } : {}),
    ...(fail.code ? { code: fail.code } : {}),
    message: fail.message,
    stage: "remote",
    ...(fail.outcome === "skipped" ? { outcome: "skipped" as const } : {}),
  };
}

function byLine(a: RowError, b: RowError): number {
  return (a.source_line ?? Infinity) - (b.source_line ?? Infinity);
}
