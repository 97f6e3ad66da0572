/**
 * Schema pieces every target's `target` section shares, with their markers: header values are
 * secrets, and credentials, timing and retries may change between a run and its resumption.
 *
 * @module
 */
import { z } from "zod";
import { duration, secret, volatile } from "../config/mod.ts";

/** Extra static HTTP headers (API gateway keys and the like); values are treated as secrets. */
const headers = volatile(secret(
  z
    .record(
      z.string().regex(/^[A-Za-z0-9-]+$/, { error: "Not a valid HTTP header name" }),
      z.string(),
    )
    .optional()
    .meta({ description: "Extra HTTP headers sent with every request; values are never printed" }),
));

/** Retry budget for requests that are safe to repeat (and uploads the server provably refused). */
const retries = volatile(
  z
    .strictObject({
      attempts: z.number().int().min(1).max(20).default(5).meta({
        description: "Attempts in all, the first included",
      }),
      base_delay: duration("500ms", "First backoff (doubles each retry, with full jitter)"),
      max_delay: duration("30s", "Longest backoff; a Retry-After answer is honoured up to this"),
    })
    .prefault({})
    .meta({
      description: "Retries of status checks, token requests, downloads and refused uploads",
    }),
);

/** Whether uploads whose fate is unknown may be sent again (only safe for upserts). */
const resendUncertain = volatile(
  z.boolean().default(false).meta({
    description:
      "Resend a batch whose upload may or may not have reached the API (timeout or reset after sending, 5xx). Only safe when loading the same row twice is harmless (upsert)",
  }),
);

/** Batches in flight at once, up to what the API allows; may change on resumption. */
export function concurrency(max: number, description: string) {
  return volatile(z.number().int().min(1).max(max).default(1).meta({ description }));
}

/** Settings every target shares. */
export const commonTargetFields = {
  headers,
  request_timeout: volatile(duration("2m", "Longest wait for one HTTP answer")),
  retries,
  resend_uncertain: resendUncertain,
  allow_http: volatile(
    z.boolean().default(false).meta({
      description:
        "Allow plain http:// to a host other than localhost (credentials travel unencrypted)",
    }),
  ),
};

/** The shared settings of a validated `target` section, as compile and the executor read them. */
export interface CommonTargetConfig {
  api: string;
  base_url?: string;
  headers?: Record<string, string>;
  request_timeout: number;
  retries: { attempts: number; base_delay: number; max_delay: number };
  resend_uncertain: boolean;
  allow_http: boolean;
}
