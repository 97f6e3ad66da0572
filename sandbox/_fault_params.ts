/**
 * The parameters each fault kind takes, and how they are checked.
 *
 * @module
 */
import { BODY_PARAMS } from "./_fault_bodies.ts";

/** Parameters of each kind; the first is the one `--fault` syntax gives by position. */
export const FAULT_PARAMS = {
  latency: ["ms"],
  status: ["status", "retryAfter", "body"],
  status_after: ["status", "retryAfter", "body"],
  too_many_requests: ["retryAfter"],
  reset_before: [],
  reset_after: [],
  malformed_json: [],
  token_expired: [],
  stuck: [],
  execution_failed: ["message"],
  job_failed: [],
  job_failed_partway: ["processed", "message"],
  result_missing_rows: ["rows"],
  ...BODY_PARAMS,
} as const satisfies Record<string, readonly string[]>;

/** Parameters a kind that takes them cannot do without. */
export const REQUIRED = new Set(["ms", "status", "rows", "location"]);

/** Parameters that are numbers. */
export const NUMERIC = new Set(["ms", "status", "rows", "processed", "bytes"]);

/** True for a whole number from `min`. */
export function isCount(value: unknown, min: number): boolean {
  return typeof value === "number" && Number.isInteger(value) && value >= min;
}

/** `; it takes a, b`, for messages. */
export function hint(params: readonly string[]): string {
  return params.length > 0 ? `; it takes ${params.join(", ")}` : "; it takes no parameters";
}
