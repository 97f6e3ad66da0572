/**
 * Small text helpers the job summary and the annotations share.
 *
 * @module
 */
import type { RunStatus, Summary } from "../summary.ts";

/** Shortens a text to `max` characters, marking the cut. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** The status as one capitalised word or two: `COMPLETED WITH ERRORS`. */
export function statusWord(status: RunStatus | "not_started"): string {
  return status.replaceAll("_", " ").toUpperCase();
}

/** Total failed rows not shown when `shown` of `s.errors` are (the summary itself may cap). */
export function notShown(s: Summary, shown: number): number {
  return s.errors.length - shown + s.errors_omitted;
}
