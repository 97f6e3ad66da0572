/**
 * The run journal: a small JSON-lines file per pipeline in the state folder (default `.state/`)
 * recording, before each upload and after each answer, what the runner did. It is what makes a
 * run resumable after a crash, a kill or a timeout without sending any batch twice, and what
 * stops the same file being inserted twice by accident.
 *
 * A run starts its journal by replacing the file atomically (write a temp file, fsync, rename)
 * with what it keeps of earlier runs and its first event; every later event is appended and
 * synced before `record` returns, so before the request it announces is sent. A crash during an
 * append can leave the last line cut short: that write never returned, so what it announced never
 * happened, and the reader leaves the line out (the next run's first write drops it); a last line
 * that is whole JSON without its line end is kept, to be safe. Appending
 * keeps each event's cost to its own line: rewriting the whole file at every event cost a run with
 * 33,000 failed rows a batch 400 MB and 3 s (docs/performance.md).
 *
 * @module
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import type { Submission } from "./targets/mod.ts";
import { RunnerError } from "./errors.ts";
import { writeAll, writeAtomicSync } from "./util/fs.ts";

const counts = z.object({ succeeded: z.number(), failed: z.number(), skipped: z.number() });
const submission = z.object({ id: z.string(), data: z.record(z.string(), z.unknown()).optional() });
const failure = z.object({
  row: z.number().optional(),
  key: z.string().optional(),
  field: z.string().optional(),
  code: z.string().optional(),
  message: z.string(),
  outcome: z.enum(["failed", "skipped"]).optional(),
});
const at = z.string();

/**
 * The shape of every journal line: the one source of truth for `JournalEvent` and for checking
 * a journal read back from disk (a line cut short, hand-edited or `null` is found, not trusted).
 */
export const journalEventSchema = z.discriminatedUnion("event", [
  z.object({
    event: z.literal("run"),
    run_id: z.string(),
    at,
    pipeline: z.string(),
    /** sha256 of the source file. */
    source_hash: z.string(),
    /** sha256 of what decides how rows are batched and where they go. */
    plan_hash: z.string(),
    /** Whether sending a row twice would create a second record. */
    duplicates_on_resend: z.boolean(),
  }),
  z.object({
    event: z.literal("submit"),
    batch: z.number(),
    first_line: z.number(),
    last_line: z.number(),
    rows: z.number(),
    at,
  }),
  z.object({ event: z.literal("accepted"), batch: z.number(), submission, at }),
  // A job exists for the batch (`ctx.checkpoint`), before its upload and close were confirmed:
  // after a crash, the target's `recover` looks at the job instead of the batch being unknown.
  z.object({ event: z.literal("created"), batch: z.number(), submission, at }),
  z.object({
    event: z.literal("done"),
    batch: z.number(),
    status: z.enum(["completed", "failed"]),
    remote_status: z.string(),
    message: z.string().optional(),
    counts,
    failures: z.array(failure),
    problems: z.array(z.string()),
    // Rows (indexes in the batch) the API never processed: sent again, once, as the follow-up
    // batch `resendIndex(batch)`, whose own events follow.
    unprocessed: z.array(z.number()).optional(),
    polls: z.number(),
    at,
  }),
  z.object({ event: z.literal("unknown"), batch: z.number(), message: z.string(), at }),
  z.object({ event: z.literal("refused"), batch: z.number(), message: z.string(), at }),
  z.object({ event: z.literal("end"), status: z.string(), exit_code: z.number(), at }),
  z.object({ event: z.literal("resume"), at }),
]);

/** One line of the journal. */
export type JournalEvent = z.output<typeof journalEventSchema>;

/** How a batch ended, as the journal's `done` event keeps it (without the event's envelope). */
export type BatchOutcome = Omit<Extract<JournalEvent, { event: "done" }>, "event" | "batch" | "at">;

/** What an earlier, unfinished run left for one batch. */
export type PriorBatch =
  | { state: "done"; event: Extract<JournalEvent, { event: "done" }>; submission?: Submission }
  | { state: "accepted"; submission: Submission }
  /** A job was created; whether it was closed is not known (`message` says why, if known). */
  | { state: "created"; submission: Submission; message?: string }
  /**
   * A submit that may have reached the API. `submitOnly`: the journal has nothing after the
   * batch's "submit" (no job id, no outcome): the run died during it.
   */
  | { state: "uncertain"; message: string; submitOnly?: true };

