/**
 * Loose readers for API answers: the targets read JSON defensively, so a number sent as a string
 * or a blank field reads as what it means rather than failing.
 *
 * @module
 */

/** The value as an object, or `undefined` when it is not one (arrays are not objects here). */
export function obj(v: unknown): Record<string, unknown> | undefined {
  return v && typeof v === "object" && !Array.isArray(v) ? v as Record<string, unknown> : undefined;
}

/** The first of `names` that holds a finite number (or a numeric string) in `o`. */
export function num(
  o: Record<string, unknown> | undefined,
  ...names: string[]
): number | undefined {
  for (const n of names) {
    const v = o?.[n];
    if (typeof v === "number" && Number.isFinite(v)) return v;
    if (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))) return Number(v);
  }
  return undefined;
}

/** A non-blank string (trimmed) or a finite number as text; otherwise `undefined`. */
export function str(v: unknown): string | undefined {
  if (typeof v === "string" && v.trim() !== "") return v.trim();
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  return undefined;
}
