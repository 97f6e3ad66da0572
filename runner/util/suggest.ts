/**
 * "Did you mean" hints for unknown keys and values.
 *
 * @module
 */

/** Levenshtein distance, small inputs only (keys and enum values). */
export function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

/** The closest candidate, when it is close enough to be a likely typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  const w = word.toLowerCase();
  for (const c of candidates) {
    const d = distance(w, c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/** `: did you mean "x"?` or a list of what is allowed. */
export function hint(word: string, candidates: readonly string[]): string {
  const c = closest(word, candidates);
  if (c !== undefined) return `: did you mean "${c}"?`;
  return candidates.length > 0 && candidates.length <= 12
    ? `: expected one of ${candidates.map((x) => `"${x}"`).join(", ")}`
    : "";
}