/** Hashes a file as it streams (memory stays flat for any size). */
export async function hashFile(path: string): Promise<string> {
  const h = createHash("sha256");
  using file = await Deno.open(path, { read: true });
  const buf = new Uint8Array(1 << 20);
  for (;;) {
    const n = await file.read(buf);
    if (n === null) break;
    h.update(buf.subarray(0, n));
  }
  return `sha256:${h.digest("hex")}`;
}

/** sha256 of a JSON value with sorted keys. */
export function hashJson(value: unknown): string {
  const sorted = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(sorted) : v && typeof v === "object"
      ? Object.fromEntries(
        Object.keys(v).sort().map((k) => [k, sorted((v as Record<string, unknown>)[k])]),
      )
      : v;
  return `sha256:${createHash("sha256").update(JSON.stringify(sorted(value))).digest("hex")}`;
}

/** Where and how a journal file is damaged. */
export class JournalDamagedError extends RunnerError {
  readonly path: string;
  readonly line: number;
  constructor(path: string, line: number, what: string) {
    super(
      "journal_damaged",
      `Run journal "${path}" is damaged at line ${line}: ${what}; nothing was sent. Run with --fresh to keep the damaged file aside (as "${path}.damaged-<time>") and start over, after checking in the target what the last run loaded`,
    );
    this.path = path;
    this.line = line;
  }
}

/**
 * Reads a journal file; a missing file is an empty journal.
 *
 * @throws {JournalDamagedError} naming the first line that is not JSON or not a journal event
 */
export function readJournal(path: string): JournalEvent[] {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
  const events: JournalEvent[] = [];
  const lines = text.split("\n");
  // A last line without its line end that is not whole JSON is an append that never finished
  // (see the module notes). One that is whole is kept: counting an event that may not have been
  // written at most makes a batch uncertain, where leaving out one that was could send it twice.
  if (!text.endsWith("\n") && !isJson(lines.at(-1)!)) lines.pop();
  for (const [i, line] of lines.entries()) {
    if (line.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new JournalDamagedError(path, i + 1, "not JSON");
    }
    const parsed = journalEventSchema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue && issue.path.length > 0 ? ` (${issue.path.join(".")})` : "";
      throw new JournalDamagedError(path, i + 1, `not a journal event${where}`);
    }
    events.push(parsed.data);
  }
  return events;
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * Moves a damaged journal aside as `<path>.damaged-<time>` (never over an existing file);
 * returns the new name.
 */
export function keepDamagedAside(path: string, now = new Date()): string {
  const aside = `${path}.damaged-${now.toISOString().replaceAll(":", "-")}`;
  Deno.linkSync(path, aside);
  Deno.removeSync(path);
  return aside;
}

/** How the journal's last run ended, and what each of its batches reached. */
export interface JournalView {
  run?: Extract<JournalEvent, { event: "run" }>;
  end?: Extract<JournalEvent, { event: "end" }>;
  batches: Map<number, PriorBatch>;
}

/** Folds the events of the journal's last run into one state per batch. */
export function viewJournal(events: JournalEvent[]): JournalView {
  const view: JournalView = { batches: new Map() };
  for (const e of events) {
    switch (e.event) {
      case "run":
        view.run = e;
        view.end = undefined;
        view.batches = new Map();
        break;
      case "submit":
        view.batches.set(e.batch, {
          state: "uncertain",
          message: "The runner stopped while this batch was being uploaded",
          submitOnly: true,
        });
        break;
      case "accepted":
        view.batches.set(e.batch, { state: "accepted", submission: e.submission });
        break;
      case "created":
        view.batches.set(e.batch, { state: "created", submission: e.submission });
        break;
      case "done": {
        const prev = view.batches.get(e.batch);
        view.batches.set(e.batch, {
          state: "done",
          event: e,
          ...(prev?.state === "accepted" ? { submission: prev.submission } : {}),
        });
        break;
      }
      case "unknown": {
        // A created job stays recoverable: its state, not this message, tells what happened.
        const prev = view.batches.get(e.batch);
        view.batches.set(
          e.batch,
          prev?.state === "created"
            ? { ...prev, message: e.message }
            : { state: "uncertain", message: e.message },
        );
        break;
      }
      case "refused":
        // The API said no without processing anything: the batch may be sent again.
        view.batches.delete(e.batch);
        break;
      case "end":
        view.end = e;
        break;
      case "resume":
        view.end = undefined;
        break;
    }
  }
  return view;
}

