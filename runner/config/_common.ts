/**
 * Schema pieces shared by the pipeline schema and the targets' own schemas.
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

/** Extra static HTTP headers (API gateway keys and the like); values are treated as secrets. */
export const headers = z
  .record(
    z.string().regex(/^[A-Za-z0-9-]+$/, { error: "Not a valid HTTP header name" }),
    z.string(),
  )
  .optional()
  .meta({ description: "Extra HTTP headers sent with every request; values are never printed" });

/** Retry budget for requests that are safe to repeat (and uploads the server provably refused). */
export const retries = z
  .strictObject({
    attempts: z.number().int().min(1).max(20).default(5).meta({
      description: "Attempts in all, the first included",
    }),
    base_delay: duration("500ms", "First backoff (doubles each retry, with full jitter)"),
    max_delay: duration("30s", "Longest backoff; a Retry-After answer is honoured up to this"),
  })
  .prefault({})
  .meta({ description: "Retries of status checks, token requests, downloads and refused uploads" });

/** Whether uploads whose fate is unknown may be sent again (only safe for upserts). */
export const resendUncertain = z.boolean().default(false).meta({
  description:
    "Resend a batch whose upload may or may not have reached the API (timeout or reset after sending, 5xx). Only safe when loading the same row twice is harmless (upsert)",
});

/** Settings every target shares. */
export const commonTargetFields = {
  headers,
  request_timeout: duration("2m", "Longest wait for one HTTP answer"),
  retries,
  resend_uncertain: resendUncertain,
  allow_http: z.boolean().default(false).meta({
    description:
      "Allow plain http:// to a host other than localhost (credentials travel unencrypted)",
  }),
};
