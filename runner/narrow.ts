/**
 * Network access narrowed to the hosts a pipeline declares. `deno task run` starts without
 * `--allow-net` and with `--allow-run=deno`; for each pipeline, `run` compiles it, collects the
 * hosts its target's requests go to (`Target.requests()`, the same list `plan` prints), and runs
 * itself again as a child with `--allow-net=<those hosts>` and without `--allow-run`, so the code
 * that sends rows can reach nothing else. A caller that grants the network itself (`--allow-net`,
 * the tests, the bench) or grants no `--allow-run=deno` runs in one process, as before.
 *
 * @module
 */
import { dirname } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import { expandPaths, type Io, loadPlan } from "./commands.ts";
import { EXIT } from "./exit.ts";
import { RunnerError } from "./errors.ts";

/** The options of `run` a child must get again. */
export interface NarrowOptions {
  json: boolean;
  quiet: boolean;
  fresh: boolean;
  force: boolean;
  full?: boolean;
  stateDir: string;
}

/** Whether `run` should run each pipeline in a child with narrowed network access. */
export function shouldNarrow(): boolean {
  return Deno.permissions.querySync({ name: "net" }).state !== "granted" &&
    Deno.permissions.querySync({ name: "run", command: "deno" }).state === "granted";
}

/** `host[:port]` of every URL in the target's request list, sorted, without duplicates. */
export function hostsOf(details: readonly string[]): string[] {
  const hosts = new Set<string>();
  for (const d of details) {
    for (const m of d.matchAll(/https?:\/\/[^\s"'<>`]+/g)) {
      try {
        hosts.add(new URL(m[0]).host);
      } catch {
        // Not a URL after all (a template piece): skipped.
      }
    }
  }
  return [...hosts].sort();
}

/** Paths a child may write: of `wanted`, those this process may write itself. */
function writable(wanted: (string | undefined)[]): string[] {
  const out = new Set<string>();
  for (const p of wanted) {
    if (p && Deno.permissions.querySync({ name: "write", path: p }).state === "granted") {
      out.add(p);
    }
  }
  return [...out];
}

/**
 * V8 settings of the child that sends the rows. A young generation of 8 MiB semi-spaces (V8
 * grows them to 16 MiB under this allocation rate) is enough now that rows die young (a batch
 * keeps none): measured on 1M rows in batches of 50,000 at concurrency 4, peak RSS 243–246
 * instead of 307–314 MiB, at the same CPU (docs/performance.md).
 */
export const CHILD_V8_FLAGS: readonly string[] = ["--max-semi-space-size=8"];

/** The `deno run` arguments of the child that runs `file` with network access to `hosts`. */
export function childArgs(
  file: string,
  hosts: readonly string[],
  write: readonly string[],
  o: NarrowOptions,
): string[] {
  const main = fromFileUrl(new URL("./main.ts", import.meta.url));
  const config = fromFileUrl(new URL("../deno.json", import.meta.url));
  const granted = (name: "read" | "env") =>
    Deno.permissions.querySync({ name }).state === "granted";
  return [
    "run",
    "--quiet",
    "--no-prompt",
    `--config=${config}`,
    `--v8-flags=${CHILD_V8_FLAGS.join(",")}`,
    ...(granted("read") ? ["--allow-read"] : []),
    ...(granted("env") ? ["--allow-env"] : []),
    ...(write.length > 0 ? [`--allow-write=${write.join(",")}`] : []),
    ...(hosts.length > 0 ? [`--allow-net=${hosts.join(",")}`] : []),
    main,
    "run",
    "--net-narrowed",
    ...(o.json ? ["--json"] : []),
    ...(o.quiet ? ["--quiet"] : []),
    ...(o.fresh ? ["--fresh"] : []),
    ...(o.force ? ["--force"] : []),
    ...(o.full ? ["--full"] : []),
    `--state-dir=${o.stateDir}`,
    file,
  ];
}

/**
 * Runs each pipeline in a child process whose network access is only its target's hosts; the
 * exit code is the highest of theirs. A pipeline that does not compile gets no network at all
 * (the child reports its problems, as `run` always does).
 */
export async function runNarrowed(files: string[], io: Io, o: NarrowOptions): Promise<number> {
  let code: number = EXIT.ok;
  for (const file of await expandPaths(files)) {
    let hosts: string[] = [];
    let outputs: (string | undefined)[] = [];
    try {
      const plan = await loadPlan(file, io);
      hosts = hostsOf(plan.target.requests().map((r) => r.detail));
      outputs = [plan.output.summary, plan.output.rejects].map((p) => p && dirname(p));
    } catch {
      // Reported by the child, which compiles the pipeline again.
    }
    const env = ["RUNNER_TEMP", "GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT"].map((n) => io.env(n));
    const write = writable(["out", o.stateDir, ...outputs, ...env]);
    let status: Deno.CommandStatus;
    try {
      // The child's stdin stays open, unwritten, while this process lives: when it dies (even
      // by SIGKILL) the pipe closes and the child stops too, as if it had been killed with it.
      const child = new Deno.Command("deno", {
        args: childArgs(file, hosts, write, o),
        stdin: "piped",
        stdout: "inherit",
        stderr: "inherit",
      }).spawn();
      status = await child.status;
      await child.stdin.close().catch(() => {});
    } catch (err) {
      throw new RunnerError(
        "usage",
        `Cannot start "deno" to run "${file}" with network access to ${
          hosts.join(", ") || "no host"
        } only: ${
          err instanceof Error ? err.message : err
        }; run runner/main.ts with your own --allow-net instead`,
      );
    }
    code = Math.max(code, status.code);
  }
  return code;
}
