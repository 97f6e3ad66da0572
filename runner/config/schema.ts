/**
 * The pipeline file format: the single source of truth for its types, its validation, the JSON
 * Schema editors use (`deno task schema`) and the field table in the README.
 *
 * @module
 */
import { z } from "zod";
import { duration } from "./_common.ts";
import { targetSchema } from "../targets/mod.ts";

/** Value types a mapped field can have. */
export const FIELD_TYPES = ["string", "number", "integer", "boolean", "date", "datetime"] as const;

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
        "Input format of a date or datetime, tokens yyyy yy MM M MMM dd d HH mm ss (date default yyyy-MM-dd; datetime default ISO 8601)",
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

export const sourceSchema = z.strictObject({
  path: z.string().min(1).meta({ description: "Source file, relative to the pipeline file" }),
  format: z.enum(["csv", "json", "jsonl"]).optional().meta({
    description: "csv | json | jsonl; default from the file extension",
  }),
  delimiter: z.string().length(1, { error: "A delimiter is one character" }).default(",").meta({
    description: "CSV field delimiter; a UTF-8 BOM and CRLF line ends are handled",
  }),
});

export const pollingSchema = z.strictObject({
  interval: duration("5s", "First wait between status checks"),
  backoff: z.number().min(1).max(10).default(1.5).meta({
    description: "Each wait grows by this factor",
  }),
  max_interval: duration("1m", "Longest wait between status checks"),
  timeout: duration(
    "30m",
    "Give up waiting for one execution after this long (status timed_out, exit 4)",
  ),
});

export const limitsSchema = z.strictObject({
  max_error_rate: z.number().min(0).max(1).default(0).meta({
    description: "(rejected + failed rows) / read rows above this makes the run fail (exit 1)",
  }),
});

export const outputSchema = z.strictObject({
  summary: z.string().min(1).optional().meta({
    description:
      "Also write the JSON summary here (relative to the working directory; the run task may write under out/)",
  }),
  rejects: z.string().min(1).optional().meta({
    description:
      "Write every rejected or failed row here as CSV (relative to the working directory): the input's columns plus source_line and error",
  }),
  max_errors: z.number().int().min(0).default(1000).meta({
    description: "At most this many row errors listed in the summary (the rejects file has all)",
  }),
});

/** The whole pipeline file. */
export const pipelineSchema = z
  .strictObject({
    version: z.literal(1).meta({ description: "Format version; always 1" }),
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, {
      error: "Use letters, digits, dot, dash and underscore",
    }).optional().meta({ description: "Pipeline name; default: the file name without extension" }),
    source: sourceSchema.meta({ description: "The file to read" }),
    target: targetSchema.meta({ description: "The API to load into, told apart by `api`" }),
    key: z.string().min(1).meta({ description: "Target field that identifies a row" }),
    mappings: z.record(z.string().min(1), mapping).meta({
      description: "Target field -> where its value comes from",
    }),
    polling: pollingSchema.prefault({}).meta({ description: "How to wait for each execution" }),
    limits: limitsSchema.prefault({}).meta({ description: "When a run counts as failed" }),
    output: outputSchema.prefault({}).meta({ description: "Files the run writes" }),
  })
  .check((ctx) => {
    const p = ctx.value;
    if (Object.keys(p.mappings).length === 0) {
      ctx.issues.push({
        code: "custom",
        input: p.mappings,
        path: ["mappings"],
        message: "At least one mapping is needed",
      });
    }
    if (!(p.key in p.mappings)) {
      ctx.issues.push({
        code: "custom",
        input: p.key,
        path: ["key"],
        message: `Key "${p.key}" is not one of the mapped fields: ${
          Object.keys(p.mappings).map((k) => `"${k}"`).join(", ")
        }`,
      });
    }
  });

/** A pipeline as validated (defaults filled, durations in milliseconds). */
export type Pipeline = z.output<typeof pipelineSchema>;
/** One mapping in its long form, defaults filled. */
export type MappingSpec = z.output<typeof mappingObject>;
/** The source section, defaults filled. */
export type SourceSpec = z.output<typeof sourceSchema>;
/** The polling section, in milliseconds. */
export type PollingSpec = z.output<typeof pollingSchema>;
