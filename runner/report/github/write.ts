/**
 * Reporting to GitHub Actions: the job summary, the step outputs and the annotations of a run
 * (or of a pipeline that could not start), with secrets hidden, through an injected file
 * appender. Does nothing outside Actions.
 *
 * @module
 */
import type { Summary } from "../summary.ts";
import { type Escape, redact, redactDeep } from "../../util/redact.ts";
import {
  githubEnvironment,
  type GithubReportOptions,
  relativeToWorkspace,
  withEnvironment,
} from "./env.ts";
import { escapeData, escapeProperty } from "./workflow_commands.ts";
import { escapeMarkdown } from "./markdown.ts";
import { failureSummary, jobSummary, type StartFailure } from "./job_summary.ts";
import { annotateStartFailure, annotations } from "./annotations.ts";
import { formatOutputs, outputValues } from "./outputs.ts";

/**
 * The escapings GitHub's sinks apply (Markdown in the job summary, workflow-command escaping in
 * annotations): a secret already spelled so in a message is hidden too.
 */
export const GITHUB_ESCAPES: readonly Escape[] = [escapeMarkdown, escapeData, escapeProperty];

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
 *
 * Secrets are hidden in the summary before anything is rendered: escaping for Markdown or
 * workflow commands respells a secret (`a_b` becomes `a\_b`), and replacing in the finished text
 * would also hit numbers (a secret `1000` and a count of 1000).
 */
export async function writeGithubReport(
  summary: Summary,
  deps: GithubReportDeps,
): Promise<GithubReportResult> {
  const gh = githubEnvironment(deps.env);
  if (!gh.actions) return { actions: false, annotations: [] };
  const secrets = deps.secrets ?? [];
  const s = redactDeep(summary, secrets, GITHUB_ESCAPES);
  const o = withEnvironment({ ...deps.options }, gh);
  if (deps.pipelineFile !== undefined) {
    o.pipelineFile = redact(deps.pipelineFile, secrets, GITHUB_ESCAPES);
  }
  const result: GithubReportResult = { actions: true, annotations: [] };
  if (gh.stepSummary) {
    result.summary = jobSummary(s, o);
    await deps.appendFile(gh.stepSummary, result.summary);
  }
  if (gh.output) {
    result.outputs = formatOutputs(outputValues(s, gh.workspace), deps.newDelimiter);
    await deps.appendFile(gh.output, result.outputs);
  }
  result.annotations = annotations(s, o);
  for (const l of result.annotations) deps.log?.(l);
  return result;
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
  const secrets = deps.secrets ?? [];
  const failure = redactDeep(startFailure, secrets, GITHUB_ESCAPES);
  const shown = redact(file, secrets, GITHUB_ESCAPES);
  const o = withEnvironment({ ...deps.options }, gh);
  const rel = relativeToWorkspace(shown, gh.workspace);
  const result: GithubReportResult = { actions: true, annotations: [] };
  if (gh.stepSummary) {
    result.summary = failureSummary(shown, failure, o);
    await deps.appendFile(gh.stepSummary, result.summary);
  }
  if (gh.output) {
    result.outputs = formatOutputs(
      { pipeline_file: rel, status: "not_started", exit_code: failure.exitCode },
      deps.newDelimiter,
    );
    await deps.appendFile(gh.output, result.outputs);
  }
  result.annotations = annotateStartFailure(rel, failure.message, failure.diagnostics);
  for (const l of result.annotations) deps.log?.(l);
  return result;
}
