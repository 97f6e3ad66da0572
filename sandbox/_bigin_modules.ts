/**
 * The modules the Bigin sandbox knows, their fields, and how one CSV value is checked against a
 * field's type. A deliberately small slice of a real Bigin org: enough for the example pipelines
 * and for every per-row error the result file can report.
 *
 * @module
 */

/** How the sandbox checks a field's values. */
export type BiginFieldType =
  | "text"
  | "textarea"
  | "date"
  | "currency"
  | "email"
  | "phone"
  | "website"
  | "lookup"
  | "owner"
  | "id";

/** One field of a sandbox module. */
export interface BiginField {
  /** The field's API name, as in `field_mappings[].api_name`. */
  apiName: string;
  /** How values are checked. */
  type: BiginFieldType;
  /** Must have a value when a record is created. */
  required?: boolean;
  /** For lookups: the module the field points at. */
  lookupModule?: string;
  /** Longest value accepted. */
  maxLength?: number;
}

/** One module of the sandbox org. */
export interface BiginModule {
  /** The module's API name, as in `resource[].module.api_name`. */
  apiName: string;
  /** Its fields, in the order errors list them. */
  fields: BiginField[];
  /**
   * The field whose value must be unique within the module: the duplicate check on insert and
   * the only field besides `id` that `find_by` may name.
   */
  uniqueField: string;
}

const OWNER: BiginField = { apiName: "Owner", type: "owner" };
const DESCRIPTION: BiginField = { apiName: "Description", type: "textarea", maxLength: 32000 };

/** Every module the sandbox accepts, by API name. */
export const BIGIN_MODULES: ReadonlyMap<string, BiginModule> = new Map(
  [
    {
      apiName: "Pipelines",
      uniqueField: "Deal_Name",
      fields: [
        { apiName: "Deal_Name", type: "text", required: true, maxLength: 255 },
        { apiName: "Sub_Pipeline", type: "text", required: true, maxLength: 255 },
        { apiName: "Stage", type: "text", required: true, maxLength: 255 },
        { apiName: "Closing_Date", type: "date" },
        { apiName: "Amount", type: "currency" },
        { apiName: "Account_Name", type: "lookup", lookupModule: "Accounts" },
        { apiName: "Contact_Name", type: "lookup", lookupModule: "Contacts" },
        OWNER,
        DESCRIPTION,
      ],
    },
    {
      apiName: "Contacts",
      uniqueField: "Email",
      fields: [
        { apiName: "Last_Name", type: "text", required: true, maxLength: 255 },
        { apiName: "First_Name", type: "text", maxLength: 255 },
        { apiName: "Email", type: "email", maxLength: 255 },
        { apiName: "Mobile", type: "phone", maxLength: 30 },
        { apiName: "Account_Name", type: "lookup", lookupModule: "Accounts" },
        OWNER,
        DESCRIPTION,
      ],
    },
    {
      apiName: "Accounts",
      uniqueField: "Account_Name",
      fields: [
        { apiName: "Account_Name", type: "text", required: true, maxLength: 255 },
        { apiName: "Phone", type: "phone", maxLength: 30 },
        { apiName: "Website", type: "website", maxLength: 255 },
        OWNER,
        DESCRIPTION,
      ],
    },
  ].map((m) => [m.apiName, m as BiginModule]),
);

/** The record id pseudo-field, usable as `find_by` and as a mapped column on update/upsert. */
export const ID_FIELD: BiginField = { apiName: "id", type: "id" };

/** Looks a field up by API name, including the `id` pseudo-field. */
export function findField(module: BiginModule, apiName: string): BiginField | undefined {
  if (apiName === "id") return ID_FIELD;
  return module.fields.find((f) => f.apiName === apiName);
}

/** The date format bulk CSVs use when a mapping gives none. */
export const DEFAULT_DATE_FORMAT = "MM/dd/yyyy";

/** The date/time fields a `format` may use (Java `SimpleDateFormat` letters). */
export const FORMAT_TOKENS = ["yyyy", "MM", "dd", "HH", "mm", "ss"] as const;
/** A date/time field a pattern may use. */
export type FormatToken = typeof FORMAT_TOKENS[number];
/** One piece of a compiled date pattern: a date/time field or a literal separator. */
export type FormatPart = { token: FormatToken } | { literal: string };

/**
 * Compiles a Java-style date pattern (`yyyy`, `MM`, `dd`, `HH`, `mm`, `ss` and non-letter
 * separators). Returns `undefined` for anything else, e.g. `YYYY-MM-DD`, which in Java means
 * week-year and day-of-year: a common misreading the sandbox rejects rather than guesses at.
 */
