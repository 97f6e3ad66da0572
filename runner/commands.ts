/**
 * The commands behind `deno task run|validate|plan|schema`. Each returns an exit code and writes
 * only through the `Io` it is given; `main.ts` owns the process.
 *
 * @module
 */
import { z } from "zod";
import { compile, type Plan } from "./compile.ts";
import { loadPipeline, pipelineSchemaFor } from "./config/mod.ts";
import { fieldTable, replaceFieldTable } from "./config/docs.ts";
import { formatDiagnostic, PipelineError, RunnerError } from "./errors.ts";
import { EXIT } from "./exit.ts";
import { execute, type ExecuteDeps } from "./execute/mod.ts";
import { openChanges, type OpenedChanges } from "./execute/changes.ts";
import { fileSpool, keyFile } from "./execute/spool.ts";
import { humanReport, oneLine } from "./report/human.ts";
import { progressPrinter } from "./report/progress.ts";
import {
  annotateDiagnostics,
  endGroup,
  githubEnvironment,
  relativeToWorkspace,
  startGroup,
  workflowCommand,
  writeGithubFailure,
  writeGithubReport,
} from "./report/github/mod.ts";
import { type Summary, summaryJson } from "./report/summary.ts";
import { redact, redactDeep } from "./util/redact.ts";
import { assertCanWrite, writeAtomic } from "./util/fs.ts";
import { acquireLock } from "./lock.ts";
import { isAbsolute, resolve } from "node:path";
import { checkSourceColumns } from "./preflight.ts";
import { TARGETS } from "./registry.ts";
import { createFetchOnce } from "./targets/mod.ts";
import type { TargetDefinition } from "./targets/mod.ts";
import {
  finishedRunsOf,
  hashFile,
  hashJson,
  history,
  isResumable,
  JournalDamagedError,
  journalPath,
  JournalWriter,
  keepDamagedAside,
  readJournal,
  viewJournal,
} from "./journal.ts";

/** Where a command writes. `out` is stdout (data), `err` is stderr (people). */
export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
  /** Raw stderr text without a newline (progress redraws). */
  errRaw: (text: string) => void;
  stderrIsTty: boolean;
  color: boolean;
  env: (name: string) => string | undefined;
  fetch: typeof fetch;
  /** Appends to a file (GitHub's `$GITHUB_STEP_SUMMARY` and `$GITHUB_OUTPUT`). */
  appendFile: (path: string, text: string) => Promise<void>;
}

export { EXIT };

/** Maps an error thrown before a run started to an exit code and a message. */
export function reportError(io: Io, err: unknown): number {
  if (err instanceof PipelineError) {
    for (const d of err.diagnostics) io.err(formatDiagnostic(err.file, d));
    io.err(`${err.file}: invalid pipeline, nothing was sent`);
    return EXIT.invalid;
  }
  if (err instanceof RunnerError) {
    io.err(`error: ${err.message}`);
    return err.code === "usage" || err.code === "invalid_source" ||
        err.code === "invalid_pipeline" || err.code === "resume_refused" ||
        err.code === "already_loaded" || err.code === "locked" ||
        err.code === "journal_damaged" || err.code === "config_refused"
      ? EXIT.invalid
      : EXIT.transport;
  }
  throw err;
}

/** Expands folders into the pipeline files inside them (`*.yaml`, `*.yml`), sorted. */
export async function expandPaths(paths: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    let info: Deno.FileInfo | undefined;
    try {
      info = await Deno.stat(p);
    } catch {
      info = undefined;
    }
    if (info?.isDirectory) {
      const files: string[] = [];
      for await (const e of Deno.readDir(p)) {
        if (e.isFile && /\.ya?ml$/i.test(e.name)) files.push(`${p.replace(/\/+$/, "")}/${e.name}`);
      }
      if (files.length === 0) {
        throw new RunnerError("usage", `No pipeline files (*.yaml) in "${p}"`);
      }
      out.push(...files.sort());
    } else out.push(p);
  }
  return out;
}

/** Whether the one-line "use run-ci" warning was printed in this process. */
let runCiWarned = false;

/**
 * An appender that warns once instead of failing the run when a GitHub file may not be written
 * (a plain `deno task run` in Actions may not write under $RUNNER_TEMP).
 */
