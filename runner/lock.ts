/**
 * The run lock: one run of a pipeline at a time, per state folder. Two runs at once (a terminal
 * and a scheduled run) would both upload every row and fight over the journal, so the second
 * refuses at once and names the holder.
 *
 * The lock is `<state>/<pipeline>.lock`, a JSON object (pid, host, start time, command) created
 * whole or not at all: written to a temp file, then hard-linked to the lock's name, which fails
 * when the name exists. A lock left by a process that died (same host, and `/proc/<pid>` is gone
 * or belongs to a later process) is taken over with a line saying so. `/proc` is read rather
 * than probing with a signal, which would need `--allow-run`; where `/proc` does not exist the
 * holder is taken to be alive, and the message says how to clear the lock by hand.
 *
 * @module
 */
import { RunnerError } from "./errors.ts";

/** What a lock file holds. */
export interface LockHolder {
  pid: number;
  host: string;
  /** When the holder started, ISO 8601. */
  since: string;
  /** The holder's command line, for the message. */
  command: string;
  /** The holder's start time in clock ticks since boot (`/proc/<pid>/stat`), against pid reuse. */
  proc_start?: string;
}

/** A held lock; `release()` removes it if it is still ours. */
export interface RunLock {
  readonly path: string;
  release(): void;
}

/** The lock file of a pipeline in a state folder. */
export function lockPath(stateDir: string, pipeline: string): string {
  return `${stateDir.replace(/\/+$/, "")}/${pipeline}.lock`;
}

/** This machine's name, from `/proc` (no `--allow-sys` needed), else Deno's, else "unknown". */
export function hostName(): string {
  try {
    return Deno.readTextFileSync("/proc/sys/kernel/hostname").trim();
  } catch {
    try {
      return Deno.hostname();
    } catch {
      return "unknown";
    }
  }
}

/** Field 22 of `/proc/<pid>/stat` (start time in ticks), or undefined when unreadable. */
function procStart(pid: number | "self"): string | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // The command name (field 2) may hold spaces and parentheses: count from the last ")".
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/** Whether the holder is certainly gone: same host, and its pid is not (or no longer) it. */
export function isStale(holder: LockHolder, host = hostName()): boolean {
  if (holder.host !== host) return false;
  try {
    Deno.statSync("/proc/self");
  } catch {
    return false; // No /proc here: cannot tell, so the holder is taken to be alive.
  }
  const start = procStart(holder.pid);
  if (start === undefined) return true;
  return holder.proc_start !== undefined && holder.proc_start !== start;
}

function readHolder(path: string): LockHolder | undefined {
  try {
    const v = JSON.parse(Deno.readTextFileSync(path));
    return typeof v?.pid === "number" && typeof v?.host === "string" ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Creates `path` holding `text`, or returns false when it exists. Never half-written. */
function createWhole(path: string, text: string): boolean {
  const tmp = `${path}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  Deno.writeTextFileSync(tmp, text, { createNew: true });
  try {
    Deno.linkSync(tmp, path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists) return false;
    throw err;
  } finally {
    Deno.removeSync(tmp);
  }
}

/**
 * Takes the run lock of `pipeline`, taking over a stale one (and saying so through `log`).
 *
 * @throws {RunnerError} `locked` naming the holder, since when, and how to clear a stale lock
 */
export function acquireLock(
  stateDir: string,
  pipeline: string,
  command: string,
  log: (line: string) => void,
): RunLock {
  const path = lockPath(stateDir, pipeline);
  Deno.mkdirSync(stateDir, { recursive: true });
  const me: LockHolder = {
    pid: Deno.pid,
    host: hostName(),
    since: new Date().toISOString(),
    command,
    ...(procStart("self") ? { proc_start: procStart("self") } : {}),
  };
  const text = JSON.stringify(me) + "\n";
  for (let attempt = 0; attempt < 3; attempt++) {
    if (createWhole(path, text)) return ownLock(path, text);
    const holder = readHolder(path);
    if (holder === undefined || !isStale(holder, me.host)) throw lockedError(path, holder);
    // Move the stale lock aside under a name of our own: of two runs taking it over at once,
    // one rename succeeds; the other finds the file gone and tries again.
    const aside = `${path}.stale-${Deno.pid}`;
    try {
      Deno.renameSync(path, aside);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) continue;
      throw err;
    }
    const moved = readHolder(aside);
    Deno.removeSync(aside);
    if (moved?.pid !== holder.pid || moved.since !== holder.since) {
      // Someone else's fresh lock was moved: put it back (if nothing took its place) and refuse.
      if (moved) createWhole(path, JSON.stringify(moved) + "\n");
      throw lockedError(path, moved);
    }
    log(
      `Taking over the lock "${path}" of run ${holder.pid} on ${holder.host} (since ${holder.since}), which is no longer running`,
    );
  }
  throw lockedError(path, readHolder(path));
}

function ownLock(path: string, text: string): RunLock {
  return {
    path,
    release() {
      try {
        if (Deno.readTextFileSync(path) === text) Deno.removeSync(path);
      } catch {
        // Gone already (removed by hand): nothing to release.
      }
    },
  };
}

function lockedError(path: string, holder: LockHolder | undefined): RunnerError {
  const who = holder
    ? `run ${holder.pid} on ${holder.host} since ${holder.since} (${holder.command})`
    : "another run (the lock file is unreadable)";
  return new RunnerError(
    "locked",
    `Another run of this pipeline is in progress: ${who} holds "${path}"; nothing was sent. If that run is no longer running (for example on another machine sharing this folder), delete "${path}" and run again`,
  );
}
