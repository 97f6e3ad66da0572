/**
 * The API description language: one zod schema for the YAML files in `apis/`. It is the single
 * source of the checks, the TypeScript types, the JSON Schema and the docs table of
 * `docs/api-descriptions.md`. Every object is strict, so a typo is an error with a hint.
 *
 * @module
 */
import { z } from "zod";
import { checkReferences } from "./_refs.ts";

const d = (description: string) => ({ description });

/** Keys every target section has; a param may not take one of these names. */
export const RESERVED_PARAMS = [
  "api",
  "batch_size",
  "concurrency",
  "headers",
  "request_timeout",
  "retries",
  "resend_uncertain",
  "allow_http",
] as const;

const name = z.string().regex(/^[a-z][a-z0-9_]*$/, {
  error: "Expected a snake_case name (a-z, 0-9, _)",
});
const template = z.string().meta(d(
  "Text with {params.x}, {job.x}, {batch.index|number|size|key} (and {token} in headers)",
));
const pointer = z.string().regex(/^(\/.*)?$/, {
  error: 'Expected a JSON pointer: "" (the whole answer) or "/a/0/b"',
});
const scalar = z.union([z.string(), z.number(), z.boolean()]);
const outcome = z.enum(["succeeded", "failed", "skipped", "unprocessed"]);

/** One setting a pipeline's `target` section gives. */
export const paramSchema = z.strictObject({
  type: z.enum(["string", "number", "boolean", "enum", "url"]).meta(d(
    "Value type; url is an http(s) URL without its trailing slash",
  )),
  values: z.array(z.string()).min(1).optional().meta(d("The allowed values of an enum")),
  required: z.boolean().default(false).meta(d("Whether the pipeline must give it")),
  default: scalar.optional().meta(d("Value when the pipeline gives none")),
  secret: z.boolean().default(false).meta(d(
    "A credential: never printed, never journaled, never in a URL",
  )),
  required_when: z.record(name, z.array(z.string()).min(1)).optional().meta(d(
    "Required when another param has one of these values, e.g. { operation: [upsert] }",
  )),
  description: z.string().min(1).meta(d("One line for the pipeline docs and editor hints")),
});

/** An answer that matches: HTTP status and values at JSON pointers. */
export const matchSchema = z.strictObject({
  status: z.number().int().min(100).max(599).meta(d("HTTP status of the answer")),
  body: z.record(pointer, scalar).optional().meta(d(
    "JSON pointer -> value the answer body must hold there, e.g. { /0/errorCode: INVALID_SESSION_ID }",
  )),
});

const when = z.array(name).min(1).meta(d(
  "Params that must all be set for this way to be used; the first way that fits wins",
));

/** One way to get an access token. */
export const tokenWaySchema = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("static").meta(d("A token given as a param")),
    when,
    value: template.meta(d("The token, e.g. {params.access_token}")),
  }),
  z.strictObject({
    type: z.enum(["client_credentials", "refresh_token"]).meta(d(
      "OAuth 2.0 grant; sets the form's grant_type",
    )),
    when,
    url: template.meta(d("Token endpoint, e.g. {params.instance_url}/services/oauth2/token")),
    form: z.record(z.string(), template).meta(d(
      "Form fields besides grant_type, e.g. { client_id: '{params.client_id}' }",
    )),
    headers: z.record(z.string(), template).optional().meta(
      d("Extra headers of the token request"),
    ),
    token_at: pointer.default("/access_token").meta(d("Where the token is in the answer")),
    expires_in_at: pointer.default("/expires_in").meta(d(
      "Where its lifetime in seconds is (absent: one hour)",
    )),
  }),
]);

/** How requests are authenticated. */
export const authSchema = z.strictObject({
  header: z.string().default("Authorization").meta(d("Header that carries the token")),
  value: z.string().default("Bearer {token}").meta(d("The header's value; {token} is the token")),
  ways: z.array(tokenWaySchema).min(1).meta(d("Ways to get a token, tried in order")),
  expired: z.array(matchSchema).default([{ status: 401 }]).meta(d(
    "Answers meaning the token expired: get a new one and repeat the request once",
  )),
});

