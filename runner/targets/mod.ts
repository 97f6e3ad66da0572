/**
 * The target registry: one line per API. The pipeline schema's `target` section is the union of
 * the targets' own schemas, told apart by `api`.
 *
 * @module
 */
import { z } from "zod";
import { biginSchema, createBiginTarget } from "./bigin.ts";
import { createWorkspanTarget, workspanSchema } from "./workspan.ts";
import type { RowShape, Target } from "./types.ts";

export type * from "./types.ts";

/** The `target` section of a pipeline file. */
export const targetSchema = z.discriminatedUnion("api", [workspanSchema, biginSchema]);

/** A validated `target` section. */
export type TargetConfig = z.output<typeof targetSchema>;

/** Builds the target a pipeline's `target` section describes. */
export function createTarget(config: TargetConfig, shape: RowShape): Target {
  switch (config.api) {
    case "workspan":
      return createWorkspanTarget(config, shape);
    case "bigin":
      return createBiginTarget(config, shape);
  }
}

/** Every secret value in a target section (tokens, client secrets, header values). */
export function targetSecrets(config: TargetConfig): string[] {
  const out: string[] = [];
  const auth = config.auth as Record<string, unknown>;
  for (const k of ["token", "client_secret", "refresh_token", "client_id"]) {
    const v = auth[k];
    if (typeof v === "string" && v.length > 0) out.push(v);
  }
  for (const v of Object.values(config.headers ?? {}) as string[]) if (v.length > 0) out.push(v);
  return out;
}
