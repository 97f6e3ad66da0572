/**
 * The Markdown section a pipeline adds to the job summary (`$GITHUB_STEP_SUMMARY`): status, row
 * counts, batches, the first failed rows with links to their source lines, problems and what to
 * do next; or, for a pipeline that could not start, why and what to do.
 *
 * GitHub keeps at most 1 MiB of summary per step, so tables are capped and long texts clipped;
 * the rejects file and the JSON summary (uploaded as artifacts) have everything.
 *
 * @module
 */
import type { Diagnostic, ErrorCode } from "../../errors.ts";
import { COUNT_ORDER, type RowError, type Summary } from "../summary.ts";
import { count, formatDuration, formatNumber, formatPercent } from "../../util/format.ts";
import {
  artifacts,
  fileLink,
  type GithubReportOptions,
  relativeToWorkspace,
  shortenPaths,
} from "./env.ts";
import { codeSpan, escapeMarkdown } from "./markdown.ts";
import { clip, notShown, statusWord } from "./_text.ts";
import { nextSteps, startAdvice } from "./advice.ts";

const when = (iso: string) => iso.replace("T", " ").replace(/\.\d+Z$|Z$/, " UTC");

/** A repository file as a code span, linked when the commit's files can be linked. */
function linkedFile(path: string, o: GithubReportOptions): string {
  const link = fileLink(path, o);
  return link ? `[${codeSpan(path)}](${link})` : codeSpan(path);
}

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
    files.push(`Pipeline ${linkedFile(relativeToWorkspace(o.pipelineFile, o.workspace), o)}`);
  }
  files.push(`source ${linkedFile(source, o)}`);
  if (s.resumed) files.push("resumed an unfinished earlier run from the journal");
  md.push(files.join(" · "), "");

  md.push("#### Rows", "");
  const cols: [string, number][] = COUNT_ORDER.flatMap((k): [string, number][] => {
    const v = s.counts[k];
    return v === undefined ? [] : [[k, v]];
  });
  md.push(`| ${cols.map(([k]) => k).join(" | ")} |`);
  md.push(`| ${cols.map(() => "---:").join(" | ")} |`);
  md.push(`| ${cols.map(([, v]) => formatNumber(v)).join(" | ")} |`, "");
  md.push(
    `Error rate ${formatPercent(s.error_rate)} (rejected + failed rows / rows read); limit ${
      formatPercent(s.max_error_rate)
    } (\`limits.max_error_rate\`).`,
    "",
  );
  md.push(...batchesSection(s, o.maxBatches ?? 20));
  md.push(...rowsSection(s, source, o));

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
  return capped(md.join("\n") + "\n");
}

/** GitHub refuses a step's job summary above 1 MiB; keep well under it. */
export const MAX_SUMMARY_BYTES = 1024 * 1024 - 4096;

/** Cuts a job summary at a line to stay under {@linkcode MAX_SUMMARY_BYTES}, with a note. */
export function capped(md: string, max = MAX_SUMMARY_BYTES): string {
  const bytes = new TextEncoder().encode(md);
  if (bytes.length <= max) return md;
  const note = "\n\n_Job summary cut to stay under GitHub's 1 MiB limit: the JSON summary and " +
    "the rejects file have everything._\n";
  let cut = new TextDecoder().decode(bytes.subarray(0, max - 200));
  cut = cut.slice(0, Math.max(0, cut.lastIndexOf("\n")));
  return cut + note;
}

/** The batches table, capped at `max` rows. */
function batchesSection(s: Summary, max: number): string[] {
  if (s.batches.length === 0) return [];
  const md = [`#### Batches (${formatNumber(s.batches.length)})`, ""];
  md.push(
    "| # | source lines | rows | status | execution | succeeded | failed | skipped | polls |",
  );
  md.push("| ---: | --- | ---: | --- | --- | ---: | ---: | ---: | ---: |");
  for (const b of s.batches.slice(0, max)) {
    const status = b.message
      ? `${escapeMarkdown(b.status)}: ${escapeMarkdown(clip(b.message, 200))}`
      : escapeMarkdown(b.status);
    md.push(
      `| ${b.index + 1} | ${b.first_line}–${b.last_line} | ${formatNumber(b.rows)} | ${status} | ${
        b.execution_id ? codeSpan(b.execution_id) : "none"
      } | ${formatNumber(b.counts.succeeded)} | ${formatNumber(b.counts.failed)} | ${
        formatNumber(b.counts.skipped)
      } | ${b.polls} |`,
    );
  }
  if (s.batches.length > max) {
    md.push(
      "",
      `and ${count(s.batches.length - max, "more batch", "more batches")} (see the JSON summary)`,
    );
  }
  md.push("");
  return md;
}

/** The table of the first rows that did not load, capped at `o.maxRows`. */
function rowsSection(s: Summary, source: string, o: GithubReportOptions): string[] {
  if (s.errors.length === 0 && s.errors_omitted === 0) return [];
  const shown = s.errors.slice(0, o.maxRows ?? 20);
  const total = s.errors.length + s.errors_omitted;
  const md = [
    `#### ${
      shown.length < total ? `First ${shown.length} of ${formatNumber(total)}` : formatNumber(total)
    } ${total === 1 ? "row that did not load" : "rows that did not load"}`,
    "",
    // Failed and skipped are different things: a skip is usually a duplicate, not a fault.
    `${formatNumber(s.counts.rejected)} rejected locally, ${
      formatNumber(s.counts.failed)
    } failed, ${formatNumber(s.counts.skipped)} skipped by the API.`,
    "",
  ];
  if (shown.length > 0) {
    md.push("| source line | key | field | stage | error |");
    md.push("| ---: | --- | --- | --- | --- |");
    for (const e of shown) md.push(rowLine(e, source, o));
  }
  const more = notShown(s, shown.length);
  if (more > 0) {
    md.push(
      "",
      `and ${formatNumber(more)} more: the rejects file has every one, in ${artifacts(o)}`,
    );
  }
  md.push("");
  return md;
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
  } | ${e.stage === "local" ? "rejected locally" : e.outcome ?? "failed"} | ${
    escapeMarkdown(message)
  } |`;
}

/** A pipeline that could not start: an invalid file, a missing secret, a journal refusal. */
export interface StartFailure {
  /** The error's message, as printed to the terminal. */
  message: string;
  /** The `RunnerError` code, which chooses the advice. */
  code?: ErrorCode;
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
  const md: string[] = [
    `### ${escapeMarkdown(p)}: NOT STARTED`,
    "",
    `**Status** \`NOT STARTED\` (exit code ${f.exitCode}) · nothing was sent · Pipeline ${
      linkedFile(p, o)
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
  for (const a of startAdvice(p, f.code, f.diagnostics)) md.push(`- ${a}`);
  md.push("");
  return md.join("\n") + "\n";
}
