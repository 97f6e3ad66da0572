/**
 * The run report for GitHub Actions: a Markdown job summary (`$GITHUB_STEP_SUMMARY`), workflow
 * command annotations (`::error file=...,line=...::...`), step outputs (`$GITHUB_OUTPUT`) and log
 * groups. Everything here is a pure function of a {@linkcode Summary} except
 * {@linkcode writeGithubReport} and {@linkcode writeGithubFailure}, which take their file
 * appender injected.
 *
 * GitHub shows at most 10 error and 10 warning annotations per step (50 per job) and keeps at most
 * 1 MiB of summary per step, so annotations and tables are capped and long texts clipped; the
 * rejects file and the JSON summary (uploaded as artifacts) have everything.
 *
 * @module
 */
import type { Diagnostic } from "../errors.ts";
import { redact } from "./human.ts";
import { COUNT_ORDER, type RowError, type RunStatus, type Summary } from "./summary.ts";

/** What the process knows about the GitHub Actions job it may be running in. */
export interface GithubEnvironment {
  /** True inside a GitHub Actions job (`GITHUB_ACTIONS=true`). */
  actions: boolean;
  /** `$GITHUB_STEP_SUMMARY`: the file whose Markdown becomes the job summary. */
  stepSummary?: string;
  /** `$GITHUB_OUTPUT`: the file of the step's outputs. */
  output?: string;
  /** `$GITHUB_WORKSPACE`: the checkout, against which annotation paths are made relative. */
  workspace?: string;
  /** `<server>/<owner>/<repo>/blob/<sha>`: links to files at the commit being run. */
  blobUrl?: string;
  /** `<server>/<owner>/<repo>/actions/runs/<id>`: this run's page (its artifacts). */
  runUrl?: string;
}

/**
 * Reads the GitHub Actions variables. Outside Actions `actions` is false and the rest is absent,
 * so callers write nothing extra.
 *
 * @param env how to read an environment variable, e.g. `(n) => Deno.env.get(n)`
 * @example
 * const gh = githubEnvironment((n) => Deno.env.get(n));
 * if (gh.actions) await writeGithubReport(summary, { env: (n) => Deno.env.get(n), appendFile });
 */
