/**
 * Field schemas shared by the pipeline schema and the targets' own schemas: durations, URLs,
 * non-empty strings.
 *
 * @module
 */
import { z } from "zod";

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/**
 * Parses a duration such as `200ms`, `5s`, `2m`, `1h` into milliseconds.
 *
 * @returns milliseconds, or `undefined` when the text is not a duration
 */
export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * UNIT_MS[m[2]!]!);
}

/** A duration written `200ms`, `5s`, `2m` or `1h`; parsed to milliseconds. */
export function duration(defaultValue: string, description: string) {
  return z
    .string()
    .regex(DURATION, { error: 'Expected a duration like "200ms", "5s", "2m" or "1h"' })
    .default(defaultValue)
    .transform((s) => parseDuration(s)!)
    .meta({ description });
}

/** An http(s) URL; the trailing slash is dropped so paths can be appended. */
export const baseUrl = z
  .string()
  .refine((s) => {
    try {
      const u = new URL(s);
      return u.protocol === "http:" || u.protocol === "https:";
    } catch {
      return false;
    }
  }, { error: "Expected an http:// or https:// URL" })
  .transform((s) => s.replace(/\/+$/, ""));

/** A non-empty string, the usual shape of identifiers and secrets. */
export const nonEmpty = z.string().min(1, { error: "Must not be empty" });