/** Statuses after which nothing is left to do. */
const FINISHED = new Set(["succeeded", "completed_with_errors"]);

/**
 * Whether the journal's last run left work a new run should pick up: it never ended (crash,
 * kill), stopped waiting (`timed_out`) or failed part-way (some batches unsent or unknown).
 */
export function isResumable(view: JournalView): boolean {
  // A run that got no batch to the API (the source was refused, every upload was refused) has
  // nothing to resume: the next run starts afresh, on a fixed file if need be.
  return view.run !== undefined && view.batches.size > 0 &&
    (view.end === undefined || !FINISHED.has(view.end.status));
}

/** Whether the journal's last run finished with every batch settled. */
export function isFinished(view: JournalView): boolean {
  return view.end !== undefined && FINISHED.has(view.end.status);
}

/**
 * Writes a journal: the first event replaces the file atomically, with the kept events before it;
 * each later one is appended. Writes are synchronous and synced, so an event is on disk before
 * the request it announces is sent.
 */
export class JournalWriter {
  readonly path: string;
  /** The kept events, until the first write has put them in the file. */
  #keep: JournalEvent[] | undefined;
  /** Why an append failed: the file may end in part of a line, so nothing more is appended. */
  #broken: unknown;

  /** @param keep earlier events to keep (a resumed run continues its journal) */
  constructor(path: string, keep: JournalEvent[] = []) {
    this.path = path;
    this.#keep = keep;
    const slash = path.lastIndexOf("/");
    if (slash > 0) Deno.mkdirSync(path.slice(0, slash), { recursive: true });
  }

  /** Records one event durably before returning. */
  record(event: JournalEvent): void {
    if (this.#broken !== undefined) throw this.#broken;
    if (this.#keep) {
      writeAtomicSync(
        this.path,
        [...this.#keep, event].map((e) => JSON.stringify(e) + "\n").join(""),
      );
      this.#keep = undefined;
      return;
    }
    const bytes = new TextEncoder().encode(JSON.stringify(event) + "\n");
    try {
      using file = Deno.openSync(this.path, { append: true });
      writeAll(file, bytes);
      file.syncDataSync();
    } catch (err) {
      this.#broken = err;
      throw err;
    }
  }
}

/** The journal file of a pipeline in a state folder. */
export function journalPath(stateDir: string, pipeline: string): string {
  return `${stateDir.replace(/\/+$/, "")}/${pipeline}.journal.jsonl`;
}

/** The `run` and `end` events of earlier runs, kept so a finished load is remembered. */
export function history(events: JournalEvent[], keep = 50): JournalEvent[] {
  const out = events.filter((e) => e.event === "run" || e.event === "end");
  const runs = out.filter((e) => e.event === "run").length;
  let drop = Math.max(0, runs - keep);
  let dropping = false;
  // A run is dropped with its end: the oldest `runs - keep` runs go as a whole.
  return out.filter((e) => {
    if (e.event === "run") {
      dropping = drop > 0;
      if (dropping) drop--;
    }
    return !dropping;
  });
}

/** Runs in the journal that finished loading this exact source with this exact plan. */
export function finishedRunsOf(
  events: JournalEvent[],
  sourceHash: string,
  planHash: string,
): { at: string; status: string }[] {
  const out: { at: string; status: string }[] = [];
  let run: Extract<JournalEvent, { event: "run" }> | undefined;
  for (const e of events) {
    if (e.event === "run") run = e;
    if (
      e.event === "end" && run && FINISHED.has(e.status) && run.source_hash === sourceHash &&
      run.plan_hash === planHash
    ) out.push({ at: run.at, status: e.status });
  }
  return out;
}
