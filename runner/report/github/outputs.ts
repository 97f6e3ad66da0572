/**
 * Step outputs (`$GITHUB_OUTPUT`): values a later step of the job reads as
 * `steps.<id>.outputs.<name>`.
 *
 * @module
 */
import type { Summary } from "../summary.ts";
import { relativeToWorkspace } from "./env.ts";

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
    ...(c.unchanged === undefined ? {} : { unchanged: c.unchanged }),
    ...(c.removed === undefined ? {} : { removed: c.removed }),
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
