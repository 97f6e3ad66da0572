/**
 * The pipeline-facing `target` schema of a described API, built from its `params`: the params
 * as keys (secret ones marked), plus the settings every target shares.
 *
 * @module
 */
import { z } from "zod";
import { baseUrl, secret, volatile } from "../../config/mod.ts";
import { commonTargetFields } from "../_common.ts";
import { chooseWay } from "./_auth.ts";
import type { Description, Param } from "./schema.ts";

/** Default rows per job when the description sets no lower limit. */
const DEFAULT_BATCH = 10_000;

function paramField(p: Param): z.ZodType {
  let s: z.ZodType;
  switch (p.type) {
    case "number":
      s = z.number();
      break;
    case "boolean":
      s = z.boolean();
      break;
    case "enum":
      s = z.enum(p.values as [string, ...string[]]);
      break;
    case "url":
      s = baseUrl;
      break;
    default:
      s = z.string().min(1, { error: "Must not be empty" });
  }
  if (p.default !== undefined) s = s.default(p.default as never);
  else if (!p.required) s = s.optional();
  // Credentials are secrets, and may change between a run and its resumption.
  if (p.secret) s = volatile(secret(s));
  return s.meta({ description: p.description });
}

/** The `target` section's schema for a described API. */
export function targetSchemaFor(api: string, desc: Description) {
  const rows = desc.limits.rows_per_job;
  const jobs = desc.limits.jobs_in_flight ?? 16;
  const shape: Record<string, z.ZodType> = { api: z.literal(api) };
  for (const [name, p] of Object.entries(desc.params)) shape[name] = paramField(p);
  shape.batch_size = z.number().int().min(1).max(rows ?? 1_000_000_000)
    .default(Math.min(rows ?? DEFAULT_BATCH, DEFAULT_BATCH))
    .meta({ description: `Rows per job${rows ? ` (at most ${rows})` : ""}` });
  shape.concurrency = z.number().int().min(1).max(jobs).default(1)
    .meta({ description: `Jobs in flight at once (at most ${jobs})` });
  Object.assign(shape, commonTargetFields);
  return z.strictObject(shape).superRefine((t, ctx) => {
    for (const [name, p] of Object.entries(desc.params)) {
      for (const [other, values] of Object.entries(p.required_when ?? {})) {
        if (values.includes(String(t[other])) && (t[name] === undefined || t[name] === "")) {
          ctx.addIssue({
            code: "custom",
            path: [name],
            message: `Required when ${other} is "${t[other]}"`,
          });
        }
      }
    }
    if (desc.auth && !chooseWay(desc.auth.ways, t)) {
      ctx.addIssue({
        code: "custom",
        path: [],
        message: `Credentials missing: set ${
          desc.auth.ways.map((w) => w.when.join(" and ")).join(", or ")
        }`,
      });
    }
  });
}
