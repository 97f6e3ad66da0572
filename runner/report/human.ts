/**
 * The short report a person reads in a terminal after a run (stderr). Hide secrets in the
 * summary (`redactDeep` in `util/redact.ts`) before rendering it.
 *
 * @module
 */
import { COUNT_ORDER, EXCEPTIONAL_COUNTS, type Summary } from "./summary.ts";
import { count, formatDuration } from "../util/format.ts";

/** Whether to use colour: a TTY and no `NO_COLOR`. */
export interface Style {
  color: boolean;
}

const paint = (on: boolean, code: string, s: string) => (on ? `\x1b[${code}m${s}\x1b[0m` : s);

/**
 * One line of text from outside (API messages, source values): line breaks and control
 * characters become spaces, so nothing can start a line that a CI log reads as a command.
 */
export function oneLine(s: string): string {
  // Control characters are exactly what this removes.
  // deno-lint-ignore no-control-regex
  return s.replace(/[\u0000-\u001f\u007f]+/g, " ");
}

/** Characters of a key shown in a row's line; the summary and the rejects file keep it whole. */
const KEY_CHARS = 40;

/** A key for a row's line: one line, and cut short with its length when longer than `KEY_CHARS`. */
export function shownKey(key: string): string {
  const chars = [...oneLine(key)];
  if (chars.length <= KEY_CHARS) return chars.join("");
  return `${chars.slice(0, KEY_CHARS - 1).join("")}… (${chars.length} characters)`;
}

const STATUS_COLOR: Record<Summary["status"], string> = {
  succeeded: "32",
  completed_with_errors: "33",
  failed: "31",
  timed_out: "35",
};

/**
 * Renders a summary as a few lines: status, counts, batches and the first errors.
 *
 * @example
 * humanReport(summary, { color: false }).join("\n")
 */
export function humanReport(s: Summary, style: Style, maxErrors = 10): string[] {
  const c = s.counts;
  const lines: string[] = [];
  lines.push(
    `${paint(style.color, "1", s.pipeline)} -> ${s.target}: ${
      paint(style.color, STATUS_COLOR[s.status], s.status)
    } in ${formatDuration(s.duration_ms)} (exit ${s.exit_code})`,
  );
  if (s.reason) lines.push(`  ${oneLine(s.reason)}`);
  const cells: [string, number][] = COUNT_ORDER
    .flatMap((k): [string, number][] => {
      const v = c[k];
      return v === undefined || (EXCEPTIONAL_COUNTS.has(k) && v === 0) ? [] : [[k, v]];
    });
  const w = cells.map(([k, v]) => Math.max(k.length, String(v).length));
  lines.push("  " + cells.map(([k], i) => k.padStart(w[i]!)).join("  "));
  lines.push("  " + cells.map(([, v], i) => String(v).padStart(w[i]!)).join("  "));
  if (s.batches.length > 0) {
    const shown = s.batches.slice(0, 8);
    for (const b of shown) {
      lines.push(
        `  batch ${b.index + 1}: lines ${b.first_line}-${b.last_line}, ${
          count(b.rows, "row")
        }, ${b.status}${b.execution_id ? `, execution ${b.execution_id}` : ""}${
          b.polls ? `, ${count(b.polls, "poll")}` : ""
        }${b.message ? ` (${oneLine(b.message)})` : ""}`,
      );
    }
    if (s.batches.length > shown.length) {
      lines.push(`  ... ${count(s.batches.length - shown.length, "more batch", "more batches")}`);
    }
  }
  // Failed and skipped rows are told apart: a skip (a duplicate to insert) is not a failure.
  const failed = s.errors.filter((e) => e.outcome !== "skipped");
  const skipped = s.errors.filter((e) => e.outcome === "skipped");
  const row = (e: Summary["errors"][number]) =>
    `    ${e.source_line !== undefined ? `line ${e.source_line}` : "line ?"}${
      e.key ? ` [${shownKey(e.key)}]` : ""
    }${e.field ? ` field "${oneLine(e.field)}"` : ""} ${
      e.stage === "local" ? "rejected locally" : e.outcome ?? "failed"
    }: ${oneLine(e.message)}${e.code ? ` (${oneLine(e.code)})` : ""}`;
  if (failed.length > 0) {
    lines.push(`  first rows that failed (${c.rejected} rejected locally, ${c.failed} failed):`);
    for (const e of failed.slice(0, maxErrors)) lines.push(row(e));
    const more = c.rejected + c.failed - Math.min(maxErrors, failed.length);
    if (more > 0) lines.push(`    ... ${count(more, "more row")}`);
  }
  if (skipped.length > 0) {
    const why = [...new Set(skipped.map((e) => e.code ?? e.message))].slice(0, 3).join(", ");
    lines.push(`  ${count(c.skipped, "row")} skipped by the API (${oneLine(why)}), first:`);
    for (const e of skipped.slice(0, Math.min(3, maxErrors))) lines.push(row(e));
  }
  for (const p of s.problems) lines.push(`  ${paint(style.color, "31", "problem")}: ${oneLine(p)}`);
  for (const h of s.hints) lines.push(`  ${paint(style.color, "36", "next")}: ${oneLine(h)}`);
  return lines;
}
