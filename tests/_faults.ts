/**
 * What the two fault-matrix files share: the 30 generated rows' keys, fast retries, and which
 * keys a summary reports unknown.
 */
import type { Summary } from "./_harness.ts";

/** Rows per fault case. */
export const ROWS = 30;
/** The keys of `opportunitiesCsv(ROWS)`, in line order (line 2 holds KEYS[0]). */
export const KEYS = Array.from({ length: ROWS }, (_, i) => `op${String(i).padStart(6, "0")}`);
/** A `target.retries` line that keeps fault cases quick. */
export const FAST_RETRIES = "  retries: { attempts: 4, base_delay: 10ms, max_delay: 100ms }";

/** Lines 2..31 hold KEYS[0..29]; a key is "reported unknown" when its line is in an unknown batch. */
export function unknownKeys(s: Summary): Set<string> {
  const out = new Set<string>();
  for (const b of s.batches) {
    if (b.status !== "unknown") continue;
    for (let line = b.first_line; line <= b.last_line; line++) out.add(KEYS[line - 2]!);
  }
  return out;
}