/** A CSV body (the batch's rows). */
export const csvBodySchema = z.strictObject({
  delimiter: z.string().length(1).default(",").meta(d("Column delimiter")),
  line_ending: z.string().default("CRLF").meta(d(
    "LF or CRLF, or a template giving one, e.g. {job.line_ending}",
  )),
  quoting: z.enum(["minimal", "always"]).default("minimal").meta(d(
    "minimal quotes only cells that need it; always quotes every cell",
  )),
  header: z.boolean().default(true).meta(d("Whether the first line names the columns")),
});

/** What a request sends. */
export const bodySchema = z.strictObject({
  json: z.unknown().optional().meta(d(
    "A JSON template: strings that are exactly one {x} keep its type; a key whose value is an unset param is left out",
  )),
  csv: csvBodySchema.optional().meta(d("The batch's rows as CSV")),
  json_rows: z.strictObject({
    property: z.string().optional().meta(d("Wrap the array as { property: rows }")),
  }).optional().meta(d("The batch's rows as a JSON array of objects")),
  zip: z.strictObject({
    entry: template.meta(d("File name inside the ZIP, e.g. batch-{batch.number}.csv")),
  }).optional().meta(d("Pack the CSV or JSON rows as the one file of a ZIP")),
  multipart: z.strictObject({
    field: z.string().min(1).meta(d("Form field name, e.g. file")),
    file_name: template.meta(d("File name of the part, e.g. batch-{batch.number}.zip")),
  }).optional().meta(d("Send the body as one file of a multipart/form-data form")),
});

/** Where a value in an answer is: a JSON pointer, `header:Name` or `status`. */
const takeSource = z.string().regex(/^(\/.*|header:[A-Za-z0-9-]+|status|)$/, {
  error: 'Expected a JSON pointer ("/id"), "header:Name" or "status"',
});

/** One HTTP request of the job's life. */
export const requestSchema = z.strictObject({
  method: z.enum(["GET", "POST", "PUT", "PATCH", "DELETE"]).meta(d("HTTP method")),
  url: template.meta(d(
    "URL template; values after the start are percent-encoded; never {token}",
  )),
  headers: z.record(z.string(), template).optional().meta(d("Headers (templates)")),
  body: bodySchema.optional().meta(d("What is sent: one of json, csv, json_rows")),
  safe_to_repeat: z.boolean().meta(d(
    "Whether repeating it after a lost answer cannot write anything twice (create: usually false)",
  )),
  success: z.strictObject({
    status: z.array(z.number().int().min(100).max(599)).min(1).optional().meta(d(
      "Statuses that mean success (default: any 2xx)",
    )),
    body: z.record(pointer, scalar).optional().meta(d(
      "Values the body must hold, for APIs that refuse with 200, e.g. { /status: success }",
    )),
  }).optional().meta(d("What makes an answer a success")),
  take: z.record(name, takeSource).optional().meta(d(
    "Values to keep from the answer as {job.name}: JSON pointer, header:Name or status",
  )),
});

const keyedOutcome = z.union([
  outcome,
  z.strictObject({
    column: z.string().min(1).meta(d("Column holding each row's status")),
    values: z.record(z.string(), outcome).meta(d("Status value -> outcome (case-insensitive)")),
  }),
]).meta(d("The outcome of every row here, or a column whose value says it"));

const rowRules = {
  outcome: keyedOutcome,
  by: z.enum(["position", "key"]).meta(d(
    "Join a result row to a sent row by its position, or by the sent key value in key_column",
  )),
  key_column: z.string().min(1).optional().meta(d(
    "Column (or property) holding the sent key (default: the pipeline's key field)",
  )),
  error: z.strictObject({
    column: z.string().min(1).meta(d("Column (or property) holding the row's error")),
    pattern: z.string().optional().meta(d(
      "Regular expression with named groups code, message, field (unmatched: all is message)",
    )),
  }).optional().meta(d("Where a failed row's error is")),
};

/** A result file downloaded after the job finished. */
export const resultFileSchema = z.strictObject({
  format: z.enum(["csv", "json"]).meta(d("File format")),
  zip: z.boolean().default(false).meta(d("Whether the file comes as the one entry of a ZIP")),
  delimiter: z.string().length(1).default(",").meta(d("CSV delimiter")),
  rows_at: pointer.default("").meta(d("JSON: where the array of rows is")),
  ...rowRules,
});

