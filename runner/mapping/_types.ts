/**
 * The value types of a mapped field: each reads a non-empty value (a trimmed string, or a number,
 * boolean or object from JSON) into the value that is sent, or refuses it.
 *
 * @module
 */
import type { FieldType } from "./spec.ts";
import { compileDateFormat } from "./_date.ts";
import type { Value } from "./types.ts";

/** The type names, for messages. */
export const TYPE_NAMES = "string, number, integer, boolean, date, datetime";

/** What `coerce` returns for a value its type refuses; a symbol so no `Value` can equal it. */
export const INVALID: unique symbol = Symbol("invalid");

/** One field type, compiled. */
export interface Typer {
  /** A non-empty value -> its typed form, or `INVALID`. Called once per row: allocates nothing. */
  coerce(v: unknown): Value | typeof INVALID;
  /** Why `v` was refused, e.g. `"-" is not a number`. Only called on the error path. */
  explain(v: unknown): string;
}

const MAX_SHOWN = 100;

/**
 * Shows a value in a message: strings quoted (and cut after 100 characters), objects as JSON.
 *
 * @example
 * quote("20-jan-2020") // '"20-jan-2020"'
 * quote({ a: 1 })      // '{"a":1}'
 */
export function quote(v: unknown): string {
  if (typeof v === "object" && v !== null) {
    const json = JSON.stringify(v) ?? String(v);
    return json.length > MAX_SHOWN ? json.slice(0, MAX_SHOWN) + "…" : json;
  }
  const s = String(v);
  return JSON.stringify(s.length > MAX_SHOWN ? s.slice(0, MAX_SHOWN) + "…" : s);
}

/** 10^0 .. 10^15, all exact in a double. */
const POW10 = Array.from({ length: 16 }, (_, i) => 10 ** i);

/** Up to this many digits the digits as an integer are exact in a double (10^15 < 2^53). */
const EXACT_DIGITS = 15;

/**
 * Reads a decimal number such as `250000`, `-12.5`, `1e3` or `1,234.50`: optional sign, digits
 * (optionally grouped in threes by commas), optional fraction, optional exponent, at least one
 * digit before or after the point.
 *
 * The syntax is checked by hand, since `Number()` alone takes hex, binary, `Infinity` and
 * surrounding whitespace and knows nothing of thousands separators. The value is computed here
 * too for up to 15 digits without exponent: the digits as an integer divided by a power of ten
 * are two exact doubles, and one IEEE division rounds correctly, so the result is what `Number()`
 * gives, without its slower runtime call (Clinger's fast path).
 *
 * @returns the number, or `NaN` when the text is not a finite decimal number
 */
export function parseNumber(text: string): number {
  const n = text.length;
  let i = 0;
  let c = text.charCodeAt(0);
  const negative = c === 45;
  if (negative || c === 43) i++; // - +
  let mantissa = 0;
  let digits = 0;
  let fraction = 0;
  let run = 0; // digits since the start or the last comma
  let grouped = false;
  for (; i < n; i++) {
    c = text.charCodeAt(i) - 48;
    if (c >= 0 && c <= 9) {
      mantissa = mantissa * 10 + c;
      run++;
      digits++;
    } else if (c === -4) { // ,
      // The first group has one to three digits, every later one exactly three.
      if (grouped ? run !== 3 : run < 1 || run > 3) return NaN;
      grouped = true;
      run = 0;
    } else break;
  }
  if (grouped && run !== 3) return NaN;
  if (i < n && text.charCodeAt(i) === 46) { // .
    for (i++; i < n && (c = text.charCodeAt(i) - 48) >= 0 && c <= 9; i++) {
      mantissa = mantissa * 10 + c;
      digits++;
      fraction++;
    }
  }
  if (digits === 0) return NaN;
  if (i === n && digits <= EXACT_DIGITS) {
    const x = fraction === 0 ? mantissa : mantissa / POW10[fraction]!;
    return negative ? -x : x;
  }
  // An exponent, or too many digits to be exact: check the rest and let `Number()` round.
  if (i < n && ((c = text.charCodeAt(i)) === 101 || c === 69)) { // e E
    i++;
    if (i < n && ((c = text.charCodeAt(i)) === 43 || c === 45)) i++;
    const start = i;
    while (i < n && (c = text.charCodeAt(i)) >= 48 && c <= 57) i++;
    if (i === start) return NaN;
  }
  if (i !== n) return NaN;
  const x = Number(grouped ? text.replaceAll(",", "") : text);
  return Number.isFinite(x) ? x : NaN;
}

