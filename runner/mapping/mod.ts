/**
 * Mapping: turns one source record into one target row, checking each field.
 *
 * Every mapping is compiled once into a function per field, and the fields into one generated
 * row function (see `_row.ts`). Mapping a record then allocates little beyond the row itself: no
 * regular expressions, no intermediate objects, an error object only for a field that fails.
 *
 * @example
 * const mapper = compileMapper({
 *   deal_id: "Deal ID",
 *   amount: { from: "Amount", type: "number", required: true, unmatched: "keep" },
 * }, "deal_id");
 * mapper.map({ "Deal ID": "D-1", Amount: "1,250.00" });
 * // { ok: true, row: { deal_id: "D-1", amount: 1250 } }
 *
 * @module
 */
import type { FieldType, MappingSpec } from "./spec.ts";
import { RunnerError } from "../errors.ts";
import { checkDateFormat } from "./_date.ts";
import { buildRowFunction, type FieldPlan, type Resolve } from "./_row.ts";
import { columnReader, compileTemplate, inherited, parseTemplate, trim } from "./_template.ts";
import { INVALID, quote, TYPE_NAMES, type Typer, typerFor } from "./_types.ts";
import { zonedDateTime } from "./_zone.ts";

import type { FieldError, MapResult, Value } from "./types.ts";
export type { FieldError, MappedRow, MapResult, Value } from "./types.ts";

/** A compiled set of mappings. */
export interface RowMapper {
  /** Target fields in declaration order (the wire column order). */
  readonly fields: readonly string[];
  /** Source columns/properties the mappings read (from `from` and `template`), in first-use order. */
  readonly sourceColumns: readonly string[];
  /** Maps one source record: the row, or every field's error. */
  map(record: Readonly<Record<string, unknown>>): MapResult;
}

export type { FieldType, MappingSpec };
export { checkDateFormat };

/** Options of `compileMapper`. */
export interface CompileOptions {
  /** IANA time zone of datetimes without an offset (the pipeline's `timezone`); default UTC. */
  timezone?: string;
  /**
   * Map rows with code generated for the fields (default `true`), or with a plain loop: same
   * results, 1.5 to 3 times slower (see `mapping_bench.ts`). Generated code falls back to the
   * loop where code generation is disabled.
   */
  generate?: boolean;
}

/** A problem in one mapping that would make it refuse every row, or that it cannot run with. */
export interface MappingProblem {
  /** Where in the mapping: `[]` for the whole, `["format"]`, `["default"]`, `["values", "Won"]`. */
  path: string[];
  /** What is wrong, in the pipeline diagnostics' style. */
  message: string;
}

interface CompiledField {
  plan: FieldPlan;
  columns: readonly string[];
  problems: MappingProblem[];
}

/** The plan of a field with problems; never run, since a mapper with problems is not built. */
const NOTHING: FieldPlan = { kind: "constant", value: null };

/** A table entry whose value is empty: the field then takes its default, or is missing. */
const EMPTY: unique symbol = Symbol("empty");

/** Longest list of table keys shown in an `unmatched_value` message. */
const MAX_LISTED = 10;

/** A trimmed, non-empty value, or `undefined` for an empty one ("", whitespace, null). */
function normalise(v: unknown): unknown {
  if (typeof v === "string") {
    const t = v.trim();
    return t === "" ? undefined : t;
  }
  return v === null ? undefined : v;
}

function longForm(m: string | MappingSpec): MappingSpec {
  return typeof m === "string"
    ? { from: m, type: "string", required: false, unmatched: "keep" }
    : m;
}

function compileField(
  field: string,
  mapping: string | MappingSpec,
  isKey: boolean,
  timezone?: string,
): CompiledField {
  const spec = longForm(mapping);
  const problems: MappingProblem[] = [];
  const type: FieldType = spec.type ?? "string";
  const t = fieldTyper(spec, type, timezone, problems);
  // With a bad format or type, the rest of the field cannot be checked: say only why.
  if (t === undefined) return { plan: NOTHING, columns: [], problems };
  const fromRaw = rawResolver(field, spec, type, t, isKey, problems);
  return fieldSource(field, spec, fromRaw, problems);
}

/** The field's type, zoned for a datetime; `undefined` (problems said) for a bad type or format. */
function fieldTyper(
  spec: MappingSpec,
  type: FieldType,
  timezone: string | undefined,
  problems: MappingProblem[],
): Typer | undefined {
  const formatProblem = spec.format === undefined ? undefined : checkDateFormat(spec.format);
  if (formatProblem !== undefined) problems.push({ path: ["format"], message: formatProblem });
  const typer = typerFor(type, formatProblem === undefined ? spec.format : undefined);
  if (typer === undefined) {
    problems.push({ path: ["type"], message: `Unknown type ${quote(type)}: use ${TYPE_NAMES}` });
  }
  if (typer === undefined || problems.length > 0) return undefined;
  const zone = type === "datetime" ? spec.timezone ?? timezone : undefined;
  return zone === undefined || zone === "UTC" ? typer : zonedDateTime(typer, zone);
}

