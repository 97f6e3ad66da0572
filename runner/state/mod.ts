/**
 * The change-only state store behind `send: changed`: per pipeline and target identity, the hash
 * of what the API last confirmed for each key. A run asks `decide()` for every mapped row, sends
 * the rows that are not `unchanged`, and reports each batch's outcome with `confirm()` (rows the
 * API confirmed) or `unconfirmed()` (failed, skipped, pending, unknown), then `commit()`s.
 *
 * Crash safety: only committed confirmations are on disk, each commit is one fsynced, checksummed
 * log frame, and the snapshot is replaced atomically (see `_files.ts`); a kill at any moment
 * leaves a store that opens cleanly with every committed confirmation and nothing else. One run
 * at a time: the store holds an exclusive lock the kernel frees when the holder dies.
 *
 * @example
 * const { store } = openStateStore(".state", "opportunities", identityHash);
 * try {
 *   const h = rowHash(fields, row);
 *   if (store.decide(key, h) !== "unchanged") send(row); // later: store.confirm(key, h)
 *   store.commit();
 * } finally {
 *   store.close();
 * }
 *
 * @module
 */
import { RunnerError } from "../errors.ts";
import {
  decodeLog,
  decodeSnapshot,
  encodeFrame,
  LOG_HEADER,
  logHeader,
  readFileIfAny,
  type SnapshotMeta,
  writeAll,
  writeFileAtomic,
  writeSnapshot,
} from "./_files.ts";
import { keyHash } from "./_hash.ts";
import { acquireLock, type Lock, type LockHolder } from "./_lock.ts";
import { CONFIRMED, EVER, SEEN, Table } from "./_table.ts";

export { rowHash } from "./_hash.ts";
export { KeyLines } from "./_key_lines.ts";
export { KeyIndex, type KeyIndexOptions, MEMORY_KEYS } from "./_key_index.ts";
export { type LockHolder, StateLockedError } from "./_lock.ts";

/**
 * What to do with a row: `new` (key never seen), `changed` (confirmed with other values),
 * `unchanged` (confirmed with these values: do not send), `retry` (the last outcome for this key
 * was not confirmed: failed, skipped, pending or unknown).
 */
export type Decision = "new" | "changed" | "unchanged" | "retry";

/** How a store decides. */
export interface StateStoreOptions {
  /**
   * The operation inserts (a second send creates a second record): any key the API ever
   * confirmed is `unchanged`, whatever its values, and only other keys are sent.
   */
  insertOnly?: boolean;
  /**
   * Decide as the snapshot alone says, not the log committed since: a resumed run then makes
   * the same decisions (and so forms the same batches) as the run it resumes, whose own
   * confirmations are in the log. Confirmations still apply to the whole state.
   */
  decideFromSnapshot?: boolean;
  /**
   * Only look (`plan`): no lock, nothing written; a missing state or one of another identity
   * is an empty table. `commit()` and `compact()` throw.
   */
  readOnly?: boolean;
}

/** An opened store, and whether it starts empty and why. */
export interface OpenedStateStore {
  store: StateStore;
  /** True when no earlier confirmation applies: every row will be `new`. */
  fresh: boolean;
  /** Why the store is fresh, for the run's log. */
  reason?: string;
  /** A run that held the lock and died without releasing it (its lock was taken over). */
  previousHolder?: LockHolder;
}

/** Keys the API confirmed in earlier runs that this run's file does not have. */
export interface RemovedKeys {
  count: number;
  /** The first `limit` of them, in the order they were first confirmed. */
  keys: string[];
}

/** File names of a pipeline's state in a state folder. */
export function statePaths(
  dir: string,
  pipeline: string,
): { state: string; changes: string; lock: string } {
  const base = `${dir.replace(/\/+$/, "")}/${pipeline}`;
  return { state: `${base}.state`, changes: `${base}.changes`, lock: `${base}.state.lock` };
}

/** Reason given when the stored identity differs from the run's. */
export const IDENTITY_CHANGED = "the target or mappings changed since the last run";
/** Reason given when there is no state yet. */
export const NO_STATE = "no state from an earlier run";

/**
 * Opens (or creates) the state of a pipeline for one target identity, taking its lock.
 *
 * @param dir the state folder, created when missing (default of the runner: `.state`)
 * @param identityHash a hash of what makes confirmations comparable: the target (integration,
 *   module, object, API) and the mappings; a different one starts afresh
 * @throws {StateLockedError} (`usage`, exit 2) another live run holds this pipeline's state
 * @throws {RunnerError} `usage` (a refusal, exit 2) when the state file is not a readable state
 */
