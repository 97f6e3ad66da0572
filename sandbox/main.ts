/**
 * Command line of the local sandbox:
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 --allow-env sandbox/main.ts serve [--port 8787] [--processing 2s] [--token X] [--fault F]... [--verbose]
 * ```
 *
 * Subcommands live in {@linkcode COMMANDS}; each parses its own arguments with an exported
 * function so another entry point (or a test) can reuse the parsing without starting a server.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type Sandbox, startSandbox } from "./server.ts";
import { demo, DEMO_SANDBOX, DEMO_STAGES } from "./demo.ts";
import { type Fault, formatFault, InvalidFaultError, parseFault } from "./faults.ts";
import { SALESFORCE_DEFAULTS } from "./salesforce.ts";
import { WORKSPAN_DEFAULTS, type WorkspanSandboxOptions } from "./workspan.ts";

/** A problem with the command line; `main` prints it with the usage and exits with 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Settings of `serve`, as parsed from its arguments. */
export interface ServeOptions {
  /** Port on 127.0.0.1; 0 picks a free one. */
  port: number;
  /** WorkSpan processing time; `undefined` keeps the simulator's default. */
  processingMs?: number;
  /** WorkSpan static bearer token; `undefined` keeps the simulator's default. */
  token?: string;
  /** Faults active from the start, from `--fault` (see `./faults.ts`). */
  faults?: Fault[];
  /** Print one line per request. */
  verbose: boolean;
}

/** Default port of `serve`, the one the README and the demo pipelines use. */
export const DEFAULT_PORT = 8787;

/** Usage text for `--help` and usage errors. */
export const USAGE = `Usage: deno task sandbox [serve] [options]

Runs the WorkSpan, Bigin and Salesforce Bulk API 2.0 simulators on 127.0.0.1 until Ctrl-C.

Options of serve:
  --port <n>          port on 127.0.0.1 (default ${DEFAULT_PORT}; 0 picks a free one)
  --processing <dur>  time until a WorkSpan execution completes: 500ms, 2s, 1m
                      (default ${WORKSPAN_DEFAULTS.processingMs}ms)
  --token <token>     static WorkSpan bearer token (default ${WORKSPAN_DEFAULTS.token})
  --fault <fault>     inject a fault; repeat for more: endpoint:kind[:value][:key=value]...
                      (see sandbox/README.md), e.g.
                        ws.upload:status:503              next upload: 503, not processed
                        ws.upload:status_after:502        next upload: processed, then 502
                        ws.upload:reset_after:times=inf   every upload: processed, then cut
                        ws.status:latency:2s:times=3      next 3 polls: wait 2 s first
                        bigin.job:too_many_requests:5:after=1   2nd job request: 429
                        sf.job:job_failed_partway:processed=2   next closed job fails after 2 rows
                        sf.upload:token_expired           next upload: 401, its token revoked
                      endpoints: ws.token ws.upload ws.status bigin.token bigin.upload
                        bigin.job bigin.details bigin.download sf.token sf.create sf.upload
                        sf.close sf.job sf.results
                      kinds: latency status status_after too_many_requests reset_before
                        reset_after malformed_json token_expired stuck execution_failed
                        job_failed job_failed_partway result_missing_rows body_cut
                        body_html body_no_id body_stall body_oversized redirect
                        echo_token download_elsewhere
  --verbose           print one line per request
  -h, --help          show this help`;

/** Usage text of `demo` for its `--help`. */
export const DEMO_USAGE = `Usage: deno task demo

Starts the WorkSpan and Bigin simulators on a free port of 127.0.0.1, runs the example pipelines
in examples/ against them with the real runner, prints each summary (JSON on stdout, the report
on stderr) and checks each example ended as its story says. Outputs land in out/.

Options:
  -h, --help  show this help

Exit codes: 0 every example behaved as expected, 1 one did not.`;

/** Each subcommand's own `--help`, printed without running it. */
export const COMMAND_USAGE: Record<string, string> = { serve: USAGE, demo: DEMO_USAGE };

/**
 * Reads a duration: `500ms`, `2s`, `1.5s`, `1m`, or a bare number of milliseconds.
 *
 * @throws {UsageError} when the text is not such a duration
 * @example
 * ```ts
 * parseDuration("2s"); // 2000
 * ```
 */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new UsageError(`Cannot read duration "${text}": expected e.g. "500ms", "2s", "1m"`);
  const factor = m[2] === "m" ? 60_000 : m[2] === "s" ? 1000 : 1;
  return Math.round(Number(m[1]) * factor);
}

/**
 * Parses the arguments that follow `serve`.
 *
 * @throws {UsageError} on an unknown option, a missing value or a bad port or duration
 */
export function parseServeArgs(args: readonly string[]): ServeOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: {
        port: { type: "string" },
        processing: { type: "string" },
        token: { type: "string" },
        fault: { type: "string", multiple: true },
        verbose: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new UsageError((e as Error).message, { cause: e });
  }
  let port = DEFAULT_PORT;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!/^\d+$/.test(values.port) || port > 65535) {
      throw new UsageError(`Cannot use port "${values.port}": expected 0 to 65535`);
    }
  }
  const options: ServeOptions = { port, verbose: values.verbose };
  if (values.processing !== undefined) options.processingMs = parseDuration(values.processing);
  if (values.token !== undefined) {
    if (values.token === "") throw new UsageError("Cannot use an empty --token");
    options.token = values.token;
  }
  if (values.fault !== undefined) {
    try {
      options.faults = values.fault.map(parseFault);
    } catch (e) {
      if (e instanceof InvalidFaultError) throw new UsageError(e.message, { cause: e });
      throw e;
    }
  }
  return options;
}

