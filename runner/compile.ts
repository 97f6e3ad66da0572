/**
 * Compile: a validated pipeline becomes a plan of typed steps. Collects every problem the schema
 * alone cannot see (source file missing, date formats, unsafe URLs) before anything is sent.
 *
 * @module
 */
import { identityOf, type LoadedPipeline, type Pipeline, secretValues } from "./config/mod.ts";
import { type Diagnostic, PipelineError, RunnerError } from "./errors.ts";
import { closest, hint } from "./util/suggest.ts";
import { checkMapping, compileMapper, type MappingSpec, type RowMapper } from "./mapping/mod.ts";
import { TARGETS } from "./registry.ts";
import { formatFromPath, type SourceOptions } from "./sources/mod.ts";
import type { CommonTargetConfig, Target, TargetDefinition } from "./targets/mod.ts";

/** Everything a run needs, resolved and checked. */
export interface Plan {
  name: string;
  /** The pipeline file, as given. */
  file: string;
  source: SourceOptions;
  mapper: RowMapper;
  key: string;
  /** The key's value as read from a source record, for reporting rows rejected locally. */
  keyOf: (values: Readonly<Record<string, unknown>>) => string | undefined;
  target: Target;
  polling: Pipeline["polling"];
  maxErrorRate: number;
  /** `limits.stop_before_send_on_error_rate`: scan the whole source before sending anything. */
  stopBeforeSend: boolean;
  /** What to do with a key seen again in the same file (`duplicates`). */
  duplicates: Pipeline["duplicates"];
  output: { summary?: string; rejects?: string; rejectsSpreadsheet?: boolean; maxErrors: number };
  /** Values never to print. */
  secrets: string[];
  /** Line and column of a path in the pipeline file (`["mappings", "Phone"]`), for reports. */
  locate: (path: readonly (string | number)[]) => { line: number; column: number };
  /** Every source column a mapping reads, with the field and the mapping's path. */
  mappedColumns: { field: string; column: string; path: (string | number)[] }[];
  /** Things that are allowed but probably wrong (a field the target does not list). */
  warnings: Diagnostic[];
  /** Retry budget for the target's requests. */
  retry: { attempts: number; baseDelayMs: number; maxDelayMs: number };
  /** Whether uploads of unknown fate may be sent again (`target.resend_uncertain`). */
  resendUncertain: boolean;
  /** `send`: every row, or only rows that changed since the API last confirmed them. */
  send: "all" | "changed";
  /**
   * What decides how rows are batched and where they go (not credentials or timing), so a
   * resumed run can tell whether its journal still applies.
   */
  identity: Record<string, unknown>;
}

/** What compile needs from outside; injected so compile stays testable without files. */
export interface CompileDeps {
  /** File-system facts about the source path. */
  stat: (path: string) => Promise<{ isFile: boolean; isDirectory: boolean } | undefined>;
  /** The targets a pipeline may name (default: the built-in registry). */
  targets?: readonly TargetDefinition[];
}

const defaultDeps: Required<CompileDeps> = {
  targets: TARGETS,
  stat: async (p) => {
    try {
      return await Deno.stat(p);
    } catch {
      return undefined;
    }
  },
};

/** Resolves `path` against the pipeline's folder unless it is absolute. */
export function resolvePath(dir: string, path: string): string {
  if (path.startsWith("/") || /^[A-Za-z]:[\\/]/.test(path)) return path;
  return dir === "." ? path : `${dir}/${path}`;
}

function baseName(file: string): string {
  const b = file.slice(Math.max(file.lastIndexOf("/"), file.lastIndexOf("\\")) + 1);
  return b.replace(/\.(ya?ml)$/i, "");
}

const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

