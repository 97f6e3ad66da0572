/**
 * The run lock: one run of a pipeline at a time, per state folder. Two runs at once (a terminal
 * and a scheduled run) would both upload every row and fight over the journal, so the second
 * refuses at once and names the holder.
 *
 * The lock is `<state>/<pipeline>.lock`, held with the kernel's advisory file lock (`flock`),
 * which the kernel releases when the holder exits in any way, SIGKILL included: a lock of a dead
 * run is therefore never mistaken for a live one, with no pid probing (reading `/proc` needs
 * `--allow-all` in Deno, signalling a pid needs `--allow-run`). The file also holds who has it
 * (pid, host, start time, command), for the message; a run that finds such a record with the
 * file unlocked says it takes over the lock of a run that is no longer running.
 *
 * @module
 */
import { RunnerError } from "./errors.ts";
import { writeAll } from "./util/fs.ts";

/** What a lock file holds. */
export interface LockHolder {
  pid: number;
  host: string;
  /** When the holder started, ISO 8601. */
  since: string;
  /** The holder's command line, for the message. */
  command: string;
}

/** A held lock; `release()` removes and unlocks it. */
export interface RunLock {
  readonly path: string;
  release(): void;
}

/** The lock file of a pipeline in a state folder. */
export function lockPath(stateDir: string, pipeline: string): string {
  return `${stateDir.replace(/\/+$/, "")}/${pipeline}.lock`;
}

/** This machine's name, from `/etc/hostname` (no `--allow-sys` needed), else Deno's, else "unknown". */
export function hostName(): string {
  try {
    const name = Deno.readTextFileSync("/etc/hostname").trim();
    if (name) return name;
  } catch {
    // Not on this system: ask Deno.
  }
  try {
    return Deno.hostname();
  } catch {
    return "unknown";
  }
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const v = JSON.parse(text);
    return typeof v?.pid === "number" && typeof v?.host === "string" ? v : undefined;
  } catch {
    return undefined;
  }
}

function readAll(file: Deno.FsFile): string {
  file.seekSync(0, Deno.SeekMode.Start);
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(4096);
  for (;;) {
    const n = file.readSync(buf);
    if (n === null || n === 0) break;
    chunks.push(buf.slice(0, n));
  }
  return new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c])));
}

/**
 * Takes the run lock of `pipeline`, saying through `log` when it takes over the lock of a run
 * that ended without releasing it.
 *
 * @throws {RunnerError} `locked` naming the holder, since when, and how to clear a lock by hand
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
  };
  for (;;) {
    const file = Deno.openSync(path, { read: true, write: true, create: true });
    if (!file.tryLockSync(true)) {
      const holder = readHolderOf(file);
      file.close();
      throw lockedError(path, holder);
    }
    // The file may have been removed by the holder we waited on: then this lock guards nothing,
    // and the name now belongs to a new file. Lock that one instead.
    const same = sameFile(file, path);
    if (!same) {
      file.close();
      continue;
    }
    const before = parseHolder(readAll(file));
    if (before) {
      log(
        `Taking over the lock "${path}" of run ${before.pid} on ${before.host} (since ${before.since}), which is no longer running`,
      );
    }
    file.truncateSync(0);
    file.seekSync(0, Deno.SeekMode.Start);
    writeAll(file, new TextEncoder().encode(JSON.stringify(me) + "\n"));
    return {
      path,
      release() {
        try {
          // Removed while still locked, so no run can lock the old file after us and run.
          if (sameFile(file, path)) Deno.removeSync(path);
        } finally {
          file.close();
        }
      },
    };
  }
}

/**
 * The holder named in a lock file another run holds. That run locks the file before it writes its
 * name in it, so a file found empty (or half-written) is read again for up to 200 ms before the
 * holder is called unknown: under load the gap between the two was long enough to be seen.
 */
function readHolderOf(file: Deno.FsFile): LockHolder | undefined {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let tries = 0;; tries++) {
    const holder = parseHolder(readAll(file));
    if (holder || tries === 20) return holder;
    Atomics.wait(pause, 0, 0, 10);
  }
}

function sameFile(file: Deno.FsFile, path: string): boolean {
  try {
    const a = file.statSync();
    const b = Deno.statSync(path);
    return a.ino === b.ino && a.dev === b.dev;
  } catch {
    return false;
  }
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
