/**
 * Reading a pipeline file: YAML with source positions, environment interpolation, and validation
 * against the zod schema. Every problem is collected and reported with its line and column.
 *
 * @module
 */
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument } from "yaml";
import type { Document, Node as YamlNode } from "yaml";
import type { z } from "zod";
import { type Diagnostic, PipelineError, RunnerError } from "../errors.ts";
import { interpolate } from "./_interpolate.ts";
import { hint } from "../util/suggest.ts";
import { isSecretPath, type MarkedField, markedFields } from "./markers.ts";
import type { Pipeline, PipelineSchema } from "./schema.ts";

/** A pipeline file is configuration, not data: anything larger is a mistake or an attack. */
export const MAX_PIPELINE_BYTES = 1024 * 1024;
const MAX_DEPTH = 32;
const MAX_ALIASES = 100;

/** A pipeline file, read and validated. */
export interface LoadedPipeline {
  /** The file as given (used in messages). */
  file: string;
  /** Folder the file is in; relative paths in the pipeline resolve against it. */
  dir: string;
  pipeline: Pipeline;
  /** Where each YAML path is in the file, for problems found after loading. */
  locate: (path: readonly (string | number)[], keyOf?: boolean) => { line: number; column: number };
  /** Values that came from the environment into secret-bearing fields. */
  secrets: string[];
}

/** Options for {@linkcode loadPipeline}. */
export interface LoadOptions {
  /** Environment lookup; default `Deno.env.get`. */
  env?: (name: string) => string | undefined;
  /** Stand in a placeholder for unset variables without a default instead of failing. */
  allowMissingEnv?: boolean;
  /** The pipeline schema to validate against (built from a target registry). */
  schema: PipelineSchema;
}

type Path = (string | number)[];

/** Finds a YAML path in a parsed document: its line and column (the key's, with `keyOf`). */
export function locator(doc: Document, lc: LineCounter) {
  return (path: readonly (string | number)[], keyOf = false): { line: number; column: number } => {
    let node: unknown = doc.contents;
    let offset = (doc.contents as YamlNode | null)?.range?.[0] ?? 0;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i];
      const last = i === path.length - 1;
      if (isMap(node)) {
        const pair = node.items.find((p) =>
          isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg)
        );
        if (!pair) break;
        const keyNode = pair.key as YamlNode;
        if (last && keyOf) {
          offset = keyNode.range?.[0] ?? offset;
          break;
        }
        const v = pair.value as YamlNode | null;
        offset = v?.range?.[0] ?? keyNode.range?.[0] ?? offset;
        node = v;
      } else if (isSeq(node) && typeof seg === "number") {
        const item = node.items[seg] as YamlNode | undefined;
        if (!item) break;
        offset = item.range?.[0] ?? offset;
        node = item;
      } else break;
    }
    const pos = lc.linePos(offset);
    return { line: pos.line, column: pos.col };
  };
}

/** Walks the schema along a data path to list the keys an object there accepts. */
function keysAt(schema: z.ZodType, path: readonly PropertyKey[], data: unknown): string[] {
  // deno-lint-ignore no-explicit-any
  let s: any = schema;
  let d: unknown = data;
  const unwrap = () => {
    for (;;) {
      const def = s?._zod?.def;
      if (!def) return;
      if (["optional", "default", "prefault", "nullable", "readonly", "catch"].includes(def.type)) {
        s = def.innerType;
      } else if (def.type === "pipe") s = def.in;
      else if (def.type === "union") {
        const disc: string | undefined = def.discriminator;
        // deno-lint-ignore no-explicit-any
        const opts: any[] = def.options;
        const dv = d && typeof d === "object"
          ? (d as Record<string, unknown>)[disc ?? ""]
          : undefined;
        s = (disc
          ? opts.find((o) =>
            o._zod.def.shape?.[disc]?._zod.def.values?.includes(dv)
          )
          : opts.find((o) => o._zod.def.type === "object")) ?? opts[0];
        if (!disc && !s) return;
      } else return;
    }
  };
  unwrap();
  for (const seg of path) {
    const def = s?._zod?.def;
    if (def?.type === "object") s = def.shape[seg as string];
    else if (def?.type === "record") s = def.valueType;
    else return [];
    d = d && typeof d === "object" ? (d as Record<string, unknown>)[seg as string] : undefined;
    unwrap();
  }
  const def = s?._zod?.def;
  return def?.type === "object" ? Object.keys(def.shape) : [];
}

