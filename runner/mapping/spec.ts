/**
 * The mapping vocabulary: the field types and the long form of a mapping. Mapping owns it, and the
 * pipeline schema (config) builds on it, so mapping never needs config.
 *
 * @module
 */
import { z } from "zod";

/** Value types a mapped field can have. */
export const FIELD_TYPES = ["string", "number", "integer", "boolean", "date", "datetime"] as const;

/** An IANA time zone name that this runtime's Intl knows. */
export const timezone = z.string().min(1).refine((tz) => {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}, { error: "Not an IANA time zone name (e.g. Europe/Paris, America/New_York, UTC)" });

const constant = z.union([z.string(), z.number(), z.boolean(), z.null()]);

/** The long form of one mapping: where a target field's value comes from and how it is checked. */
export const mappingObject = z
  .strictObject({
    from: z.string().min(1).optional().meta({
      description: "Source column (CSV header) or property (JSON) to read",
    }),
    value: constant.optional().meta({ description: "A constant sent for every row" }),
    template: z.string().min(1).optional().meta({
      description:
        'Text with {Column} placeholders, e.g. "{First} {Last}"; {{ and }} escape braces',
    }),
    type: z.enum(FIELD_TYPES).default("string").meta({
      description: "Type the value is parsed to and checked as; strings are trimmed",
    }),
    format: z.string().min(1).optional().meta({
      description:
        "Input format of a date or datetime, tokens yyyy yy MM M MMM dd d HH mm ss (date default yyyy-MM-dd; datetime default ISO 8601); yy reads 69-99 as 1969-1999 and 00-68 as 2000-2068, as POSIX does",
    }),
    timezone: timezone.optional().meta({
      description:
        "Datetime only: IANA time zone of values without an offset (overrides the pipeline's timezone)",
    }),
    default: constant.optional().meta({ description: "Used when the source value is empty" }),
    required: z.boolean().default(false).meta({
      description: "Reject the row locally when the value is empty",
    }),
    values: z.record(z.string(), constant).optional().meta({
      description:
        "Lookup table applied to the source value before typing (exact, then case-insensitive)",
    }),
    unmatched: z.enum(["keep", "reject"]).default("keep").meta({
      description: "With `values`: keep a value not in the table, or reject the row",
    }),
  })
  .check((ctx) => {
    const m = ctx.value;
    const given = (["from", "value", "template"] as const).filter((k) => m[k] !== undefined);
    if (given.length !== 1) {
      ctx.issues.push({
        code: "custom",
        input: m,
        message: given.length === 0
          ? 'A mapping needs one of "from", "value" or "template"'
          : `A mapping takes only one of "from", "value" or "template", not ${
            given.map((g) => `"${g}"`).join(" and ")
          }`,
      });
    }
    if (m.timezone !== undefined && m.type !== "datetime") {
      ctx.issues.push({
        code: "custom",
        input: m,
        path: ["timezone"],
        message: `"timezone" applies to datetime fields, not to type "${m.type}"`,
      });
    }
    if (m.format !== undefined && m.type !== "date" && m.type !== "datetime") {
      ctx.issues.push({
        code: "custom",
        input: m,
        path: ["format"],
        message: `"format" applies to date and datetime fields, not to type "${m.type}"`,
      });
    }
  });

/** A mapping: a source column name (shorthand) or the long form. */
export const mapping = z.union([z.string().min(1), mappingObject]).meta({
  description: "A source column name, or an object with from/value/template and checks",
});

/** A field type name. */
export type FieldType = (typeof FIELD_TYPES)[number];
/** One mapping in its long form, defaults filled. */
export type MappingSpec = z.output<typeof mappingObject>;
