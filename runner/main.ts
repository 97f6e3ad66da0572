/**
 * The command line: `run`, `validate`, `plan`, `schema`. The only file that reads `Deno.args`,
 * writes to the terminal as a whole and calls `Deno.exit`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  EXIT,
  expandPaths,
  type Io,
  pipelineJsonSchema,
  reportError,
  runCommand,
  schemaCommand,
  validateCommand,
} from "./commands.ts";
import { runNarrowed, shouldNarrow } from "./narrow.ts";
import { planCommand } from "./plan.ts";

const EXIT_CODES =
  `Exit codes: 0 succeeded (or failures within max_error_rate), 1 rows failed above the limit or
an execution failed, 2 invalid pipeline or usage (nothing sent), 3 API or transport error,
4 timed out waiting.`;

const USAGE = `Usage: deno task <command> [options] <pipeline files or folders>

Commands:
  run <pipeline.yaml...>       Run pipelines: read, map, upload, wait; print a JSON summary per pipeline
  validate <files|folders...>  Check pipeline files; send nothing
  plan <pipeline.yaml>         Show the compiled steps and a preview of mapped rows; send nothing
  schema [--out FILE]          Print the JSON Schema of the pipeline format; with --out, write it
                               and the field table in docs/pipeline-reference.md

Each command has its own help: deno task run --help, deno task validate --help, ...

Options:
  -h, --help       this text, or a command's own

${EXIT_CODES}`;

/** Each command's own `--help`. */
const COMMAND_USAGE: Record<string, string> = {
  run: `Usage: deno task run [options] <pipeline.yaml or folder...>

Runs pipelines one after another: read the source, map and check every row, upload the rows,
wait for the API, print one JSON summary line per pipeline on stdout (the readable report and
progress on stderr). In GitHub Actions use deno task run-ci, which may also write the job
summary and step outputs.

Options:
  --json           only the JSON summary (stdout) and errors (stderr)
  --quiet          no progress or report on stderr, only errors
  --list           print the pipeline files a run would take (a JSON array with --json); send nothing
  --fresh          start over, ignoring an unfinished earlier run in the journal
  --force          load a file this insert pipeline already loaded
  --full           send: changed pipelines: send every row once and refresh their state
  --state-dir DIR  folder of the run journals (default .state, or $BULKRUN_STATE_DIR)
  -h, --help       this text

${EXIT_CODES}`,
  validate: `Usage: deno task validate [options] <pipeline files or folders...>

Checks pipeline files: every problem with its file:line:column. Sends nothing.

Options:
  --format github      also print GitHub annotations (::error file=...,line=...)
  --allow-missing-env  stand in for unset variables (CI without the secrets)
  -h, --help           this text

Exit codes: 0 every file valid, 2 a file invalid or a bad command line.`,
  plan: `Usage: deno task plan [options] <pipeline.yaml>

Shows the compiled steps, a preview of mapped rows and the rows that would be rejected.
Sends nothing.

Options:
  --rows N             mapped rows to preview (default 5; rejected rows are listed apart)
  --allow-missing-env  stand in for unset variables (plan sends nothing)
  --state-dir DIR      where send: changed pipelines keep their state (default .state)
  -h, --help           this text

Exit codes: 0 planned, 2 invalid pipeline, unreadable source or bad command line.`,
  schema: `Usage: deno task schema [options]

Without --out, prints the JSON Schema of the pipeline format. With --out FILE, writes it there
and the field table in docs/pipeline-reference.md (between its fields markers), both generated
from the zod schema. deno task schema does both and formats them.

Options:
  --out FILE         write the JSON Schema to FILE (and the field table)
  --reference FILE   the Markdown file that holds the field table (default docs/pipeline-reference.md)
  --check            write nothing; exit 1 when the schema file or the field table is out of date
  --fmt              format the written files with deno fmt
  -h, --help         this text`,
};

const enc = new TextEncoder();
const writeOut = (b: Uint8Array) => Deno.stdout.writeSync(b);
const writeErr = (b: Uint8Array) => Deno.stderr.writeSync(b);

/** Writes all of `text` (a pipe may take it in parts). */
function writeAll(w: (b: Uint8Array) => number, text: string): void {
  const data = enc.encode(text);
  let off = 0;
  while (off < data.length) off += w(data.subarray(off));
}

/**
 * Formats written files with `deno fmt`, so the generated Markdown table is padded as the
 * format check wants. Done here rather than after the task's command: `deno task` appends its
 * arguments to the last command, and `schema --help` must reach this file, not `deno fmt`.
 */
async function formatFiles(paths: string[], io: Io): Promise<number> {
  const fmt = await new Deno.Command("deno", { args: ["fmt", "--quiet", ...paths] }).output();
  if (!fmt.success) io.err(`error: deno fmt ${paths.join(" ")} failed`);
  return fmt.success ? EXIT.ok : EXIT.invalid;
}