function displayPath(path: readonly PropertyKey[]): string {
  return path.map((p) => String(p)).join(".");
}

/** Picks the union branch the user most likely meant, so its issues are reported. */
// deno-lint-ignore no-explicit-any
function flattenIssues(issues: readonly any[], input: unknown): any[] {
  // deno-lint-ignore no-explicit-any
  const out: any[] = [];
  for (const issue of issues) {
    if (issue.code === "invalid_union" && Array.isArray(issue.errors) && issue.errors.length > 0) {
      // deno-lint-ignore no-explicit-any
      const branches: any[][] = issue.errors;
      // A branch that failed only at the root on type is a branch the user did not mean.
      const meant = branches.filter((b) =>
        !b.every((i) => i.code === "invalid_type" && i.path.length === 0)
      );
      const chosen = meant.length > 0
        ? meant.reduce((a, b) => (b.length < a.length ? b : a))
        : null;
      if (chosen) {
        out.push(...flattenIssues(
          chosen.map((i) => ({ ...i, path: [...issue.path, ...i.path] })),
          input,
        ));
        continue;
      }
    }
    out.push(issue);
  }
  return out;
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let d = data;
  for (const p of path) {
    d = d && typeof d === "object" ? (d as Record<PropertyKey, unknown>)[p] : undefined;
  }
  return d;
}

/** Longest value quoted in a message: a 2 MB scalar must not become a 2 MB error line. */
const MAX_QUOTED = 60;

/** A value as JSON, cut short (with its length) when it is long. */
function quoteText(v: unknown): string {
  if (typeof v === "number" && !Number.isFinite(v)) return String(v);
  if (typeof v !== "string" || v.length <= MAX_QUOTED) return JSON.stringify(v) ?? String(v);
  let head = v.slice(0, MAX_QUOTED);
  // Never cut a surrogate pair in half.
  if (/[\uD800-\uDBFF]$/.test(head)) head = head.slice(0, -1);
  return `${JSON.stringify(head + "…")} (${v.length} characters)`;
}

function describeValue(v: unknown, hidden = false): string {
  if (v === undefined) return "nothing";
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "an object";
  // The value of a secret field is never quoted, not even when it has the wrong type.
  return hidden ? `a ${typeof v} (not shown: a secret field)` : `${typeof v} ${quoteText(v)}`;
}

/** Turns one zod issue into a readable message (the raw zod wording is kept where it is clear). */
// deno-lint-ignore no-explicit-any
function issueMessage(issue: any, data: unknown, hidden: boolean): string {
  const where = issue.path.length > 0 ? `${displayPath(issue.path)}: ` : "";
  const value = valueAt(data, issue.path);
  const describe = (v: unknown) => describeValue(v, hidden);
  const quoteValue = (v: unknown) => (hidden ? describeValue(v, true) : quoteText(v));
  switch (issue.code) {
    case "invalid_type":
      if (value === undefined) return `${where}Missing required field`;
      if (typeof value === "number" && issue.expected === "number" && !hidden) {
        // YAML reads `.inf` and a 400-digit number as Infinity, which zod calls "not a number".
        return `${where}Expected a finite number, got ${quoteValue(value)}`;
      }
      return `${where}Expected ${issue.expected}, got ${describe(value)}`;
    case "invalid_value": {
      const values = issue.values as unknown[];
      if (value !== undefined && !values.some((a) => typeof a === typeof value)) {
        // `version: "1"` is the string "1", not the number 1: "did you mean "1"?" would puzzle.
        return `${where}Expected ${values.map((a) => JSON.stringify(a)).join(" or ")}, got ${
          describe(value)
        }`;
      }
      const allowed = values.map(String);
      return `${where}${value === undefined ? "Missing" : `Unknown value ${quoteValue(value)}`}${
        typeof value === "string" && !hidden
          ? hint(value, allowed)
          : `: expected one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}`
      }`;
    }
    case "invalid_union":
      if (issue.discriminator) {
        const discPath = issue.path[issue.path.length - 1] === issue.discriminator
          ? issue.path
          : [...issue.path, issue.discriminator];
        const v = valueAt(data, discPath);
        const allowed = (issue.options ?? []).map(String);
        return `${displayPath(discPath)}: ${
          v === undefined ? "Missing" : `Unknown value ${quoteValue(v)}`
        }${
          typeof v === "string"
            ? hint(v, allowed)
            : allowed.length
            ? `: expected one of ${allowed.map((a: string) => `"${a}"`).join(", ")}`
            : ""
        }`;
      }
      if (issue.path.length === 2 && issue.path[0] === "mappings") {
        return `${where}A mapping is a source column name or an object with "from", "value" or "template", not ${
          describe(value)
        }`;
      }
      return `${where}Not valid here: got ${describe(value)}`;
    default:
      return `${where}${issue.message}`;
  }
}

