/**
 * End-to-end test plumbing: the sandbox in this process, the real CLI in a subprocess.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Summary } from "../runner/report/summary.ts";
import { type Sandbox, type SandboxOptions, startSandbox } from "../sandbox/server.ts";

export type { Summary };

/** The summary's accounting identities, which must hold for every run, whatever happened. */
export function assertIdentities(s: Pick<Summary, "counts">): void {
  const c = s.counts;
  assert.equal(
    c.read,
    c.rejected + (c.unchanged ?? 0) + c.sent + c.unsent,
    "read = rejected + unchanged + sent + unsent",
  );
  assert.equal(
    c.sent,
    c.succeeded + c.failed + c.skipped + c.pending + c.unknown,
    "sent = succeeded + failed + skipped + pending + unknown",
  );
}

export const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** What one CLI run printed and returned. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** The JSON summaries printed on stdout, one per line. */
  summaries: Summary[];
}

/** The permission flags of a `deno task` in deno.json, so tests run with what users get. */
export function taskFlags(task: string, env: Record<string, string> = {}): string[] {
  const config = JSON.parse(Deno.readTextFileSync(`${ROOT}/deno.json`));
  const command: string = config.tasks[task].command;
  return command.split(/\s+/)
    .filter((w) => w.startsWith("--allow-") || w.startsWith("--deny-"))
    .map((w) => w.replace(/\$([A-Z_]+)/g, (_, name: string) => env[name] ?? ""));
}

/**
 * Runs `runner/main.ts` with the permissions of the `run` task, in a fresh working folder
 * (where `out/` and `.state/` land) unless `cwd` is given.
 */
export async function runCli(
  args: string[],
  env: Record<string, string> = {},
  options: { cwd?: string; signal?: AbortSignal; task?: "run" | "run-ci" } = {},
): Promise<CliResult> {
  const cwd = options.cwd ?? await Deno.makeTempDir({ prefix: "bulkrun-cwd-" });
  const flags = taskFlags(options.task ?? "run", env);
  const cmd = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...flags, `${ROOT}/runner/main.ts`, ...args],
    cwd,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const out = await cmd.output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  const summaries = stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
  return { code: out.code, stdout, stderr, summaries };
}

/** Starts the CLI as `runCli` would but returns at once, so a test can kill it mid-run. */
export function spawnCli(
  args: string[],
  env: Record<string, string>,
  cwd: string,
): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...taskFlags("run", env), `${ROOT}/runner/main.ts`, ...args],
    cwd,
    env: { NO_COLOR: "1", ...env },
    stdout: "null",
    stderr: "null",
  }).spawn();
}

/** Starts a sandbox for the body and always stops it. */
export async function withSandbox<T>(
  options: SandboxOptions,
  body: (sandbox: Sandbox) => Promise<T>,
): Promise<T> {
  const sandbox = await startSandbox({ port: 0, ...options });
  try {
    return await body(sandbox);
  } finally {
    await sandbox.close();
  }
}

/** A fresh temp folder with the given files (paths relative to it). */
export async function tempDir(files: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "bulkrun-e2e-" });
  for (const [name, text] of Object.entries(files)) {
    const path = `${dir}/${name}`;
    const slash = path.lastIndexOf("/");
    await Deno.mkdir(path.slice(0, slash), { recursive: true });
    await Deno.writeTextFile(path, text);
  }
  return dir;
}

/** A WorkSpan pipeline for tests; `extra` lines are appended (YAML). */
export function workspanPipeline(o: {
  source: string;
  contentType?: "json" | "csv";
  batchSize?: number;
  mappings?: string;
  polling?: string;
  limits?: string;
  auth?: string;
  output?: string;
  key?: string;
  /** Extra lines inside `target:` (two-space indented). */
  targetExtra?: string;
}): string {
  return `version: 1
name: e2e
source:
  path: ${o.source}
target:
  api: workspan
  base_url: \${WORKSPAN_BASE_URL}
  integration_id: WS-Integration_test
  content_type: ${o.contentType ?? "json"}
  batch_size: ${o.batchSize ?? 5000}
${o.targetExtra ? o.targetExtra + "\n" : ""}  auth:
${o.auth ?? "    type: bearer\n    token: ${WORKSPAN_TOKEN}"}
key: ${o.key ?? "opportunity_id"}
mappings:
${
    o.mappings ??
      `  opportunity_id: { from: "Opportunity ID", required: true }
  close_date: { from: "Close Date", type: date, format: "dd-MMM-yyyy" }
  amount: { from: Amount, type: number }
  stage: Stage`
  }
polling:
${o.polling ?? "  interval: 50ms\n  backoff: 1.5\n  max_interval: 200ms\n  timeout: 20s"}
limits:
${o.limits ?? "  max_error_rate: 0.05"}
${o.output ? `output:\n${o.output}` : ""}
`;
}

