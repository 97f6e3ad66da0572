/**
 * What to do next, as the job summary advises it. Every piece of advice is chosen by codes the
 * summary and the runner's errors carry (status, exit code, counts, outputs, error and
 * diagnostic codes), never by reading their message text, so rewording a message cannot change
 * the advice.
 *
 * @module
 */
import type { Diagnostic, ErrorCode } from "../../errors.ts";
import type { Summary } from "../summary.ts";
import { count, formatPercent } from "../../util/format.ts";
import { artifacts, type GithubReportOptions, relativeToWorkspace, shortenPaths } from "./env.ts";
import { codeSpan, escapeMarkdown } from "./markdown.ts";

/**
 * What to do next after a run: the summary's own hints, then advice for the status. Returned as
 * Markdown list items (already escaped).
 */
export function nextSteps(s: Summary, o: GithubReportOptions = {}): string[] {
  const out = s.hints.map((h) => escapeMarkdown(shortenPaths(h, o.workspace)));
  const c = s.counts;
  const target = escapeMarkdown(s.target);
  const aboveLimit = s.status === "failed" && s.error_rate > s.max_error_rate;
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
      `${count(c.unknown, "row was", "rows were")} in uploads whose answer never came: check in ` +
        `${target} whether they were loaded before sending them again (their source lines are in ` +
        `the batches table). The runner never resends them on its own.`,
    );
  }
  if (aboveLimit) {
    out.push(
      `${formatPercent(s.error_rate)} of the rows did not load, above \`limits.max_error_rate\` ` +
        `${formatPercent(s.max_error_rate)}: correct them in the source file (or the mappings) ` +
        `using the rejects file, in ${artifacts(o)}, which has each row with its source line and ` +
        `error, then run again.`,
    );
  } else if (s.status === "completed_with_errors" && c.rejected + c.failed + c.skipped > 0) {
    const bad = c.rejected + c.failed;
    if (bad > 0) {
      out.push(
        `The run passed: the ${count(bad, "row")} that failed (${c.rejected} rejected locally, ` +
          `${c.failed} refused by the API) ${bad === 1 ? "is" : "are"} within ` +
          `\`limits.max_error_rate\` ${formatPercent(s.max_error_rate)}. Correct them in the ` +
          `source for the next load.`,
      );
    }
    if (c.skipped > 0) {
      // A skip is the API declining a row (usually a duplicate), not a fault of the row.
      out.push(
        `${count(c.skipped, "row")} skipped by the API (already there to insert, or missing to ` +
          `update): see their errors; they count against no limit.`,
      );
    }
  }
  if (s.outputs.rejects && s.errors.length + s.errors_omitted > 0 && !aboveLimit) {
    // The rejects path is the runner's; in Actions the file is reached through the artifacts.
    const file = codeSpan(relativeToWorkspace(s.outputs.rejects, o.workspace));
    out.push(
      `Download the rejects file ${file} from ${artifacts(o)}: it has every row that did not ` +
        `load, with its source line and error.`,
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
      `${count(c.unsent, "row was", "rows were")} not sent because the run stopped; the next ` +
        `run resumes from the journal and sends them.`,
    );
  }
  if (out.length === 0 && s.status === "succeeded") out.push("Nothing: every row loaded.");
  return out;
}

/**
 * What to do about a pipeline that could not start, chosen by the error's code and the codes of
 * its diagnostics. Returned as Markdown list items.
 *
 * @param file the pipeline file as shown (relative to the checkout)
 * @param code the `RunnerError` code of the failure, when it was one
 */
export function startAdvice(
  file: string,
  code: ErrorCode | undefined,
  diagnostics: readonly Diagnostic[] = [],
): string[] {
  if (code === "resume_refused") {
    return [
      "Run this workflow by hand (Run workflow) with `fresh` ticked to start over, or restore " +
      "the file the unfinished run was loading so the next run can finish it.",
    ];
  }
  if (code === "already_loaded") {
    return [
      "This file was loaded already; load it again only on purpose, from a terminal with `--force`.",
    ];
  }
  if (diagnostics.some((d) => d.code === "missing_env")) {
    return [
      "A variable the pipeline uses is not set: add it as a repository (or environment) secret " +
      "and map it in the workflow step's `env:`.",
    ];
  }
  if (diagnostics.length > 0) {
    return [
      `Fix the problems above; \`deno task validate\` ${codeSpan(file)} shows the same list.`,
    ];
  }
  return [
    "Check the repository secrets and variables the pipeline names (`${VAR}`) and the error above.",
  ];
}
