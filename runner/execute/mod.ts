/**
 * Execute: runs a compiled plan. Streams the source, maps each record into batches, sends full
 * batches (at most `concurrency` in flight, so memory holds only those), polls each execution on
 * its schedule, and accounts for every row read in one ledger.
 *
 * The parts: `batcher.ts` (records → batches), `pool.ts` (concurrency), `lifecycle.ts` (one
 * batch), `schedule.ts` (when to poll), `resume.ts` (what a journal's earlier run means),
 * `ledger.ts` (every count and state), `verdict.ts` (status and exit code).
 *
 * Effects are injected (`fetch`, clock, sleep, log) so the same plan runs against the real API,
 * the sandbox, or a fake in a unit test.
 *
 * @module
 */
import type { Plan } from "../compile.ts";
import { RunnerError } from "../errors.ts";
import type { JournalEvent, JournalWriter, PriorBatch } from "../journal.ts";
import { type RejectsOptions, RejectsWriter } from "../report/rejects.ts";
import { redact, redactDeep } from "../util/redact.ts";
import type { Summary } from "../report/summary.ts";
import {
  openSource as defaultOpenSource,
  type Source,
  type SourceOptions,
} from "../sources/mod.ts";
import { Batcher, type InFlight, type LineOfKey } from "./batcher.ts";
import { recordsAt, rowsAt } from "./reread.ts";
import { type ChangeTracker, finishChanges } from "./changes.ts";
import { lastLines, scanRejects } from "../preflight.ts";
import { count } from "../util/format.ts";
import { RunLedger } from "./ledger.ts";
import { type LifecycleDeps, type Resumed, runBatch } from "./lifecycle.ts";
import { Pool } from "./pool.ts";
import { replay, type ResumeAction, resumeAction } from "./resume.ts";
import { sleep as defaultSleep } from "./schedule.ts";
import { UploadTurns } from "./turns.ts";
import { type Verdict, verdict } from "./verdict.ts";
import { EXIT } from "../exit.ts";
import { memorySpool, type Spool } from "../targets/mod.ts";
import { KeyIndex } from "../state/mod.ts";
import { KeyColumn } from "../util/key_column.ts";

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
  /** `send: changed`: the pipeline's state, deciding which rows are sent (the caller closes it). */
  changes?: ChangeTracker;
  /** Where bodies packed ahead wait for their turn (`fileSpool`); in memory by default. */
  spool?: Spool;
  /**
   * Makes the files the duplicate check's keys move to past 786,000 keys (`keyFiles`); without it,
   * they all stay in memory.
   */
  keyFiles?: () => Deno.FsFile;
  /** Keys the duplicate check holds in memory before it uses `keyFiles` (tests make it small). */
  keyMemory?: number;
  /** Counts uploads on their way and gives the runtime turns meanwhile (tests record them). */
  uploads?: UploadTurns;
}

