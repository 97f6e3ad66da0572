/**
 * `deno task bench`: the runner's speed and memory against its targets, measured on generated
 * data in one process tree, with Miller and plain Python as peers on the same machine in the
 * same run. See `bench/README.md` for what each case measures and `docs/performance.md` for
 * the latest results.
 *
 * Usage: `deno task bench [--quick] [--runs N] [--only transform,memory,e2e,startup,real]`
 *
 * - `--quick`: one run of each case on smaller data (100k rows for throughput, 100k and 500k for
 *   memory, 20k rows and a 100 ms processing time end to end), for trying the harness.
 * - `--runs N`: timed runs per case (default 3; the median is reported).
 *
 * Writes the tables to stdout and everything measured to `bench/results.json`. Never a test:
 * nothing here fails on a number; the targets are reported as met or not.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type Generated, generateOpportunities, pipelineYaml } from "./_data.ts";
import { type E2eResult, runE2e } from "./_e2e.ts";
import { realCases, realReport } from "./_real.ts";
import { commandOutput, hasCommand, measure, type Measured, median } from "./_measure.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const BENCH = `${ROOT}/bench`;
const DATA = `${BENCH}/data`;

/** The targets each case is held to (issue 15 raised the transform and overhead ones). */
const TARGETS = {
  speedupVsMiller: 3,
  peakRssMiB: 150,
  rssGrowth: 1.2,
  overheadPct: 5,
  startupMs: 1000,
} as const;

/** The Miller equivalent of the bench pipeline's mappings. */
function millerCommand(file: string): string[] {
  const renames = [
    ["Opportunity ID", "opportunity_id"],
    ["Name", "opportunity_name"],
    ["Close Date", "close_date"],
    ["Amount", "amount"],
    ["Stage", "stage"],
    ["Account", "account"],
    ["Owner", "owner_email"],
  ].flat().join(",");
  return [
    "mlr",
    "--icsv",
    "--ojson",
    "--no-jvstack",
    "rename",
    renames,
    "then",
    "filter",
    '$opportunity_id != ""',
    "then",
    "put",
    '$close_date = strftime(strptime($close_date, "%d-%b-%Y"), "%Y-%m-%d"); ' +
    '$amount = float($amount); $source_system = "crm"',
    file,
  ];
}

function driverCommand(pipeline: string, ...extra: string[]): string[] {
  return [Deno.execPath(), "run", "-A", `${BENCH}/_transform.ts`, pipeline, ...extra];
}

function pythonCommand(csv: string, ...extra: string[]): string[] {
  return ["python3", `${BENCH}/transform.py`, csv, ...extra];
}

/** Writes the transform pipeline for a data file; returns its path. */
async function transformPipeline(data: Generated): Promise<string> {
  const file = `${DATA}/transform-${data.rows}.yaml`;
  await Deno.writeTextFile(
    file,
    pipelineYaml({
      name: `bench-transform-${data.rows}`,
      source: data.path,
      // Never contacted: the bench driver replaces the target with one that discards batches.
      baseUrl: "http://127.0.0.1:9",
      batchSize: 5000,
      concurrency: 1,
      interval: "100ms",
    }),
  );
  return file;
}

async function dataset(rows: number): Promise<Generated> {
  const t = performance.now();
  const g = await generateOpportunities(`${DATA}/opportunities-${rows}.csv`, rows);
  log(
    `data: ${rows.toLocaleString("en-US")} rows, ${(g.bytes / 1e6).toFixed(0)} MB (${
      Math.round(performance.now() - t)
    } ms)`,
  );
  return g;
}

function log(line: string): void {
  console.error(line);
}

// ---------------------------------------------------------------------------------------
// Machine and peers

interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  deno: string;
  v8: string;
  typescript: string;
  loadAverage: { before: number[]; after?: number[] };
}

function loadAverage(): number[] {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).map(Number);
  } catch {
    return [];
  }
}

