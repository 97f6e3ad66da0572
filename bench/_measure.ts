/**
 * Running a command as a measured subprocess: wall time from spawn to exit, CPU time and peak
 * RSS of the process. Uses Python's `getrusage(RUSAGE_CHILDREN)` as a thin wrapper when
 * `python3` is there (exact peak RSS, the kernel's own count); otherwise polls
 * `/proc/<pid>/status` every 10 ms (`VmHWM` only grows, so the last reading is the peak, give or
 * take the last 10 ms).
 *
 * @module
 */

/** One measured run. */
export interface Measured {
  /** From spawn to exit, startup included. */
  wallMs: number;
  /** user + system CPU time; `NaN` when unknown. */
  cpuMs: number;
  /** Peak resident set size (`VmHWM` / `ru_maxrss`). */
  rssMiB: number;
  stdout: string;
  stderr: string;
  code: number;
}

const WRAPPER = `
import json, resource, subprocess, sys, time
t = time.perf_counter()
p = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
ms = (time.perf_counter() - t) * 1000
u = resource.getrusage(resource.RUSAGE_CHILDREN)
sys.stderr.buffer.write(p.stderr)
sys.stdout.buffer.write(p.stdout)
sys.stdout.write("\\n@@measure " + json.dumps({"wallMs": ms, "cpuMs": (u.ru_utime + u.ru_stime) * 1000, "rssMiB": u.ru_maxrss / 1024, "code": p.returncode}) + "\\n")
`;

let python: boolean | undefined;

/** Whether a command is on the PATH. */
export async function hasCommand(name: string): Promise<boolean> {
  try {
    const out = await new Deno.Command("sh", {
      args: ["-c", `command -v ${name}`],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}

/** The output of a command, trimmed; `undefined` when it cannot run. */
export async function commandOutput(cmd: string, args: string[]): Promise<string | undefined> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    if (!out.success) return undefined;
    const dec = new TextDecoder();
    return (dec.decode(out.stdout) + dec.decode(out.stderr)).trim();
  } catch {
    return undefined;
  }
}

/**
 * Runs `cmd` to completion and measures it.
 *
 * @param options `cwd` and extra `env` for the child
 */
export async function measure(
  cmd: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<Measured> {
  python ??= await hasCommand("python3");
  const dec = new TextDecoder();
  if (python) {
    const out = await new Deno.Command("python3", {
      args: ["-c", WRAPPER, ...cmd],
      stdout: "piped",
      stderr: "piped",
      ...options,
    }).output();
    const text = dec.decode(out.stdout);
    const at = text.lastIndexOf("\n@@measure ");
    if (at === -1) {
      throw new Error(
        `Could not measure ${cmd.join(" ")}: ${dec.decode(out.stderr).slice(0, 500)}`,
      );
    }
    const m = JSON.parse(text.slice(at + "\n@@measure ".length));
    return { ...m, stdout: text.slice(0, at), stderr: dec.decode(out.stderr) };
  }
  const t0 = performance.now();
  const child = new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    stdout: "piped",
    stderr: "piped",
    ...options,
  }).spawn();
  let rssMiB = 0;
  let cpuMs = NaN;
  const timer = setInterval(() => {
    try {
      const status = Deno.readTextFileSync(`/proc/${child.pid}/status`);
      const m = /VmHWM:\s+(\d+) kB/.exec(status);
      if (m) rssMiB = Math.max(rssMiB, Number(m[1]) / 1024);
      const stat = Deno.readTextFileSync(`/proc/${child.pid}/stat`);
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      cpuMs = (Number(f[11]) + Number(f[12])) * 10;
    } catch {
      // The process has just exited.
    }
  }, 10);
  const out = await child.output();
  clearInterval(timer);
  return {
    wallMs: performance.now() - t0,
    cpuMs,
    rssMiB,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
    code: out.code,
  };
}

/** The median of a non-empty list (the lower middle one for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
}
