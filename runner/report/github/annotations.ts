/**
 * Annotations: `::error`/`::warning`/`::notice` workflow commands that GitHub shows on the run
 * and, with a file and line, on the source line or pipeline line they are about.
 *
 * GitHub shows at most 10 error and 10 warning annotations per step (50 per job), so row
 * annotations are capped and one more counts the rest.
 *
 * @module
 */
import type { Diagnostic } from "../../errors.ts";
import type { Summary } from "../summary.ts";
import { count } from "../../util/format.ts";
import {
  type GithubReportOptions,
  inRepository,
  relativeToWorkspace,
  shortenPaths,
} from "./env.ts";
import { workflowCommand } from "./workflow_commands.ts";
import { clip, notShown, statusWord } from "./_text.ts";

/**
 * Workflow command annotations for a run: one for the run itself when it did not succeed, one per
 * failed row (at its source line; `::error` when the run failed, `::warning` when it stayed
 * within `max_error_rate`) up to `maxAnnotations`, then one warning counting the rest, and a
 * warning per problem, also up to `maxAnnotations` with the last counting the rest. Print them on
 * stdout or stderr of the step.
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
    // A config refusal points at the pipeline line to fix, not at the data.
    const c = s.config_error;
    const file = c ? relativeToWorkspace(c.file, o.workspace) : undefined;
    const at = c && file !== undefined && inRepository(file)
      ? { file, line: c.line, col: c.column }
      : {};
    out.push(
      workflowCommand(
        level,
        { ...at, title },
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
        `${count(more, "more failed row", "more failed rows")}, see the rejects file${
          s.outputs.rejects ? ` (${relativeToWorkspace(s.outputs.rejects, o.workspace)})` : ""
        }`,
      ),
    );
  }
  // Capped like the rows: a warning per problem up to `max`, the last one counting the rest.
  const problems = s.problems.length > max ? s.problems.slice(0, max - 1) : s.problems;
  for (const p of problems) {
    out.push(workflowCommand("warning", { title }, shortenPaths(p, o.workspace)));
  }
  const rest = s.problems.length - problems.length;
  if (rest > 0) {
    out.push(
      workflowCommand(
        "warning",
        { title },
        `${count(rest, "more problem", "more problems")}, see the summary's problems`,
      ),
    );
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

/** The annotation for a pipeline that could not start: one per diagnostic, else its message. */
export function annotateStartFailure(
  file: string,
  message: string,
  diagnostics: readonly Diagnostic[] = [],
): string[] {
  return diagnostics.length > 0
    ? annotateDiagnostics(file, diagnostics)
    : [workflowCommand("error", { file: inRepository(file) ? file : undefined }, message)];
}