function machine(): Machine {
  let cpu = "unknown";
  let cores = navigator.hardwareConcurrency;
  let memoryGiB = NaN;
  try {
    const info = Deno.readTextFileSync("/proc/cpuinfo");
    cpu = /^model name\s*:\s*(.+)$/m.exec(info)?.[1]?.trim() ?? cpu;
    cores = info.match(/^processor\s*:/gm)?.length ?? cores;
  } catch {
    // Not Linux: keep what the runtime says.
  }
  try {
    const kb = /MemTotal:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/meminfo"))?.[1];
    if (kb) memoryGiB = Math.round(Number(kb) / 1024 / 1024 * 10) / 10;
  } catch {
    // Unknown.
  }
  return {
    cpu,
    cores,
    memoryGiB,
    os: `${Deno.build.os} ${Deno.osRelease()}`,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
    loadAverage: { before: loadAverage() },
  };
}

interface Peers {
  miller?: string;
  python?: string;
  notes: string[];
}

/** Finds Miller and Python; installs Miller with apt-get when it is missing and we are root. */
async function peers(): Promise<Peers> {
  const notes: string[] = [];
  if (!(await hasCommand("mlr"))) {
    if (Deno.uid() === 0 && (await hasCommand("apt-get"))) {
      log("Miller (mlr) is missing: apt-get install -y miller");
      const install = () =>
        new Deno.Command("apt-get", {
          args: ["install", "-y", "miller"],
          stdout: "null",
          stderr: "piped",
          env: { DEBIAN_FRONTEND: "noninteractive" },
        }).output();
      let out = await install();
      if (!out.success) {
        await new Deno.Command("apt-get", { args: ["update"], stdout: "null", stderr: "null" })
          .output();
        out = await install();
      }
      if (!out.success) {
        notes.push(
          `Miller skipped: apt-get install -y miller failed: ${
            new TextDecoder().decode(out.stderr).trim().split("\n").at(-1)
          }`,
        );
      }
    } else {
      notes.push(
        "Miller skipped: mlr is not installed and this is not root (install it with your package manager, e.g. apt-get install miller)",
      );
    }
  }
  const miller = (await hasCommand("mlr"))
    ? (await commandOutput("mlr", ["--version"]))?.replace(/^mlr\s*/, "")
    : undefined;
  const python = (await hasCommand("python3"))
    ? (await commandOutput("python3", ["--version"]))?.replace(/^Python\s*/, "")
    : undefined;
  if (!python) notes.push("Python peer skipped: python3 is not installed");
  return { ...(miller ? { miller } : {}), ...(python ? { python } : {}), notes };
}

// ---------------------------------------------------------------------------------------
// 1. Transform throughput

interface Runs {
  wallMs: number;
  cpuMs: number;
  rssMiB: number;
  rowsPerS: number;
  walls: number[];
  rsss: number[];
}

function summarise(rows: number, ms: Measured[]): Runs {
  const wallMs = median(ms.map((m) => m.wallMs));
  return {
    wallMs,
    cpuMs: median(ms.map((m) => m.cpuMs)),
    rssMiB: median(ms.map((m) => m.rssMiB)),
    rowsPerS: rows / (wallMs / 1000),
    walls: ms.map((m) => Math.round(m.wallMs)),
    rsss: ms.map((m) => Math.round(m.rssMiB)),
  };
}

function checked(m: Measured, what: string): Measured {
  if (m.code !== 0) throw new Error(`${what} failed (exit ${m.code}): ${m.stderr.slice(0, 2000)}`);
  return m;
}

/** Whether two lists of rows hold the same fields, in the same order, with the same values. */
function compareRows(a: Record<string, unknown>[], b: Record<string, unknown>[]): string {
  if (a.length !== b.length) return `${a.length} rows vs ${b.length}`;
  for (let i = 0; i < a.length; i++) {
    const ka = Object.keys(a[i]!);
    const kb = Object.keys(b[i]!);
    if (ka.join() !== kb.join()) return `row ${i + 1}: fields ${ka} vs ${kb}`;
    for (const k of ka) {
      const x = a[i]![k];
      const y = b[i]![k];
      const same = typeof x === "number" && typeof y === "number"
        ? Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(x))
        : x === y;
      if (!same) return `row ${i + 1}: ${k} ${JSON.stringify(x)} vs ${JSON.stringify(y)}`;
    }
  }
  return "same";
}

interface TransformResult {
  rows: number;
  bytes: number;
  sent: number;
  runner: Runs & { inProcessMs: number; jsonBytes: number };
  miller?: Runs & { command: string };
  python?: Runs;
  /** Miller wall time / runner wall time (how many times faster the runner is). */
  speedupVsMiller?: number;
  speedupVsPython?: number;
  /** The check of values on the first rows: "same" or the first difference. */
  verified: { rows: number; miller?: string; python?: string };
}