export function compileDateFormat(pattern: string): FormatPart[] | undefined {
  const parts: FormatPart[] = [];
  let i = 0;
  const seen = new Set<FormatToken>();
  while (i < pattern.length) {
    const token = FORMAT_TOKENS.find((t) => pattern.startsWith(t, i));
    if (token) {
      if (seen.has(token)) return undefined;
      seen.add(token);
      parts.push({ token });
      i += token.length;
      if (/[A-Za-z]/.test(pattern[i] ?? "")) return undefined; // e.g. "yyyyy", "MMM"
      continue;
    }
    const ch = pattern[i]!;
    if (/[A-Za-z]/.test(ch)) return undefined;
    parts.push({ literal: ch });
    i++;
  }
  if (!seen.has("yyyy") || !seen.has("MM") || !seen.has("dd")) return undefined;
  return parts;
}

/** The default date format, compiled on first use. */
let defaultFormat: FormatPart[] | undefined;

/** Each compiled date format's regular expression, built once (not once per row). */
const patterns = new WeakMap<FormatPart[], RegExp>();

/**
 * Parses a value with a compiled date pattern. `yyyy` takes four digits; the other fields one or
 * two. Returns the date as `yyyy-MM-dd`, or `undefined` when the value does not match or names a
 * day that does not exist.
 */
export function parseDate(value: string, format: FormatPart[]): string | undefined {
  let pattern = patterns.get(format);
  if (!pattern) {
    let re = "^";
    for (const p of format) {
      if ("literal" in p) re += p.literal.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      else re += p.token === "yyyy" ? "(\\d{4})" : "(\\d{1,2})";
    }
    patterns.set(format, pattern = new RegExp(re + "$"));
  }
  const m = pattern.exec(value.trim());
  if (!m) return undefined;
  const got: Partial<Record<FormatToken, number>> = {};
  let g = 1;
  for (const p of format) if ("token" in p) got[p.token] = Number(m[g++]);
  const { yyyy = 0, MM = 0, dd = 0, HH = 0, mm = 0, ss = 0 } = got;
  if (MM < 1 || MM > 12 || dd < 1 || HH > 23 || mm > 59 || ss > 59) return undefined;
  const daysInMonth = new Date(Date.UTC(yyyy, MM, 0)).getUTCDate();
  if (dd > daysInMonth) return undefined;
  return `${String(yyyy).padStart(4, "0")}-${String(MM).padStart(2, "0")}-${
    String(dd).padStart(2, "0")
  }`;
}

const EMAIL = /^[^\s@",;]+@[^\s@",;]+\.[^\s@",;]+$/;
const PHONE = /^[0-9+()\-.\s x]+$/;
const CURRENCY = /^-?\d{1,16}(\.\d{1,9})?$/;
const WEBSITE = /^\S+\.\S+$/;
const DIGITS = /^\d{1,19}$/;

/** What {@link checkValue} makes of one non-empty value. */
export type ValueCheck = { ok: true; value: string } | { ok: false };

/**
 * Checks one non-empty CSV value against its field; returns the value as stored (dates as
 * `yyyy-MM-dd`).
 *
 * @param lookupBy For lookups, what the value identifies the linked record by (`id` means the
 *   value must be a record id).
 */
export function checkValue(
  field: BiginField,
  raw: string,
  dateFormat: FormatPart[] | undefined,
  lookupBy?: string,
): ValueCheck {
  if (field.maxLength !== undefined && raw.length > field.maxLength) return { ok: false };
  switch (field.type) {
    case "date": {
      const iso = parseDate(
        raw,
        dateFormat ?? (defaultFormat ??= compileDateFormat(DEFAULT_DATE_FORMAT)!),
      );
      return iso === undefined ? { ok: false } : { ok: true, value: iso };
    }
    case "currency":
      return CURRENCY.test(raw.trim()) ? { ok: true, value: raw.trim() } : { ok: false };
    case "email":
      return EMAIL.test(raw.trim()) ? { ok: true, value: raw.trim() } : { ok: false };
    case "phone":
      return PHONE.test(raw) ? { ok: true, value: raw } : { ok: false };
    case "website":
      return WEBSITE.test(raw.trim()) ? { ok: true, value: raw.trim() } : { ok: false };
    case "id":
      return DIGITS.test(raw.trim()) ? { ok: true, value: raw.trim() } : { ok: false };
    case "lookup":
      if (lookupBy === "id" && !DIGITS.test(raw.trim())) return { ok: false };
      return { ok: true, value: raw };
    default:
      return { ok: true, value: raw };
  }
}