/**
 * Validates already-parsed YAML data and returns the pipeline or every problem found.
 * Pure: no file or environment access, so `compile` and tests can use it directly.
 */
export function validate(
  data: unknown,
  locate: (path: readonly (string | number)[], keyOf?: boolean) => { line: number; column: number },
  schema: PipelineSchema,
): { ok: true; pipeline: Pipeline } | { ok: false; diagnostics: Diagnostic[] } {
  const result = schema.safeParse(data);
  if (result.success) return { ok: true, pipeline: result.data };
  const diagnostics: Diagnostic[] = [];
  const marked = markedFields(schema, data);
  for (const issue of flattenIssues(result.error.issues, data)) {
    const path = issue.path.map((
      p: PropertyKey,
    ) => (typeof p === "number" ? p : String(p))) as Path;
    if (issue.code === "unrecognized_keys") {
      const allowed = keysAt(schema, path, data);
      for (const key of issue.keys as string[]) {
        const at = locate([...path, key], true);
        const within = path.length > 0 ? ` in ${displayPath(path)}` : "";
        diagnostics.push({
          code: "unknown_key",
          path: [...path, key],
          message: `Unknown key ${quoteText(key)}${within}${hint(key, allowed)}`,
          ...at,
        });
      }
      continue;
    }
    const missing = valueAt(data, path) === undefined && path.length > 0;
    const at = locate(path, missing);
    diagnostics.push({
      code: issue.code,
      path,
      message: issueMessage(issue, data, isSecretPath(marked, path)),
      ...at,
    });
  }
  diagnostics.sort((a, b) => a.line - b.line || a.column - b.column);
  return { ok: false, diagnostics };
}

/** A value that came from the environment, and where it went. */
interface FromEnv {
  path: Path;
  text: string;
}

function interpolateTree(
  value: unknown,
  path: Path,
  env: (name: string) => string | undefined,
  problems: { path: Path; code: string; message: string }[],
  fromEnv: FromEnv[],
  placeholders: boolean,
): unknown {
  if (typeof value === "string") {
    const r = interpolate(value, env, placeholders);
    for (const p of r.problems) problems.push({ path, ...p });
    if (r.usedEnv && r.text !== "") fromEnv.push({ path, text: r.text });
    return r.text;
  }
  if (Array.isArray(value)) {
    return value.map((v, i) =>
      interpolateTree(v, [...path, i], env, problems, fromEnv, placeholders)
    );
  }
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = interpolateTree(v, [...path, k], env, problems, fromEnv, placeholders);
    }
    return out;
  }
  return value;
}

/** The values that came from the environment into fields the schema marks secret. */
function envSecrets(marked: readonly MarkedField[], fromEnv: readonly FromEnv[]): string[] {
  return [...new Set(fromEnv.filter((e) => isSecretPath(marked, e.path)).map((e) => e.text))];
}