async function verify(p: Peers, sample: Generated): Promise<TransformResult["verified"]> {
  const pipeline = await transformPipeline(sample);
  const all = String(sample.rows);
  const runner = JSON.parse(
    checked(await measure(driverCommand(pipeline, "--dump", all)), "runner")
      .stdout,
  );
  const out: TransformResult["verified"] = { rows: runner.length };
  if (p.miller) {
    const m = checked(await measure(millerCommand(sample.path)), "mlr");
    out.miller = compareRows(runner, JSON.parse(m.stdout));
  }
  if (p.python) {
    const m = checked(await measure(pythonCommand(sample.path, "--dump", all)), "python3");
    out.python = compareRows(runner, JSON.parse(m.stdout));
  }
  return out;
}

async function transform(
  p: Peers,
  data: Generated,
  sample: Generated,
  runs: number,
): Promise<TransformResult> {
  log(`transform: checking values on ${sample.rows} rows against the peers`);
  const verified = await verify(p, sample);
  log(
    `  runner vs Miller: ${verified.miller ?? "skipped"}; vs Python: ${
      verified.python ?? "skipped"
    }`,
  );
  const pipeline = await transformPipeline(data);
  const r: Measured[] = [];
  const m: Measured[] = [];
  const py: Measured[] = [];
  // Round-robin, so a change in the machine's load falls on every contender alike.
  for (let i = 0; i < runs; i++) {
    log(`transform: run ${i + 1} of ${runs}`);
    r.push(checked(await measure(driverCommand(pipeline)), "runner"));
    if (p.miller) m.push(checked(await measure(millerCommand(data.path)), "mlr"));
    if (p.python) py.push(checked(await measure(pythonCommand(data.path)), "python3"));
  }
  const reports = r.map((x) => JSON.parse(x.stdout.trim().split("\n").at(-1)!));
  const runner = {
    ...summarise(data.rows, r),
    inProcessMs: median(reports.map((x) => x.ms)),
    jsonBytes: reports[0].bytes,
  };
  const out: TransformResult = {
    rows: data.rows,
    bytes: data.bytes,
    sent: reports[0].sent,
    runner,
    verified,
  };
  if (m.length > 0) {
    out.miller = { ...summarise(data.rows, m), command: millerCommand("FILE").join(" ") };
    out.speedupVsMiller = out.miller.wallMs / runner.wallMs;
  }
  if (py.length > 0) {
    out.python = summarise(data.rows, py);
    out.speedupVsPython = out.python.wallMs / runner.wallMs;
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// 2. Memory

interface MemoryResult {
  small: { rows: number; rssMiB: number; maxRssMiB: number; rsss: number[] };
  large: { rows: number; rssMiB: number; maxRssMiB: number; rsss: number[] };
  /** Median peak RSS at the large size / at the small size. */
  growth: number;
}

async function memory(
  small: Generated,
  large: Generated,
  runs: number,
  reuse: Measured[],
): Promise<MemoryResult> {
  const sizes = [] as MemoryResult["small"][];
  for (const data of [small, large]) {
    const pipeline = await transformPipeline(data);
    const ms = data === small ? [...reuse] : [];
    while (ms.length < runs) {
      log(`memory: ${data.rows.toLocaleString("en-US")} rows, run ${ms.length + 1} of ${runs}`);
      ms.push(checked(await measure(driverCommand(pipeline)), "runner"));
    }
    const rsss = ms.map((x) => Math.round(x.rssMiB));
    sizes.push({
      rows: data.rows,
      rssMiB: median(rsss),
      maxRssMiB: Math.max(...rsss),
      rsss,
    });
  }
  return { small: sizes[0]!, large: sizes[1]!, growth: sizes[1]!.rssMiB / sizes[0]!.rssMiB };
}

// ---------------------------------------------------------------------------------------
// 3. End to end

interface E2eCase {
  concurrency: number;
  runs: E2eResult[];
  median: E2eResult;
}

async function e2e(
  data: Generated,
  batchSize: number,
  processingMs: number,
  intervalMs: number,
  runs: number,
): Promise<E2eCase[]> {
  const out: E2eCase[] = [];
  for (const concurrency of [1, 4]) {
    const results: E2eResult[] = [];
    for (let i = 0; i < runs; i++) {
      log(`e2e: concurrency ${concurrency}, run ${i + 1} of ${runs}`);
      results.push(
        await runE2e({
          source: data.path,
          dir: DATA,
          batchSize,
          concurrency,
          processingMs,
          intervalMs,
          root: ROOT,
        }),
      );
    }
    // The run with the median wall time stands for the case.
    const byWall = [...results].sort((a, b) => a.wallMs - b.wallMs);
    out.push({ concurrency, runs: results, median: byWall[Math.floor((byWall.length - 1) / 2)]! });
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// 4. Start-up

interface StartupResult {
  command: string;
  wallMs: number;
  walls: number[];
  exitCode: number;
}

async function startup(runs: number): Promise<StartupResult> {
  const cmd = [Deno.execPath(), "task", "--quiet", "validate", "examples/", "--allow-missing-env"];
  const walls: number[] = [];
  let exitCode = 0;
  for (let i = 0; i < runs; i++) {
    const m = await measure(cmd, { cwd: ROOT });
    exitCode = Math.max(exitCode, m.code);
    walls.push(Math.round(m.wallMs));
  }
  return {
    command: "deno task validate examples/ --allow-missing-env",
    wallMs: median(walls),
    walls,
    exitCode,
  };
}

// ---------------------------------------------------------------------------------------
// Report

interface Target {
  name: string;
  target: string;
  value: string;
  met: boolean | null;
}

const fmtRate = (x: number) => x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : `${Math.round(x / 1e3)}K`;
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

function table(headers: string[], rows: (string | number)[][], right: boolean[]): string[] {
  const cells = rows.map((r) => r.map(String));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length), 3));
  const line = (r: string[]) =>
    `| ${r.map((c, i) => right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)).join(" | ")} |`;
  return [
    line(headers),
    `|${widths.map((w, i) => right[i] ? "-".repeat(w + 1) + ":" : "-".repeat(w + 2)).join("|")}|`,
    ...cells.map(line),
  ];
}

function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: "boolean", default: false },
      runs: { type: "string" },
      only: { type: "string", default: "transform,memory,e2e,startup,real" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(
      "Usage: deno task bench [--quick] [--runs N] [--only transform,memory,e2e,startup,real]",
    );
    return Promise.resolve();
  }
  return bench(values.quick, Number(values.runs ?? (values.quick ? 1 : 3)), values.only);
}

