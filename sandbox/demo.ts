/**
 * `deno task demo`: starts the sandbox on a free loopback port, runs the example pipelines in
 * `examples/` against it with the real CLI, prints their summaries exactly as `run` does (JSON
 * lines on stdout, the readable report on stderr) and checks each behaved as its story says.
 *
 * The runner is started as a subprocess, so the runner never imports the sandbox.
 *
 * @module
 */
import { type Sandbox, type SandboxOptions, startSandbox } from "./server.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** The stage values the demo's WorkSpan integration is configured with (a picklist). */
export const DEMO_STAGES = [
  "Prospecting",
  "Qualification",
  "Proposal",
  "Negotiation",
  "Closed Won",
  "Closed Lost",
];

/** The sandbox settings the demo uses: short processing times, the demo credentials. */
export const DEMO_SANDBOX: SandboxOptions = {
  workspan: {
    processingMs: 1500,
    fields: { close_date: "date", amount: "number", stage: { oneOf: DEMO_STAGES } },
  },
  bigin: { processingMs: 1500 },
  salesforce: { processingMs: 1500 },
};

/** What an example should end with. */
export interface Expectation {
  file: string;
  status: string;
  exit: number;
  counts: Record<string, number>;
}

/** The examples and the outcome each one's story promises. */
export const EXAMPLES: Expectation[] = [
  {
    // The seed page's story: 200 rows, 3 with errors (1 caught locally, 2 refused by WorkSpan).
    file: "examples/workspan-opportunities.yaml",
    status: "completed_with_errors",
    exit: 0,
    counts: { read: 200, rejected: 1, sent: 199, succeeded: 197, failed: 2 },
  },
  {
    // The same story with the seed's own bad values, sent untyped as CSV in 4 executions.
    file: "examples/workspan-opportunities-export.yaml",
    status: "completed_with_errors",
    exit: 0,
    counts: { read: 200, rejected: 1, sent: 199, succeeded: 197, failed: 2 },
  },
  {
    // Deals into Bigin: one date that does not exist (caught locally), one deal without a stage
    // and one name too long for Bigin (refused by the job, joined back to their lines).
    file: "examples/bigin-deals.yaml",
    status: "completed_with_errors",
    exit: 0,
    counts: { read: 40, rejected: 1, sent: 39, succeeded: 37, failed: 2 },
  },
  {
    // Opportunities into Salesforce through the API description (no Salesforce code): a date
    // that does not exist and a row without its external id are caught locally; a stage not in
    // the picklist and a name over 120 characters are refused by the job, joined back by key.
    file: "examples/salesforce-opportunities.yaml",
    status: "completed_with_errors",
    exit: 0,
    counts: { read: 40, rejected: 2, sent: 38, succeeded: 36, failed: 2 },
  },
];

/** The environment that points the example pipelines at the sandbox. */
export function demoEnv(sandbox: Sandbox): Record<string, string> {
  return {
    WORKSPAN_BASE_URL: sandbox.url,
    WORKSPAN_TOKEN: "sandbox-token",
    BIGIN_BASE_URL: sandbox.url,
    BIGIN_ORG_ID: "sandbox-org",
    ZOHO_CLIENT_ID: "sandbox-client",
    ZOHO_CLIENT_SECRET: "sandbox-secret",
    ZOHO_REFRESH_TOKEN: "sandbox-refresh-token",
    SALESFORCE_INSTANCE_URL: sandbox.url,
    SALESFORCE_CLIENT_ID: "sandbox-sf-client",
    SALESFORCE_CLIENT_SECRET: "sandbox-sf-secret",
  };
}

/** Compares a summary with its expectation; returns what differs. */
export function differences(
  e: Expectation,
  summary: Record<string, unknown>,
  code: number,
): string[] {
  const out: string[] = [];
  if (summary.status !== e.status) out.push(`status ${summary.status}, expected ${e.status}`);
  if (code !== e.exit) out.push(`exit ${code}, expected ${e.exit}`);
  const counts = (summary.counts ?? {}) as Record<string, number>;
  for (const [k, v] of Object.entries(e.counts)) {
    if (counts[k] !== v) out.push(`counts.${k} ${counts[k]}, expected ${v}`);
  }
  return out;
}

/** Runs the demo; returns the exit code (0 when every example behaved as expected). */
export async function demo(_args: readonly string[]): Promise<number> {
  const sandbox = await startSandbox({ port: 0, ...DEMO_SANDBOX });
  // The demo's journals are thrown away: each demo is a fresh start.
  const stateDir = `.state/demo-${Date.now()}`;
  const enc = new TextEncoder();
  const failures: string[] = [];
  try {
    console.error(`Sandbox on ${sandbox.url}; running ${EXAMPLES.length} example pipelines\n`);
    for (const e of EXAMPLES) {
      console.error(`$ deno task run ${e.file}`);
      const cmd = new Deno.Command(Deno.execPath(), {
        // The permissions of `deno task run`; outputs land in out/ as they would for a user.
        args: [
          "run",
          "--quiet",
          "--allow-read",
          "--allow-write=out,.state",
          "--allow-net",
          "--allow-env",
          `${ROOT}/runner/main.ts`,
          "run",
          `${ROOT}/${e.file}`,
        ],
        cwd: ROOT,
        env: { ...demoEnv(sandbox), BULKRUN_STATE_DIR: stateDir },
        stdout: "piped",
        stderr: "inherit",
      });
      const out = await cmd.output();
      await Deno.stdout.write(out.stdout);
      const line = new TextDecoder().decode(out.stdout).split("\n").find((l) => l.startsWith("{"));
      const diff = line
        ? differences(e, JSON.parse(line), out.code)
        : [`no summary (exit ${out.code})`];
      if (diff.length > 0) failures.push(`${e.file}: ${diff.join(", ")}`);
      await Deno.stderr.write(enc.encode("\n"));
    }
  } finally {
    await sandbox.close();
    await Deno.remove(stateDir, { recursive: true }).catch(() => {});
  }
  if (failures.length > 0) {
    console.error(
      `demo: ${failures.length} of ${EXAMPLES.length} examples did not behave as expected:`,
    );
    for (const f of failures) console.error(`  ${f}`);
    return 1;
  }
  console.error(`demo: all ${EXAMPLES.length} examples behaved as expected`);
  return 0;
}