/** Warnings about mapped fields the target does not list, required fields left out, the key. */
function fieldWarnings(
  target: Target,
  mapped: readonly string[],
  key: string,
  locate: LoadedPipeline["locate"],
): Diagnostic[] {
  const warnings: Diagnostic[] = [];
  const warn = (path: (string | number)[], code: string, message: string) =>
    warnings.push({ code, path, message, ...locate(path, true) });
  const fields = target.knownFields?.();
  if (!fields) return warnings;
  for (const f of mapped) {
    if (fields.known.length > 0 && !fields.known.includes(f)) {
      warn(
        ["mappings", f],
        "unknown_field",
        `"${f}" is not a standard field of ${target.api}${hint(f, fields.known)}${
          closest(f, fields.known) ? "" : " (fine if it is a custom field)"
        }`,
      );
    }
  }
  for (const r of fields.required) {
    if (!mapped.includes(r)) {
      warn(["mappings"], "required_field", `${target.api} requires "${r}", which is not mapped`);
    }
  }
  if (fields.key !== undefined && key !== fields.key) {
    warn(
      ["key"],
      "key_field",
      `${target.api} identifies rows by "${fields.key}"; key "${key}" is used only for reports`,
    );
  }
  return warnings;
}

/** The source columns each mapping reads: `from`, the shorthand, and a template's `{Column}`s. */
function mappedColumns(mappings: Record<string, string | MappingSpec>): Plan["mappedColumns"] {
  const out: Plan["mappedColumns"] = [];
  for (const [field, m] of Object.entries(mappings)) {
    if (typeof m === "string") out.push({ field, column: m, path: ["mappings", field] });
    else if (m.from !== undefined) {
      out.push({ field, column: m.from, path: ["mappings", field, "from"] });
    } else if (m.template !== undefined) {
      // `{{` and `}}` are escaped braces, not placeholders.
      const text = m.template.replaceAll("{{", "").replaceAll("}}", "");
      for (const [, column] of text.matchAll(/\{([^{}]+)\}/g)) {
        out.push({ field, column: column!, path: ["mappings", field, "template"] });
      }
    }
  }
  return out;
}

/**
 * Compiles a loaded pipeline into a plan.
 *
 * @throws {PipelineError} with every problem found, each with its line and column
 */
export async function compile(
  loaded: LoadedPipeline,
  deps: Partial<CompileDeps> = {},
): Promise<Plan> {
  const { pipeline: p, locate, file, dir } = loaded;
  const targets = deps.targets ?? TARGETS;
  const definition = targets.find((d) => d.api === p.target.api);
  if (!definition) {
    throw new RunnerError(
      "invalid_pipeline",
      `No target "${p.target.api}" is registered: known are ${
        targets.map((d) => `"${d.api}"`).join(", ")
      }`,
    );
  }
  const problems: Diagnostic[] = [];
  const problem: Problem = (path, code, message) =>
    problems.push({ code, path, message, ...locate(path) });

  const { sourcePath, format } = await checkSource(p, dir, deps.stat ?? defaultDeps.stat, problem);
  for (const [field, m] of Object.entries(p.mappings)) {
    for (const bad of checkMapping(field, m, field === p.key)) {
      problem(["mappings", field, ...bad.path], "invalid_mapping", bad.message);
    }
  }
  const t = p.target as unknown as CommonTargetConfig;
  checkTransport(t, problem);

  if (problems.length > 0) {
    problems.sort((a, b) => a.line - b.line || a.column - b.column);
    throw new PipelineError(file, problems);
  }

  const mappings = p.mappings as Record<string, string | MappingSpec>;
  const mapper = compileMapper(mappings, p.key, p.timezone ? { timezone: p.timezone } : {});
  const shape = {
    key: p.key,
    fields: mapper.fields.map((name) => {
      const m = mappings[name];
      return { name, type: typeof m === "object" ? m.type : "string" as const };
    }),
  };
  const target = definition.create(p.target, shape, {});
  const warnings = fieldWarnings(target, mapper.fields, p.key, locate);
  return {
    name: p.name ?? baseName(file),
    file,
    source: {
      path: sourcePath,
      format: format!,
      delimiter: p.source.delimiter,
      // A mapped column missing from a CSV header is a typo, not a column of empty values.
      ...(format === "csv" ? { requiredColumns: mapper.sourceColumns } : {}),
    },
    mapper,
    key: p.key,
    keyOf: keyReader(mappings, p.key),
    target,
    polling: p.polling,
    maxErrorRate: p.limits.max_error_rate,
    stopBeforeSend: p.limits.stop_before_send_on_error_rate,
    duplicates: p.duplicates,
    output: {
      // Outputs are relative to the working directory (where CI collects artifacts), not to the
      // pipeline file: `deno task run` may write only under out/ and .state/.
      ...(p.output.summary ? { summary: p.output.summary } : {}),
      ...(p.output.rejects ? { rejects: p.output.rejects } : {}),
      ...(p.output.rejects_spreadsheet ? { rejectsSpreadsheet: true } : {}),
      maxErrors: p.output.max_errors,
    },
    secrets: [...new Set([...loaded.secrets, ...secretValues(definition.schema, p.target)])],
    locate: (path) => locate(path, true),
    mappedColumns: mappedColumns(mappings),
    warnings,
    retry: {
      attempts: t.retries.attempts,
      baseDelayMs: t.retries.base_delay,
      maxDelayMs: t.retries.max_delay,
    },
    resendUncertain: t.resend_uncertain,
    send: p.send,
    identity: planIdentity(p, format, definition, target.batchSize),
  };
}

