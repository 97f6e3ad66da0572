/**
 * Change tracking for `send: changed`: the glue between the executor and the state store
 * (`runner/state/`). The batcher asks `admit()` for every mapped row (unchanged rows are not
 * batched), and the lifecycle reports each finished batch with `settled()`, which confirms the
 * rows the API confirmed and commits. Only API-confirmed results ever reach the state.
 *
 * Per batch, only the keys and row hashes of the rows sent are kept (two parallel arrays), until
 * the batch settles; never a copy of a row.
 *
 * @module
 */
import type { Plan } from "../compile.ts";
import { type BatchOutcome, hashJson } from "../journal.ts";
import {
  type Decision,
  NO_STATE,
  openStateStore,
  type RemovedKeys,
  rowHash,
  stateMatches,
  type StateStore,
} from "../state/mod.ts";
import { openSource } from "../sources/mod.ts";
import type { MappedRow } from "../mapping/mod.ts";
import type { Batch } from "../targets/mod.ts";
import { csvCell } from "../util/csv.ts";
import type { RunLedger } from "./ledger.ts";
import { KeyColumn } from "../util/key_column.ts";

/** Keys and row hashes of one batch's rows, in the batch's row order. */
interface Sent {
  /** Compact, like a batch's own keys (see `KeyColumn`): every one is a string. */
  keys: KeyColumn;
  hashes: number[];
}

/** What `send: changed` decided for the rows of a run (or of a `plan`). */
export type DecisionCounts = Record<Decision, number>;

/** Tracks what a `send: changed` run sends and what the API confirmed; see the module doc. */
export class ChangeTracker {
  readonly #store: StateStore;
  readonly #fields: readonly string[];
  readonly #key: string;
  readonly #full: boolean;
  readonly #batches = new Map<number, Sent>();
  /** How many rows got each decision (with `--full`, as the state would have decided). */
  readonly decided: DecisionCounts = { new: 0, changed: 0, unchanged: 0, retry: 0 };

  /**
   * @param fields the mapped fields, in the order they are sent (what the hash covers)
   * @param key the pipeline's key field
   * @param o.full `--full`: send every row (the state is still read, to mark keys seen)
   */
  constructor(store: StateStore, fields: readonly string[], key: string, o: { full: boolean }) {
    this.#store = store;
    this.#fields = fields;
    this.#key = key;
    this.#full = o.full;
  }