/** Parses the command line: every command's options and the positionals; throws on a bad one. */
function parseCommandLine(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    options: {
      json: { type: "boolean", default: false },
      fresh: { type: "boolean", default: false },
      list: { type: "boolean", default: false },
      force: { type: "boolean", default: false },
      full: { type: "boolean", default: false },
      "state-dir": { type: "string" },
      "allow-missing-env": { type: "boolean", default: false },
      quiet: { type: "boolean", default: false },
      format: { type: "string", default: "text" },
      rows: { type: "string", default: "5" },
      out: { type: "string" },
      check: { type: "boolean", default: false },
      reference: { type: "string", default: "docs/pipeline-reference.md" },
      fmt: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
      // Internal: this process is the child of narrow.ts, its network already narrowed.
      "net-narrowed": { type: "boolean", default: false },
    },
  });
}

type Options = ReturnType<typeof parseCommandLine>["values"];

async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseCommandLine(args);
  } catch (err) {
    writeAll(writeErr, `error: ${err instanceof Error ? err.message : err}\n\n${USAGE}\n`);
    return EXIT.invalid;
  }
  const { values: v, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (v.help || !command) {
    // A command's help does nothing else: no file is read or written.
    const usage = (command && Object.hasOwn(COMMAND_USAGE, command) && COMMAND_USAGE[command]) ||
      USAGE;
    writeAll(v.help ? writeOut : writeErr, usage + "\n");
    return v.help ? EXIT.ok : EXIT.invalid;
  }
  const tty = Deno.stderr.isTerminal();
  const io: Io = {
    out: (l) => writeAll(writeOut, l + "\n"),
    err: (l) => writeAll(writeErr, l + "\n"),
    errRaw: (t) => writeAll(writeErr, t),
    stderrIsTty: tty,
    color: tty && !Deno.env.get("NO_COLOR"),
    env: (n) => Deno.env.get(n),
    fetch: globalThis.fetch,
    appendFile: (path, text) => Deno.writeTextFile(path, text, { append: true }),
  };
  const need = (what: string) => {
    if (rest.length === 0) {
      io.err(`error: ${command} needs ${what}\n\n${COMMAND_USAGE[command] ?? USAGE}`);
      return false;
    }
    return true;
  };
  try {
    switch (command) {
      case "run":
        if (!need("a pipeline file")) return EXIT.invalid;
        return await run(rest, v, io);
      case "validate":
        if (!need("pipeline files or folders")) return EXIT.invalid;
        if (v.format !== "text" && v.format !== "github") {
          io.err(`error: --format must be "text" or "github", not "${v.format}"`);
          return EXIT.invalid;
        }
        return await validateCommand(rest, io, v.format, v["allow-missing-env"]);
      case "plan": {
        if (!need("a pipeline file")) return EXIT.invalid;
        const rows = Number(v.rows);
        if (!Number.isInteger(rows) || rows < 0) {
          io.err(`error: --rows must be a whole number, not "${v.rows}"`);
          return EXIT.invalid;
        }
        return await planCommand(
          rest[0]!,
          io,
          rows,
          undefined,
          v["allow-missing-env"],
          v["state-dir"] ?? Deno.env.get("BULKRUN_STATE_DIR") ?? ".state",
        );
      }
      case "schema": {
        if (!v.out) {
          io.out(JSON.stringify(pipelineJsonSchema(), null, 2));
          return EXIT.ok;
        }
        const files = { schema: v.out, readme: v.reference };
        const code = await schemaCommand(io, files, v.check);
        if (code !== EXIT.ok || v.check || !v.fmt) return code;
        return await formatFiles([files.schema, files.readme], io);
      }
      default:
        io.err(`error: unknown command "${command}"\n\n${USAGE}`);
        return EXIT.invalid;
    }
  } catch (err) {
    return reportError(io, err);
  }
}

/** `run`: the files a run would take (`--list`), or the run, network narrowed when it can be. */
async function run(rest: string[], v: Options, io: Io): Promise<number> {
  if (v.list) {
    // For CI matrices: which files a run would take, without reading them.
    const files = await expandPaths(rest);
    if (v.json) io.out(JSON.stringify(files));
    else for (const f of files) io.out(f);
    return EXIT.ok;
  }
  const options = {
    json: v.json,
    quiet: v.quiet,
    fresh: v.fresh,
    force: v.force,
    full: v.full,
    stateDir: v["state-dir"] ?? Deno.env.get("BULKRUN_STATE_DIR") ?? ".state",
  };
  if (!v["net-narrowed"] && shouldNarrow()) return await runNarrowed(rest, io, options);
  return await runCommand(rest, io, options);
}

/** In a child of narrow.ts: stop when the parent is gone (its end of stdin closes). */
async function exitWithParent(): Promise<void> {
  const buf = new Uint8Array(64);
  try {
    while ((await Deno.stdin.read(buf)) !== null) {
      // The parent never writes; anything read is ignored.
    }
  } catch {
    // A closed or broken pipe means the same.
  }
  Deno.exit(137);
}

if (import.meta.main) {
  if (Deno.args.includes("--net-narrowed")) exitWithParent();
  Deno.exit(await main(Deno.args));
}
