/**
 * How the runner writes numbers for people: durations, percentages, counts with their noun.
 * One copy, so the terminal report, the job summary and the run's reasons agree.
 *
 * @module
 */

/**
 * A duration the way a person would say it.
 *
 * @example
 * formatDuration(850) // "850 ms"
 * formatDuration(2279) // "2.3 s"
 * formatDuration(252_000) // "4 min 12 s"
 * formatDuration(3_900_000) // "1 h 5 min"
 */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/**
 * A fraction as a percentage with at most two decimals and no trailing zeros.
 *
 * @example
 * formatPercent(0.015) // "1.5%"
 * formatPercent(0.0068) // "0.68%"
 */
export function formatPercent(fraction: number): string {
  return `${Math.round(fraction * 10_000) / 100}%`;
}

/**
 * A whole number with thousands separators (`12,480`), the same on every machine.
 *
 * @example
 * formatNumber(12480) // "12,480"
 */
export function formatNumber(n: number): string {
  return n.toLocaleString("en-US");
}

/**
 * A count with its noun in the right number.
 *
 * @param plural the plural when it is not `singular` + "s" (`batches`, `entries`)
 * @example
 * count(1, "batch", "batches") // "1 batch"
 * count(2, "batch", "batches") // "2 batches"
 * count(12480, "row") // "12,480 rows"
 */
export function count(n: number, singular: string, plural = `${singular}s`): string {
  return `${formatNumber(n)} ${n === 1 ? singular : plural}`;
}

/**
 * A copy of a string that shares no memory with the string it came from. A value sliced from a
 * 64 KiB read chunk (13 characters or more) keeps the whole chunk alive for as long as it is
 * held; a copy kept past its batch (a key, an error's text) must not. Shorter strings are
 * copies already.
 */
export function own(s: string): string {
  return s.length < 13 ? s : JSON.parse(JSON.stringify(s));
}
