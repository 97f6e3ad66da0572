/**
 * The run report for GitHub Actions: a Markdown job summary (`$GITHUB_STEP_SUMMARY`), workflow
 * command annotations (`::error file=...,line=...::...`), step outputs (`$GITHUB_OUTPUT`) and log
 * groups. Everything is a pure function of a `Summary` except {@linkcode writeGithubReport} and
 * {@linkcode writeGithubFailure}, which take their file appender injected.
 *
 * - `env.ts`: whether this is Actions, its files, paths relative to the checkout, links
 * - `workflow_commands.ts`: `::command::` lines and their escaping
 * - `job_summary.ts` (with `markdown.ts` and `advice.ts`): the Markdown section and its advice
 * - `annotations.ts`: annotations on source and pipeline lines
 * - `outputs.ts`: step outputs
 * - `write.ts`: all of it written, secrets hidden
 *
 * @example
 * await writeGithubReport(summary, { env: (n) => Deno.env.get(n), appendFile, secrets: plan.secrets });
 *
 * @module
 */
export {
  type GithubEnvironment,
  githubEnvironment,
  type GithubReportOptions,
  relativeToWorkspace,
} from "./env.ts";
export {
  endGroup,
  escapeData,
  escapeProperty,
  resumeCommands,
  startGroup,
  stopCommands,
  workflowCommand,
} from "./workflow_commands.ts";
export { escapeMarkdown } from "./markdown.ts";
export { statusWord } from "./_text.ts";
export { nextSteps, startAdvice } from "./advice.ts";
export { failureSummary, jobSummary, type StartFailure } from "./job_summary.ts";
export { annotateDiagnostics, annotateStartFailure, annotations } from "./annotations.ts";
export { formatOutputs, outputValues } from "./outputs.ts";
export {
  GITHUB_ESCAPES,
  type GithubReportDeps,
  type GithubReportResult,
  writeGithubFailure,
  writeGithubReport,
} from "./write.ts";
