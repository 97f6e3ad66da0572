/**
 * The `target` section for `api: workspan`.
 *
 * @module
 */
import { z } from "zod";
import { baseUrl, nonEmpty, secret, volatile } from "../../config/mod.ts";
import { commonTargetFields, concurrency } from "../_common.ts";

const auth = volatile(
  z.discriminatedUnion("type", [
    z.strictObject({
      type: z.literal("bearer"),
      token: secret(nonEmpty).meta({ description: "Static API token; use ${ENV_VAR}" }),
    }),
    z.strictObject({
      type: z.literal("client_credentials"),
      client_id: secret(nonEmpty),
      client_secret: secret(nonEmpty),
      token_url: baseUrl.optional().meta({ description: "Default: <base_url>/oauth/token" }),
      env_host: z.string().optional().meta({
        description: "WorkSpan app host sent as the x-ws-env header of the token request",
      }),
    }),
    z.strictObject({ type: z.literal("none") }),
  ]).meta({ description: "bearer | client_credentials | none" }),
);

/** The `target` section for `api: workspan`. */
export const workspanSchema = z.strictObject({
  api: z.literal("workspan"),
  base_url: baseUrl.default("https://api-sandbox.workspan.com").meta({
    description: "API host; production is https://api.workspan.com",
  }),
  integration_id: nonEmpty.meta({ description: "Integration configured in the WorkSpan app" }),
  content_type: z.enum(["json", "csv"]).default("json").meta({
    description: "Wire format of each upload",
  }),
  batch_size: z.number().int().min(1).max(1_000_000).default(5000).meta({
    description: "Rows per upload (one execution each)",
  }),
  concurrency: concurrency(16, "Executions in flight at once"),
  auth,
  ...commonTargetFields,
});

/** A validated WorkSpan target section. */
export type WorkspanConfig = z.output<typeof workspanSchema>;