/** Whether `text` is written like a number (though perhaps too large for one). */
function looksNumeric(text: string): boolean {
  return !Number.isNaN(parseNumber(text.replace(/[eE][+-]?\d+$/, "")));
}

function toNumber(v: unknown): number {
  if (typeof v === "number") return Number.isFinite(v) ? v : NaN;
  return typeof v === "string" ? parseNumber(v) : NaN;
}

const stringTyper: Typer = {
  coerce(v) {
    if (typeof v === "string") return v;
    if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") return String(v);
    return INVALID;
  },
  explain: (v) => `${quote(v)} is not a string`,
};

const numberTyper: Typer = {
  coerce(v) {
    const x = toNumber(v);
    return x === x ? x : INVALID; // NaN is the one value not equal to itself
  },
  explain(v) {
    return typeof v === "string" && looksNumeric(v)
      ? `${quote(v)} is out of range for a number`
      : `${quote(v)} is not a number`;
  },
};

const integerTyper: Typer = {
  coerce(v) {
    const x = toNumber(v);
    return Number.isSafeInteger(x) ? x : INVALID;
  },
  explain(v) {
    const x = toNumber(v);
    // Beyond 2^53 a float cannot hold every integer: refuse rather than send a different number.
    return Number.isInteger(x)
      ? `${quote(v)} is too large for an exact integer (at most ${Number.MAX_SAFE_INTEGER})`
      : `${quote(v)} is not an integer`;
  },
};

const BOOLEAN_WORDS: [string, boolean][] = [
  ["true", true],
  ["false", false],
  ["yes", true],
  ["no", false],
  ["y", true],
  ["n", false],
  ["1", true],
  ["0", false],
];
/** Lowercase, Capitalised and UPPERCASE spellings, so most values need no `toLowerCase()`. */
const BOOLEANS = new Map<string, boolean>(
  BOOLEAN_WORDS.flatMap(([w, b]) => [
    [w, b],
    [w[0]!.toUpperCase() + w.slice(1), b],
    [w.toUpperCase(), b],
  ]),
);

const booleanTyper: Typer = {
  coerce(v) {
    if (typeof v === "boolean") return v;
    if (typeof v === "string") return BOOLEANS.get(v) ?? BOOLEANS.get(v.toLowerCase()) ?? INVALID;
    if (v === 1 || v === 0) return v === 1;
    return INVALID;
  },
  explain: (v) => `${quote(v)} is not a boolean: use true/false, yes/no, y/n or 1/0`,
};

function dateTyper(kind: "date" | "datetime", format: string | undefined): Typer {
  const parser = compileDateFormat(format, kind);
  return {
    coerce(v) {
      if (typeof v === "string") return parser.parse(v) ?? INVALID;
      // A JSON number such as 20200120 can be a date in format "yyyyMMdd".
      if (typeof v === "number") return parser.parse(String(v)) ?? INVALID;
      return INVALID;
    },
    explain(v) {
      return typeof v === "string" || typeof v === "number"
        ? parser.explain(String(v))
        : `${quote(v)} is not a ${kind}`;
    },
  };
}

/**
 * The compiled type of a field.
 *
 * @param format a date or datetime format, already accepted by `checkDateFormat`
 * @returns the type, or `undefined` for a type name that is none of `FIELD_TYPES`
 * @throws {TypeError} when `format` is not usable
 */
export function typerFor(type: FieldType, format?: string): Typer | undefined {
  switch (type) {
    case "string":
      return stringTyper;
    case "number":
      return numberTyper;
    case "integer":
      return integerTyper;
    case "boolean":
      return booleanTyper;
    case "date":
    case "datetime":
      return dateTyper(type, format);
    default:
      return undefined;
  }
}
