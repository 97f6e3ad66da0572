/**
 * Date and datetime parsing: a format such as `dd-MMM-yyyy` is checked and compiled once into a
 * list of steps, which then reads each value without building a regular expression or any
 * intermediate object. Only the output string is allocated per value.
 *
 * @module
 */

/** What a parsed value becomes: `date` -> `yyyy-MM-dd`, `datetime` -> `yyyy-MM-ddTHH:mm:ssZ`. */
export type DateKind = "date" | "datetime";

/** Tokens a format may use, for messages. */
export const DATE_TOKENS = "yyyy yy MM M MMM dd d HH mm ss";

/** Letters that are not tokens but may appear as literal text (`2020-01-20T10:00:00Z`). */
const LITERAL_LETTERS = "TZ";

// Step kinds. Numbers rather than strings so the hot loop switches on small integers.
const LIT = 0;
const YEAR4 = 1;
const YEAR2 = 2;
const MONTH2 = 3;
const MONTH12 = 4; // one or two digits
const MONTH_NAME = 5;
const DAY2 = 6;
const DAY12 = 7; // one or two digits
const HOUR2 = 8;
const MINUTE2 = 9;
const SECOND2 = 10;

const TOKEN_KIND: Record<string, number> = {
  yyyy: YEAR4,
  yy: YEAR2,
  MM: MONTH2,
  M: MONTH12,
  MMM: MONTH_NAME,
  dd: DAY2,
  d: DAY12,
  HH: HOUR2,
  mm: MINUTE2,
  ss: SECOND2,
};

/** For a letter run that is no token: the tokens that letter does make. */
const TOKEN_HINT: Record<string, string> = {
  y: "yyyy or yy",
  M: "MMM, MM or M",
  d: "dd or d",
  H: "HH",
  m: "mm",
  s: "ss",
};

const MONTH_NAMES = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];

/** Three lowercase letters packed into one number -> month 1..12 (see `monthFromName`). */
const MONTH_BY_CODE = new Map<number, number>(
  MONTH_NAMES.map((name, i) => [packLower(name, 0), i + 1]),
);

function packLower(s: string, i: number): number {
  const a = s.charCodeAt(i);
  const b = s.charCodeAt(i + 1);
  const c = s.charCodeAt(i + 2);
  // Only ASCII may be packed, or a wide character could pose as two letters.
  if ((a | b | c) > 0x7f) return -1;
  // `| 0x20` lowercases ASCII letters; anything else simply will not be found in the table.
  return ((a | 0x20) << 16) | ((b | 0x20) << 8) | (c | 0x20);
}

function isLetter(c: string): boolean {
  return (c >= "a" && c <= "z") || (c >= "A" && c <= "Z");
}

interface Part {
  kind: number;
  /** The token as written, or the literal text. */
  text: string;
}

/** Splits a format into tokens and literals; returns a message for the first bad letter run. */
function tokenize(format: string): Part[] | string {
  const parts: Part[] = [];
  const unknown: string[] = [];
  let i = 0;
  while (i < format.length) {
    const c = format[i]!;
    let j = i + 1;
    if (isLetter(c) && !LITERAL_LETTERS.includes(c)) {
      while (format[j] === c) j++;
      const run = format.slice(i, j);
      const kind = TOKEN_KIND[run];
      if (kind !== undefined) parts.push({ kind, text: run });
      else if (TOKEN_HINT[c] === undefined) {
        if (!unknown.includes(c)) unknown.push(c);
      } else if (unknown.length === 0) {
        return `${JSON.stringify(run)} in date format ${
          JSON.stringify(format)
        } is not a token: use ${TOKEN_HINT[c]}`;
      }
    } else {
      while (
        j < format.length && !(isLetter(format[j]!) && !LITERAL_LETTERS.includes(format[j]!))
      ) {
        j++;
      }
      parts.push({ kind: LIT, text: format.slice(i, j) });
    }
    i = j;
  }
  if (unknown.length > 0) {
    return `Unknown ${unknown.length === 1 ? "letter" : "letters"} ${
      unknown.map((u) => JSON.stringify(u)).join(", ")
    } in date format ${JSON.stringify(format)}`;
  }
  return parts;
}