async function bench(quick: boolean, runs: number, only: string): Promise<void> {
  const cases = new Set(only.split(",").map((c) => c.trim()));
  const sizes = quick
    ? { transform: 100_000, memoryLarge: 500_000, e2e: 20_000, processingMs: 100 }
    : { transform: 1_000_000, memoryLarge: 5_000_000, e2e: 200_000, processingMs: 500 };
  const intervalMs = quick ? 20 : 100;
  const e2eBatches = 40;
  await Deno.mkdir(DATA, { recursive: true });
  const started = new Date();
  const info = machine();
  log(
    `bench: ${quick ? "quick" : "full"}, ${runs} run(s) per case; ${info.cpu}, ${info.cores} cores`,
  );
  const p = await peers();
  for (const n of p.notes) log(`note: ${n}`);

  const targets: Target[] = [];
  const results: Record<string, unknown> = {};
  const out: string[] = [];

  let transformRuns: Measured[] = [];
  if (cases.has("transform") || cases.has("memory")) {
    const data = await dataset(sizes.transform);
    if (cases.has("transform")) {
      const sample = await dataset(20_000);
      const t = await transform(p, data, sample, runs);
      results.transform = t;
      transformRuns = t.runner.rsss.map((rss) => ({ rssMiB: rss }) as Measured);
      out.push(
        `## 1. Transform: ${t.rows.toLocaleString("en-US")} rows, ${
          (t.bytes / 1e6).toFixed(0)
        } MB CSV -> ${(t.runner.jsonBytes / 1e6).toFixed(0)} MB of JSON (median of ${runs})`,
        "",
        ...table(
          ["", "rows/s", "wall", "CPU", "peak RSS", "runner is x faster", "same values"],
          [
            [
              "runner (read, map, check, JSON.stringify)",
              fmtRate(t.runner.rowsPerS),
              s(t.runner.wallMs),
              s(t.runner.cpuMs),
              `${Math.round(t.runner.rssMiB)} MiB`,
              "",
              "",
            ],
            ...(t.miller
              ? [[
                `Miller ${p.miller}`,
                fmtRate(t.miller.rowsPerS),
                s(t.miller.wallMs),
                s(t.miller.cpuMs),
                `${Math.round(t.miller.rssMiB)} MiB`,
                t.speedupVsMiller!.toFixed(2),
                t.verified.miller ?? "",
              ]]
              : [["Miller", "skipped", "", "", "", "", ""]]),
            ...(t.python
              ? [[
                `Python ${p.python} csv + json`,
                fmtRate(t.python.rowsPerS),
                s(t.python.wallMs),
                s(t.python.cpuMs),
                `${Math.round(t.python.rssMiB)} MiB`,
                t.speedupVsPython!.toFixed(2),
                t.verified.python ?? "",
              ]]
              : [["Python", "skipped", "", "", "", "", ""]]),
          ],
          [false, true, true, true, true, true, false],
        ),
        "",
        `Walls (ms): runner ${t.runner.walls.join(", ")}${
          t.miller ? `; Miller ${t.miller.walls.join(", ")}` : ""
        }${t.python ? `; Python ${t.python.walls.join(", ")}` : ""}. Runner in-process time ${
          s(t.runner.inProcessMs)
        } (without Deno's start-up).`,
        "",
      );
      targets.push({
        name: "transform: runner vs Miller",
        target: `>= ${TARGETS.speedupVsMiller}x faster`,
        value: t.speedupVsMiller ? `${t.speedupVsMiller.toFixed(2)}x` : "Miller skipped",
        met: t.speedupVsMiller ? t.speedupVsMiller >= TARGETS.speedupVsMiller : null,
      });
    }
    if (cases.has("memory")) {
      const large = await dataset(sizes.memoryLarge);
      const mem = await memory(data, large, runs, transformRuns);
      results.memory = mem;
      out.push(
        `## 2. Memory: peak RSS of the runner's process (median of ${runs}; all runs listed)`,
        "",
        ...table(
          ["rows", "peak RSS (median)", "max", "runs"],
          [mem.small, mem.large].map((m) => [
            m.rows.toLocaleString("en-US"),
            `${m.rssMiB} MiB`,
            `${m.maxRssMiB} MiB`,
            m.rsss.join(", "),
          ]),
          [true, true, true, false],
        ),
        "",
        `Growth ${mem.large.rows / mem.small.rows}x the rows: ${
          mem.growth.toFixed(2)
        }x the memory.`,
        "",
      );
      targets.push({
        name: `memory: peak RSS at ${mem.small.rows.toLocaleString("en-US")} rows`,
        target: `< ${TARGETS.peakRssMiB} MiB`,
        value: `${mem.small.rssMiB} MiB (max ${mem.small.maxRssMiB})`,
        met: mem.small.maxRssMiB < TARGETS.peakRssMiB,
      }, {
        name: `memory: peak RSS at ${mem.large.rows.toLocaleString("en-US")} rows`,
        target: `< ${TARGETS.peakRssMiB} MiB`,
        value: `${mem.large.rssMiB} MiB (max ${mem.large.maxRssMiB})`,
        met: mem.large.maxRssMiB < TARGETS.peakRssMiB,
      }, {
        name: "memory: growth from the small to the large file",
        target: `<= ${TARGETS.rssGrowth}x`,
        value: `${mem.growth.toFixed(2)}x`,
        met: mem.growth <= TARGETS.rssGrowth,
      });
    }
  }

  if (cases.has("e2e")) {
    const data = await dataset(sizes.e2e);
    const batchSize = Math.ceil(data.rows / e2eBatches);
    const e = await e2e(data, batchSize, sizes.processingMs, intervalMs, runs);
    results.e2e = {
      rows: data.rows,
      batchSize,
      processingMs: sizes.processingMs,
      polling: { intervalMs, backoff: 1 },
      cases: e,
    };
    out.push(
      `## 3. End to end: the CLI against the sandbox, ${
        data.rows.toLocaleString("en-US")
      } rows in ${e2eBatches} batches of ${batchSize}, ${sizes.processingMs} ms processing per execution, polling every ${intervalMs} ms (backoff 1.0); median of ${runs} by wall time`,
      "",
      ...table(
        [
          "concurrency",
          "wall",
          "sandbox processing",
          "overhead",
          "start-up",
          "uploads: sum (median, max)",
          "completion noticed after: sum (median, max)",
          "polls per batch",
          "peak RSS",
        ],
        e.map(({ concurrency, median: r }) => [
          concurrency,
          s(r.wallMs),
          s(r.processingMs),
          `${s(r.overheadMs)} (${r.overheadPct.toFixed(1)}%)`,
          s(r.startupMs),
          `${s(r.uploadMs.total)} (${Math.round(r.uploadMs.median)}, ${
            Math.round(r.uploadMs.max)
          } ms)`,
          `${s(r.noticeMs.total)} (${Math.round(r.noticeMs.median)}, ${
            Math.round(r.noticeMs.max)
          } ms)`,
          r.polls,
          `${Math.round(r.peakRssMiB)} MiB`,
        ]),
        [true, true, true, true, true, true, true, true, true],
      ),
      "",
      "Sandbox processing: every execution's processing time in sequence for concurrency 1; the critical path ceil(40/4) x processing for concurrency 4. Start-up: wall time before execute() began (Deno, loading and compiling the pipeline, the journal). Upload: the sandbox's created_at minus the runner's submitted_at (serialising, sending, the sandbox reading the body). Noticed: the runner's finished_at minus the sandbox's completion time. With concurrency 4 the sums overlap and are not all on the critical path.",
      "",
    );
    for (const { concurrency, median: r } of e) {
      targets.push({
        name: `e2e c=${concurrency}: overhead of wall time`,
        target: `< ${TARGETS.overheadPct}%`,
        value: `${r.overheadPct.toFixed(1)}% (${s(r.overheadMs)} of ${s(r.wallMs)})`,
        met: r.exitCode === 0 && r.overheadPct < TARGETS.overheadPct,
      }, {
        name: `e2e c=${concurrency}: completion noticed`,
        target: `<= ${intervalMs} ms (one polling interval)`,
        value: `max ${Math.round(r.noticeMs.max)} ms`,
        met: r.noticeMs.max <= intervalMs,
      });
    }
  }

  if (cases.has("real")) {
    const data = await dataset(sizes.transform);
    const miller = p.miller
      ? async () => checked(await measure(millerCommand(data.path)), "mlr")
      : undefined;
    const r = await realCases(
      { source: data.path, rows: data.rows, dir: DATA, root: ROOT, runs },
      miller,
      log,
    );
    results.real = r;
    const report = realReport(r, runs);
    out.push(...report.lines);
    targets.push(...report.targets);
  }

  if (cases.has("startup")) {
    const st = await startup(Math.max(runs, 5));
    results.startup = st;
    out.push(
      `## 4. Start-up: \`${st.command}\` in a new process each time`,
      "",
      `Median ${s(st.wallMs)} (runs: ${st.walls.join(", ")} ms; exit code ${st.exitCode}).`,
      "",
    );
    targets.push({
      name: "start-up: deno task validate examples/",
      target: `< ${TARGETS.startupMs} ms`,
      value: `${st.wallMs} ms`,
      met: st.exitCode === 0 && st.wallMs < TARGETS.startupMs,
    });
  }

  info.loadAverage.after = loadAverage();
  out.push(
    "## Targets",
    "",
    ...table(
      ["target", "goal", "measured", "met"],
      targets.map((
        t,
      ) => [t.name, t.target, t.value, t.met === null ? "n/a" : t.met ? "yes" : "no"]),
      [false, false, false, false],
    ),
    "",
    `Machine: ${info.cpu}, ${info.cores} cores, ${info.memoryGiB} GiB; ${info.os}; Deno ${info.deno} (V8 ${info.v8}); Miller ${
      p.miller ?? "n/a"
    }; Python ${p.python ?? "n/a"}. Load average before/after: ${
      info.loadAverage.before.join(" ")
    } / ${info.loadAverage.after.join(" ")}. ${started.toISOString()}.`,
    ...p.notes.map((n) => `Note: ${n}`),
  );
  console.log(out.join("\n"));
  const json = {
    version: 1,
    date: started.toISOString(),
    mode: quick ? "quick" : "full",
    runs,
    machine: info,
    peers: p,
    targets,
    ...results,
  };
  await Deno.writeTextFile(`${BENCH}/results.json`, JSON.stringify(json, null, 2) + "\n");
  log(`wrote ${BENCH}/results.json`);
}

if (import.meta.main) await main(Deno.args);