/** What an empty value becomes: the default, a missing-value error, or null. */
function emptyValue(
  field: string,
  spec: MappingSpec,
  type: FieldType,
  t: Typer,
  isKey: boolean,
  problems: MappingProblem[],
): () => Value | FieldError {
  const required = isKey || spec.required === true;
  const missing = isKey
    ? (): FieldError => ({
      field,
      code: "key_missing",
      message: `Missing value of key field '${field}'`,
    })
    : (): FieldError => ({
      field,
      code: "required",
      message: `Missing value of required field '${field}'`,
    });
  let fallback: Value | undefined;
  const def = normalise(spec.default);
  if (def !== undefined) {
    const d = t.coerce(def);
    if (d === INVALID) {
      problems.push({
        path: ["default"],
        message: `Default ${quote(spec.default)} does not fit type "${type}": ${t.explain(def)}`,
      });
    } else fallback = d;
  }
  return fallback !== undefined ? () => fallback : required ? missing : () => null;
}

/** A `values` table, entries typed once: exact keys, lower-cased keys, and keys for messages. */
interface LookupTable {
  exact: Map<string, Value | typeof EMPTY>;
  lower: Map<string, Value | typeof EMPTY>;
  listed: string;
}

/** The field's `values` table, or `undefined` without one (`unmatched: reject` then a problem). */
function lookupTable(
  spec: MappingSpec,
  type: FieldType,
  t: Typer,
  problems: MappingProblem[],
): LookupTable | undefined {
  if (spec.values === undefined) {
    if (spec.unmatched === "reject") {
      problems.push({
        path: ["unmatched"],
        message: `"unmatched: reject" needs a "values" table to check against`,
      });
    }
    return undefined;
  }
  const exact = new Map<string, Value | typeof EMPTY>();
  const lower = new Map<string, Value | typeof EMPTY>();
  for (const [k, out] of Object.entries(spec.values)) {
    const o = normalise(out);
    let typed: Value | typeof EMPTY = EMPTY;
    if (o !== undefined) {
      const c = t.coerce(o);
      if (c === INVALID) {
        problems.push({
          path: ["values", k],
          message: `Value ${quote(out)} for ${quote(k)} does not fit type "${type}": ${
            t.explain(o)
          }`,
        });
        continue;
      }
      typed = c;
    }
    const key = k.trim();
    if (!exact.has(key)) exact.set(key, typed);
    const lk = key.toLowerCase();
    if (!lower.has(lk)) lower.set(lk, typed);
  }
  const keys = Object.keys(spec.values);
  const listed = keys.slice(0, MAX_LISTED).map((k) => quote(k)).join(", ") +
    (keys.length > MAX_LISTED ? ` (and ${keys.length - MAX_LISTED} more)` : "");
  return { exact, lower, listed };
}

/** The per-row function of a field: a raw value trimmed, checked for empty, looked up, typed. */
function rawResolver(
  field: string,
  spec: MappingSpec,
  type: FieldType,
  t: Typer,
  isKey: boolean,
  problems: MappingProblem[],
): Resolve {
  const invalidCode = `invalid_${type}`;
  const prefix = `invalid value in field '${field}': `;
  const invalid = (v: unknown): FieldError => ({
    field,
    code: invalidCode,
    message: prefix + t.explain(v),
  });
  const empty = emptyValue(field, spec, type, t, isKey, problems);
  const table = lookupTable(spec, type, t, problems);
  // Unpacked so the per-row closures below read plain variables, as before the split.
  const exact = table?.exact;
  const lower = table?.lower;
  const listed = table?.listed ?? "";
  const reject = spec.unmatched === "reject";
  const unmatched = (v: unknown): FieldError => ({
    field,
    code: "unmatched_value",
    message: `${prefix}${quote(v)} is not one of ${listed || "no values"}`,
  });

  /** A non-empty value -> looked up, then typed. */
  const resolve = (v: unknown): Value | FieldError => {
    if (exact !== undefined) {
      const k = typeof v === "string" ? v : String(v);
      let hit = exact.get(k);
      if (hit === undefined) hit = lower!.get(k.toLowerCase());
      if (hit !== undefined) return hit === EMPTY ? empty() : hit;
      if (reject) return unmatched(v);
    }
    const out = t.coerce(v);
    return out === INVALID ? invalid(v) : out;
  };

  /** A raw value -> trimmed, checked for empty, resolved. */
  return (v: unknown): Value | FieldError => {
    if (typeof v === "string") {
      const s = trim(v);
      return s === "" ? empty() : resolve(s);
    }
    return v === undefined || v === null ? empty() : resolve(v);
  };
}

