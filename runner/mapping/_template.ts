/**
 * Templates (`"{First} {Last}"`, `{{` and `}}` for literal braces) and reading a column of a
 * record safely.
 *
 * @module
 */

/** A parsed template: `literals[0] + col[0] + literals[1] + ... + literals[n]`. */
export interface Template {
  /** One more than `columns`. */
  readonly literals: readonly string[];
  readonly columns: readonly string[];
}

/**
 * Parses a template.
 *
 * @returns the template, or a message for the first syntax problem
 * @example
 * parseTemplate("{First} {{x}}") // { literals: ["", " {x}"], columns: ["First"] }
 */
export function parseTemplate(text: string): Template | string {
  const literals: string[] = [];
  const columns: string[] = [];
  const q = JSON.stringify(text);
  let lit = "";
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === "{" && text[i + 1] === "{") {
      lit += "{";
      i += 2;
    } else if (c === "}" && text[i + 1] === "}") {
      lit += "}";
      i += 2;
    } else if (c === "}") {
      return `Single "}" at position ${i + 1} of template ${q}: write "}}" for a literal brace`;
    } else if (c === "{") {
      const end = text.indexOf("}", i + 1);
      const inner = text.indexOf("{", i + 1);
      if (end < 0 || (inner >= 0 && inner < end)) {
        return `Unclosed "{" at position ${i + 1} of template ${q}: write "{{" for a literal brace`;
      }
      if (end === i + 1) return `Empty placeholder "{}" at position ${i + 1} of template ${q}`;
      literals.push(lit);
      columns.push(text.slice(i + 1, end));
      lit = "";
      i = end + 1;
    } else {
      lit += c;
      i++;
    }
  }
  literals.push(lit);
  return { literals, columns };
}

/** A property name that a plain object inherits (`constructor`, `toString`, `__proto__`, ...). */
export function inherited(column: string): boolean {
  return column in Object.prototype;
}

/**
 * A function reading one column of a record. Plain `record[column]` unless the name is one an
 * object inherits, where a missing column would otherwise read as `Object.prototype`'s member.
 */
export function columnReader(
  column: string,
): (record: Readonly<Record<string, unknown>>) => unknown {
  return inherited(column)
    ? (r) => Object.hasOwn(r, column) ? r[column] : undefined
    : (r) => r[column];
}

/**
 * `text.trim()`, but without the call for the common text that starts and ends with a visible
 * ASCII character, so has nothing to trim.
 */
export function trim(text: string): string {
  const n = text.length;
  if (n === 0) return text;
  const a = text.charCodeAt(0);
  const b = text.charCodeAt(n - 1);
  return a > 32 && a < 127 && b > 32 && b < 127 ? text : text.trim();
}

/** A record's value as template text: strings trimmed, missing as "", objects as JSON. */
function text(v: unknown): string {
  if (typeof v === "string") return trim(v);
  if (v === undefined || v === null) return "";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** Compiles a template into a function of a record. */
export function compileTemplate(
  t: Template,
): (record: Readonly<Record<string, unknown>>) => string {
  const lits = t.literals;
  const cols = t.columns;
  const n = cols.length;
  if (cols.some(inherited)) {
    const readers = cols.map(columnReader);
    return (r) => {
      let s = lits[0]!;
      for (let k = 0; k < n; k++) s += text(readers[k]!(r)) + lits[k + 1]!;
      return s;
    };
  }
  return (r) => {
    let s = lits[0]!;
    for (let k = 0; k < n; k++) s += text(r[cols[k]!]) + lits[k + 1]!;
    return s;
  };
}