function appendOrWarn(io: Io): (path: string, text: string) => Promise<void> {
  return async (path, text) => {
    try {
      await io.appendFile(path, text);
    } catch (err) {
      if (runCiWarned) return;
      runCiWarned = true;
      io.err(
        `warning: no job summary or step outputs: deno task run may not write "${path}" (${
          err instanceof Error ? err.message : err
        }); in GitHub Actions use deno task run-ci, which writes them`,
      );
    }
  };
}

/** Options of `run`. */
export interface RunOptions {
  quiet: boolean;
  /** Print nothing on stderr but errors; the summary still goes to stdout. */
  json: boolean;
  /** Ignore an unfinished earlier run and start over. */
  fresh?: boolean;
  /** Load a file an insert pipeline already loaded. */
  force?: boolean;
  /** Folder of the run journals (default `.state`). */
  stateDir?: string;
  /** `send: changed`: send every row once, whatever the state says, and refresh the state. */
  full?: boolean;
  /** The targets a pipeline may name (default: the built-in registry). */
  targets?: readonly TargetDefinition[];
}

/**
 * Loads and compiles a pipeline file against `targets`: what every command does first.
 *
 * @throws {PipelineError} with every problem found
 */
export async function loadPlan(
  file: string,
  io: Pick<Io, "env">,
  targets: readonly TargetDefinition[] = TARGETS,
  allowMissingEnv = false,
): Promise<Plan> {
  const schema = pipelineSchemaFor(targets);
  const loaded = await loadPipeline(file, { env: io.env, allowMissingEnv, schema });
  const plan = await compile(loaded, { targets });
  // A mapped column the header lacks is a typo: refuse before anything is read or sent.
  const columns = await checkSourceColumns(plan);
  if (columns.errors.length > 0) throw new PipelineError(file, columns.errors);
  plan.warnings.push(...columns.warnings);
  plan.warnings.sort((a, b) => a.line - b.line || a.column - b.column);
  return plan;
}

/** A plan's warnings as `file:line:col warning message` lines. */
export function warningLines(plan: Plan): string[] {
  return plan.warnings.map((w) => `${plan.file}:${w.line}:${w.column} warning ${w.message}`);
}

/**
 * Fails before anything is sent when an output would be refused by Deno's permissions (the run
 * task may write only under `out/` and `.state/`), rather than after the upload.
 *
 * @throws {RunnerError} `usage` naming the path and what to do
 */
export function checkWritable(paths: (string | undefined)[]): void {
  for (const path of paths) {
    if (path === undefined) continue;
    const state = Deno.permissions.querySync({ name: "write", path }).state;
    if (state !== "granted") {
      throw new RunnerError(
        "usage",
        `Cannot write "${path}": deno task run may write only under out/ and .state/ (see deno.json); put output paths there, or run runner/main.ts with your own --allow-write`,
      );
    }
  }
}

/**
 * Opens the pipeline's journal: resumes an unfinished earlier run of the same file and plan,
 * refuses to resume one whose file or pipeline changed, and refuses to insert the same file
 * twice unless forced.
 *
 * @throws {RunnerError} `usage` for a refusal (exit 2, nothing sent)
 */
