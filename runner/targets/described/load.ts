/**
 * Reading an API description file: YAML with positions, checked against the description schema.
 * Every problem is reported as `file:line:col error ...`, unknown keys with a "did you mean".
 *
 * @module
 */
import { LineCounter, parseDocument } from "yaml";
import { type Diagnostic, PipelineError } from "../../errors.ts";
import { locator } from "../../config/mod.ts";
import { hint } from "../../util/suggest.ts";
import { type Description, descriptionSchema } from "./schema.ts";

/** A description file, read and validated. */
export interface LoadedDescription {
  /** The file as given (used in messages). */
  file: string;
  description: Description;
  /** Where a path of the YAML document is, as `file:line:col`. */
  where(path: readonly (string | number)[], keyOf?: boolean): string;
}

/** A description file is configuration: anything larger is a mistake. */
const MAX_BYTES = 256 * 1024;

type Path = (string | number)[];

/** The keys an object at `path` of the schema accepts (for "did you mean"). */
function keysAt(path: readonly PropertyKey[], data: unknown): string[] {
  // deno-lint-ignore no-explicit-any
  let s: any = descriptionSchema;
  let d: unknown = data;
  const unwrap = () => {
    for (let guard = 0; guard < 20; guard++) {
      const def = s?._zod?.def;
      if (!def) return;
      if (["optional", "default", "prefault", "nullable", "readonly"].includes(def.type)) {
        s = def.innerType;
      } else if (def.type === "pipe") s = def.in;
      else if (def.type === "union") {
        // deno-lint-ignore no-explicit-any
        const opts: any[] = def.options;
        const disc: string | undefined = def.discriminator;
        const dv = d && typeof d === "object"
          ? (d as Record<string, unknown>)[disc ?? ""]
          : undefined;
        s = (disc
          ? opts.find((o) => {
            const t = o._zod.def.shape?.[disc]?._zod.def;
            return t?.values?.includes(dv) || (t?.entries && Object.values(t.entries).includes(dv));
          })
          : undefined) ?? opts.find((o) => o._zod.def.type === "object");
      } else return;
    }
  };
  unwrap();
  for (const seg of path) {
    const def = s?._zod?.def;
    if (def?.type === "object") s = def.shape[seg as string];
    else if (def?.type === "record") s = def.valueType;
    else if (def?.type === "array") s = def.element;
    else return [];
    d = d && typeof d === "object" ? (d as Record<PropertyKey, unknown>)[seg] : undefined;
    unwrap();
  }
  const def = s?._zod?.def;
  return def?.type === "object" ? Object.keys(def.shape) : [];
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let d = data;
  for (const p of path) {
    d = d && typeof d === "object" ? (d as Record<PropertyKey, unknown>)[p] : undefined;
  }
  return d;
}

// deno-lint-ignore no-explicit-any
function issueMessage(issue: any, data: unknown): string {
  const where = issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
  const value = valueAt(data, issue.path);
  if (issue.code === "invalid_type" && value === undefined) return `${where}Missing required field`;
  if (issue.code === "invalid_value" && Array.isArray(issue.values)) {
    const allowed = issue.values.map(String);
    return `${where}Unknown value ${JSON.stringify(value)}${
      typeof value === "string" ? hint(value, allowed) : `: expected one of ${allowed.join(", ")}`
    }`;
  }
  if (issue.code === "invalid_union" && issue.discriminator) {
    const v = valueAt(data, [...issue.path, issue.discriminator]);
    return `${where}${issue.discriminator}: Unknown value ${JSON.stringify(v)}`;
  }
  return `${where}${issue.message}`;
}

/** Turns every zod issue into a diagnostic with its position. */
function diagnose(
  data: unknown,
  locate: (path: readonly (string | number)[], keyOf?: boolean) => { line: number; column: number },
): Diagnostic[] {
  const result = descriptionSchema.safeParse(data);
  if (result.success) return [];
  const out: Diagnostic[] = [];
  for (const issue of result.error.issues) {
    const path = issue.path.map((p) => (typeof p === "number" ? p : String(p))) as Path;
    if (issue.code === "unrecognized_keys") {
      const allowed = keysAt(path, data);
      for (const key of issue.keys) {
        out.push({
          code: "unknown_key",
          path: [...path, key],
          message: `Unknown key "${key}"${path.length ? ` in ${path.join(".")}` : ""}${
            hint(key, allowed)
          }`,
          ...locate([...path, key], true),
        });
      }
      continue;
    }
    const missing = valueAt(data, path) === undefined && path.length > 0;
    out.push({
      code: issue.code,
      path,
      message: issueMessage(issue, data),
      ...locate(path, missing),
    });
  }
  return out.sort((a, b) => a.line - b.line || a.column - b.column);
}

/**
 * Parses and validates description text. Pure.
 *
 * @throws {PipelineError} with every problem found, each with its line and column
 */
export function parseDescription(file: string, text: string): LoadedDescription {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: true, uniqueKeys: true });
  const yamlProblems = [...doc.errors, ...doc.warnings];
  if (yamlProblems.length > 0) {
    throw new PipelineError(
      file,
      yamlProblems.map((e) => ({
        code: "yaml",
        path: [],
        message: `Invalid YAML: ${
          e.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "")
        }`,
        line: e.linePos?.[0]?.line ?? 1,
        column: e.linePos?.[0]?.col ?? 1,
      })),
    );
  }
  const data = doc.toJS({ maxAliasCount: 50 });
  const locate = locator(doc, lc);
  if (!data || typeof data !== "object" || Array.isArray(data)) {
    throw new PipelineError(file, [{
      code: "invalid_type",
      path: [],
      message: "An API description is a mapping of keys (version, title, params, requests, ...)",
      line: 1,
      column: 1,
    }]);
  }
  const diagnostics = diagnose(data, locate);
  if (diagnostics.length > 0) throw new PipelineError(file, diagnostics);
  return {
    file,
    description: descriptionSchema.parse(data),
    where(path, keyOf = false) {
      const at = locate(path, keyOf);
      return `${file}:${at.line}:${at.column}`;
    },
  };
}

/**
 * Reads and validates a description file.
 *
 * @throws {PipelineError} with every problem found
 */
export function loadDescription(path: string): LoadedDescription {
  const bytes = Deno.readFileSync(path);
  if (bytes.length > MAX_BYTES) {
    throw new PipelineError(path, [{
      code: "too_large",
      path: [],
      message: `API description is ${bytes.length} bytes, over the limit of ${MAX_BYTES}`,
      line: 1,
      column: 1,
    }]);
  }
  return parseDescription(path, new TextDecoder().decode(bytes));
}