  /**
   * Decides a mapped row; returns true when it is to be sent (it then belongs to batch `index`,
   * in the order admitted) and false when it is unchanged.
   */
  admit(index: number, row: MappedRow): boolean {
    const key = keyOf(row[this.#key]);
    const hash = rowHash(this.#fields, row);
    const d = this.#store.decide(key, hash);
    this.decided[d]++;
    if (d === "unchanged" && !this.#full) return false;
    let sent = this.#batches.get(index);
    if (!sent) this.#batches.set(index, sent = { keys: new KeyColumn(), hashes: [] });
    sent.keys.push(key);
    sent.hashes.push(hash);
    return true;
  }

  /** A row rejected before sending: its key is in the file, so it is not `removed`. */
  rejected(key: string | undefined): void {
    if (key !== undefined) this.#store.seen(key);
  }

  /**
   * A batch's results arrived: rows the API confirmed are confirmed with the hash they were
   * sent with, every other row is unconfirmed (sent again next run); then one commit. Rows the
   * API left unprocessed move with their keys and hashes to the follow-up batch that resends
   * them, so its results confirm them in turn.
   */
  settled(batch: Batch, outcome: BatchOutcome, followUp?: Batch): void {
    const sent = this.#batches.get(batch.index);
    if (!sent) return;
    this.#batches.delete(batch.index);
    const left = outcome.unprocessed ?? [];
    if (followUp && left.length > 0) {
      this.#batches.set(followUp.index, {
        keys: KeyColumn.of(left.map((i) => sent.keys.at(i)!)),
        hashes: left.map((i) => sent.hashes[i]!),
      });
    }
    const ok = confirmedRows(outcome, sent.keys.length);
    for (let i = 0; i < sent.keys.length; i++) {
      const key = sent.keys.at(i) as string;
      if (ok(i)) this.#store.confirm(key, sent.hashes[i]!);
      else this.#store.unconfirmed(key);
    }
    sent.keys.release();
    this.#store.commit();
  }

  /**
   * The run ended: rows of batches that never settled (unknown, timed out, not sent) are
   * unconfirmed, and the keys confirmed earlier but absent from this run are counted.
   *
   * @param limit how many removed keys to list
   */
  finish(limit: number): RemovedKeys {
    for (const sent of this.#batches.values()) {
      for (let i = 0; i < sent.keys.length; i++) this.#store.unconfirmed(sent.keys.at(i) as string);
    }
    this.#batches.clear();
    this.#store.commit();
    return this.#store.removed(limit);
  }
}

/** A key value as the state keeps it. */
export function keyOf(v: unknown): string {
  return v === undefined || v === null ? "" : String(v);
}

/**
 * Which rows of a finished batch the API confirmed. Every row when it counts every row
 * succeeded; when it names each failed or skipped row by index, every other row; otherwise
 * none (the counts alone do not say which rows loaded, so none is confirmed).
 */
export function confirmedRows(outcome: BatchOutcome, rows: number): (row: number) => boolean {
  const c = outcome.counts;
  // Unprocessed rows were never written: not confirmed here (a follow-up batch resends them).
  const bad = new Set<number>(outcome.unprocessed ?? []);
  if (c.succeeded === rows && c.failed === 0 && c.skipped === 0) return () => true;
  if (c.succeeded + c.failed + c.skipped + bad.size !== rows || c.succeeded === 0) {
    return () => false;
  }
  for (const f of outcome.failures) {
    if (f.row === undefined || f.row < 0 || f.row >= rows) return () => false;
    bad.add(f.row);
  }
  if (bad.size !== c.failed + c.skipped + (outcome.unprocessed?.length ?? 0)) return () => false;
  return (row) => !bad.has(row);
}

/** The file listing removed keys: beside the rejects file, `x.csv` → `x.removed.csv`. */
export function removedPath(rejects: string): string {
  return rejects.replace(/(\.csv)?$/i, ".removed.csv");
}

/**
 * Ends change tracking for a run: counts the removed keys in the ledger, lists them in a CSV
 * beside the rejects file (when the pipeline has one) and says so in the log.
 *
 * @returns the path of the removed-keys file, when one was written
 */
export async function finishChanges(
  changes: ChangeTracker,
  ledger: Pick<RunLedger, "keysRemoved">,
  rejects: string | undefined,
  log: (line: string) => void,
): Promise<string | undefined> {
  const removed = changes.finish(rejects === undefined ? 10 : Infinity);
  ledger.keysRemoved(removed.count);
  if (removed.count === 0) return undefined;
  const where = rejects === undefined ? undefined : removedPath(rejects);
  if (where !== undefined) {
    await Deno.writeTextFile(
      where,
      ["key", ...removed.keys.map((k) => csvCell(k))].join("\n") + "\n",
    );
  }
  log(
    `${removed.count} keys the API confirmed in earlier runs are not in this file${
      where === undefined ? ` (first: ${removed.keys.join(", ")})` : ` (listed in ${where})`
    }: nothing was deleted remotely`,
  );
  return where;
}

/** A pipeline's opened state for one run, and how to close it. */
export interface OpenedChanges {
  tracker: ChangeTracker;
  /** Releases the state; `finished`: the run ended with nothing to resume (the log may be folded). */
  close: (finished: boolean) => void;
}

/**
 * Opens the state of a `send: changed` pipeline for a run (taking its lock) and says in the log
 * when it starts afresh. A run that resumes an unfinished one decides from the snapshot the
 * unfinished run decided from, so it forms the same batches its journal describes; any other run
 * first folds the log into a new snapshot, which the next resume would then decide from.
 *
 * @throws {RunnerError} `usage` (exit 2, nothing sent) when another run holds the state or the
 *   state file is damaged
 */
export function openChanges(
  plan: Pick<Plan, "name" | "identity" | "mapper" | "key" | "target">,
  o: { stateDir: string; full: boolean; resume: boolean; log: (line: string) => void },
): OpenedChanges {
  const opened = openStateStore(o.stateDir, plan.name, hashJson(plan.identity), {
    insertOnly: plan.target.duplicatesOnResend,
    decideFromSnapshot: o.resume,
  });
  const { store } = opened;
  try {
    if (opened.previousHolder) {
      const h = opened.previousHolder;
      o.log(`The state lock of an earlier run (pid ${h.pid}, ${h.started_at}) was taken over`);
    }
    if (opened.fresh && !o.full) o.log(`Sending every row: ${opened.reason ?? NO_STATE}`);
    if (o.full) {
      o.log("Sending every row (--full); the state is rebuilt from what the API confirms");
    }
    if (!o.resume && store.hasLog) store.compact();
  } catch (e) {
    store.close({ compact: false });
    throw e;
  }
  return {
    tracker: new ChangeTracker(store, plan.mapper.fields, plan.key, { full: o.full }),
    close: (finished) => store.close({ compact: finished }),
  };
}

/**
 * What a `send: changed` run would send, from the state and the source, with no network: one
 * line for `plan`. Reads the state without a lock and without writing (a missing state or one
 * for another target or mappings counts every row new).
 *
 * @throws {RunnerError} `usage` when the state file is damaged
 */
export async function planChanges(
  plan: Pick<Plan, "name" | "identity" | "mapper" | "key" | "target" | "source">,
  stateDir: string,
): Promise<string> {
  const identity = hashJson(plan.identity);
  const matches = stateMatches(stateDir, plan.name, identity);
  const store = matches
    ? openStateStore(stateDir, plan.name, identity, {
      insertOnly: plan.target.duplicatesOnResend,
      readOnly: true,
    }).store
    : undefined;
  const d: DecisionCounts = { new: 0, changed: 0, unchanged: 0, retry: 0 };
  let removed = 0;
  try {
    for await (const rec of openSource(plan.source).records()) {
      const r = rec.error === undefined ? plan.mapper.map(rec.values) : undefined;
      if (!r?.ok) continue;
      if (!store) d.new++;
      else d[store.decide(keyOf(r.row[plan.key]), rowHash(plan.mapper.fields, r.row))]++;
    }
    removed = store?.removed(0).count ?? 0;
  } finally {
    store?.close({ compact: false });
  }
  const send = d.new + d.changed + d.retry;
  if (!store) {
    return `send: changed: no state for this target and mappings in ${stateDir}/ yet: a run would send all ${send} mapped rows (new)`;
  }
  return `send: changed: a run would send ${send} rows (${d.new} new, ${d.changed} changed, ${d.retry} retry) and skip ${d.unchanged} unchanged; ${removed} keys confirmed earlier are not in the file (removed)`;
}