export function openStateStore(
  dir: string,
  pipelineName: string,
  identityHash: string,
  opts: StateStoreOptions = {},
): OpenedStateStore {
  const paths = statePaths(dir, pipelineName);
  if (!opts.readOnly) Deno.mkdirSync(dir, { recursive: true });
  const lock: Lock = opts.readOnly
    ? { previous: undefined, release() {} }
    : acquireLock(paths.lock, pipelineName);
  try {
    const store = new StateStore(paths, pipelineName, identityHash, opts, lock);
    const opened: OpenedStateStore = { store, fresh: store.fresh !== undefined };
    if (store.fresh !== undefined) opened.reason = store.fresh;
    if (lock.previous) opened.previousHolder = lock.previous;
    return opened;
  } catch (e) {
    lock.release();
    throw e;
  }
}

/**
 * Whether a pipeline's state exists for this identity, without opening it (nothing is written):
 * `plan` uses it so that looking never starts a state afresh.
 *
 * @throws {RunnerError} `usage` when the state file is not a readable state
 */
export function stateMatches(dir: string, pipelineName: string, identityHash: string): boolean {
  const prior = readSnapshot(statePaths(dir, pipelineName).state);
  return prior !== undefined && prior.meta.identity === identityHash &&
    prior.meta.pipeline === pipelineName;
}

/** One pipeline's confirmed row hashes; get one from `openStateStore`. */
export class StateStore {
  /** Why this store started empty, or undefined when it continues an earlier state. */
  readonly fresh: string | undefined;
  readonly paths: { state: string; changes: string; lock: string };
  #table: Table;
  #meta: SnapshotMeta;
  #insertOnly: boolean;
  #lock: Lock | undefined;
  /** The open log; undefined when read-only. */
  #log: Deno.FsFile | undefined;
  readonly #readOnly: boolean;
  #logBytes: number;
  #snapshotBytes: number;
  /** Entries changed since the last commit (repeats are harmless: a frame holds final values). */
  #pending: number[] = [];
  /** With `decideFromSnapshot`: an entry's hash and flags before the log changed it (0: absent). */
  #before: Map<number, { hash: number; flags: number }> | undefined;

