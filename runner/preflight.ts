/**
 * Preflight: what can be checked against the source file itself before anything is sent. The
 * mapped columns against the source's header (first record only), and the local reject rate of
 * the whole file against `limits.max_error_rate` (for `limits.stop_before_send_on_error_rate`).
 *
 * @module
 */
import type { Plan } from "./compile.ts";
import { closest } from "./util/suggest.ts";
import type { Diagnostic } from "./errors.ts";
import { duplicateFinder, type LineOfKey } from "./execute/batcher.ts";
import { KeyIndex } from "./state/mod.ts";
import { openSource, type Source, type SourceOptions } from "./sources/mod.ts";

/** Problems and warnings found in the source's header. */
export interface ColumnCheck {
  /** Mapped CSV columns the header lacks: every row would fail, so nothing may start. */
  errors: Diagnostic[];
  /** Mapped JSON properties the first record lacks (later records may have them). */
  warnings: Diagnostic[];
}

/**
 * Checks every mapped source column against the source's columns (the CSV header, or the first
 * JSON record's properties), with a did-you-mean, at the mapping's line and column.
 *
 * @param open opens the source (default: the file); the first record is read, nothing more
 */
export async function checkSourceColumns(
  plan: Pick<Plan, "source" | "mappedColumns" | "locate">,
  open: (o: SourceOptions) => Source = openSource,
): Promise<ColumnCheck> {
  const { requiredColumns: _, ...options } = plan.source;
  const source = open(options);
  let first = false;
  try {
    for await (const _rec of source.records()) {
      first = true;
      break;
    }
  } catch {
    // An unreadable source is reported by the run with its line; here it only has no header.
    return { errors: [], warnings: [] };
  }
  const columns = source.columns();
  const out: ColumnCheck = { errors: [], warnings: [] };
  if (columns.length === 0 && !first) return out;
  const have = new Set(columns);
  const csv = plan.source.format === "csv";
  for (const m of plan.mappedColumns) {
    if (have.has(m.column)) continue;
    const near = closest(m.column, columns) ?? overlapping(m.column, columns);
    const what = csv ? "the header of" : "the first record of";
    const d: Diagnostic = {
      code: "unknown_column",
      path: m.path,
      message:
        `Column "${m.column}" (mapped to "${m.field}") is not in ${what} "${plan.source.path}"${
          near !== undefined ? `: did you mean "${near}"?` : `: it has ${list(columns)}`
        }`,
      ...plan.locate(m.path),
    };
    (csv ? out.errors : out.warnings).push(d);
  }
  return out;
}

/** A column one name contains the other of ("Close" for "Close Date"), ignoring case. */
function overlapping(name: string, columns: readonly string[]): string | undefined {
  const n = name.toLowerCase();
  const hits = columns.filter((c) => {
    const l = c.toLowerCase();
    return l.length >= 3 && (n.includes(l) || l.includes(n));
  });
  return hits.length === 1 ? hits[0] : undefined;
}

function list(columns: readonly string[]): string {
  const shown = columns.slice(0, 12).map((c) => `"${c}"`).join(", ");
  return columns.length > 12 ? `${shown}, ... (${columns.length} columns)` : shown;
}

/** Rows read and rejected locally by a scan of the whole source. */
export interface RejectScan {
  read: number;
  rejected: number;
}

/**
 * Reads the whole source, maps every row and counts the rows that would be rejected locally,
 * sending nothing (the first pass of `limits.stop_before_send_on_error_rate`).
 *
 * @param last `duplicates: last_wins`: each key's last line (from `lastLines`)
 * @param newIndex makes the duplicate check's key index (see `duplicateFinder`)
 */
export async function scanRejects(
  plan: Pick<Plan, "source" | "mapper" | "keyOf" | "duplicates">,
  open: (o: SourceOptions) => Source = openSource,
  last?: LineOfKey,
  newIndex?: () => KeyIndex,
): Promise<RejectScan> {
  let read = 0;
  let rejected = 0;
  // The scan's own index: given back (files and all) when the scan ends, not with the run.
  let index: KeyIndex | undefined;
  const dupes = duplicateFinder(plan.duplicates, last, () => {
    index = newIndex?.() ?? new KeyIndex();
    return index;
  });
  try {
    for await (const rec of open(plan.source).records()) {
      read++;
      if (rec.error !== undefined || !plan.mapper.map(rec.values).ok) rejected++;
      else if (dupes(plan.keyOf(rec.values), rec.line)?.reject) rejected++;
    }
  } finally {
    index?.close();
  }
  return { read, rejected };
}

/**
 * The pre-scan of `duplicates: last_wins`: reads and maps the whole source once and keeps, for
 * each key, the line of its last row that reads and maps (so a last row rejected for its values
 * does not make the row before it lose too). Only key → line is kept, in a compact `KeyIndex`
 * (from `newIndex`, by default in memory alone). Undefined for every other policy, which needs
 * no pre-scan.
 */
export async function lastLines(
  plan: Pick<Plan, "source" | "mapper" | "keyOf" | "duplicates">,
  open: (o: SourceOptions) => Source = openSource,
  newIndex: () => KeyIndex = () => new KeyIndex(),
): Promise<KeyIndex | undefined> {
  if (plan.duplicates !== "last_wins") return undefined;
  const last = newIndex();
  for await (const rec of open(plan.source).records()) {
    if (rec.error !== undefined || !plan.mapper.map(rec.values).ok) continue;
    const key = plan.keyOf(rec.values);
    if (key === undefined) continue;
    last.set(key, rec.line);
  }
  return last;
}