export async function openJournal(
  plan: Plan,
  options: RunOptions,
  log: (line: string) => void = () => {},
): Promise<NonNullable<ExecuteDeps["journal"]>> {
  const path = journalPath(options.stateDir ?? ".state", plan.name);
  const events = readOrSetAside(path, options.fresh === true, log);
  const view = viewJournal(events);
  const sourceHash = await hashFile(plan.source.path);
  const planHash = hashJson(plan.identity);
  if (!options.fresh && view.run && isResumable(view)) {
    const waiting = [...view.batches.values()].filter((b) => b.state === "accepted").length;
    const changed = [
      view.run.source_hash !== sourceHash ? `the source file` : "",
      view.run.plan_hash !== planHash ? "the pipeline's mappings or target" : "",
    ].filter(Boolean);
    if (changed.length > 0) {
      throw new RunnerError(
        "resume_refused",
        `The last run of "${plan.name}" (${view.run.at}) did not finish${
          waiting > 0 ? ` and has ${waiting} executions it never saw complete` : ""
        }, and ${
          changed.join(" and ")
        } changed since: rerun it unchanged to finish it, or start over with --fresh (see ${path})`,
      );
    }
    const writer = new JournalWriter(path, events);
    writer.record({ event: "resume", at: new Date().toISOString() });
    return { writer, prior: view.batches };
  }
  // With send: changed the state, not the file, says what was inserted: never twice per key.
  if (!options.force && plan.target.duplicatesOnResend && plan.send !== "changed") {
    const done = finishedRunsOf(events, sourceHash, planHash);
    if (done.length > 0) {
      throw new RunnerError(
        "already_loaded",
        `"${plan.source.path}" was already loaded by this pipeline (run of ${done.at(-1)!.at}, ${
          done.at(-1)!.status
        }): inserting it again would create every record twice. Use --force to load it anyway`,
      );
    }
  }
  const writer = new JournalWriter(path, history(events));
  writer.record({
    event: "run",
    run_id: crypto.randomUUID(),
    at: new Date().toISOString(),
    pipeline: plan.name,
    source_hash: sourceHash,
    plan_hash: planHash,
    duplicates_on_resend: plan.target.duplicatesOnResend,
  });
  return { writer, prior: new Map() };
}

/**
 * Reads the journal; with `fresh`, a damaged one is moved aside (saying where) and the run
 * starts from an empty journal.
 *
 * @throws {JournalDamagedError} when the journal is damaged and `fresh` is not set
 */
function readOrSetAside(path: string, fresh: boolean, log: (line: string) => void) {
  try {
    return readJournal(path);
  } catch (err) {
    if (!fresh || !(err instanceof JournalDamagedError)) throw err;
    const aside = keepDamagedAside(path);
    log(
      `Run journal "${path}" is damaged at line ${err.line}: kept aside as "${aside}"; starting over`,
    );
    return [];
  }
}

/**
 * Opens the state of a `send: changed` pipeline before its journal, so a second concurrent run
 * is refused before it touches anything; a run that will resume its journal decides as the run
 * it resumes did.
 */
function openChangesFor(plan: Plan, options: RunOptions, log: (l: string) => void): OpenedChanges {
  const stateDir = options.stateDir ?? ".state";
  const path = journalPath(stateDir, plan.name);
  const view = viewJournal(readOrSetAside(path, options.fresh ?? false, log));
  const resume = !options.fresh && view.run !== undefined && isResumable(view);
  return openChanges(plan, { stateDir, full: options.full ?? false, resume, log });
}

/** Runs one pipeline file end to end; returns its summary, or throws before anything was sent. */
export async function runOne(
  file: string,
  io: Io,
  options: RunOptions,
  deps: Partial<ExecuteDeps> = {},
): Promise<{ summary: Summary; plan: Plan }> {
  const plan = await loadPlan(file, io, options.targets);
  const say = (line: string) => {
    // API text can hold line breaks; one line each, so a CI log never reads it as a command.
    if (!options.quiet && !options.json) {
      io.err(oneLine(redact(line, plan.secrets)));
    }
  };
  if (!options.json) {
    for (const w of warningLines(plan)) io.err(w);
  }
  const stateDir = options.stateDir ?? ".state";
  checkWritable([plan.output.summary, plan.output.rejects, stateDir]);
  checkOutputs(plan, stateDir);
  // One run of a pipeline at a time: a second would upload every row again.
  const lock = acquireLock(stateDir, plan.name, `bulkrun run ${file}`, (l) => io.err(l));
  try {
    const changes = plan.send === "changed" ? openChangesFor(plan, options, say) : undefined;
    let summary: Summary;
    try {
      const journal = await openJournal(plan, options, (l) => io.err(l));
      summary = await executeOnce(plan, io, options, say, journal, {
        ...(changes ? { changes: changes.tracker } : {}),
        ...deps,
      });
    } catch (err) {
      changes?.close(false);
      throw err;
    }
    changes?.close(summary.status === "succeeded" || summary.status === "completed_with_errors");
    if (summary.counts.read === 0 && summary.status === "succeeded" && !summary.reason) {
      // Succeeded, but say so: an export that came out empty should not pass unnoticed.
      summary.reason = `Nothing to load: "${plan.source.path}" has no rows`;
    }
    await writeSummaryFile(plan, summary, io);
    io.out(summaryJson(summary, plan.secrets));
    if (!options.quiet && !options.json) {
      const shown = redactDeep(summary, plan.secrets);
      for (const l of humanReport(shown, { color: io.color })) io.err(l);
    }
    // In GitHub Actions: the job summary, step outputs and annotations on the source lines.
    await writeGithubReport(summary, {
      env: io.env,
      appendFile: appendOrWarn(io),
      log: io.err,
      pipelineFile: file,
      secrets: plan.secrets,
    });
    return { summary, plan };
  } finally {
    lock.release();
  }
}