/** The whole description file. */
export const descriptionSchema = z.strictObject({
  version: z.literal(1).meta(d("Version of the description language")),
  title: z.string().min(1).meta(d('Human title, e.g. "Salesforce Bulk API 2.0 ingest"')),
  params: z.record(name, paramSchema).meta(d(
    "Settings a pipeline's target section gives (name -> declaration)",
  )),
  duplicates_on_resend: z.union([z.boolean(), z.record(name, z.array(z.string()).min(1))])
    .default(false).meta(d(
      "Whether loading a row twice makes two records: true, false, or { param: [values] }",
    )),
  auth: authSchema.optional().meta(d("How requests are authenticated (absent: no auth)")),
  submit: z.array(z.enum(["create", "upload", "close"])).min(1)
    .default(["create", "upload", "close"]).meta(d(
      "Requests that submit one batch, in order; the job is checkpointed once {job.id} is known",
    )),
  requests: z.strictObject({
    create: requestSchema.optional().meta(d("Creates the job (take id here)")),
    upload: requestSchema.meta(d("Sends the rows (body csv or json_rows)")),
    close: requestSchema.optional().meta(d("Tells the API the upload is complete")),
    status: requestSchema.meta(d("Reads the job's state; must be safe to repeat")),
    results: z.record(name, requestSchema).optional().meta(d(
      "Result downloads by name, each parsed by results.files.<name>",
    )),
    abort: requestSchema.optional().meta(d("Abandons a job still open")),
  }).meta(d("The job's requests")),
  status_map: z.strictObject({
    at: pointer.meta(d("Where the state is in the status answer")),
    states: z.record(z.string(), z.enum(["pending", "succeeded", "failed", "aborted"])).meta(d(
      "Remote state -> pending | succeeded | failed | aborted; any other state is an error",
    )),
    open: z.array(z.string()).default([]).meta(d(
      "States meaning created but not closed: recovery aborts such a job and resends its rows",
    )),
    ignore_case: z.boolean().default(false).meta(d("Compare states case-insensitively")),
    message_at: pointer.optional().meta(d("Where the job's own message is (failed jobs)")),
    failed_if_set: pointer.optional().meta(d(
      "A succeeded job with a non-empty value here is failed (its message)",
    )),
  }).meta(d("How the status answer's state reads")),
  results: z.strictObject({
    inline: z.strictObject({
      at: pointer.meta(d("Where the array of row results is in the status answer")),
      ...rowRules,
    }).optional().meta(d("Row results listed in the status answer")),
    files: z.record(name, resultFileSchema).optional().meta(d(
      "Row results in files, by the name of their request in requests.results",
    )),
    unlisted: outcome.default("failed").meta(d(
      "Outcome of a sent row no result mentions, when the job succeeded",
    )),
    counts: z.strictObject({
      succeeded: name.optional().meta(d("Taken value: rows loaded")),
      failed: name.optional().meta(d("Taken value: rows failed")),
      skipped: name.optional().meta(d("Taken value: rows skipped")),
      processed: name.optional().meta(d("Taken value: rows processed (all but unprocessed)")),
    }).optional().meta(d("Values taken from the status answer to cross-check the row counts")),
  }).meta(d("Where the per-row results are")),
  limits: z.strictObject({
    rows_per_job: z.number().int().min(1).optional().meta(d("Most rows one job takes")),
    bytes_per_job: z.number().int().min(1).optional().meta(d("Largest body one job takes")),
    columns: z.number().int().min(1).optional().meta(d("Most columns one job takes")),
    jobs_in_flight: z.number().int().min(1).optional().meta(d("Most jobs open at once")),
  }).default({}).meta(d("The API's limits")),
}).superRefine(checkReferences);

/** A validated API description. */
export type Description = z.output<typeof descriptionSchema>;
/** One param declaration. */
export type Param = z.output<typeof paramSchema>;
/** One request declaration. */
export type RequestDecl = z.output<typeof requestSchema>;
/** One way to get a token. */
export type TokenWay = z.output<typeof tokenWaySchema>;
/** The row rules shared by inline and file results. */
export type RowRules = Pick<
  z.output<typeof resultFileSchema>,
  "outcome" | "by" | "key_column" | "error"
>;
/** One result file declaration. */
export type ResultFile = z.output<typeof resultFileSchema>;
