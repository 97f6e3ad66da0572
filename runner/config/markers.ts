/**
 * Schema markers: `secret()` and `volatile()` tag a field in the schema itself, so which values
 * are secrets and which settings may change between a run and its resumption is said once, where
 * the field is defined, and read back by walking the schema with the data.
 *
 * @module
 */
import { z } from "zod";

/** What a marker says about a field. */
interface Marks {
  /** Its values are never printed, journaled or written to a report. */
  secret?: true;
  /** It may change between a run and its resumption (credentials, timing, retries). */
  volatile?: true;
}

// A registry of its own, so the markers stay out of the JSON Schema editors see. Zod registries
// inherit through clones (`.meta()`, `.min()` ...), so a marked field keeps its mark when refined.
const MARKS = z.registry<Marks>();

function mark<S extends z.ZodType>(schema: S, marks: Marks): S {
  // A clone, so marking a shared piece (e.g. a non-empty string) marks only this use of it.
  const marked = schema.clone();
  MARKS.add(marked, { ...MARKS.get(schema), ...marks });
  return marked;
}

/** Marks a field whose values are secrets (tokens, client secrets, header values). */
export function secret<S extends z.ZodType>(schema: S): S {
  return mark(schema, { secret: true });
}

/** Marks a setting that may change between a run and its resumption (left out of identity). */
export function volatile<S extends z.ZodType>(schema: S): S {
  return mark(schema, { volatile: true });
}

/** A path into data: object keys and array indexes. */
export type DataPath = readonly (string | number)[];

/** A marked field found in the data, with its marks. */
export interface MarkedField {
  path: DataPath;
  secret: boolean;
  volatile: boolean;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

const WRAPPERS = new Set(["optional", "nullable", "default", "prefault", "readonly", "catch"]);

/**
 * Walks `schema` along `data` once and lists every marked field present in the data. Union
 * branches are chosen as zod would (discriminator, else the branches that accept the data); when
 * none accepts it, every branch is walked, so a secret is never missed in data that is invalid.
 */
export function markedFields(schema: z.ZodType, data: unknown): MarkedField[] {
  const out: MarkedField[] = [];
  const visit = (s: z.ZodType, d: unknown, path: (string | number)[], depth: number) => {
    if (depth > 64) return;
    const marks = MARKS.get(s);
    if (marks && (marks.secret || marks.volatile)) {
      out.push({ path, secret: marks.secret === true, volatile: marks.volatile === true });
    }
    // deno-lint-ignore no-explicit-any
    const def = (s as any)._zod.def;
    const next = depth + 1;
    if (WRAPPERS.has(def.type)) return visit(def.innerType, d, path, next);
    if (def.type === "pipe") return visit(def.in, d, path, next);
    if (def.type === "object") {
      if (!isObject(d)) return;
      for (const [k, field] of Object.entries(def.shape as Record<string, z.ZodType>)) {
        if (d[k] !== undefined) visit(field, d[k], [...path, k], next);
      }
      return;
    }
    if (def.type === "record") {
      if (!isObject(d)) return;
      for (const [k, v] of Object.entries(d)) visit(def.valueType, v, [...path, k], next);
      return;
    }
    if (def.type === "array") {
      if (Array.isArray(d)) d.forEach((v, i) => visit(def.element, v, [...path, i], next));
      return;
    }
    if (def.type === "intersection") {
      visit(def.left, d, path, next);
      visit(def.right, d, path, next);
      return;
    }
    if (def.type === "union") {
      const options = def.options as z.ZodType[];
      const disc: string | undefined = def.discriminator;
      let chosen = disc && isObject(d)
        ? options.filter((o) =>
          // deno-lint-ignore no-explicit-any
          (o as any)._zod.propValues?.[disc]?.has(d[disc])
        )
        : options.filter((o) => o.safeParse(d).success);
      if (chosen.length === 0) chosen = options;
      for (const o of chosen) visit(o, d, path, next);
    }
  };
  visit(schema, data, [], 0);
  return out;
}

function valueAt(data: unknown, path: DataPath): unknown {
  let d = data;
  for (const p of path) d = d !== null && typeof d === "object" ? (d as never)[p] : undefined;
  return d;
}

function strings(v: unknown, out: Set<string>): void {
  if (typeof v === "string") {
    if (v !== "") out.add(v);
  } else if (typeof v === "number" || typeof v === "boolean") out.add(String(v));
  else if (v !== null && typeof v === "object") {
    for (const x of Object.values(v)) {
      strings(x, out);
    }
  }
}

/** Every secret value present in `data` (the strings under fields marked `secret`). */
export function secretValues(schema: z.ZodType, data: unknown): string[] {
  const out = new Set<string>();
  for (const f of markedFields(schema, data)) if (f.secret) strings(valueAt(data, f.path), out);
  return [...out];
}

/** Whether `path` is a secret field or lies inside one, in `fields` from {@linkcode markedFields}. */
export function isSecretPath(fields: readonly MarkedField[], path: DataPath): boolean {
  return fields.some((f) =>
    f.secret && f.path.length <= path.length &&
    f.path.every((p, i) => String(p) === String(path[i]))
  );
}

/**
 * `data` without its volatile fields: what decides how rows are batched and where they go, so a
 * resumed run can tell whether its journal still applies. Key order is kept.
 */
export function identityOf(schema: z.ZodType, data: unknown): Record<string, unknown> {
  const copy = structuredClone(data) as Record<string, unknown>;
  const volatile = markedFields(schema, data).filter((f) => f.volatile && f.path.length > 0);
  // Deepest first, so a removed parent never hides a child still to remove.
  volatile.sort((a, b) => b.path.length - a.path.length);
  for (const f of volatile) {
    const parent = valueAt(copy, f.path.slice(0, -1));
    if (parent !== null && typeof parent === "object") {
      delete (parent as Record<string | number, unknown>)[f.path[f.path.length - 1]!];
    }
  }
  return copy;
}