/** The first collection nested deeper than `MAX_DEPTH` (keys included), or `undefined`. */
function tooDeep(node: unknown, depth = 0): YamlNode | undefined {
  if (!isMap(node) && !isSeq(node)) return undefined;
  if (depth > MAX_DEPTH) return node;
  for (const item of node.items) {
    const found = isPair(item)
      ? tooDeep(item.key, depth + 1) ?? tooDeep(item.value, depth + 1)
      : tooDeep(item, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/**
 * What YAML's own duplicate-key check misses: keys that differ as YAML but become the same
 * property, such as `1` and `"1"`, or `null` and `""`. Without this the later one silently wins.
 */
function sameKeys(
  node: unknown,
  found: { node: YamlNode; first: YamlNode; name: string }[] = [],
): typeof found {
  if (isSeq(node)) {
    for (const item of node.items) sameKeys(item, found);
  } else if (isMap(node)) {
    const seen = new Map<string, YamlNode>();
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      if (isScalar(pair.key)) {
        const v = pair.key.value;
        // How yaml's toJS names the property (stringifyKey).
        const name = v === null || v === undefined ? "" : String(v);
        const first = seen.get(name);
        if (first) found.push({ node: pair.key, first, name });
        else seen.set(name, pair.key);
      }
      sameKeys(pair.value, found);
    }
  }
  return found;
}

/** The first alias in the document, where an alias bomb is best pointed at. */
function firstAlias(node: unknown): YamlNode | undefined {
  if (isAlias(node)) return node;
  if (isSeq(node)) {
    for (const item of node.items) {
      const a = firstAlias(item);
      if (a) return a;
    }
  } else if (isMap(node)) {
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      const a = firstAlias(pair.key) ?? firstAlias(pair.value);
      if (a) return a;
    }
  }
  return undefined;
}

/**
 * Parses pipeline text. Pure apart from the `env` lookup.
 *
 * @throws {PipelineError} with every problem found
 */
export function parsePipeline(
  file: string,
  text: string,
  env: (name: string) => string | undefined,
  schema: PipelineSchema,
  allowMissingEnv = false,
): Omit<LoadedPipeline, "dir"> {
  const lc = new LineCounter();
  const at = (node: YamlNode | undefined) => {
    const pos = lc.linePos(node?.range?.[0] ?? 0);
    return { line: pos.line, column: pos.col };
  };
  const fail = (d: Omit<Diagnostic, "line" | "column"> & { line?: number; column?: number }) => {
    throw new PipelineError(file, [{ line: 1, column: 1, ...d }]);
  };
  const tooDeepMessage = `Pipeline file nests deeper than ${MAX_DEPTH} levels`;
  const doc = parseDocument(text, {
    lineCounter: lc,
    prettyErrors: true,
    uniqueKeys: true,
    strict: true,
  });
  const yamlProblems = [...doc.errors, ...doc.warnings];
  if (yamlProblems.length > 0) {
    const diagnostics: Diagnostic[] = [];
    for (const e of yamlProblems) {
      const line = e.linePos?.[0]?.line ?? 1;
      const column = e.linePos?.[0]?.col ?? 1;
      // The YAML composer recurses: a few hundred levels of `[[[[` overflow the stack, which it
      // reports as an error at the spot. Say what the user did, once.
      if (/Maximum call stack size exceeded/.test(e.message)) {
        if (!diagnostics.some((d) => d.code === "too_deep")) {
          diagnostics.push({ code: "too_deep", path: [], message: tooDeepMessage, line, column });
        }
        continue;
      }
      diagnostics.push({
        code: "yaml",
        path: [],
        message: `Invalid YAML: ${
          e.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "")
        }`,
        line,
        column,
      });
    }
    throw new PipelineError(file, diagnostics);
  }
  const deep = tooDeep(doc.contents);
  if (deep) fail({ code: "too_deep", path: [], message: tooDeepMessage, ...at(deep) });
  const same = sameKeys(doc.contents);
  if (same.length > 0) {
    throw new PipelineError(
      file,
      same.map(({ node, first, name }) => ({
        code: "duplicate_key",
        path: [],
        message: `Invalid YAML: Map keys must be unique: ${
          quoteText(name)
        } is also the key on line ${at(first).line}`,
        ...at(node),
      })),
    );
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    fail({
      code: "yaml",
      path: [],
      message: `Invalid YAML: ${message}`,
      // toJS() gives no position; an alias bomb is best shown at its first alias.
      ...(/alias/i.test(message) ? at(firstAlias(doc.contents)) : {}),
    });
  }
  if (data === null || data === undefined) {
    fail({ code: "empty", path: [], message: "Pipeline file is empty" });
  }
  if (typeof data !== "object" || Array.isArray(data)) {
    fail({
      code: "invalid_type",
      path: [],
      message: "A pipeline file is a mapping of keys (version, source, target, ...)",
    });
  }
  const locate = locator(doc, lc);
  const problems: { path: Path; code: string; message: string }[] = [];
  const fromEnv: FromEnv[] = [];
  const interpolated = interpolateTree(data, [], env, problems, fromEnv, allowMissingEnv);
  const diagnostics: Diagnostic[] = problems.map((p) => ({
    ...p,
    // Name the field that needs the variable: "target.auth.client_id needs it".
    ...(p.code === "missing_env" && p.path.length > 0
      ? { message: `${p.message}: ${p.path.join(".")} needs it` }
      : {}),
    ...locate(p.path),
  }));
  const result = validate(interpolated, locate, schema);
  if (!result.ok) {
    // A value whose variable is missing still holds its `${...}`: that it then is not a URL
    // (or a duration, ...) says nothing new, so only the missing variable is reported there.
    const unresolved = new Set(problems.map((p) => JSON.stringify(p.path)));
    diagnostics.push(
      ...result.diagnostics.filter((d) => !unresolved.has(JSON.stringify(d.path))),
    );
  }
  if (diagnostics.length > 0) {
    diagnostics.sort((a, b) => a.line - b.line || a.column - b.column);
    throw new PipelineError(file, diagnostics);
  }
  return {
    file,
    pipeline: (result as { pipeline: Pipeline }).pipeline,
    locate,
    secrets: envSecrets(markedFields(schema, interpolated), fromEnv),
  };
}

/**
 * Where the first byte that is not UTF-8 is: the longest prefix a streaming decoder accepts
 * (a cut-off sequence at the end of a prefix is not an error yet), found by halving.
 */
function firstInvalidUtf8(bytes: Uint8Array): { line: number; column: number; byte: string } {
  const accepts = (n: number) => {
    try {
      new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(0, n), { stream: true });
      return true;
    } catch {
      return false;
    }
  };
  let lo = 0; // accepted
  let hi = bytes.length; // refused
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (accepts(mid)) lo = mid;
    else hi = mid;
  }
  // The complete characters of that prefix end where the bad sequence starts.
  const before = new TextDecoder("utf-8", { ignoreBOM: true }).decode(
    bytes.subarray(0, lo),
    { stream: true },
  );
  const start = new TextEncoder().encode(before).length;
  const lines = before.replace(/^\uFEFF/, "").split(/\r\n|\r|\n/);
  const byte = `0x${bytes[start]!.toString(16).toUpperCase().padStart(2, "0")}`;
  return { line: lines.length, column: lines[lines.length - 1]!.length + 1, byte };
}