/** One run's wiring, shared by the steps below. */
interface Run {
  plan: Plan;
  ledger: RunLedger;
  pool: Pool;
  life: LifecycleDeps;
  prior: Map<number, PriorBatch>;
  progress: (phase: Progress["phase"], force?: boolean) => void;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Runs a plan to the end and returns its summary. Never throws for row-level or API problems:
 * they end up in the summary with the matching status and exit code.
 *
 * @throws {RunnerError} only for problems found before anything was sent (an unreadable source)
 */
export async function execute(plan: Plan, deps: ExecuteDeps): Promise<Summary> {
  // The key indexes of the run (the duplicate check, the `last_wins` pre-scan) and their files
  // live as long as it does.
  const indexes: KeyIndex[] = [];
  const newIndex = () => {
    const index = new KeyIndex({
      ...(deps.keyFiles ? { spill: deps.keyFiles } : {}),
      ...(deps.keyMemory ? { memoryKeys: deps.keyMemory } : {}),
      log: deps.log,
    });
    indexes.push(index);
    return index;
  };
  try {
    return await executeWith(plan, deps, newIndex);
  } finally {
    for (const index of indexes) index.close();
  }
}

async function executeWith(
  plan: Plan,
  deps: ExecuteDeps,
  newIndex: () => KeyIndex,
): Promise<Summary> {
  const now = deps.now ?? Date.now;
  const started = now();
  const ledger = new RunLedger({
    maxErrors: plan.output.maxErrors,
    now,
    changes: deps.changes !== undefined,
  });
  // The journal and the rejects file hide secrets too, the run-time ones (tokens) included.
  const journal = (e: JournalEvent) =>
    deps.journal?.writer.record(redactDeep(e, plan.secrets) as JournalEvent);
  // Before the rejects file exists, so a source that fails here leaves nothing half-written.
  const open = deps.openSource ?? defaultOpenSource;
  const last = await lastLines(plan, open, newIndex);
  const source = open(plan.source);
  const rejects = plan.output.rejects
    ? new RedactingRejects(plan.output.rejects, () => source.columns(), {
      keyOf: plan.keyOf,
      ...(plan.output.rejectsSpreadsheet ? { spreadsheet: true } : {}),
    }, plan.secrets)
    : undefined;
  const pool = new Pool(plan.target.concurrency);
  const run: Run = {
    plan,
    ledger,
    pool,
    prior: deps.journal?.prior ?? new Map(),
    progress: progressReporter(deps, ledger, pool, started),
    life: {
      target: plan.target,
      ctx: {
        fetch: deps.fetch,
        ...(deps.fetchOnce ? { fetchOnce: deps.fetchOnce } : {}),
        log: deps.log,
        signal: deps.signal,
        retry: plan.retry,
        secret: (value) => addSecret(plan.secrets, value),
      },
      ledger,
      journal,
      log: deps.log,
      now,
      sleep: deps.sleep ?? defaultSleep,
      signal: deps.signal,
      polling: plan.polling,
      ...(rejects ? { rejects } : {}),
      followUp: (f) => followUp(run, f),
      uploads: deps.uploads ?? new UploadTurns(),
      ...(deps.changes ? { changes: deps.changes } : {}),
      remap: (lines) => rowsAt(plan, open, lines),
    },
  };

  // Rows are serialised as their batch fills, and none is kept but keys and lines (and, under
  // `duplicates: allow`, rows of a key repeated in their batch: see the batcher).
  const target = plan.target;
  const spool = deps.spool ?? memorySpool;
  const pack = target.pack ? (b: InFlight["batch"]) => target.pack!(b, spool) : undefined;
  const batcher = new Batcher(
    plan,
    target.batchSize,
    ledger,
    rejects,
    deps.changes,
    last,
    pack,
    newIndex,
  );
  const over = plan.stopBeforeSend ? await rejectRateOver(plan, deps, last, newIndex) : undefined;
  if (over) {
    ledger.stop("limit", over);
    await readOnly(source, batcher, ledger);
  } else await readAll(run, source, batcher, rejects);
  run.progress("waiting", true);
  await pool.drain();
  // Rows that failed remotely get their values from the source now, in one pass.
  await rejects?.fill((lines) => recordsAt(open(plan.source), lines));
  rejects?.close();
  run.progress("done", true);
  const removed = deps.changes
    ? await finishChanges(deps.changes, ledger, plan.output.rejects, deps.log)
    : undefined;

  // A rejects file that could not be written is not named as where the failed rows are.
  const lost = rejects?.failure;
  ledger.finish(lost === undefined ? rejects : undefined);
  const v = verdict(ledger.facts(), plan.maxErrorRate);
  const finished = now();
  journal({ event: "end", status: v.status, exit_code: v.exit, at: iso(finished) });
  const summary = summaryOf(run, v, {
    started,
    finished,
    rejects: lost === undefined ? rejects?.path : undefined,
  });
  if (removed) summary.outputs.removed = removed;
  if (lost !== undefined) {
    // As for the summary file: the run is not lost, but it did not deliver what it was asked.
    summary.problems.push(`Cannot write the rejects file "${rejects!.path}": ${lost}`);
    summary.exit_code = Math.max(summary.exit_code, EXIT.transport) as Summary["exit_code"];
  }
  return summary;
}

/**
 * Adds a secret a target obtained at run time (an access token) to the plan's list. The list is
 * shared: the command's sinks (stdout, stderr, summary, GitHub report) read it when they write,
 * so the token is hidden everywhere from the moment it exists.
 */
export function addSecret(secrets: string[], value: string): void {
  if (value !== "" && !secrets.includes(value)) secrets.push(value);
}

/** The rejects file, with secrets hidden in the error messages it writes. */
class RedactingRejects extends RejectsWriter {
  readonly #secrets: readonly string[];
  constructor(
    path: string,
    columns: () => readonly string[],
    options: RejectsOptions,
    secrets: readonly string[],
  ) {
    super(path, columns, options);
    this.#secrets = secrets;
  }
  override write(
    values: Readonly<Record<string, unknown>>,
    line: number | undefined,
    error: string,
    raw?: string,
  ): void {
    super.write(values, line, redact(error, this.#secrets), raw);
  }
  override writeLater(line: number, error: string, key?: string): void {
    super.writeLater(line, redact(error, this.#secrets), key);
  }
}

/** The run's summary, from the ledger and the verdict. */
function summaryOf(
  run: Run,
  v: Verdict,
  o: { started: number; finished: number; rejects: string | undefined },
): Summary {
  const { plan, ledger } = run;
  const lists = ledger.lists();
  return {
    version: 1,
    pipeline: plan.name,
    target: plan.target.api,
    status: v.status,
    ...(v.reason ? { reason: v.reason } : {}),
    started_at: iso(o.started),
    finished_at: iso(o.finished),
    duration_ms: o.finished - o.started,
    ...(run.prior.size > 0 ? { resumed: true } : {}),
    source: plan.source.path,
    ...configErrorOf(plan, ledger),
    counts: ledger.counts(),
    error_rate: Math.round(v.errorRate * 1e6) / 1e6,
    max_error_rate: plan.maxErrorRate,
    batches: lists.batches,
    errors: lists.errors,
    errors_omitted: lists.errorsOmitted,
    problems: lists.problems,
    hints: configHint(plan, ledger).concat(lists.hints),
    exit_code: v.exit,
    outputs: {
      ...(plan.output.summary ? { summary: plan.output.summary } : {}),
      ...(o.rejects !== undefined ? { rejects: o.rejects } : {}),
    },
  };
}

/**
 * The first pass of `limits.stop_before_send_on_error_rate`: why nothing may be sent, when the
 * rows rejected locally already exceed `max_error_rate`.
 */
async function rejectRateOver(
  plan: Plan,
  deps: ExecuteDeps,
  last: LineOfKey | undefined,
  newIndex: () => KeyIndex,
): Promise<string | undefined> {
  const scan = await scanRejects(plan, deps.openSource ?? defaultOpenSource, last, newIndex);
  const rate = scan.read === 0 ? 0 : scan.rejected / scan.read;
  if (rate <= plan.maxErrorRate) return undefined;
  const pct = (x: number) => `${Math.round(x * 10000) / 100}%`;
  return `${scan.rejected} of ${count(scan.read, "row")} (${
    pct(rate)
  }) are rejected locally, above max_error_rate ${
    pct(plan.maxErrorRate)
  }: nothing was sent (limits.stop_before_send_on_error_rate)`;
}

/** Reads and maps every record into the ledger and the rejects file, sending nothing. */
async function readOnly(source: Source, batcher: Batcher, ledger: RunLedger): Promise<void> {
  const hold = (f: InFlight | undefined) => {
    if (!f) return;
    ledger.openBatch(f.batch);
    ledger.batchNotSent(f.batch.index);
  };
  for await (const rec of source.records()) hold(batcher.add(rec));
  hold(batcher.rest());
}

/** Where the pipeline should be fixed when the API refused a field it maps. */
function configErrorOf(plan: Plan, ledger: RunLedger): Pick<Summary, "config_error"> {
  const stop = ledger.facts().stop;
  if (stop?.kind !== "config") return {};
  const mapped = stop.field !== undefined && plan.mapper.fields.includes(stop.field);
  const at = plan.locate(mapped ? ["mappings", stop.field!] : ["target"]);
  return {
    config_error: { file: plan.file, ...(mapped ? { field: stop.field } : {}), ...at },
  };
}

/** The first thing to do after a config refusal: fix that line of the pipeline file. */
function configHint(plan: Plan, ledger: RunLedger): string[] {
  const c = configErrorOf(plan, ledger).config_error;
  if (!c) return [];
  return [
    `Fix ${
      c.field ? `the mapping of "${c.field}"` : "the target section"
    } at ${c.file}:${c.line}:${c.column}, then run again: nothing was loaded (deno task validate lists the fields the target knows)`,
  ];
}

/**
 * Reads the source to its end (or until the run stops), sending each batch as it fills.
 *
 * @throws {RunnerError} `invalid_source` when the source fails before anything was sent
 */
async function readAll(
  run: Run,
  source: Source,
  batcher: Batcher,
  rejects: RejectsWriter | undefined,
): Promise<void> {
  const { ledger } = run;
  try {
    for await (const rec of source.records()) {
      if (ledger.stopped) {
        ledger.notRead(rec.line);
        break;
      }
      const full = batcher.add(rec);
      run.progress("reading");
      if (full) await dispatch(run, full);
      else {
        // Not `await` on every record: only on a turn.
        const turn = run.life.uploads?.afterRecord();
        if (turn) await turn;
      }
    }
  } catch (err) {
    if (!(err instanceof RunnerError && err.code === "invalid_source")) throw err;
    if (ledger.batchesSent === 0 && run.pool.size === 0) {
      rejects?.close();
      throw err;
    }
    ledger.sourceFailed(err.message);
  }
  // The partial last batch is sent unless the run stopped; if it did, its rows stay unsent.
  const rest = batcher.rest();
  if (rest && !ledger.stopped) await dispatch(run, rest);
}

/** What the journal's earlier run left for a batch. */
function actionOf(run: Run, f: InFlight): ResumeAction {
  return resumeAction(
    run.prior.get(f.batch.index),
    run.plan.resendUncertain,
    run.plan.target.recover !== undefined,
    run.plan.target.loadsNothingBeforeCheckpoint === true,
  );
}

function resumedOf(action: ResumeAction): Resumed | undefined {
  return action.kind === "wait" || action.kind === "recover" ? action : undefined;
}

/**
 * Sends a batch when the pool has room, unless the journal says what became of it already.
 *
 * @param opened whether the ledger opened the batch already (a follow-up batch)
 */
async function dispatch(run: Run, f: InFlight, opened = false): Promise<void> {
  const { ledger, pool } = run;
  if (!opened) ledger.openBatch(f.batch);
  const action = actionOf(run, f);
  if (action.kind === "replay") {
    const next = await replay(f, action.prior, run.life);
    releaseKeys(f);
    return next ? await dispatch(run, next, true) : undefined;
  }
  if (action.kind === "unknown") return ledger.batchUnknown(f.batch.index, action.message);
  if (!(await pool.slot(() => ledger.stopped))) return ledger.batchNotSent(f.batch.index);
  pool.start(
    () => runBatch(f, run.life, resumedOf(action)).finally(() => releaseKeys(f)),
    () => run.progress("waiting"),
  );
}

/**
 * A batch that ran to its end (settled, or left unknown or pending in the ledger, which keeps
 * only its summary) gives its keys' memory back at once.
 */
function releaseKeys(f: InFlight): void {
  if (f.batch.keys instanceof KeyColumn) f.batch.keys.release();
}

/**
 * Runs a follow-up batch (rows an API left unprocessed) in the slot of the batch that left
 * them, so it never waits for a slot it holds.
 */
async function followUp(run: Run, f: InFlight): Promise<void> {
  const action = actionOf(run, f);
  if (action.kind === "replay") {
    const next = await replay(f, action.prior, run.life);
    releaseKeys(f);
    return next ? await followUp(run, next) : undefined;
  }
  if (action.kind === "unknown") return run.ledger.batchUnknown(f.batch.index, action.message);
  if (run.ledger.stopped) return run.ledger.batchNotSent(f.batch.index);
  await runBatch(f, run.life, resumedOf(action));
}

/** The progress callback, at most every 200 ms unless forced. */
function progressReporter(
  deps: ExecuteDeps,
  ledger: RunLedger,
  pool: Pool,
  started: number,
): Run["progress"] {
  const now = deps.now ?? Date.now;
  let last = 0;
  return (phase, force = false) => {
    if (!deps.progress) return;
    const t = now();
    if (!force && t - last < 200) return;
    last = t;
    const c = ledger.counts();
    deps.progress({
      phase,
      read: c.read,
      rejected: c.rejected,
      batchesSent: ledger.batchesSent,
      pending: pool.size,
      elapsedMs: t - started,
    });
  };
}