/** Builds a CSV of `n` opportunities; `tweak` may change row i (0-based) before it is written. */
export function opportunitiesCsv(
  n: number,
  tweak: (i: number, row: string[]) => void = () => {},
): string {
  const lines = ["Opportunity ID,Close Date,Amount,Stage"];
  const months = [
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
  ];
  for (let i = 0; i < n; i++) {
    const row = [
      `op${String(i).padStart(6, "0")}`,
      `${String((i % 28) + 1).padStart(2, "0")}-${months[i % 12]}-2024`,
      String(1000 + i),
      "Prospecting",
    ];
    tweak(i, row);
    lines.push(row.map((c) => (/[",\n]/.test(c) ? `"${c.replaceAll('"', '""')}"` : c)).join(","));
  }
  return lines.join("\n") + "\n";
}

/** A Bigin pipeline for tests (Pipelines module, deals CSV with Name,Stage,Close,Amount). */
export function biginPipeline(o: {
  source: string;
  operation?: "insert" | "update" | "upsert";
  batchSize?: number;
  concurrency?: number;
  limits?: string;
}): string {
  const op = o.operation ?? "upsert";
  return `version: 1
name: bigin-e2e
source:
  path: ${o.source}
target:
  api: bigin
  base_url: \${BIGIN_BASE_URL}
  module: Pipelines
  operation: ${op}
${op === "insert" ? "" : "  find_by: Deal_Name\n"}  org_id: \${BIGIN_ORG_ID}
  batch_size: ${o.batchSize ?? 25000}
  concurrency: ${o.concurrency ?? 1}
  auth:
    type: zoho_refresh_token
    client_id: \${ZOHO_CLIENT_ID}
    client_secret: \${ZOHO_CLIENT_SECRET}
    refresh_token: \${ZOHO_REFRESH_TOKEN}
key: Deal_Name
mappings:
  Deal_Name: { from: Name, required: true }
  Stage: { from: Stage, values: { won: "Closed Won", lost: "Closed Lost" } }
  Closing_Date: { from: Close, type: date, format: "dd/MM/yyyy" }
  Amount: { from: Amount, type: number }
  Sub_Pipeline: { value: Standard }
polling: { interval: 30ms, backoff: 1.5, max_interval: 200ms, timeout: 20s }
limits:
${o.limits ?? "  max_error_rate: 0.2"}
`;
}

/** Deals CSV: `n` rows; `tweak` may change row i (0-based) before it is written. */
export function dealsCsv(n: number, tweak: (i: number, row: string[]) => void = () => {}): string {
  const lines = ["Name,Stage,Close,Amount"];
  for (let i = 0; i < n; i++) {
    const row = [
      `Deal ${String(i).padStart(5, "0")}`,
      i % 2 ? "won" : "Qualification",
      "15/06/2026",
      `${100 + i}`,
    ];
    tweak(i, row);
    lines.push(row.map((c) => (/[",\n]/.test(c) ? `"${c.replaceAll('"', '""')}"` : c)).join(","));
  }
  return lines.join("\n") + "\n";
}

/** Credentials that match the sandbox's Bigin defaults. */
export function biginEnv(url: string): Record<string, string> {
  return {
    BIGIN_BASE_URL: url,
    BIGIN_ORG_ID: "sandbox-org",
    ZOHO_CLIENT_ID: "sandbox-client",
    ZOHO_CLIENT_SECRET: "sandbox-secret",
    ZOHO_REFRESH_TOKEN: "sandbox-refresh-token",
  };
}
