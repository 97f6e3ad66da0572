/**
 * The composition root: the one file that imports every target. Registering a target is one line
 * here; the pipeline schema, `validate`, `plan` and `run` all take their targets from this list
 * (or from a list a test hands in).
 *
 * @module
 */
import { pipelineSchemaFor } from "./config/mod.ts";
import { bigin } from "./targets/bigin/mod.ts";
import type { TargetDefinition } from "./targets/mod.ts";
import { workspan } from "./targets/workspan/mod.ts";

/** The built-in targets, told apart by `target.api`. */
export const TARGETS: readonly TargetDefinition[] = [
  workspan,
  bigin,
];

/** The pipeline schema for the built-in targets. */
export const PIPELINE_SCHEMA = pipelineSchemaFor(TARGETS);