/** Checks what the tokens say together: one year, month and day; hours before minutes etc. */
function checkParts(format: string, parts: Part[]): string | undefined {
  const q = JSON.stringify(format);
  const count = (...kinds: number[]) => parts.filter((p) => kinds.includes(p.kind)).length;
  const groups: [string, number[]][] = [
    ["year", [YEAR4, YEAR2]],
    ["month", [MONTH2, MONTH12, MONTH_NAME]],
    ["day", [DAY2, DAY12]],
    ["hour", [HOUR2]],
    ["minute", [MINUTE2]],
    ["second", [SECOND2]],
  ];
  const missing = groups.slice(0, 3).filter(([, kinds]) => count(...kinds) === 0).map(([n]) => n);
  if (missing.length > 0) {
    const list = missing.length === 1
      ? missing[0]
      : `${missing.slice(0, -1).join(", ")} or ${missing.at(-1)}`;
    return `Date format ${q} has no ${list}`;
  }
  for (const [name, kinds] of groups) {
    if (count(...kinds) > 1) return `Date format ${q} has the ${name} more than once`;
  }
  if (count(MINUTE2) > 0 && count(HOUR2) === 0) {
    return `Date format ${q} has minutes (mm) but no hours (HH)`;
  }
  if (count(SECOND2) > 0 && count(MINUTE2) === 0) {
    return `Date format ${q} has seconds (ss) but no minutes (mm)`;
  }
  for (let k = 0; k < parts.length - 1; k++) {
    const p = parts[k]!;
    const next = parts[k + 1]!;
    const nextStartsWithDigit = next.kind === LIT
      ? /^[0-9]/.test(next.text)
      : next.kind !== MONTH_NAME;
    if ((p.kind === MONTH12 || p.kind === DAY12) && nextStartsWithDigit) {
      return `Date format ${q} needs a separator after ${
        JSON.stringify(p.text)
      }: it reads one or two digits`;
    }
  }
  return undefined;
}

/** The first problem of a format, without a suggestion. */
function problemOf(format: string): string | undefined {
  const parts = tokenize(format);
  return typeof parts === "string" ? parts : checkParts(format, parts);
}

/** A likely intended format: other conventions' letters mapped to ours, `mm` as month if none. */
function suggest(format: string): string | undefined {
  let s = format.replace(/[YDh]/g, (c) => ({ Y: "y", D: "d", h: "H" })[c]!);
  if (!/M/.test(s) && !/H/.test(s)) s = s.replace(/m+/, (run) => "M".repeat(run.length));
  return s !== format && problemOf(s) === undefined ? s : undefined;
}

/**
 * Checks a `format` of a date or datetime field.
 *
 * A format needs a year (`yyyy`, `yy`), a month (`MMM`, `MM`, `M`) and a day (`dd`, `d`), and
 * may have `HH`, `mm`, `ss`. Letters other than these and a literal `T` or `Z` are refused, so
 * that a format in another convention (`YYYY-mm-DD`) is caught when the pipeline is checked
 * rather than rejecting every row.
 *
 * @returns a message for the pipeline's diagnostics, or `undefined` when the format is usable
 * @example
 * checkDateFormat("dd-MMM-yyyy") // undefined
 * checkDateFormat("YYYY-mm-DD")  // 'Unknown letters "Y", "D" in date format "YYYY-mm-DD": did you mean "yyyy-MM-dd"?'
 */
export function checkDateFormat(format: string): string | undefined {
  const problem = problemOf(format);
  if (problem === undefined) return undefined;
  const better = suggest(format);
  return better !== undefined
    ? `${problem}: did you mean ${JSON.stringify(better)}?`
    : problem.includes(": ")
    ? problem
    : `${problem}: use tokens ${DATE_TOKENS}, e.g. "yyyy-MM-dd"`;
}

