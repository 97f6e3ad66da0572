/**
 * Writing CSV for the wire (WorkSpan `content_type: csv`, Bigin upload files).
 *
 * @module
 */
import type { MappedRow, Value } from "../mapping/mod.ts";

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

/** Serialises rows as CSV with a header line; lines end with CRLF as RFC 4180 says. */
export function toCsv(
  fields: readonly string[],
  rows: readonly MappedRow[],
  delimiter = ",",
): string {
  const out: string[] = [fields.map((f) => csvCell(f, delimiter)).join(delimiter)];
  for (const row of rows) {
    let line = "";
    for (let i = 0; i < fields.length; i++) {
      if (i > 0) line += delimiter;
      line += csvCell(row[fields[i]!], delimiter);
    }
    out.push(line);
  }
  return out.join("\r\n") + "\r\n";
}