export function githubEnvironment(env: (name: string) => string | undefined): GithubEnvironment {
  if (env("GITHUB_ACTIONS") !== "true") return { actions: false };
  const out: GithubEnvironment = { actions: true };
  const set = (name: string) => {
    const v = env(name);
    return v !== undefined && v !== "" ? v : undefined;
  };
  const stepSummary = set("GITHUB_STEP_SUMMARY");
  const output = set("GITHUB_OUTPUT");
  const workspace = set("GITHUB_WORKSPACE");
  const server = set("GITHUB_SERVER_URL") ?? "https://github.com";
  const repo = set("GITHUB_REPOSITORY");
  const sha = set("GITHUB_SHA");
  const runId = set("GITHUB_RUN_ID");
  if (stepSummary) out.stepSummary = stepSummary;
  if (output) out.output = output;
  if (workspace) out.workspace = workspace;
  if (repo && sha) out.blobUrl = `${server}/${repo}/blob/${sha}`;
  if (repo && runId) out.runUrl = `${server}/${repo}/actions/runs/${runId}`;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Workflow commands

/** Escapes the message of a workflow command (`%`, CR, LF), as `@actions/core` does. */
export function escapeData(text: string): string {
  return text.replaceAll("%", "%25").replaceAll("\r", "%0D").replaceAll("\n", "%0A");
}

/** Escapes a property value of a workflow command: as {@linkcode escapeData}, plus `:` and `,`. */
export function escapeProperty(text: string): string {
  return escapeData(text).replaceAll(":", "%3A").replaceAll(",", "%2C");
}

/**
 * Formats one workflow command line; properties that are `undefined` are left out.
 *
 * @example
 * workflowCommand("error", { file: "a.csv", line: 3 }, "Bad date") // "::error file=a.csv,line=3::Bad date"
 */
export function workflowCommand(
  name: string,
  properties: Record<string, string | number | undefined>,
  message: string,
): string {
  const props = Object.entries(properties)
    .filter((e): e is [string, string | number] => e[1] !== undefined)
    .map(([k, v]) => `${k}=${escapeProperty(String(v))}`)
    .join(",");
  return `::${name}${props ? ` ${props}` : ""}::${escapeData(message)}`;
}

/** Starts a collapsible group in the job log; close it with {@linkcode endGroup}. */
export function startGroup(name: string): string {
  return `::group::${escapeData(name)}`;
}

/** Ends the group {@linkcode startGroup} opened. */
export function endGroup(): string {
  return "::endgroup::";
}

/**
 * Stops GitHub from reading workflow commands in the log until {@linkcode resumeCommands} with the
 * same token: wrap output that echoes untrusted text (API messages, source values). Use a token
 * nobody can guess, e.g. `crypto.randomUUID()`.
 */
export function stopCommands(token: string): string {
  return `::stop-commands::${token}`;
}

/** Resumes reading workflow commands after {@linkcode stopCommands}. */
export function resumeCommands(token: string): string {
  return `::${token}::`;
}

// ---------------------------------------------------------------------------------------------
// Shared helpers

/** Options shared by the job summary and the annotations. */
export interface GithubReportOptions {
  /** The pipeline file as given on the command line (`pipelines/x.yaml`). */
  pipelineFile?: string;
  /** The checkout: absolute paths inside it are shown relative to it. */
  workspace?: string;
  /** `<server>/<owner>/<repo>/blob/<sha>`, to link the pipeline file and source lines. */
  blobUrl?: string;
  /** This run's page, to point at its artifacts. */
  runUrl?: string;
  /** Batches listed in the job summary (default 20). */
  maxBatches?: number;
  /** Failed rows listed in the job summary (default 20). */
  maxRows?: number;
  /** Failed rows annotated (default 10: GitHub shows 10 per kind and step). */
  maxAnnotations?: number;
}

/**
 * `path` relative to `workspace` when it is inside it; otherwise `path` unchanged.
 *
 * @example
 * relativeToWorkspace("/home/runner/work/r/r/pipelines/data/a.csv", "/home/runner/work/r/r") // "pipelines/data/a.csv"
 */
export function relativeToWorkspace(path: string, workspace: string | undefined): string {
  if (!workspace) return path;
  const root = workspace.replace(/\/+$/, "");
  if (path.startsWith(root + "/")) return path.slice(root.length + 1);
  if (path.startsWith("./")) return path.slice(2);
  return path;
}

/** Whether a path (after {@linkcode relativeToWorkspace}) names a file of the repository. */
function inRepository(path: string): boolean {
  return !path.startsWith("/") && !path.split("/").includes("..") && !/^[a-z]+:/i.test(path);
}

/** Replaces the workspace prefix everywhere in a sentence (hints carry absolute paths). */
function shortenPaths(text: string, workspace: string | undefined): string {
  if (!workspace) return text;
  return text.replaceAll(workspace.replace(/\/+$/, "") + "/", "");
}

/** Shortens a text to `max` characters, marking the cut. */
function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * Escapes text from users or APIs for Markdown, inline or in a table cell: HTML-significant
 * `& < >` become entities, Markdown punctuation (`\ \` * _ [ ] | ~`) is backslash-escaped so a
 * `|` cannot split a table cell, and line breaks become spaces.
 */
export function escapeMarkdown(text: string): string {
  return text
    .replace(/\r\n?|\n/g, " ")
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replace(/[\\`*_[\]|~]/g, "\\$&");
}

/** An identifier in a code span when it is plain enough, else escaped text. */
function code(text: string): string {
  return /^[\w.:/@+=-]+$/.test(text) ? `\`${text}\`` : escapeMarkdown(text);
}

/** The status as one capitalised word or two: `COMPLETED WITH ERRORS`. */
export function statusWord(status: RunStatus | "not_started"): string {
  return status.replaceAll("_", " ").toUpperCase();
}

const pct = (x: number) => `${Number((x * 100).toFixed(2))}%`;
const num = (n: number) => n.toLocaleString("en-US");

/** `850 ms`, `2.3 s`, `4 min 12 s`, `1 h 5 min`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

const when = (iso: string) => iso.replace("T", " ").replace(/\.\d+Z$|Z$/, " UTC");

/** The link to a repository file, optionally at a line (plain view, so CSV lines have anchors). */
function fileLink(path: string, o: GithubReportOptions, line?: number): string | undefined {
  if (!o.blobUrl || !inRepository(path)) return undefined;
  const encoded = path.split("/").map(encodeURIComponent).join("/");
  return `${o.blobUrl}/${encoded}${line !== undefined ? `?plain=1#L${line}` : ""}`;
}

/** Total failed rows not shown when `shown` of `s.errors` are (the summary itself may cap). */
const notShown = (s: Summary, shown: number) => s.errors.length - shown + s.errors_omitted;

// ---------------------------------------------------------------------------------------------
// Job summary

/**
 * The Markdown section one pipeline adds to the job summary: status, row counts, duration,
 * batches with execution ids, the first failed rows with their source line, problems and what to
 * do next. User and API text is escaped; lists are capped (see the options).
 *
 * @example
 * await Deno.writeTextFile(Deno.env.get("GITHUB_STEP_SUMMARY")!, jobSummary(summary, { pipelineFile }), { append: true });
 */
export function jobSummary(s: Summary, options: GithubReportOptions = {}): string {
  const o = options;
  const maxBatches = o.maxBatches ?? 20;
  const maxRows = o.maxRows ?? 20;
  const c = s.counts;
  const source = relativeToWorkspace(s.source, o.workspace);
  const md: string[] = [];

  md.push(`### ${escapeMarkdown(s.pipeline)}: ${statusWord(s.status)}`, "");
  md.push(
    [
      `**Status** \`${statusWord(s.status)}\` (exit code ${s.exit_code})`,
      `**Target** ${escapeMarkdown(s.target)}`,
      `**Duration** ${formatDuration(s.duration_ms)}`,
      `**Started** ${escapeMarkdown(when(s.started_at))}`,
    ].join(" · "),
    "",
  );
  if (s.reason) md.push(`> ${escapeMarkdown(shortenPaths(s.reason, o.workspace))}`, "");
  const files: string[] = [];
  if (o.pipelineFile) {
    const p = relativeToWorkspace(o.pipelineFile, o.workspace);
    const link = fileLink(p, o);
    files.push(`Pipeline ${link ? `[${code(p)}](${link})` : code(p)}`);
  }
  const sourceLink = fileLink(source, o);
  files.push(`source ${sourceLink ? `[${code(source)}](${sourceLink})` : code(source)}`);
  if (s.resumed) files.push("resumed an unfinished earlier run from the journal");
  md.push(files.join(" · "), "");

  md.push("#### Rows", "");
  const cols: [string, number][] = COUNT_ORDER.map((k) => [k, c[k]]);
  md.push(`| ${cols.map(([k]) => k).join(" | ")} |`);
  md.push(`| ${cols.map(() => "---:").join(" | ")} |`);
  md.push(`| ${cols.map(([, v]) => num(v)).join(" | ")} |`, "");
  md.push(
    `Error rate ${pct(s.error_rate)} (rejected + failed rows / rows read); limit ${
      pct(s.max_error_rate)
    } (\`limits.max_error_rate\`).`,
    "",
  );

  if (s.batches.length > 0) {
    md.push(`#### Batches (${num(s.batches.length)})`, "");
    md.push(
      "| # | source lines | rows | status | execution | succeeded | failed | skipped | polls |",
    );
    md.push("| ---: | --- | ---: | --- | --- | ---: | ---: | ---: | ---: |");
    for (const b of s.batches.slice(0, maxBatches)) {
      const status = b.message
        ? `${escapeMarkdown(b.status)}: ${escapeMarkdown(clip(b.message, 200))}`
        : escapeMarkdown(b.status);
      md.push(
        `| ${b.index + 1} | ${b.first_line}–${b.last_line} | ${num(b.rows)} | ${status} | ${
          b.execution_id ? code(b.execution_id) : "none"
        } | ${num(b.counts.succeeded)} | ${num(b.counts.failed)} | ${
          num(b.counts.skipped)
        } | ${b.polls} |`,
      );
    }
    if (s.batches.length > maxBatches) {
      md.push("", `and ${num(s.batches.length - maxBatches)} more batches (see the JSON summary)`);
    }
    md.push("");
  }

  if (s.errors.length > 0 || s.errors_omitted > 0) {
    const shown = s.errors.slice(0, maxRows);
    const total = s.errors.length + s.errors_omitted;
    md.push(
      `#### ${
        shown.length < total ? `First ${shown.length} of ${num(total)}` : num(total)
      } rows that did not load`,
      "",
    );
    if (shown.length > 0) {
      md.push("| source line | key | field | stage | error |");
      md.push("| ---: | --- | --- | --- | --- |");
      for (const e of shown) md.push(rowLine(e, source, o));
    }
    const more = notShown(s, shown.length);
    if (more > 0) {
      md.push("", `and ${num(more)} more: the rejects file has every one${artifactsAt(o)}`);
    }
    md.push("");
  }

  if (s.problems.length > 0) {
    md.push("#### Problems", "");
    for (const p of s.problems) md.push(`- ${escapeMarkdown(shortenPaths(p, o.workspace))}`);
    md.push("");
  }

  const next = nextSteps(s, o);
  if (next.length > 0) {
    md.push("#### What to do next", "");
    for (const n of next) md.push(`- ${n}`);
    md.push("");
  }
  return md.join("\n") + "\n";
}

function rowLine(e: RowError, source: string, o: GithubReportOptions): string {
  const link = e.source_line !== undefined ? fileLink(source, o, e.source_line) : undefined;
  const line = e.source_line === undefined
    ? "unknown"
    : link
    ? `[${e.source_line}](${link})`
    : String(e.source_line);
  const message = clip(e.code ? `${e.message} (${e.code})` : e.message, 300);
  return `| ${line} | ${e.key !== undefined ? escapeMarkdown(clip(e.key, 80)) : ""} | ${
    e.field !== undefined ? escapeMarkdown(clip(e.field, 80)) : ""
  } | ${e.stage} | ${escapeMarkdown(message)} |`;
}

const artifacts = (o: GithubReportOptions) =>
  o.runUrl ? `[this run's artifacts](${o.runUrl}#artifacts)` : "this run's artifacts";
const artifactsAt = (o: GithubReportOptions) => `, in ${artifacts(o)}`;

/**
 * What to do next: the summary's own hints, then advice for the status. Returned as Markdown
 * list items (already escaped).
 */
export function nextSteps(s: Summary, o: GithubReportOptions = {}): string[] {
  const rejects = s.outputs.rejects;
  // The hint naming the rejects file gets where to download it: the path is the runner's.
  const out = s.hints.map((h) =>
    escapeMarkdown(shortenPaths(h, o.workspace)) +
    (rejects && h.includes(rejects) ? ` (download it from ${artifacts(o)})` : "")
  );
  const c = s.counts;
  const target = escapeMarkdown(s.target);
  if (s.status === "timed_out") {
    out.push(
      `The executions listed above were still running when the runner stopped waiting ` +
        `(\`polling.timeout\`). The next scheduled run resumes from the journal (\`.state/\`): it ` +
        `collects their results without uploading them again, then sends the rows not yet sent. ` +
        `Do not start over with \`fresh\`, which would send them again.`,
    );
  }
  if (c.unknown > 0) {
    out.push(
      `${
        num(c.unknown)
      } rows were in uploads whose answer never came: check in ${target} whether ` +
        `they were loaded before sending them again (their source lines are in the batches ` +
        `table). The runner never resends them on its own.`,
    );
  }
  if (s.status === "failed" && s.error_rate > s.max_error_rate) {
    out.push(
      `${pct(s.error_rate)} of the rows did not load, above \`limits.max_error_rate\` ` +
        `${pct(s.max_error_rate)}: correct them in the source file (or the mappings) using the ` +
        `rejects file${artifactsAt(o)}, which has each row with its source line and error, then ` +
        `run again.`,
    );
  } else if (s.status === "completed_with_errors" && c.rejected + c.failed + c.skipped > 0) {
    out.push(
      `The run passed: the ${num(c.rejected + c.failed + c.skipped)} rows that did not load are ` +
        `within \`limits.max_error_rate\` ${pct(s.max_error_rate)}. Correct them in the source ` +
        `for the next load.`,
    );
  }
  if (s.status === "failed" && s.exit_code === 3 && c.unknown === 0) {
    out.push(
      `The API refused the request or could not be reached: check the repository secrets and ` +
        `\`base_url\`.`,
    );
  }
  if (s.problems.length > 0) {
    out.push(
      `The counts did not add up (see Problems): keep this run's JSON summary and check the ` +
        `target before loading this file again.`,
    );
  }
  if (c.unsent > 0 && s.status !== "timed_out") {
    out.push(
      `${num(c.unsent)} rows were not sent because the run stopped; the next run resumes from ` +
        `the journal and sends them.`,
    );
  }
  if (out.length === 0 && s.status === "succeeded") out.push("Nothing: every row loaded.");
  return out;
}

// ---------------------------------------------------------------------------------------------
// Annotations

/**
 * Workflow command annotations for a run: one for the run itself when it did not succeed, one per
 * failed row (at its source line; `::error` when the run failed, `::warning` when it stayed
 * within `max_error_rate`) up to `maxAnnotations`, then one warning counting the rest, and a
 * warning per problem. Print them on stdout or stderr of the step.
 */
export function annotations(s: Summary, options: GithubReportOptions = {}): string[] {
  const o = options;
  const max = o.maxAnnotations ?? 10;
  const title = s.pipeline;
  const out: string[] = [];
  const source = relativeToWorkspace(s.source, o.workspace);
  const annotatable = inRepository(source);
  if (s.status !== "succeeded") {
    const level = s.status === "completed_with_errors" ? "notice" : "error";
    out.push(
      workflowCommand(
        level,
        { title },
        `${statusWord(s.status)}${
          s.reason ? `: ${shortenPaths(s.reason, o.workspace)}` : ""
        } (exit code ${s.exit_code})`,
      ),
    );
  }
  const level = s.status === "completed_with_errors" ? "warning" : "error";
  const shown = s.errors.slice(0, max);
  for (const e of shown) {
    const where = annotatable
      ? { file: source, line: e.source_line }
      : { file: undefined, line: undefined };
    const place = !annotatable && e.source_line !== undefined ? `${source}:${e.source_line}: ` : "";
    const what = [
      e.key !== undefined ? `row "${clip(e.key, 80)}"` : "",
      e.field !== undefined ? `field "${clip(e.field, 80)}"` : "",
    ].filter(Boolean).join(", ");
    const message = clip(`${e.message}${e.code ? ` (${e.code})` : ""}`, 500);
    out.push(
      workflowCommand(
        level,
        { ...where, title },
        `${place}${what ? `${what}: ` : ""}${message} [${e.stage}]`,
      ),
    );
  }
  const more = notShown(s, shown.length);
  if (more > 0) {
    out.push(
      workflowCommand(
        "warning",
        { title },
        `${more} more failed rows, see the rejects file${
          s.outputs.rejects ? ` (${relativeToWorkspace(s.outputs.rejects, o.workspace)})` : ""
        }`,
      ),
    );
  }
  for (const p of s.problems) {
    out.push(workflowCommand("warning", { title }, shortenPaths(p, o.workspace)));
  }
  return out;
}

/**
 * `::error` annotations for pipeline validation problems, at their line and column, so a pull
 * request shows them on the changed line.
 *
 * @param file the pipeline file, relative to the repository root (`pipelines/x.yaml`)
 * @example
 * for (const l of annotateDiagnostics(err.file, err.diagnostics)) io.out(l);
 */
export function annotateDiagnostics(file: string, diagnostics: readonly Diagnostic[]): string[] {
  return diagnostics.map((d) =>
    workflowCommand(
      "error",
      { file, line: d.line, col: d.column, title: d.code },
      d.message,
    )
  );
}

// ---------------------------------------------------------------------------------------------
// Step outputs

/** Values a later step can read as `steps.<id>.outputs.<name>`. */
export function outputValues(
  s: Summary,
  workspace?: string,
): Record<string, string | number> {
  const c = s.counts;
  return {
    pipeline: s.pipeline,
    status: s.status,
    exit_code: s.exit_code,
    reason: s.reason ?? "",
    read: c.read,
    rejected: c.rejected,
    sent: c.sent,
    succeeded: c.succeeded,
    failed: c.failed,
    skipped: c.skipped,
    pending: c.pending,
    unknown: c.unknown,
    unsent: c.unsent,
    error_rate: s.error_rate,
    summary_file: s.outputs.summary ? relativeToWorkspace(s.outputs.summary, workspace) : "",
    rejects_file: s.outputs.rejects ? relativeToWorkspace(s.outputs.rejects, workspace) : "",
  };
}

/**
 * Formats outputs for `$GITHUB_OUTPUT`: `name=value` lines, or for a value with a line break the
 * `name<<DELIMITER` form with a delimiter that does not occur in the value.
 *
 * @param newDelimiter makes a fresh delimiter (injected for tests; default random)
 */
export function formatOutputs(
  values: Record<string, string | number>,
  newDelimiter: () => string = () => `ghadelimiter_${crypto.randomUUID()}`,
): string {
  let text = "";
  for (const [name, raw] of Object.entries(values)) {
    const value = String(raw);
    if (!/[\r\n]/.test(value)) {
      text += `${name}=${value}\n`;
      continue;
    }
    let delimiter = newDelimiter();
    while (value.includes(delimiter) || name.includes(delimiter)) delimiter = newDelimiter();
    text += `${name}<<${delimiter}\n${value}\n${delimiter}\n`;
  }
  return text;
}

// ---------------------------------------------------------------------------------------------
// Writing it all

/** How {@linkcode writeGithubReport} reaches the outside world. */
export interface GithubReportDeps {
  /** Reads an environment variable (`(n) => Deno.env.get(n)`). */
  env: (name: string) => string | undefined;
  /** Appends text to a file, creating it (`(p, t) => Deno.writeTextFile(p, t, { append: true })`). */
  appendFile: (path: string, text: string) => Promise<void>;
  /** Where annotation lines go (stderr keeps `--json` stdout clean); none printed if absent. */
  log?: (line: string) => void;
  /** The pipeline file as given on the command line. */
  pipelineFile?: string;
  /** Values replaced with `***` in everything written (the plan's secrets). */
  secrets?: readonly string[];
  /** Passed on to {@linkcode jobSummary} and {@linkcode annotations}. */
  options?: Omit<GithubReportOptions, "pipelineFile" | "workspace" | "blobUrl" | "runUrl">;
  /** Delimiter maker for multi-line outputs (tests). */
  newDelimiter?: () => string;
}

/**
 * Replaces every secret in every string of a value (a summary, a diagnostic) with `***`. Done
 * before rendering, because escaping for Markdown or workflow commands could change how a secret
 * is spelled (`a_b` becomes `a\\_b`) and hide it from a redaction of the finished text.
 */
export function redactDeep<T>(value: T, secrets: readonly string[]): T {
  if (secrets.length === 0) return value;
  const walk = (v: unknown): unknown => {
    if (typeof v === "string") return redact(v, secrets);
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === "object") {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    }
    return v;
  };
  return walk(value) as T;
}

/** What {@linkcode writeGithubReport} did. */
export interface GithubReportResult {
  /** False outside GitHub Actions: nothing was written or printed. */
  actions: boolean;
  /** The job-summary Markdown appended, if any. */
  summary?: string;
  /** The `$GITHUB_OUTPUT` text appended, if any. */
  outputs?: string;
  /** The annotation lines (printed through `log` when given). */
  annotations: string[];
}

/**
 * Reports a run to GitHub Actions: appends the job summary to `$GITHUB_STEP_SUMMARY`, the outputs
 * to `$GITHUB_OUTPUT`, and prints the annotations through `log`. Does nothing outside Actions.
 * With several pipelines in one step, each appends its own section; outputs are those of the last.
 */
export async function writeGithubReport(
  summary: Summary,
  deps: GithubReportDeps,
): Promise<GithubReportResult> {
  const gh = githubEnvironment(deps.env);
  if (!gh.actions) return { actions: false, annotations: [] };
  const s = redactDeep(summary, deps.secrets ?? []);
  const hide = (t: string) => redact(t, deps.secrets ?? []);
  const o: GithubReportOptions = {
    ...deps.options,
    ...(deps.pipelineFile !== undefined ? { pipelineFile: deps.pipelineFile } : {}),
    ...(gh.workspace ? { workspace: gh.workspace } : {}),
    ...(gh.blobUrl ? { blobUrl: gh.blobUrl } : {}),
    ...(gh.runUrl ? { runUrl: gh.runUrl } : {}),
  };
  const result: GithubReportResult = { actions: true, annotations: [] };
  if (gh.stepSummary) {
    result.summary = hide(jobSummary(s, o));
    await deps.appendFile(gh.stepSummary, result.summary);
  }
  if (gh.output) {
    const values = Object.fromEntries(
      Object.entries(outputValues(s, gh.workspace)).map(([k, v]) => [k, hide(String(v))]),
    );
    result.outputs = formatOutputs(values, deps.newDelimiter);
    await deps.appendFile(gh.output, result.outputs);
  }
  result.annotations = annotations(s, o).map(hide);
  for (const l of result.annotations) deps.log?.(l);
  return result;
}

/** A pipeline that could not start: an invalid file, a missing secret, a journal refusal. */
export interface StartFailure {
  /** The error's message, as printed to the terminal. */
  message: string;
  /** Validation problems, when the pipeline file was invalid. */
  diagnostics?: readonly Diagnostic[];
  /** The exit code the runner maps the error to (2 or 3). */
  exitCode: number;
}

/**
 * The job-summary section for a pipeline that failed before anything was sent, so a scheduled
 * run that stops on a missing secret still explains itself.
 */
export function failureSummary(file: string, f: StartFailure, o: GithubReportOptions = {}): string {
  const p = relativeToWorkspace(file, o.workspace);
  const link = fileLink(p, o);
  const md: string[] = [
    `### ${escapeMarkdown(p)}: NOT STARTED`,
    "",
    `**Status** \`NOT STARTED\` (exit code ${f.exitCode}) · nothing was sent · Pipeline ${
      link ? `[${code(p)}](${link})` : code(p)
    }`,
    "",
    `> ${escapeMarkdown(shortenPaths(f.message, o.workspace))}`,
    "",
  ];
  if (f.diagnostics && f.diagnostics.length > 0) {
    md.push("| line | column | problem |", "| ---: | ---: | --- |");
    for (const d of f.diagnostics.slice(0, o.maxRows ?? 20)) {
      const at = fileLink(p, o, d.line);
      md.push(
        `| ${at ? `[${d.line}](${at})` : d.line} | ${d.column} | ${
          escapeMarkdown(clip(d.message, 300))
        } |`,
      );
    }
    md.push("");
  }
  md.push("#### What to do next", "");
  if (/--fresh/.test(f.message)) {
    md.push(
      "- Run this workflow by hand (Run workflow) with `fresh` ticked to start over, or restore " +
        "the file the unfinished run was loading so the next run can finish it.",
    );
  } else if (/--force/.test(f.message)) {
    md.push(
      "- This file was loaded already; load it again only on purpose, from a terminal with `--force`.",
    );
  } else if (f.diagnostics?.some((d) => d.code === "missing_env")) {
    md.push(
      "- A variable the pipeline uses is not set: add it as a repository (or environment) secret " +
        "and map it in the workflow step's `env:`.",
    );
  } else if (f.diagnostics && f.diagnostics.length > 0) {
    md.push(
      `- Fix the problems above; \`deno task validate\` ${code(p)} shows the same list.`,
    );
  } else {
    md.push(
      "- Check the repository secrets and variables the pipeline names (`${VAR}`) and the error above.",
    );
  }
  md.push("");
  return md.join("\n") + "\n";
}

/**
 * Reports a pipeline that failed before it started: appends {@linkcode failureSummary} to the job
 * summary, outputs `status=not_started` and the exit code, and prints an annotation per
 * diagnostic (or one for the message). Does nothing outside Actions.
 */
export async function writeGithubFailure(
  file: string,
  startFailure: StartFailure,
  deps: Omit<GithubReportDeps, "pipelineFile">,
): Promise<GithubReportResult> {
  const gh = githubEnvironment(deps.env);
  if (!gh.actions) return { actions: false, annotations: [] };
  const failure = redactDeep(startFailure, deps.secrets ?? []);
  const hide = (t: string) => redact(t, deps.secrets ?? []);
  const o: GithubReportOptions = {
    ...deps.options,
    ...(gh.workspace ? { workspace: gh.workspace } : {}),
    ...(gh.blobUrl ? { blobUrl: gh.blobUrl } : {}),
    ...(gh.runUrl ? { runUrl: gh.runUrl } : {}),
  };
  const rel = relativeToWorkspace(file, gh.workspace);
  const result: GithubReportResult = { actions: true, annotations: [] };
  if (gh.stepSummary) {
    result.summary = hide(failureSummary(file, failure, o));
    await deps.appendFile(gh.stepSummary, result.summary);
  }
  if (gh.output) {
    result.outputs = formatOutputs(
      { pipeline_file: hide(rel), status: "not_started", exit_code: failure.exitCode },
      deps.newDelimiter,
    );
    await deps.appendFile(gh.output, result.outputs);
  }
  result.annotations =
    (failure.diagnostics && failure.diagnostics.length > 0
      ? annotateDiagnostics(rel, failure.diagnostics)
      : [workflowCommand("error", { file: inRepository(rel) ? rel : undefined }, failure.message)])
      .map(hide);
  for (const l of result.annotations) deps.log?.(l);
  return result;
}
