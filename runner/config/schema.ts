/**
 * The pipeline file format: the single source of truth for its types, its validation, the JSON
 * Schema editors use (`deno task schema`) and the field table in the README.
 *
 * @module
 */
import { z } from "zod";
import { mapping, timezone } from "../mapping/spec.ts";
import { duration } from "./fields.ts";

/** The `source` section. */
const sourceSchema = z.strictObject({
  path: z.string().min(1).meta({ description: "Source file, relative to the pipeline file" }),
  format: z.enum(["csv", "json", "jsonl"]).optional().meta({
    description: "csv | json | jsonl; default from the file extension",
  }),
  delimiter: z.string().length(1, { error: "A delimiter is one character" }).default(",").meta({
    description: "CSV field delimiter; a UTF-8 BOM and CRLF line ends are handled",
  }),
});

/** The `polling` section (durations in milliseconds). */
const pollingSchema = z.strictObject({
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

/** The `limits` section. */
const limitsSchema = z.strictObject({
  max_error_rate: z.number().min(0).max(1).default(0).meta({
    description: "(rejected + failed rows) / read rows above this makes the run fail (exit 1)",
  }),
  stop_before_send_on_error_rate: z.boolean().default(false).meta({
    description:
      "Read the whole source first and send nothing (exit 1) when the rows rejected locally already exceed max_error_rate; costs one more read of the file",
  }),
});

/** The `output` section. */
const outputSchema = z.strictObject({
  summary: z.string().min(1).optional().meta({
    description:
      "Also write the JSON summary here (relative to the working directory; the run task may write under out/)",
  }),
  rejects: z.string().min(1).optional().meta({
    description:
      "Write every rejected or failed row here as CSV (relative to the working directory): the input's columns, values exactly as read, plus source_line, key, error (and raw for unparseable records)",
  }),
  rejects_spreadsheet: z.boolean().default(false).meta({
    description:
      "Also write <rejects>.spreadsheet.csv for spreadsheets: cells that would run as formulas get a leading apostrophe (the rejects file itself keeps values as read, for reloading)",
  }),
  max_errors: z.number().int().min(0).default(1000).meta({
    description: "At most this many row errors listed in the summary (the rejects file has all)",
  }),
});

/** A validated `target` section as config sees it: told apart by `api`, the rest the target's. */
export type TargetSection = { api: string } & Record<string, unknown>;

/** What config needs of a target definition to build the pipeline schema. */
export interface TargetSchemaSource {
  api: string;
  schema: z.ZodType;
}

function pipelineShape(targetSchema: z.ZodType<TargetSection, unknown>) {
  return z
    .strictObject({
      version: z.literal(1).meta({ description: "Format version; always 1" }),
      name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, {
        error: "Use letters, digits, dot, dash and underscore",
      }).optional().meta({
        description: "Pipeline name; default: the file name without extension",
      }),
      source: sourceSchema.meta({ description: "The file to read" }),
      target: targetSchema.meta({ description: "The API to load into, told apart by `api`" }),
      key: z.string().min(1).meta({ description: "Target field that identifies a row" }),
      send: z.enum(["all", "changed"]).default("all").meta({
        description:
          "all: every row; changed: only rows whose mapped values differ from what the API last confirmed for their key (needs key; see docs/change-only-sync.md)",
      }),
      duplicates: z.enum(["reject", "first_wins", "last_wins", "allow"]).default("reject").meta({
        description:
          "A key seen again in the same file: reject the later row locally, naming both lines (reject); send only the first row of each key (first_wins) or only the last (last_wins, which reads the source once more first); or send both and let the API decide (allow). Rows dropped by first_wins and last_wins are counted as rejected (code duplicate_key, naming the line that wins) and listed in the rejects file, so every row read is accounted for",
      }),
      timezone: timezone.optional().meta({
        description:
          "IANA time zone (e.g. Europe/Paris) of datetimes without an offset; default UTC. A time that does not exist or exists twice there (DST) is rejected",
      }),
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
}

/** The pipeline schema built for a set of targets. */
export type PipelineSchema = ReturnType<typeof pipelineShape>;

const built = new WeakMap<readonly TargetSchemaSource[], PipelineSchema>();

/**
 * Builds the pipeline schema whose `target` section is one of `targets`' schemas, told apart by
 * `api`. Config never imports the targets: the composition root (runner/registry.ts) hands them in.
 */
export function pipelineSchemaFor(targets: readonly TargetSchemaSource[]): PipelineSchema {
  const cached = built.get(targets);
  if (cached) return cached;
  type Option = Parameters<typeof z.discriminatedUnion>[1][number];
  const options = targets.map((t) => t.schema) as unknown as [Option, ...Option[]];
  const target = z.discriminatedUnion("api", options) as unknown as z.ZodType<
    TargetSection,
    unknown
  >;
  const schema = pipelineShape(target);
  built.set(targets, schema);
  return schema;
}

/** A pipeline as validated (defaults filled, durations in milliseconds). */
export type Pipeline = z.output<PipelineSchema>;
