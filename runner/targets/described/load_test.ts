import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { formatDiagnostic, PipelineError } from "../../errors.ts";
import { loadDescription, parseDescription } from "./load.ts";

const SALESFORCE = fileURLToPath(new URL("../../../apis/salesforce-bulk2.yaml", import.meta.url));

/** The problems of a description text, formatted as the terminal shows them. */
function problems(text: string): string[] {
  try {
    parseDescription("api.yaml", text);
  } catch (err) {
    if (err instanceof PipelineError) {
      return err.diagnostics.map((d) => formatDiagnostic(err.file, d));
    }
    throw err;
  }
  return [];
}

const GOOD = `version: 1
title: Tiny
params:
  base:
    type: url
    required: true
    description: Host
requests:
  upload:
    method: POST
    url: "{params.base}/jobs"
    body:
      json_rows: {}
    safe_to_repeat: false
    take:
      id: /id
  status:
    method: GET
    url: "{params.base}/jobs/{job.id}"
    safe_to_repeat: true
submit: [upload]
status_map:
  at: /state
  states: { running: pending, done: succeeded }
results:
  inline: { at: /errors, outcome: failed, by: position }
  unlisted: succeeded
`;

Deno.test("loadDescription() loads the Salesforce description", () => {
  const d = loadDescription(SALESFORCE).description;
  assert.equal(d.title, "Salesforce Bulk API 2.0 ingest");
  assert.deepEqual(d.submit, ["create", "upload", "close"]);
  assert.equal(d.requests.create?.safe_to_repeat, false);
  assert.deepEqual(Object.keys(d.results.files ?? {}), ["successful", "failed", "unprocessed"]);
});

Deno.test("parseDescription() loads a small good file with its defaults", () => {
  const d = parseDescription("api.yaml", GOOD).description;
  assert.equal(d.params.base?.secret, false);
  assert.deepEqual(d.limits, {});
  assert.deepEqual(d.status_map.open, []);
});

Deno.test("a typo'd key is reported with its line, column and a suggestion", () => {
  assert.deepEqual(problems(GOOD.replace("safe_to_repeat: true", "safe_to_repaet: true")), [
    "api.yaml:18:5 error requests.status.safe_to_repeat: Missing required field",
    'api.yaml:20:5 error Unknown key "safe_to_repaet" in requests.status: did you mean "safe_to_repeat"?',
  ]);
});

Deno.test("an unknown param in a template is reported where it is, with a suggestion", () => {
  assert.deepEqual(problems(GOOD.replace("{params.base}/jobs/", "{params.bsae}/jobs/")), [
    'api.yaml:19:10 error requests.status.url: Unknown param "bsae" in {params.bsae}: did you mean "base"?',
  ]);
});

Deno.test("{token} in a URL is refused", () => {
  assert.deepEqual(
    problems(GOOD.replace('"{params.base}/jobs"', '"{params.base}/jobs?t={token}"')),
    [
      "api.yaml:11:10 error requests.upload.url: {token} may only appear in headers (never in URLs, bodies or logs)",
    ],
  );
});

Deno.test("a state outside pending, succeeded, failed, aborted is refused with the allowed ones", () => {
  const out = problems(GOOD.replace("done: succeeded", "done: finished"));
  assert.equal(out.length, 1);
  assert.match(
    out[0]!,
    /^api\.yaml:24:\d+ error status_map\.states\.done: Unknown value "finished"/,
  );
});

Deno.test("submit steps without a job id or a rows body are refused", () => {
  const out = problems(
    GOOD.replace("      id: /id\n", "      execution: /id\n").replace("json_rows: {}", "json: {}"),
  );
  assert.deepEqual(
    out,
    [
      "api.yaml:21:9 error submit: Exactly one submit step must send the rows (body csv or json_rows), not 0",
      'api.yaml:21:9 error submit: A submit step must take the job\'s "id" (take: { id: /id })',
      'api.yaml:19:10 error requests.status.url: No request takes "id" for {job.id}: known are execution',
    ].sort((a, b) => Number(a.split(":")[1]) - Number(b.split(":")[1])),
  );
});