/** Starts the sandbox as `serve` describes it; the caller closes it. */
export function startFromOptions(options: ServeOptions): Promise<Sandbox> {
  // The integration the demo uses (a stage picklist), so a hand run tells the demo's story.
  const workspan: WorkspanSandboxOptions = { ...DEMO_SANDBOX.workspan };
  if (options.processingMs !== undefined) workspan.processingMs = options.processingMs;
  if (options.token !== undefined) workspan.token = options.token;
  return startSandbox({
    port: options.port,
    workspan,
    ...(options.faults ? { faults: options.faults } : {}),
    ...(options.verbose ? { log: (line: string) => console.log(line) } : {}),
  });
}

/**
 * What `serve` prints once listening: the URL, the credentials and the variables to export.
 * The sandbox's credentials are not secrets; printing them is the point.
 */
export function describeSandbox(url: string, options: ServeOptions): string {
  const d = WORKSPAN_DEFAULTS;
  const token = options.token ?? d.token;
  return [
    `Sandbox listening on ${url}`,
    "",
    "WorkSpan Bulk API:",
    `  bearer token:   ${token}`,
    `  client creds:   client_id=${d.clientId} client_secret=${d.clientSecret} (POST ${url}/oauth/token)`,
    `  integrations:   any id like WS-Integration_demo`,
    `  processing:     ${
      options.processingMs ?? DEMO_SANDBOX.workspan?.processingMs ?? d.processingMs
    } ms`,
    `  checks:         close_date yyyy-MM-dd, amount a number, stage one of ${
      DEMO_STAGES.join(", ")
    }`,
    "Zoho Bigin Bulk Write API:",
    `  base URL:       ${url}`,
    "Salesforce Bulk API 2.0 (ingest):",
    `  instance URL:   ${url} (POST ${url}/services/oauth2/token, client_credentials or refresh_token)`,
    `  objects:        Opportunity (Name, StageName, CloseDate required; External_Ref__c external id)`,
    ...(options.faults?.length
      ? ["Faults:", ...options.faults.map((f) => `  ${formatFault(f)}`)]
      : []),
    `State: ${url}/_sandbox/state`,
    "",
    "Point the runner at it:",
    `  export WORKSPAN_BASE_URL=${url} WORKSPAN_TOKEN=${token}`,
    `  export BIGIN_BASE_URL=${url} BIGIN_ORG_ID=sandbox-org`,
    "  export ZOHO_CLIENT_ID=sandbox-client ZOHO_CLIENT_SECRET=sandbox-secret ZOHO_REFRESH_TOKEN=sandbox-refresh-token",
    `  export SALESFORCE_INSTANCE_URL=${url} SALESFORCE_CLIENT_ID=${SALESFORCE_DEFAULTS.clientId} SALESFORCE_CLIENT_SECRET=${SALESFORCE_DEFAULTS.clientSecret}`,
    "  deno task run examples/workspan-opportunities.yaml",
    "",
    "Press Ctrl-C to stop.",
  ].join("\n");
}

/**
 * Runs `serve` until SIGINT (or SIGTERM), then closes the server. Returns the exit code: 2 when
 * the port is busy.
 */
export async function serve(args: readonly string[]): Promise<number> {
  const options = parseServeArgs(args);
  let sandbox: Sandbox;
  try {
    sandbox = await startFromOptions(options);
  } catch (e) {
    // A busy port is a user's everyday mistake, not a bug: one line, no stack trace.
    if (!(e instanceof Deno.errors.AddrInUse)) throw e;
    console.error(
      `error: port ${options.port} is busy: stop what uses it or pass --port 0 for any free port`,
    );
    return 2;
  }
  console.log(describeSandbox(sandbox.url, options));
  const { promise: stopped, resolve: stop } = Promise.withResolvers<void>();
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, stop);
  try {
    await stopped;
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, stop);
    await sandbox.close();
  }
  console.log("Sandbox stopped");
  return 0;
}

/** Subcommands by name. The first is the default when no subcommand is given. */
export const COMMANDS: Record<string, (args: readonly string[]) => Promise<number>> = {
  serve,
  demo,
};

/**
 * Entry point: dispatches to a subcommand and maps usage errors to exit code 2.
 *
 * @returns the process exit code
 */
export async function main(args: readonly string[]): Promise<number> {
  const [first, ...rest] = args;
  if (first === "-h" || first === "--help" || rest.includes("--help") || rest.includes("-h")) {
    const usage = first !== undefined && Object.hasOwn(COMMAND_USAGE, first)
      ? COMMAND_USAGE[first]
      : USAGE;
    console.log(usage);
    return 0;
  }
  const named = first !== undefined && !first.startsWith("-");
  const name = named ? first : Object.keys(COMMANDS)[0]!;
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    console.error(`Unknown command "${name}"\n\n${USAGE}`);
    return 2;
  }
  try {
    return await command(named ? rest : args);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`${e.message}\n\n${USAGE}`);
      return 2;
    }
    throw e;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