async function executeOnce(
  plan: Plan,
  io: Io,
  options: RunOptions,
  say: (line: string) => void,
  journal: NonNullable<ExecuteDeps["journal"]>,
  deps: Partial<ExecuteDeps>,
): Promise<Summary> {
  const once = io.fetch === globalThis.fetch ? createFetchOnce() : undefined;
  return await execute(plan, {
    fetch: io.fetch,
    ...(once ? { fetchOnce: once.fetch } : {}),
    log: say,
    journal,
    // Bodies packed ahead wait on disk beside the journal, not in memory; so do the duplicate
    // check's keys past 786,000.
    spool: fileSpool(options.stateDir ?? ".state", say),
    keyFiles: () => keyFile(options.stateDir ?? ".state"),
    ...(!options.quiet && !options.json
      ? { progress: progressPrinter(plan.name, (t) => io.errRaw(t), io.stderrIsTty) }
      : {}),
    ...deps,
  }).finally(() => once?.close());
}

/**
 * Checks the output files can be written before anything is sent: not a folder, the parent a
 * writable folder, no symbolic link leading out of `out/`, the state folder or (for another
 * relative path) the working folder.
 *
 * @throws {RunnerError} `usage` naming the path and what is in the way
 */
export function checkOutputs(plan: Plan, stateDir: string): void {
  for (const path of [plan.output.summary, plan.output.rejects]) {
    if (path !== undefined) assertCanWrite(path, rootOf(path, stateDir));
  }
}

/** The folder a path must stay in: `out/` or the state folder when it is in one, else the cwd. */
function rootOf(path: string, stateDir: string): string | undefined {
  const full = resolve(path);
  for (const root of [resolve("out"), resolve(stateDir)]) {
    if (full.startsWith(root + "/")) return root;
  }
  return isAbsolute(path) ? undefined : Deno.cwd();
}

/**
 * Writes the summary file. A write that still fails at the end (the disk filled, the folder
 * was removed) does not lose the run: the failure goes to stderr and into the summary's
 * `problems`, and the exit code becomes at least 3, the summary still printed on stdout.
 */
async function writeSummaryFile(plan: Plan, summary: Summary, io: Io): Promise<void> {
  if (!plan.output.summary) return;
  // Secrets are hidden in the values, then serialised: never replaced inside the JSON text.
  const path = plan.output.summary;
  // A relative path is under the working directory and must not leave it by a symbolic link.
  const within = path.startsWith("/") ? {} : { within: Deno.cwd() };
  try {
    await writeAtomic(path, summaryJson(summary, plan.secrets, 2), within);
  } catch (err) {
    const problem = `Cannot write the summary file "${path}": ${
      err instanceof Error ? err.message : err
    }`;
    io.err(`error: ${problem}`);
    summary.problems.push(problem);
    summary.exit_code = Math.max(summary.exit_code, EXIT.transport) as Summary["exit_code"];
    delete summary.outputs.summary;
  }
}

/** `run`: runs each pipeline in turn; the exit code is the highest of their codes. */
export async function runCommand(files: string[], io: Io, options: RunOptions): Promise<number> {
  let code = 0;
  const actions = githubEnvironment(io.env).actions;
  for (const file of await expandPaths(files)) {
    if (actions) io.err(startGroup(file));
    try {
      const { summary } = await runOne(file, io, options);
      code = Math.max(code, summary.exit_code);
    } catch (err) {
      const exit = reportError(io, err);
      code = Math.max(code, exit);
      await writeGithubFailure(file, {
        message: err instanceof Error ? err.message : String(err),
        ...(err instanceof RunnerError ? { code: err.code } : {}),
        ...(err instanceof PipelineError ? { diagnostics: err.diagnostics } : {}),
        exitCode: exit,
      }, { env: io.env, appendFile: appendOrWarn(io), log: io.err });
    } finally {
      if (actions) io.err(endGroup());
    }
  }
  return code;
}

