/**
 * End to end against the sandbox, for `bench/run.ts`: the real CLI
 * (`runner/main.ts run <pipeline> --json`) as a subprocess, against `startSandbox` in this
 * process with a fixed processing time per execution. Measures the run's wall time against the
 * time the sandbox itself needed, and how soon after each execution completed the runner
 * noticed.
 *
 * @module
 */
import { startSandbox } from "../sandbox/server.ts";
import { pipelineYaml } from "./_data.ts";
import { measure, median } from "./_measure.ts";

/** One end-to-end case. */
export interface E2eOptions {
  /** The generated CSV (absolute path). */
  source: string;
  /** Where the pipeline file and the run journal go. */
  dir: string;
  batchSize: number;
  concurrency: number;
  processingMs: number;
  /** Polling interval in ms (backoff 1.0, so every wait is this long). */
  intervalMs: number;
  /** Root of the repository (where `runner/main.ts` is). */
  root: string;
}

/** What one run showed. */
export interface E2eResult {
  exitCode: number;
  status: string;
  rows: number;
  batches: number;
  /** Spawn to exit of the CLI, Deno's startup included. */
  wallMs: number;
  /** The summary's own `duration_ms` (from the start of `execute` to its end). */
  runnerMs: number;
  /** What the sandbox needed: every execution's processing time, as the critical path allows. */
  processingMs: number;
  overheadMs: number;
  overheadPct: number;
  /** Per execution: runner's `finished_at` minus the sandbox's completion. */
  noticeMs: { median: number; max: number; total: number };
  /** Per execution: the first status answer that said completed, minus the completion. */
  statusAnswerMs: { median: number; max: number; total: number };
  /** Per batch: sandbox's `created_at` minus the runner's `submitted_at` (serialise + upload). */
  uploadMs: { median: number; max: number; total: number };
  /** Wall time before `execute` started: Deno's start-up, loading the pipeline, the journal. */
  startupMs: number;
  /** Status checks per execution (median). */
  polls: number;
  peakRssMiB: number;
}

interface SummaryBatch {
  execution_id?: string;
  submitted_at?: string;
  finished_at?: string;
  polls: number;
  rows: number;
}

/**
 * Runs the CLI once against a fresh sandbox.
 *
 * @throws {Error} when the CLI prints no summary
 */
export async function runE2e(o: E2eOptions): Promise<E2eResult> {
  const statusLog: { t: number; id: string }[] = [];
  const sandbox = await startSandbox({
    workspan: { processingMs: o.processingMs },
    log: (line) => {
      const id = /[?&]execution_id=([0-9a-f]+)/.exec(line)?.[1];
      if (id && line.includes("/bulk/v1/status/") && / -> 200\b/.test(line)) {
        statusLog.push({ t: Date.now(), id });
      }
    },
  });
  try {
    const name = `bench-e2e-c${o.concurrency}`;
    const file = `${o.dir}/${name}.yaml`;
    await Deno.writeTextFile(
      file,
      pipelineYaml({
        name,
        source: o.source,
        baseUrl: sandbox.url,
        batchSize: o.batchSize,
        concurrency: o.concurrency,
        interval: `${o.intervalMs}ms`,
      }),
    );
    const state = await Deno.makeTempDir({ prefix: "bulkrun-bench-state-" });
    let m;
    try {
      m = await measure([
        Deno.execPath(),
        "run",
        "--quiet",
        "--allow-read",
        `--allow-write=${state}`,
        "--allow-net=127.0.0.1",
        "--allow-env",
        `${o.root}/runner/main.ts`,
        "run",
        file,
        "--json",
      ], {
        cwd: o.root,
        env: { BULKRUN_STATE_DIR: state, WORKSPAN_TOKEN: "sandbox-token", NO_COLOR: "1" },
      });
    } finally {
      await Deno.remove(state, { recursive: true }).catch(() => {});
    }
    const line = m.stdout.trim().split("\n").findLast((l) => l.startsWith("{"));
    if (!line) throw new Error(`The CLI printed no summary (exit ${m.code}): ${m.stderr}`);
    const summary = JSON.parse(line);
    const executions = new Map(
      sandbox.workspan.executions().map((e) => [e.executionId, e] as const),
    );
    const notice: number[] = [];
    const answered: number[] = [];
    const upload: number[] = [];
    const polls: number[] = [];
    for (const b of summary.batches as SummaryBatch[]) {
      const ex = b.execution_id ? executions.get(b.execution_id) : undefined;
      if (!ex) continue;
      polls.push(b.polls);
      if (b.submitted_at) upload.push(Date.parse(ex.createdAt) - Date.parse(b.submitted_at));
      if (!ex.completedAt) continue;
      const done = Date.parse(ex.completedAt);
      if (b.finished_at) notice.push(Date.parse(b.finished_at) - done);
      const first = statusLog.find((s) => s.id === ex.executionId && s.t >= done);
      if (first) answered.push(first.t - done);
    }
    const n = (summary.batches as unknown[]).length;
    const rounds = Math.ceil(n / o.concurrency);
    const processingMs = rounds * o.processingMs;
    const stats = (xs: number[]) => ({
      median: xs.length ? median(xs) : NaN,
      max: xs.length ? Math.max(...xs) : NaN,
      total: xs.reduce((a, b) => a + b, 0),
    });
    return {
      exitCode: m.code,
      status: summary.status,
      rows: summary.counts.read,
      batches: n,
      wallMs: m.wallMs,
      runnerMs: summary.duration_ms,
      processingMs,
      overheadMs: m.wallMs - processingMs,
      overheadPct: (m.wallMs - processingMs) / m.wallMs * 100,
      noticeMs: stats(notice),
      statusAnswerMs: stats(answered),
      uploadMs: stats(upload),
      startupMs: m.wallMs - summary.duration_ms,
      polls: polls.length ? median(polls) : NaN,
      peakRssMiB: m.rssMiB,
    };
  } finally {
    await sandbox.close();
  }
}
