/**
 * Writing one CSV cell, shared by the targets' wire formats and the rejects file.
 *
 * @module
 */
import type { Value } from "../mapping/types.ts";

/** Quotes a cell when it holds the delimiter, a quote, a line break or edge spaces (RFC 4180). */
export function csvCell(value: Value | undefined, delimiter = ","): string {
  if (value === null || value === undefined) return "";
  const s = typeof value === "string" ? value : String(value);
  if (
    s.includes(delimiter) || s.includes('"') || s.includes("\n") || s.includes("\r") ||
    (s.length > 0 && (s[0] === " " || s[s.length - 1] === " "))
  ) {
    return `"${s.replaceAll('"', '""')}"`;
  }
  return s;
}
