/**
 * Builds the function that maps a whole record from the compiled fields.
 *
 * The natural loop (`for each field: row[field] = fn(record)`) reads and writes properties whose
 * names vary at one place in the code, which V8 can only handle through its slowest, megamorphic
 * paths: for rows of plain string fields, three times slower than code naming each property
 * (1.5 times for the mix in `mapping_bench.ts`, where the fields' own work weighs more). So the
 * row function is generated once per pipeline, naming every column it reads and every field of
 * the row literal. Names enter the generated code only as JSON string literals; everything else
 * is passed in as values. Where code generation is not allowed, the loop is used instead.
 *
 * @module
 */
import type { FieldError, MappedRow, MapResult, Value } from "./types.ts";

type Source = Readonly<Record<string, unknown>>;

/** A non-empty or empty raw value -> the field's value, or the error that refuses the row. */
export type Resolve = (raw: unknown) => Value | FieldError;

/** How one field gets its value. */
export type FieldPlan =
  /** `record[column]`; only for names an object does not inherit. */
  | { kind: "column"; column: string; resolve: Resolve }
  /** Any other reading of the record: a template, or a column named like `constructor`. */
  | { kind: "record"; read: (record: Source) => unknown; resolve: Resolve }
  /** The same, already checked value for every row. */
  | { kind: "constant"; value: Value };

function isError(v: Value | FieldError): v is FieldError {
  return v !== null && typeof v === "object";
}

function collect(values: (Value | FieldError)[]): MapResult {
  return { ok: false, errors: values.filter(isError) };
}

/** `row[field] = v`, but as an own field even for `__proto__`, where `=` would set the prototype. */
function setField(row: MappedRow, field: string, v: Value): void {
  Object.defineProperty(row, field, {
    value: v,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

/** The row function as a loop over the fields: the reference, and the fallback. */
function loopRowFunction(fields: readonly string[], plans: readonly FieldPlan[]) {
  const fns = plans.map((p): (r: Source) => Value | FieldError => {
    switch (p.kind) {
      case "column":
        return (r) => p.resolve(r[p.column]);
      case "record":
        return (r) => p.resolve(p.read(r));
      case "constant":
        return () => p.value;
    }
  });
  const n = fns.length;
  return (record: Source): MapResult => {
    const row: MappedRow = {};
    let errors: FieldError[] | undefined;
    for (let i = 0; i < n; i++) {
      const v = fns[i]!(record);
      if (isError(v)) (errors ??= []).push(v);
      else if (fields[i] === "__proto__") setField(row, fields[i]!, v);
      else row[fields[i]!] = v;
    }
    return errors === undefined ? { ok: true, row } : { ok: false, errors };
  };
}

/** The row function generated for these fields (see the module comment). */
function generatedRowFunction(fields: readonly string[], plans: readonly FieldPlan[]) {
  const lines: string[] = ['"use strict";'];
  const reads: string[] = [];
  const checks: string[] = [];
  const entries: string[] = [];
  plans.forEach((p, i) => {
    const key = JSON.stringify(fields[i]);
    // A computed key, because a literal `"__proto__": v` sets the prototype.
    const prop = fields[i] === "__proto__" ? `[${key}]` : key;
    if (p.kind === "constant") {
      lines.push(`const c${i} = plans[${i}].value;`);
      entries.push(`${prop}: c${i}`);
      return;
    }
    lines.push(`const f${i} = plans[${i}].resolve;`);
    if (p.kind === "column") reads.push(`const v${i} = f${i}(r[${JSON.stringify(p.column)}]);`);
    else {
      lines.push(`const g${i} = plans[${i}].read;`);
      reads.push(`const v${i} = f${i}(g${i}(r));`);
    }
    checks.push(`(v${i} !== null && typeof v${i} === "object")`);
    entries.push(`${prop}: v${i}`);
  });
  const values = plans.map((p, i) => p.kind === "constant" ? `c${i}` : `v${i}`).join(", ");
  lines.push(
    "return function mapRow(r) {",
    ...reads,
    checks.length > 0 ? `if (${checks.join(" || ")}) return collect([${values}]);` : "",
    `return { ok: true, row: { ${entries.join(", ")} } };`,
    "};",
  );
  // Only JSON string literals of names and fixed text go into the code; see the module comment.
  return new Function("plans", "collect", lines.join("\n"))(plans, collect) as (
    record: Source,
  ) => MapResult;
}

/**
 * The function mapping one record to its row, or to every error of its fields.
 *
 * @param fields target field names, in order
 * @param plans how each field gets its value (same order)
 * @param generate generate code (the default) or use the plain loop
 */
export function buildRowFunction(
  fields: readonly string[],
  plans: readonly FieldPlan[],
  generate = true,
): (record: Source) => MapResult {
  if (generate) {
    try {
      return generatedRowFunction(fields, plans);
    } catch (e) {
      // Code generation from strings is disabled (an EvalError): take the loop.
      if (!(e instanceof EvalError)) throw e;
    }
  }
  return loopRowFunction(fields, plans);
}