/** Whether `y` is a leap year in the Gregorian calendar. */
export function isLeapYear(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

/** Days in month `m` (1..12) of year `y`. */
export function daysInMonth(y: number, m: number): number {
  return m === 2 ? (isLeapYear(y) ? 29 : 28) : m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

// Output pieces by lookup, so that printing a date takes few string additions: "00".."99",
// "-01-".."-12-", "T00:".."T23:", ":00:".."59:" and "00Z".."59Z".
const PAD2 = Array.from({ length: 100 }, (_, i) => (i < 10 ? "0" : "") + i);
const MONTH_PART = PAD2.map((p) => "-" + p + "-");
const HOUR_PART = PAD2.map((p) => "T" + p + ":");
const MINUTE_PART = PAD2.map((p) => p + ":");
const SECOND_PART = PAD2.map((p) => p + "Z");

function pad4(n: number): string {
  return n >= 1000 ? "" + n : String(n).padStart(4, "0");
}

/** Reads exactly `width` ASCII digits at `i`; -1 when they are not all there. */
function fixedDigits(s: string, i: number, width: number): number {
  if (i + width > s.length) return -1;
  let n = 0;
  for (let k = i; k < i + width; k++) {
    const c = s.charCodeAt(k) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

/** `off` when the value carries no UTC offset. */
const NO_OFFSET = 0x7fffffff;

/** Whether these are a real calendar date and time of day. */
function valid(y: number, mo: number, d: number, h: number, mi: number, s: number): boolean {
  return y >= 1 && mo >= 1 && mo <= 12 && d >= 1 && (d <= 28 || d <= daysInMonth(y, mo)) &&
    h <= 23 && mi <= 59 && s <= 59;
}

/** Why these are not a real date and time (only called when they are not). */
function problem(y: number, mo: number, d: number, h: number, mi: number, s: number): string {
  if (y < 1) return "there is no year 0";
  if (mo < 1 || mo > 12) return `there is no month ${mo}`;
  if (d < 1 || d > daysInMonth(y, mo)) {
    return `${MONTH_NAMES[mo - 1]} ${y} has ${daysInMonth(y, mo)} days`;
  }
  if (h > 23) return `there is no hour ${h}`;
  if (mi > 59) return `there is no minute ${mi}`;
  return `there is no second ${s}`;
}

// `offsetAt` returns two numbers without allocating: the index after the offset and the offset
// in minutes (-1439..1439), packed as `index * OFFSET_SPAN + minutes + OFFSET_BIAS`.
const OFFSET_BIAS = 1440;
const OFFSET_SPAN = 4096;
/** `offsetAt`: not an offset. */
const NOT_OFFSET = -1;
/** `offsetAt`: an offset out of range, such as `+25:00`. */
const BAD_OFFSET = -2;

/** Reads a UTC offset at `i`: `Z`, `±hh:mm`, `±hhmm` or `±hh` (packed, see above). */
function offsetAt(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === 90 || c === 122) return (i + 1) * OFFSET_SPAN + OFFSET_BIAS; // Z z
  if (c !== 43 && c !== 45) return NOT_OFFSET; // + -
  const hh = fixedDigits(text, i + 1, 2);
  if (hh < 0) return NOT_OFFSET;
  let j = i + 3;
  let mm = 0;
  if (j < text.length) {
    if (text.charCodeAt(j) === 58) j++; // :
    mm = fixedDigits(text, j, 2);
    if (mm < 0) return NOT_OFFSET;
    j += 2;
  }
  if (hh > 23 || mm > 59) return BAD_OFFSET;
  return j * OFFSET_SPAN + (c === 45 ? -1 : 1) * (hh * 60 + mm) + OFFSET_BIAS;
}

function dateText(y: number, mo: number, d: number): string {
  return pad4(y) + MONTH_PART[mo] + PAD2[d];
}

/** The instant in UTC as `yyyy-MM-ddTHH:mm:ssZ`, after applying `off` if there is one. */
function dateTimeText(
  y: number,
  mo: number,
  d: number,
  h: number,
  mi: number,
  s: number,
  off: number,
): string {
  if (off !== NO_OFFSET && off !== 0) {
    // An offset is less than a day, so the date moves by one day at most.
    let minutes = h * 60 + mi - off;
    if (minutes < 0) {
      minutes += 1440;
      if (--d < 1) {
        if (--mo < 1) {
          mo = 12;
          y--;
        }
        d = daysInMonth(y, mo);
      }
    } else if (minutes >= 1440) {
      minutes -= 1440;
      if (++d > daysInMonth(y, mo)) {
        d = 1;
        if (++mo > 12) {
          mo = 1;
          y++;
        }
      }
    }
    h = Math.floor(minutes / 60);
    mi = minutes % 60;
  }
  return dateText(y, mo, d) + HOUR_PART[h] + MINUTE_PART[mi] + SECOND_PART[s];
}

/**
 * A compiled date or datetime format. `parse` returns the canonical output string or
 * `undefined`; `explain` says why a value was refused (only called on the error path).
 */
export interface DateParser {
  readonly kind: DateKind;
  /** `format "dd-MMM-yyyy"` or `ISO 8601 format`, for messages. */
  readonly describe: string;
  parse(text: string): string | undefined;
  /** The detail of an error: `cannot read "x" as a date in format "yyyy-MM-dd": ...`. */
  explain(text: string): string;
}

/**
 * A format compiled to steps: parallel arrays of step kinds, literal texts and, for one-character
 * literals, their character code (compared directly rather than with `startsWith`).
 */
class FormatParser implements DateParser {
  readonly kind: DateKind;
  readonly describe: string;
  readonly kinds: Uint8Array;
  readonly lits: string[];
  readonly chars: Int32Array;
  readonly datetime: boolean;
  /** `yyyy-MM-dd` read as a date: a valid value is already its own output. */
  readonly canonical: boolean;
  /** Set by `read` with `explain`: why the value is not a real date, beyond not matching. */
  problem = "";

  constructor(format: string, parts: Part[], kind: DateKind) {
    this.kind = kind;
    this.describe = `format ${JSON.stringify(format)}`;
    this.kinds = Uint8Array.from(parts, (p) => p.kind);
    this.lits = parts.map((p) => p.text);
    this.chars = Int32Array.from(parts, (p) => p.text.length === 1 ? p.text.charCodeAt(0) : -1);
    this.datetime = kind === "datetime";
    this.canonical = kind === "date" && format === "yyyy-MM-dd";
  }

  parse(text: string): string | undefined {
    return this.read(text, false);
  }

  explain(text: string): string {
    this.problem = "";
    this.read(text, true);
    return explanation(this, text, this.problem);
  }

  /** Reads a value; with `explain`, leaves the reason it is not a real date in `problem`. */
  read(text: string, explain: boolean): string | undefined {
    const kinds = this.kinds;
    const n = text.length;
    let y = 0, mo = 1, d = 1, h = 0, mi = 0, s = 0, off = NO_OFFSET;
    let i = 0;
    for (let k = 0; k < kinds.length; k++) {
      const kind = kinds[k];
      let v: number;
      if (kind === LIT) {
        const c = this.chars[k]!;
        if (c >= 0) {
          if (text.charCodeAt(i) !== c) return undefined;
          i++;
        } else {
          const lit = this.lits[k]!;
          if (!text.startsWith(lit, i)) return undefined;
          i += lit.length;
        }
        continue;
      }
      if (kind === MONTH_NAME) {
        if (i + 3 > n || (v = MONTH_BY_CODE.get(packLower(text, i)) ?? 0) === 0) return undefined;
        mo = v;
        i += 3;
        continue;
      }
      if (kind === YEAR4) {
        if ((y = fixedDigits(text, i, 4)) < 0) return undefined;
        i += 4;
        continue;
      }
      if (kind === MONTH12 || kind === DAY12) {
        // One digit, and a second one if there is one.
        if ((v = fixedDigits(text, i, 1)) < 0) return undefined;
        const c = text.charCodeAt(++i) - 48;
        if (c >= 0 && c <= 9) {
          v = v * 10 + c;
          i++;
        }
      } else {
        if ((v = fixedDigits(text, i, 2)) < 0) return undefined;
        i += 2;
      }
      switch (kind) {
        case YEAR2:
          // POSIX strptime's pivot: 69-99 are 1969-1999, 00-68 are 2000-2068.
          y = v >= 69 ? 1900 + v : 2000 + v;
          break;
        case MONTH2:
        case MONTH12:
          mo = v;
          break;
        case DAY2:
        case DAY12:
          d = v;
          break;
        case HOUR2:
          h = v;
          break;
        case MINUTE2:
          mi = v;
          break;
        default:
          s = v;
      }
    }
    if (i < n && this.datetime) {
      // A datetime may carry its offset after the format, directly or after one space.
      const packed = offsetAt(text, text.charCodeAt(i) === 32 ? i + 1 : i);
      if (packed < 0) {
        if (explain && packed === BAD_OFFSET) this.problem = "the UTC offset is out of range";
        return undefined;
      }
      i = Math.floor(packed / OFFSET_SPAN);
      off = packed % OFFSET_SPAN - OFFSET_BIAS;
    }
    if (i !== n) return undefined;
    if (!valid(y, mo, d, h, mi, s)) {
      if (explain) this.problem = problem(y, mo, d, h, mi, s);
      return undefined;
    }
    if (this.datetime) return dateTimeText(y, mo, d, h, mi, s, off);
    return this.canonical ? text : dateText(y, mo, d);
  }
}

/**
 * ISO 8601 as it appears in exports: `yyyy-MM-dd`, optionally followed by `T` (or a space),
 * `HH:mm`, optional `:ss` and fraction, and an optional `Z` or `±hh:mm`.
 */
class IsoParser implements DateParser {
  readonly kind: DateKind = "datetime";
  readonly describe = "ISO 8601 format";
  /** Set by `read` with `explain`: why the value is not a real date, beyond not matching. */
  problem = "";

  parse(text: string): string | undefined {
    return this.read(text, false);
  }

  explain(text: string): string {
    this.problem = "";
    this.read(text, true);
    return explanation(this, text, this.problem);
  }

  /** Reads a value; with `explain`, leaves the reason it is not a real date in `problem`. */
  read(text: string, explain: boolean): string | undefined {
    const n = text.length;
    let y, mo, d, h = 0, mi = 0, s = 0, off = NO_OFFSET;
    if (
      (y = fixedDigits(text, 0, 4)) < 0 || text.charCodeAt(4) !== 45 ||
      (mo = fixedDigits(text, 5, 2)) < 0 || text.charCodeAt(7) !== 45 ||
      (d = fixedDigits(text, 8, 2)) < 0
    ) return undefined;
    if (n > 10) {
      const t = text.charCodeAt(10);
      if (t !== 84 && t !== 116 && t !== 32) return undefined; // T t space
      if (
        (h = fixedDigits(text, 11, 2)) < 0 || text.charCodeAt(13) !== 58 ||
        (mi = fixedDigits(text, 14, 2)) < 0
      ) return undefined;
      let i = 16;
      if (text.charCodeAt(i) === 58) {
        if ((s = fixedDigits(text, 17, 2)) < 0) return undefined;
        i = 19;
        const c = text.charCodeAt(i);
        if (c === 46 || c === 44) { // . , : a fraction of a second, dropped
          const start = ++i;
          while (i < n && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) i++;
          if (i === start) return undefined;
        }
      }
      if (i < n) {
        const packed = offsetAt(text, i);
        if (packed < 0) {
          if (explain && packed === BAD_OFFSET) this.problem = "the UTC offset is out of range";
          return undefined;
        }
        if (Math.floor(packed / OFFSET_SPAN) !== n) return undefined;
        off = packed % OFFSET_SPAN - OFFSET_BIAS;
      }
    }
    if (!valid(y, mo, d, h, mi, s)) {
      if (explain) this.problem = problem(y, mo, d, h, mi, s);
      return undefined;
    }
    // Already canonical (`...T10:00:00Z`): return the input rather than building it again.
    if (n === 20 && text.charCodeAt(10) === 84 && text.charCodeAt(19) === 90) return text;
    return dateTimeText(y, mo, d, h, mi, s, off);
  }
}

function explanation(p: DateParser, text: string, problem: string): string {
  const shown = text.length > 100 ? text.slice(0, 100) + "…" : text;
  return `cannot read ${JSON.stringify(shown)} as a ${p.kind} in ${p.describe}${
    problem ? ": " + problem : ""
  }`;
}

/**
 * Compiles a format into a parser. Without a format, a date reads `yyyy-MM-dd` and a datetime
 * reads ISO 8601.
 *
 * @throws {TypeError} when the format fails `checkDateFormat` (check it first to report it)
 */
export function compileDateFormat(format: string | undefined, kind: DateKind): DateParser {
  if (format === undefined) {
    return kind === "date" ? compileDateFormat("yyyy-MM-dd", kind) : new IsoParser();
  }
  const problem = checkDateFormat(format);
  const parts = tokenize(format);
  if (problem !== undefined || typeof parts === "string") throw new TypeError(problem);
  return new FormatParser(format, parts, kind);
}