/** `validate`: checks every pipeline file, sends nothing. */
export async function validateCommand(
  paths: string[],
  io: Io,
  format: "text" | "github" = "text",
  allowMissingEnv = false,
  targets: readonly TargetDefinition[] = TARGETS,
): Promise<number> {
  let bad = 0;
  const files = await expandPaths(paths);
  for (const file of files) {
    try {
      const plan = await loadPlan(file, io, targets, allowMissingEnv);
      for (const w of warningLines(plan)) io.err(w);
      if (format === "github") {
        const where = relativeToWorkspace(file, io.env("GITHUB_WORKSPACE"));
        for (const w of plan.warnings.slice(0, 10)) {
          io.out(
            workflowCommand(
              "warning",
              { file: where, line: w.line, col: w.column, title: w.code },
              w.message,
            ),
          );
        }
      }
      io.out(
        `${file}: ok (${plan.name} -> ${plan.target.api}, ${plan.mapper.fields.length} fields)`,
      );
    } catch (err) {
      bad++;
      if (err instanceof PipelineError && format === "github") {
        const where = relativeToWorkspace(err.file, io.env("GITHUB_WORKSPACE"));
        // GitHub shows 10 annotations per severity and step; the text lines list every problem.
        for (const l of annotateDiagnostics(where, err.diagnostics.slice(0, 10))) io.out(l);
      }
      reportError(io, err);
    }
  }
  io.err(`${files.length - bad} of ${files.length} pipeline files valid`);
  return bad > 0 ? EXIT.invalid : EXIT.ok;
}

/**
 * `schema`: writes the JSON Schema and the README's field table from the zod schema, or with
 * `check` only says whether the committed files are up to date (exit 1 when not).
 */
export async function schemaCommand(
  io: Io,
  files: { schema: string; readme: string },
  check: boolean,
  targets: readonly TargetDefinition[] = TARGETS,
): Promise<number> {
  const schema = pipelineJsonSchema(targets);
  const wanted: [string, string][] = [[files.schema, JSON.stringify(schema, null, 2) + "\n"]];
  const readme = await Deno.readTextFile(files.readme).catch(() => undefined);
  if (readme !== undefined) {
    wanted.push([files.readme, replaceFieldTable(readme, fieldTable(schema))]);
  }
  let stale = 0;
  for (const [path, text] of wanted) {
    const current = await Deno.readTextFile(path).catch(() => "");
    if (tablesAligned(current) === tablesAligned(text)) continue;
    if (check) {
      stale++;
      io.err(`${path} is out of date: run deno task schema`);
    } else {
      await Deno.writeTextFile(path, text);
      io.err(`wrote ${path}`);
    }
  }
  if (check && stale === 0) io.err(`${wanted.map(([p]) => p).join(" and ")} up to date`);
  return stale > 0 ? 1 : EXIT.ok;
}

/** Drops the padding `deno fmt` adds to Markdown tables, so a formatted README compares equal. */
function tablesAligned(text: string): string {
  return text.split("\n").map((l) =>
    l.startsWith("|") ? l.replace(/ *\| */g, "|").replace(/-{3,}/g, "---") : l
  ).join("\n");
}

/** The JSON Schema of the pipeline format, generated from the zod schema (input side). */
export function pipelineJsonSchema(
  targets: readonly TargetDefinition[] = TARGETS,
): Record<string, unknown> {
  const schema = z.toJSONSchema(pipelineSchemaFor(targets), {
    io: "input",
    unrepresentable: "any",
  });
  return {
    ...schema,
    $id: "https://github.com/bulkrun/runner/schema/pipeline.schema.json",
    title: "Pipeline file",
    description: "A declarative bulk-load pipeline: source file, target API, mappings, polling",
  };
}
