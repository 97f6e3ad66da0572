/**
 * Hiding secrets in what the runner prints and writes. Only values that came from secrets count
 * (the plan's `secrets`: values interpolated into fields the target marks secret), so ordinary
 * data is never masked by accident.
 *
 * Redact values before serialising them ({@linkcode redactDeep} over the object, then
 * `JSON.stringify` or render): replacing inside finished text can corrupt it (a secret `1000`
 * would turn `"read":1000` into `"read":***`) and miss a secret that escaping respelled.
 *
 * @module
 */

/** What replaces a secret. */
export const MASK = "***";

/** Secrets shorter than this are not hidden: masking every `42` would garble the report. */
export const MIN_SECRET_LENGTH = 4;

/** An escaping a sink applies to text (Markdown, workflow commands), so a secret may be spelled so. */
export type Escape = (text: string) => string;

/** The secret inside a JSON string: `"` and `\` and control characters escaped. */
const jsonSpelling: Escape = (s) => JSON.stringify(s).slice(1, -1);

/**
 * Every way a secret may be spelled in a string: as is, JSON-escaped (an API body echoed in a
 * message), URL-encoded (a token in a query string), and in each of `escapes`. Longest first, so
 * a spelling is never half-replaced through a shorter one inside it.
 */
function spellings(secrets: readonly string[], escapes: readonly Escape[]): string[] {
  const all = new Set<string>();
  for (const s of secrets) {
    if (s.length < MIN_SECRET_LENGTH) continue;
    for (const e of [(x: string) => x, jsonSpelling, encodeURIComponent, ...escapes]) {
      const spelled = e(s);
      if (spelled.length >= MIN_SECRET_LENGTH) all.add(spelled);
    }
  }
  return [...all].sort((a, b) => b.length - a.length);
}

/**
 * Replaces every secret in `text`, in each of its spellings, with `***`.
 *
 * @param escapes escapings the text may have been through besides JSON and URL encoding
 * @example
 * redact('token "ab\\"cd" refused', ['ab"cd']) // 'token "***" refused'
 */
export function redact(
  text: string,
  secrets: readonly string[],
  escapes: readonly Escape[] = [],
): string {
  let out = text;
  for (const s of spellings(secrets, escapes)) out = out.replaceAll(s, MASK);
  return out;
}

/**
 * Replaces every secret in every string (values and keys) of plain data, as JSON holds it, with
 * `***`, leaving numbers, booleans and the shape alone. Serialise the result, never the other way round.
 *
 * @param escapes as for {@linkcode redact}
 * @example
 * JSON.stringify(redactDeep({ reason: "key abcd refused", read: 1000 }, ["abcd", "1000"]))
 * // '{"reason":"key *** refused","read":1000}'
 */
export function redactDeep<T>(
  value: T,
  secrets: readonly string[],
  escapes: readonly Escape[] = [],
): T {
  const words = spellings(secrets, escapes);
  if (words.length === 0) return value;
  const hide = (text: string) => {
    let out = text;
    for (const s of words) if (out.includes(s)) out = out.replaceAll(s, MASK);
    return out;
  };
  // Copies only what holds a secret: a run's journal event can carry 30,000 failed rows, and
  // copying every one of them for each event cost more than writing it.
  const walk = (v: unknown): unknown => {
    if (typeof v === "string") return hide(v);
    if (Array.isArray(v)) {
      let out: unknown[] | undefined;
      for (let i = 0; i < v.length; i++) {
        const x = walk(v[i]);
        if (x !== v[i]) (out ??= v.slice())[i] = x;
      }
      return out ?? v;
    }
    if (v !== null && typeof v === "object") {
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o);
      let out: [string, unknown][] | undefined;
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]!;
        const hk = hide(k);
        const hx = walk(o[k]);
        if (!out && (hk !== k || hx !== o[k])) out = keys.slice(0, i).map((p) => [p, o[p]]);
        out?.push([hk, hx]);
      }
      return out ? Object.fromEntries(out) : v;
    }
    return v;
  };
  return walk(value) as T;
}
