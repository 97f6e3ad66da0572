/**
 * The composition root: the one file that imports every target. Registering a target is one line
 * here; the pipeline schema, `validate`, `plan` and `run` all take their targets from this list
 * (or from a list a test hands in).
 *
 * @module
 */
import { relative } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { pipelineSchemaFor } from "./config/mod.ts";
import { PipelineError } from "./errors.ts";
import { bigin } from "./targets/bigin/mod.ts";
import { describedDefinition } from "./targets/described/mod.ts";
import type { TargetDefinition } from "./targets/mod.ts";
import { workspan } from "./targets/workspan/mod.ts";

/** The targets written in code; their names win over a description file of the same name. */
const BUILT_IN: readonly TargetDefinition[] = [workspan, bigin];

/** Where the API descriptions that ship with the runner are: beside it, not the working folder. */
export const APIS_DIR: URL = new URL("../apis/", import.meta.url);

/**
 * The `target.api` of a description file: its name without `.yaml`, or `<name>-described` when a
 * built-in target has that name (the built-in one stays the default for its API).
 */
export function describedApiName(file: string, taken: ReadonlySet<string>): string {
  const base = file.replace(/\.ya?ml$/, "");
  return taken.has(base) ? `${base}-described` : base;
}

/** A path for messages: relative to the working folder when inside it, else absolute. */
function shown(path: string): string {
  const rel = relative(Deno.cwd(), path);
  return rel.startsWith("..") ? path : rel;
}

/**
 * A description that does not load still gets its name: a pipeline naming it validates against
 * a loose schema and then fails with the description's own problems (file:line:col), while
 * pipelines of other targets are not affected.
 */
function brokenDefinition(api: string, err: PipelineError): TargetDefinition {
  return {
    api,
    title: `${api} (invalid description)`,
    schema: z.looseObject({ api: z.literal(api) }),
    create: () => {
      throw err;
    },
  };
}

/**
 * The target definitions of every `apis/*.yaml` beside the runner, in file name order. Empty
 * when the runner is not on a local disk (run from a URL) or the folder is missing.
 */
export function describedTargets(
  dir: URL = APIS_DIR,
  taken: ReadonlySet<string> = new Set(BUILT_IN.map((t) => t.api)),
): TargetDefinition[] {
  if (dir.protocol !== "file:") return [];
  let files: string[];
  try {
    files = [...Deno.readDirSync(dir)]
      .filter((e) => e.isFile && /\.ya?ml$/.test(e.name))
      .map((e) => e.name)
      .sort();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
  return files.map((name) => {
    const api = describedApiName(name, taken);
    const path = shown(fileURLToPath(new URL(name, dir)));
    try {
      return describedDefinition(path, api);
    } catch (err) {
      if (err instanceof PipelineError) return brokenDefinition(api, err);
      throw err;
    }
  });
}

/** Every target, told apart by `target.api`: the built-in ones, then the described APIs. */
export const TARGETS: readonly TargetDefinition[] = [...BUILT_IN, ...describedTargets()];

/** The pipeline schema for the registered targets. */
export const PIPELINE_SCHEMA = pipelineSchemaFor(TARGETS);