  /** Use `openStateStore`, which takes the lock first. */
  constructor(
    paths: { state: string; changes: string; lock: string },
    pipeline: string,
    identity: string,
    opts: StateStoreOptions,
    lock: Lock,
  ) {
    this.paths = paths;
    this.#insertOnly = opts.insertOnly ?? false;
    this.#readOnly = opts.readOnly ?? false;
    if (opts.decideFromSnapshot) this.#before = new Map();
    const prior = readSnapshot(paths.state);
    const reason = !prior
      ? NO_STATE
      : prior.meta.identity !== identity || prior.meta.pipeline !== pipeline
      ? IDENTITY_CHANGED
      : undefined;
    this.fresh = reason;
    this.#meta = {
      pipeline,
      identity,
      generation: prior ? prior.meta.generation : 0,
      written_at: prior?.meta.written_at ?? new Date().toISOString(),
    };
    if (reason !== undefined || !prior) {
      this.#table = new Table();
      this.#meta.generation++;
      this.#snapshotBytes = this.#readOnly ? 0 : this.#writeSnapshot();
    } else {
      this.#table = new Table(prior.columns);
      this.#snapshotBytes = prior.size;
    }
    // A fresh store never replays a log left beside it (say, after its state file was deleted).
    const { file, bytes } = this.#openLog(reason !== undefined);
    this.#log = file;
    this.#logBytes = bytes;
    this.#lock = lock;
  }

  /** Keys in the state (confirmed or not). */
  get size(): number {
    return this.#table.count;
  }

  /** Whether confirmations were committed since the snapshot (`compact()` folds them in). */
  get hasLog(): boolean {
    return this.#logBytes > LOG_HEADER;
  }

  /** Decides whether a row with this key and `rowHash` must be sent; marks the key seen. */
  decide(key: string, hash: number): Decision {
    const t = this.#table;
    const e = t.findNext(key, keyHash(key));
    if (e < 0) return "new";
    const now = t.flags[e]!;
    t.flags[e] = now | SEEN;
    const was = this.#before?.get(e);
    if (was && was.flags === 0) return "new";
    const f = was ? was.flags : now;
    const stored = was ? was.hash : t.hashes[e];
    if (this.#insertOnly) return f & EVER ? "unchanged" : "retry";
    if (!(f & CONFIRMED)) return "retry";
    return stored === hash ? "unchanged" : "changed";
  }

  /** Marks a key as present in this run without deciding (a row rejected before sending). */
  seen(key: string): void {
    const e = this.#table.find(key);
    if (e >= 0) this.#table.flags[e]! |= SEEN;
  }

  /** Records that the API confirmed this key with these values; durable after `commit()`. */
  confirm(key: string, hash: number): void {
    const t = this.#table;
    const kh = keyHash(key);
    let e = t.find(key, kh);
    if (e < 0) e = t.add(key, kh, hash, CONFIRMED | EVER | SEEN);
    else {
      t.hashes[e] = hash;
      t.flags[e]! |= CONFIRMED | EVER | SEEN;
    }
    this.#pending.push(e);
  }

  /**
   * Records that the last send of this key was not confirmed (failed, skipped, pending or
   * unknown): the next run sends it again. The last confirmed values are kept.
   */
  unconfirmed(key: string): void {
    const t = this.#table;
    const kh = keyHash(key);
    let e = t.find(key, kh);
    if (e < 0) e = t.add(key, kh, 0, SEEN);
    else t.flags[e] = (t.flags[e]! & ~CONFIRMED) | SEEN;
    this.#pending.push(e);
  }

  /** Keys the API confirmed in earlier runs and that this run has not seen (never deleted). */
  removed(limit = Infinity): RemovedKeys {
    const t = this.#table;
    const out: RemovedKeys = { count: 0, keys: [] };
    for (let e = 0; e < t.count; e++) {
      if ((t.flags[e]! & (EVER | SEEN)) !== EVER) continue;
      if (out.count++ < limit) out.keys.push(t.key(e));
    }
    return out;
  }

  /** Makes every confirm/unconfirmed since the last commit durable (one fsynced log frame). */
  commit(): void {
    if (this.#pending.length === 0) return;
    const log = this.#writable();
    const frame = encodeFrame(this.#table, this.#pending, CONFIRMED | EVER);
    try {
      writeAll(log, frame);
      log.syncDataSync();
    } catch (e) {
      // Cut a partly written frame so that later commits are not appended after garbage.
      log.truncateSync(this.#logBytes);
      log.seekSync(this.#logBytes, Deno.SeekMode.Start);
      throw e;
    }
    this.#logBytes += frame.length;
    this.#pending = [];
  }

  /**
   * Commits, folds the log into a new snapshot when it has grown (a quarter of the snapshot),
   * and releases the lock. Keys never confirmed and absent from this run are dropped then.
   */
  close(o: { compact?: boolean } = {}): void {
    if (!this.#lock) return;
    try {
      this.commit();
      const big = this.#logBytes > LOG_HEADER && this.#logBytes * 4 > this.#snapshotBytes;
      if (big && (o.compact ?? true) && !this.#readOnly) this.compact();
    } finally {
      this.#log?.close();
      this.#lock.release();
      this.#lock = undefined;
    }
  }

  /** Writes a new snapshot with everything committed, then an empty log for it. */
  compact(): void {
    this.commit();
    const log = this.#writable();
    this.#meta.generation++;
    this.#snapshotBytes = this.#writeSnapshot();
    log.close();
    const { file, bytes } = this.#openLog(true);
    this.#log = file;
    this.#logBytes = bytes;
  }

  #writable(): Deno.FsFile {
    if (!this.#log) throw new RunnerError("internal", "A read-only state cannot be written");
    return this.#log;
  }

  #writeSnapshot(): number {
    this.#meta.written_at = new Date().toISOString();
    const keep = (f: number) => (f & (EVER | SEEN)) !== 0;
    return writeSnapshot(this.paths.state, this.#meta, this.#table.columns(keep, SEEN));
  }

  /** Opens the log for appending: replays its whole frames, or starts it for this generation. */
  #openLog(reset: boolean): { file: Deno.FsFile | undefined; bytes: number } {
    const path = this.paths.changes;
    const data = reset ? undefined : readFileIfAny(path);
    const { records, valid } = data
      ? decodeLog(data, this.#meta.generation)
      : { records: [], valid: 0 };
    if (valid === 0 && !this.#readOnly) writeFileAtomic(path, logHeader(this.#meta.generation));
    const t = this.#table;
    const before = this.#before;
    for (const r of records) {
      const kh = keyHash(r.key);
      const e = t.find(r.key, kh);
      if (e < 0) {
        const added = t.add(r.key, kh, r.hash, r.flags);
        before?.set(added, { hash: 0, flags: 0 });
      } else {
        if (before && !before.has(e)) before.set(e, { hash: t.hashes[e]!, flags: t.flags[e]! });
        t.hashes[e] = r.hash;
        t.flags[e] = r.flags;
      }
    }
    const bytes = valid === 0 ? LOG_HEADER : valid;
    if (this.#readOnly) return { file: undefined, bytes };
    const file = Deno.openSync(path, { read: true, write: true });
    if (data && valid > 0 && valid < data.length) file.truncateSync(valid);
    file.seekSync(bytes, Deno.SeekMode.Start);
    return { file, bytes };
  }
}

function readSnapshot(
  path: string,
): (ReturnType<typeof decodeSnapshot> & { size: number }) | undefined {
  const bytes = readFileIfAny(path);
  if (!bytes) return undefined;
  try {
    return { ...decodeSnapshot(bytes), size: bytes.length };
  } catch (e) {
    throw new RunnerError(
      "usage", // a refusal before anything is sent, like the journal's (exit 2)
      `Cannot read the state file "${path}": ${
        (e as Error).message
      }; delete it to start afresh (the next run then sends every row)`,
      { cause: e },
    );
  }
}
