/**
 * Reading chosen lines of the source again. A batch in flight keeps only its rows' lines and
 * keys (and, once packed, its wire bytes); the rare step that needs a row's values after that —
 * the rejects file's values of rows that failed remotely, the rows an API left unprocessed —
 * reads them back from the source in one pass.
 *
 * @module
 */
import type { Plan } from "../compile.ts";
import type { MappedRow } from "../mapping/mod.ts";
import type { SourceValues } from "../report/rejects.ts";
import type { Source, SourceOptions } from "../sources/mod.ts";
import { own } from "../util/format.ts";

/**
 * The values of the records that start at `lines`, copied so that none keeps a read buffer
 * alive. Records that no longer read are missing from the answer; the pass stops at the last
 * line asked for.
 */
export async function recordsAt(
  source: Source,
  lines: ReadonlySet<number>,
): Promise<Map<number, SourceValues>> {
  const out = new Map<number, SourceValues>();
  let last = 0;
  for (const l of lines) last = Math.max(last, l);
  for await (const rec of source.records()) {
    if (rec.line > last) break;
    if (!lines.has(rec.line) || rec.error !== undefined) continue;
    const values: Record<string, unknown> = {};
    for (const [c, v] of Object.entries(rec.values)) values[c] = typeof v === "string" ? own(v) : v;
    out.set(rec.line, values);
  }
  return out;
}

/** The rows the records at `lines` map to now; a record that no longer maps is missing. */
export async function rowsAt(
  plan: Pick<Plan, "source" | "mapper">,
  open: (o: SourceOptions) => Source,
  lines: ReadonlySet<number>,
): Promise<Map<number, MappedRow>> {
  const out = new Map<number, MappedRow>();
  for (const [line, values] of await recordsAt(open(plan.source), lines)) {
    const r = plan.mapper.map(values);
    if (r.ok) out.set(line, r.row);
  }
  return out;
}
