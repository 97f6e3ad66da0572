/**
 * One run per pipeline at a time: an exclusive advisory lock (flock) on `<pipeline>.lock`, which
 * the kernel releases when its holder exits or is killed, so a lock of a dead process is never
 * stale. The file also names its holder, for the error a second run gets and to tell that a run
 * took over from one that died.
 *
 * @module
 */
import { RunnerError } from "../errors.ts";
import { writeAll } from "../util/fs.ts";

/** Who holds (or held) a state lock. */
export interface LockHolder {
  pid: number;
  /** When the holder's process started, ISO 8601. */
  started_at: string;
}

/** A second run of a pipeline whose state another live run holds. */
export class StateLockedError extends RunnerError {
  readonly holder: LockHolder | undefined;
  constructor(pipeline: string, path: string, holder: LockHolder | undefined) {
    const who = holder
      ? `pid ${holder.pid} started at ${holder.started_at}`
      : "a process that has not yet written its pid";
    super(
      "usage",
      `Cannot open the state of pipeline "${pipeline}": another run holds "${path}" (${who}); wait for it to finish or stop it`,
    );
    this.name = "StateLockedError";
    this.holder = holder;
  }
}

/** A held lock; `previous` names a holder that died without releasing it cleanly. */
export interface Lock {
  previous: LockHolder | undefined;
  release(): void;
}

/** Takes the lock or throws `StateLockedError` naming the live holder. */
export function acquireLock(path: string, pipeline: string): Lock {
  const file = Deno.openSync(path, { read: true, write: true, create: true });
  let held = false;
  try {
    if (!file.tryLockSync(true)) throw new StateLockedError(pipeline, path, readHolder(file));
    held = true;
    // Non-empty contents under a free lock: the last holder was killed before release().
    const previous = readHolder(file);
    const me: LockHolder = {
      pid: Deno.pid,
      started_at: new Date(performance.timeOrigin).toISOString(),
    };
    file.truncateSync(0);
    file.seekSync(0, Deno.SeekMode.Start);
    writeAll(file, new TextEncoder().encode(JSON.stringify(me) + "\n"));
    return {
      previous,
      release() {
        // Emptied, not deleted: deleting would let a waiting opener lock an unlinked file.
        file.truncateSync(0);
        file.unlockSync();
        file.close();
      },
    };
  } catch (e) {
    if (held) file.unlockSync();
    file.close();
    throw e;
  }
}

function readHolder(file: Deno.FsFile): LockHolder | undefined {
  file.seekSync(0, Deno.SeekMode.Start);
  const buf = new Uint8Array(512);
  const n = file.readSync(buf) ?? 0;
  try {
    const h = JSON.parse(new TextDecoder().decode(buf.subarray(0, n))) as Partial<LockHolder>;
    if (typeof h.pid === "number" && typeof h.started_at === "string") {
      return { pid: h.pid, started_at: h.started_at };
    }
  } catch {
    // Empty or half-written: no holder to name.
  }
  return undefined;
}