type Problem = (path: (string | number)[], code: string, message: string) => void;

/** The source's resolved path and format, reporting an unknown extension or a missing file. */
async function checkSource(
  p: Pipeline,
  dir: string,
  stat: CompileDeps["stat"],
  problem: Problem,
): Promise<{ sourcePath: string; format: SourceOptions["format"] | undefined }> {
  const sourcePath = resolvePath(dir, p.source.path);
  const format = p.source.format ?? formatFromPath(sourcePath);
  if (format === undefined) {
    problem(
      ["source", "path"],
      "unknown_format",
      `Cannot tell the format of "${p.source.path}" from its extension: set source.format to csv, json or jsonl`,
    );
  }
  const st = await stat(sourcePath);
  if (!st) {
    problem(["source", "path"], "source_missing", `Source file "${sourcePath}" does not exist`);
  } else if (!st.isFile) {
    problem(["source", "path"], "source_not_file", `Source path "${sourcePath}" is not a file`);
  }
  return { sourcePath, format };
}

/** Refuses plain http:// to a host other than loopback unless `target.allow_http` says so. */
function checkTransport(t: CommonTargetConfig, problem: Problem): void {
  try {
    const u = new URL(
      typeof t.base_url === "string" && t.base_url ? t.base_url : "http://localhost",
    );
    if (u.protocol === "http:" && !LOOPBACK.has(u.hostname) && !t.allow_http) {
      problem(
        ["target", "base_url"],
        "insecure_url",
        `Plain http:// to "${u.hostname}" would send credentials unencrypted: use https:// or set target.allow_http: true`,
      );
    }
  } catch {
    // The schema already reported a malformed URL.
  }
}

/** Reads the key's value from a source record, for reporting rows rejected before mapping. */
function keyReader(
  mappings: Record<string, string | MappingSpec>,
  key: string,
): Plan["keyOf"] {
  const km = mappings[key];
  const keyFrom = typeof km === "string" ? km : km?.from;
  return (values) => {
    const v = keyFrom === undefined ? undefined : values[keyFrom];
    const s = v === undefined || v === null ? "" : String(v).trim();
    return s === "" ? undefined : s;
  };
}

/** The plan's identity (see `Plan.identity`): what a resumed run's journal must still match. */
function planIdentity(
  p: Pipeline,
  format: SourceOptions["format"] | undefined,
  definition: TargetDefinition,
  batchSize: number,
): Record<string, unknown> {
  return {
    // Only when set, so the identity (and a journal's plan hash) of other pipelines stays as is.
    ...(p.send === "changed" ? { send: p.send } : {}),
    source: { format, delimiter: p.source.delimiter },
    key: p.key,
    mappings: p.mappings,
    ...(p.timezone ? { timezone: p.timezone } : {}),
    ...(p.duplicates !== "reject" ? { duplicates: p.duplicates } : {}),
    target: identityOf(definition.schema, p.target),
    batch_size: batchSize,
  };
}
