/**
 * The runner's local path as one process, for `bench/run.ts`: load and compile a pipeline, then
 * `execute` it with a target that serialises every batch exactly as the WorkSpan target does
 * (JSON bytes, packed as the batch fills) and throws them away. Everything else (reading, mapping,
 * checking, batching, accounting, the summary) is the real code.
 *
 * Usage: `deno run -A bench/_transform.ts <pipeline.yaml> [--dump N] [--stringify]`
 *
 * Prints one JSON line: rows read and sent, bytes serialised, in-process wall and CPU time, peak
 * RSS (`VmHWM`). With `--dump N`, prints the first N rows sent as a JSON array instead (for the
 * check against Miller and Python).
 *
 * @module
 */
import { compile } from "../runner/compile.ts";
import { loadPipeline } from "../runner/config/mod.ts";
import { execute } from "../runner/execute/mod.ts";
import { keyFile } from "../runner/execute/spool.ts";
import { PIPELINE_SCHEMA } from "../runner/registry.ts";
import type { Summary } from "../runner/report/summary.ts";
import type { Batch, BatchResults, StatusResult, Target } from "../runner/targets/mod.ts";
import { bodySteps, Packs } from "../runner/targets/_wire.ts";

/** user + system CPU of this process in ms, from `/proc/self/stat` (clock ticks of 10 ms). */
export function cpuMs(pid: number | "self" = "self"): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // Fields after the command name, which is in parentheses and may hold spaces.
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(rest[11]) + Number(rest[12])) * 10;
}

/** Peak resident set size in MiB (`VmHWM`). */
export function peakRssMiB(pid: number | "self" = "self"): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const m = /VmHWM:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) / 1024 : NaN;
}

/**
 * A target that takes each batch here: `submit` hands the batch to `take` (which reads and frees
 * its packed body, if it has one), and every batch completes at once with all its rows loaded.
 */
export function localTarget(
  batchSize: number,
  take: (batch: Batch) => void,
  pack?: Target["pack"],
): Target {
  return {
    api: "local",
    batchSize,
    concurrency: 1,
    duplicatesOnResend: false,
    limits: {},
    requests: () => [],
    ...(pack ? { pack } : {}),
    submit(batch: Batch) {
      take(batch);
      return Promise.resolve({ id: String(batch.index) });
    },
    status(): Promise<StatusResult> {
      return Promise.resolve({ done: true, status: "completed", remoteStatus: "completed" });
    },
    results(_s, _done, batch: Batch): Promise<BatchResults> {
      return Promise.resolve({
        counts: { succeeded: batch.rows.length, failed: 0, skipped: 0 },
        failures: [],
        problems: [],
      });
    },
  };
}

/**
 * Loads and compiles a pipeline, then runs the real `execute` into the target `make` builds for
 * its batch size. The first status check answers "done", so no poll waits longer than a timer
 * tick; as `run` does, the duplicate check's keys past 786,000 go to files in a state folder (a
 * temporary one).
 */
export async function runLocal(
  file: string,
  make: (batchSize: number) => Target,
): Promise<Summary> {
  const plan = await compile(await loadPipeline(file, { schema: PIPELINE_SCHEMA }));
  plan.target = make(plan.target.batchSize);
  plan.polling = { ...plan.polling, interval: 0, backoff: 1, max_interval: 0 };
  const state = await Deno.makeTempDir({ prefix: "bulkrun-bench-state-" });
  try {
    return await execute(plan, { fetch, log: () => {}, keyFiles: () => keyFile(state) });
  } finally {
    await Deno.remove(state, { recursive: true });
  }
}

/**
 * A target that serialises each batch like the WorkSpan target: packed into JSON bytes 1,000
 * rows at a time as the batch fills (`Target.pack`, the same `bodySteps` the WorkSpan target
 * uses), or with `stringify` one `JSON.stringify` of the whole batch at submit; the bytes are
 * discarded.
 */
function discardTarget(batchSize: number, keep: number, kept: unknown[], stringify: boolean) {
  let bytes = 0;
  const packs = new Packs(bodySteps("json"));
  const dec = new TextDecoder();
  const target = localTarget(
    batchSize,
    (batch) => {
      let body = "";
      if (stringify) {
        body = JSON.stringify(batch.rows);
        bytes += body.length;
      } else {
        const packed = packs.take(batch);
        bytes += packed.size;
        if (kept.length < keep) body = dec.decode(packed.bytes());
        packed.free();
      }
      if (kept.length < keep) kept.push(...JSON.parse(body).slice(0, keep - kept.length));
    },
    stringify ? undefined : (batch, spool) => packs.packer(batch, spool),
  );
  return { target, bytes: () => bytes };
}

async function main(args: string[]): Promise<void> {
  const file = args[0];
  if (!file) throw new Error("Usage: _transform.ts <pipeline.yaml> [--dump N]");
  const dumpAt = args.indexOf("--dump");
  const dump = dumpAt === -1 ? 0 : Number(args[dumpAt + 1]);
  const t0 = performance.now();
  const cpu0 = cpuMs();
  const kept: unknown[] = [];
  let sink: ReturnType<typeof discardTarget> | undefined;
  const summary = await runLocal(file, (batchSize) => {
    sink = discardTarget(batchSize, dump, kept, args.includes("--stringify"));
    return sink.target;
  });
  const ms = performance.now() - t0;
  if (dump > 0) {
    console.log(JSON.stringify(kept));
    return;
  }
  console.log(JSON.stringify({
    ms,
    cpuMs: cpuMs() - cpu0,
    read: summary.counts.read,
    sent: summary.counts.sent,
    rejected: summary.counts.rejected,
    batches: summary.batches.length,
    bytes: sink!.bytes(),
    status: summary.status,
    rssMiB: peakRssMiB(),
  }));
}

if (import.meta.main) await main(Deno.args);
