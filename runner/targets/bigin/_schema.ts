/**
 * The `target` section for `api: bigin`, Bigin's limits, and the data centres' domains.
 *
 * @module
 */
import { z } from "zod";
import { baseUrl, nonEmpty, secret, volatile } from "../../config/mod.ts";
import { commonTargetFields, concurrency } from "../_common.ts";

/** Rows Bigin takes in one bulk write job. */
export const BIGIN_MAX_ROWS = 25_000;
/** Largest upload ZIP Bigin takes. */
export const BIGIN_MAX_ZIP_BYTES = 25 * 1024 * 1024;
/** Columns Bigin takes in one bulk write CSV. */
export const BIGIN_MAX_COLUMNS = 200;
/** Largest result file (compressed or not) the runner reads. */
export const BIGIN_MAX_RESULT_BYTES = 256 * 1024 * 1024;

/** Zoho data centres, each with its own API, upload and accounts domains. */
export const BIGIN_DATA_CENTERS = ["us", "eu", "au", "in", "cn", "jp", "ca", "sa"] as const;

/** A Zoho data centre. */
export type BiginDataCenter = typeof BIGIN_DATA_CENTERS[number];

const auth = volatile(
  z.strictObject({
    type: z.literal("zoho_refresh_token"),
    client_id: secret(nonEmpty).meta({
      description: "Zoho API console client id; use ${ENV_VAR}",
    }),
    client_secret: secret(nonEmpty).meta({
      description: "Zoho API console client secret; use ${ENV_VAR}",
    }),
    refresh_token: secret(nonEmpty).meta({
      description: "Refresh token with scopes ZohoBigin.bulk.ALL and ZohoBigin.modules.ALL",
    }),
  }).meta({ description: "zoho_refresh_token (the only kind Bigin offers for server jobs)" }),
);

/** The `target` section for `api: bigin`. */
export const biginSchema = z.strictObject({
  api: z.literal("bigin"),
  data_center: z.enum(BIGIN_DATA_CENTERS).default("us").meta({
    description:
      "Zoho data centre of the Bigin account; picks the API, upload and accounts domains",
  }),
  base_url: z.union([z.literal("").transform(() => undefined), baseUrl]).optional().meta({
    description:
      'Replaces all three domains (sandbox, proxy); "" means not set, so ${BIGIN_BASE_URL:-} works',
  }),
  module: nonEmpty.meta({
    description: "Module API name: Pipelines (deals), Contacts, Accounts, ...",
  }),
  operation: z.enum(["insert", "update", "upsert"]).meta({
    description: "insert adds records; update changes existing ones; upsert does either",
  }),
  find_by: nonEmpty.optional().meta({
    description:
      "Field that finds existing records (unique field or id); required for update and upsert",
  }),
  org_id: nonEmpty.meta({ description: "Bigin organisation id, sent as X-CRM-ORG on uploads" }),
  batch_size: z.number().int().min(1).max(BIGIN_MAX_ROWS, {
    error: `Must be at most ${BIGIN_MAX_ROWS}: Bigin takes at most ${BIGIN_MAX_ROWS} rows per job`,
  }).default(BIGIN_MAX_ROWS).meta({
    description: "Rows per job (at most 25000, and at most 25 MB zipped)",
  }),
  concurrency: concurrency(10, "Jobs in flight at once (Bigin editions cap concurrent jobs)"),
  ignore_empty: z.boolean().default(false).meta({
    description: "Leave a field unchanged when its cell is empty, instead of clearing it",
  }),
  auth,
  ...commonTargetFields,
}).superRefine((t, ctx) => {
  if (t.operation !== "insert" && t.find_by === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["find_by"],
      message:
        `Required for operation "${t.operation}": set target.find_by to the field that identifies a record, e.g. "Deal_Name" or "Email"`,
    });
  }
});

/** A validated Bigin target section. */
export type BiginConfig = z.output<typeof biginSchema>;

/** The three hosts a run talks to. */
export interface BiginDomains {
  /** Job creation, job details and result downloads. */
  api: string;
  /** File uploads. */
  content: string;
  /** OAuth tokens. */
  accounts: string;
}

const DC_SUFFIX: Record<BiginDataCenter, string> = {
  us: "com",
  eu: "eu",
  au: "com.au",
  in: "in",
  cn: "com.cn",
  jp: "jp",
  ca: "ca",
  sa: "sa",
};

/**
 * The API, upload and accounts domains of a data centre, or `baseUrl` for all three.
 *
 * @example
 * biginDomains("eu") // { api: "https://www.zohoapis.eu", content: "https://content.zohoapis.eu", accounts: "https://accounts.zoho.eu" }
 */
export function biginDomains(dataCenter: BiginDataCenter, baseUrl?: string): BiginDomains {
  if (baseUrl) return { api: baseUrl, content: baseUrl, accounts: baseUrl };
  const s = DC_SUFFIX[dataCenter];
  return {
    api: `https://www.zohoapis.${s}`,
    content: `https://content.zohoapis.${s}`,
    // Canada's accounts server lives under zohocloud.ca rather than zoho.ca.
    accounts: dataCenter === "ca" ? "https://accounts.zohocloud.ca" : `https://accounts.zoho.${s}`,
  };
}