/** Where the field's value comes from: a column, a template, or a constant resolved now. */
function fieldSource(
  field: string,
  spec: MappingSpec,
  fromRaw: Resolve,
  problems: MappingProblem[],
): CompiledField {
  const sources = (["from", "value", "template"] as const).filter((s) => spec[s] !== undefined);
  if (sources.length !== 1) {
    problems.push({
      path: [],
      message: sources.length === 0
        ? 'A mapping needs one of "from", "value" or "template"'
        : `A mapping takes only one of "from", "value" or "template", not ${
          sources.map((s) => `"${s}"`).join(" and ")
        }`,
    });
  }
  if (spec.from !== undefined) {
    const column = spec.from;
    const plan: FieldPlan = inherited(column)
      ? { kind: "record", read: columnReader(column), resolve: fromRaw }
      : { kind: "column", column, resolve: fromRaw };
    return { plan, columns: [column], problems };
  }
  if (spec.template !== undefined) {
    const parsed = parseTemplate(spec.template);
    if (typeof parsed === "string") {
      problems.push({ path: ["template"], message: parsed });
      return { plan: NOTHING, columns: [], problems };
    }
    const plan: FieldPlan = { kind: "record", read: compileTemplate(parsed), resolve: fromRaw };
    return { plan, columns: parsed.columns, problems };
  }
  // A constant: resolved once, so a constant that can never be sent is found now.
  const constant = fromRaw(spec.value);
  if (constant !== null && typeof constant === "object") {
    problems.push({
      path: ["value"],
      message: constant.code === "required" || constant.code === "key_missing"
        ? `Constant ${quote(spec.value)} leaves the required field '${field}' empty`
        : `Constant ${quote(spec.value)} cannot be sent: ${constant.message}`,
    });
    return { plan: NOTHING, columns: [], problems };
  }
  return { plan: { kind: "constant", value: constant }, columns: [], problems };
}

/**
 * Checks one mapping without compiling a mapper, for the pipeline's diagnostics: a date format
 * that cannot be used, a constant, default or table value that does not fit the type, a template
 * that does not parse.
 *
 * @param isKey whether `field` is the pipeline's key (always required)
 * @returns every problem found, each with its path inside the mapping; empty when there is none
 * @example
 * checkMapping("amount", { value: "abc", type: "number", required: false, unmatched: "keep" })
 * // [{ path: ["value"], message: "Constant \"abc\" cannot be sent: invalid value in field 'amount': \"abc\" is not a number" }]
 */
export function checkMapping(
  field: string,
  mapping: string | MappingSpec,
  isKey = false,
): MappingProblem[] {
  return compileField(field, mapping, isKey).problems;
}

/**
 * Compiles a pipeline's mappings into a row mapper.
 *
 * A string mapping is the column to read as a string. For each field the value is read (`from`,
 * `value` or `template`), trimmed, looked up in `values` (when not empty; a table value is then
 * read like a source value, in the field's format), replaced by `default` when empty and typed;
 * every failing field of a row is reported, not only the first. The `key` field is always
 * required. Constants, defaults and table values are typed here, once.
 *
 * @param mappings target field -> mapping, in the order the fields are sent
 * @param key the target field that identifies a row
 * @param options for tests: `generate: false` maps with the plain loop instead of generated code
 * @throws {RunnerError} `invalid_pipeline` when `key` is not mapped or a mapping has a problem
 *   `checkMapping` reports (a pipeline that passed validation has none)
 */
export function compileMapper(
  mappings: Record<string, string | MappingSpec>,
  key: string,
  options: CompileOptions = {},
): RowMapper {
  const fields = Object.keys(mappings);
  const problems: string[] = [];
  if (!Object.hasOwn(mappings, key)) {
    problems.push(
      `Key ${quote(key)} is not one of the mapped fields: ${
        fields.map((f) => quote(f)).join(", ")
      }`,
    );
  }
  const plans: FieldPlan[] = [];
  const columns = new Set<string>();
  for (const field of fields) {
    const compiled = compileField(field, mappings[field]!, field === key, options.timezone);
    plans.push(compiled.plan);
    for (const c of compiled.columns) columns.add(c);
    for (const p of compiled.problems) {
      problems.push(`${["mappings", field, ...p.path].join(".")}: ${p.message}`);
    }
  }
  if (problems.length > 0) {
    throw new RunnerError("invalid_pipeline", `Invalid mappings: ${problems.join("; ")}`);
  }
  return {
    fields: Object.freeze(fields),
    sourceColumns: Object.freeze([...columns]),
    map: buildRowFunction(fields, plans, options.generate ?? true),
  };
}