/**
 * Reads and validates a pipeline file.
 *
 * @throws {PipelineError} when the file is invalid (every problem, with lines and columns)
 * @throws {RunnerError} `usage` when the file cannot be read
 */
export async function loadPipeline(
  file: string,
  options: LoadOptions,
): Promise<LoadedPipeline> {
  const env = options.env ?? ((n: string) => Deno.env.get(n));
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(file);
  } catch (err) {
    throw new RunnerError(
      "usage",
      err instanceof Deno.errors.NotFound
        ? `Cannot read pipeline file "${file}": it does not exist`
        : `Cannot read pipeline file "${file}": ${err instanceof Error ? err.message : err}`,
      { cause: err },
    );
  }
  if (!info.isFile) {
    throw new RunnerError("usage", `Cannot read pipeline file "${file}": it is not a file`);
  }
  if (info.size > MAX_PIPELINE_BYTES) {
    throw new PipelineError(file, [{
      code: "too_large",
      path: [],
      message: `Pipeline file is ${info.size} bytes; the limit is ${MAX_PIPELINE_BYTES}`,
      line: 1,
      column: 1,
    }]);
  }
  const bytes = await Deno.readFile(file);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    const { line, column, byte } = firstInvalidUtf8(bytes);
    throw new PipelineError(file, [{
      code: "encoding",
      path: [],
      message:
        `Pipeline file is not valid UTF-8: byte ${byte} cannot be read here; save the file as UTF-8`,
      line,
      column,
    }]);
  }
  const loaded = parsePipeline(file, text, env, options.schema, options.allowMissingEnv);
  const slash = Math.max(file.lastIndexOf("/"), file.lastIndexOf("\\"));
  return { ...loaded, dir: slash >= 0 ? file.slice(0, slash) || "/" : "." };
}
