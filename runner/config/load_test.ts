import assert from "node:assert/strict";
import { parsePipeline as parseWith } from "./load.ts";
import { PIPELINE_SCHEMA } from "../registry.ts";
import { interpolate } from "./_interpolate.ts";
import { parseDuration } from "./fields.ts";
import { PipelineError } from "../errors.ts";
import { closest } from "../util/suggest.ts";

const parsePipeline = (file: string, text: string, env: (n: string) => string | undefined) =>
  parseWith(file, text, env, PIPELINE_SCHEMA);

const env = (vars: Record<string, string>) => (n: string) => vars[n];

const GOOD = `version: 1
source:
  path: data.csv
target:
  api: workspan
  base_url: \${BASE:-http://127.0.0.1:8787}
  integration_id: WS-Integration_x
  auth:
    type: bearer
    token: \${TOKEN}
key: id
mappings:
  id: { from: "ID", required: true }
  amount: { from: Amount, type: number }
  stage: Stage
  system: { value: crm }
`;

function problems(text: string, vars: Record<string, string> = { TOKEN: "secret-1" }) {
  try {
    parsePipeline("p.yaml", text, env(vars));
  } catch (err) {
    if (err instanceof PipelineError) return err.diagnostics;
    throw err;
  }
  assert.fail("expected the pipeline to be invalid");
}

Deno.test("parsePipeline() fills defaults and interpolates the environment", () => {
  const { pipeline, secrets } = parsePipeline("p.yaml", GOOD, env({ TOKEN: "secret-1" }));
  assert.equal(pipeline.target.api, "workspan");
  assert.equal(pipeline.target.base_url, "http://127.0.0.1:8787");
  assert.equal(pipeline.polling.interval, 5000);
  assert.equal(pipeline.polling.timeout, 30 * 60_000);
  assert.equal(pipeline.polling.backoff, 1.5);
  assert.equal(pipeline.limits.max_error_rate, 0);
  assert.equal(pipeline.source.delimiter, ",");
  assert.deepEqual(pipeline.mappings.stage, "Stage");
  assert.deepEqual(secrets, ["secret-1"]);
  const auth = pipeline.target.auth as { type: string; token?: string };
  if (auth.type !== "bearer") assert.fail("bearer expected");
  assert.equal(auth.token, "secret-1");
});

Deno.test("parsePipeline() reports a missing variable with its line and column", () => {
  const d = problems(GOOD, {});
  assert.equal(d.length, 1);
  assert.equal(d[0]!.code, "missing_env");
  assert.match(d[0]!.message, /TOKEN is not set/);
  assert.deepEqual([d[0]!.line, d[0]!.column], [10, 12]);
});

Deno.test("parsePipeline() reports an unknown key at the key with a did-you-mean hint", () => {
  const d = problems(GOOD.replace("source:", "sourse:"));
  const unknown = d.find((x) => x.code === "unknown_key")!;
  assert.equal(unknown.message, 'Unknown key "sourse": did you mean "source"?');
  assert.deepEqual([unknown.line, unknown.column], [2, 1]);
  assert.ok(d.some((x) => x.message === "source: Missing required field"));
});

Deno.test("parsePipeline() reports every problem at once, in line order", () => {
  const text = GOOD.replace("type: number", "type: numbr").replace(
    "required: true",
    "requird: true",
  )
    .replace("api: workspan", "api: workspan\n  batch_size: lots");
  const d = problems(text);
  assert.deepEqual(d.map((x) => x.line), [...d.map((x) => x.line)].sort((a, b) => a - b));
  const msgs = d.map((x) => `${x.line}:${x.column} ${x.message}`);
  assert.ok(
    msgs.includes('6:15 target.batch_size: Expected number, got string "lots"'),
    msgs.join("\n"),
  );
  assert.ok(
    msgs.includes('14:21 Unknown key "requird" in mappings.id: did you mean "required"?'),
    msgs.join("\n"),
  );
  assert.ok(
    msgs.includes('15:33 mappings.amount.type: Unknown value "numbr": did you mean "number"?'),
    msgs.join("\n"),
  );
});

Deno.test("parsePipeline() suggests the right api for a misspelt target", () => {
  const d = problems(GOOD.replace("api: workspan", "api: worksapn"));
  assert.equal(d.length, 1);
  assert.equal(d[0]!.message, 'target.api: Unknown value "worksapn": did you mean "workspan"?');
  assert.equal(d[0]!.line, 5);
});

Deno.test("parsePipeline() rejects a key that is not mapped", () => {
  const d = problems(GOOD.replace("key: id", "key: opportunity_id"));
  assert.equal(d.length, 1);
  assert.match(d[0]!.message, /Key "opportunity_id" is not one of the mapped fields/);
  assert.equal(d[0]!.line, 11);
});

Deno.test("parsePipeline() rejects a mapping with two sources and a bad shorthand", () => {
  const d = problems(
    GOOD.replace("{ value: crm }", "{ value: crm, from: X }").replace(
      "stage: Stage",
      "stage: 5",
    ),
  );
  assert.ok(d.some((x) => /only one of "from", "value" or "template"/.test(x.message)));
  assert.ok(d.some((x) => /mappings.stage: A mapping is a source column name/.test(x.message)));
});

Deno.test("parsePipeline() rejects format on a non-date type", () => {
  const d = problems(GOOD.replace("type: number", 'type: number, format: "yyyy"'));
  assert.ok(d.some((x) => /"format" applies to date and datetime fields/.test(x.message)));
});

Deno.test("parsePipeline() rejects bad durations with their position", () => {
  const d = problems(GOOD + "polling:\n  interval: 5 seconds\n");
  assert.equal(d.length, 1);
  assert.equal(d[0]!.line, 18);
  assert.match(d[0]!.message, /polling.interval: Expected a duration like/);
});

Deno.test("parsePipeline() reports invalid YAML with its line", () => {
  const d = problems("version: 1\nsource: [a, b\n");
  assert.equal(d[0]!.code, "yaml");
  assert.match(d[0]!.message, /^Invalid YAML/);
  assert.ok(d[0]!.line >= 2);
});

Deno.test("parsePipeline() refuses duplicate keys", () => {
  const d = problems(GOOD + "key: other\n");
  assert.equal(d[0]!.code, "yaml");
  assert.equal(d[0]!.line, 17);
});

Deno.test("parsePipeline() refuses an alias bomb", () => {
  const bomb = [
    "a: &a [x, x, x, x, x, x, x, x, x]",
    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]",
    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]",
    "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]",
    "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]",
    "f: [*e, *e, *e, *e, *e, *e, *e, *e, *e]",
  ].join("\n");
  const d = problems(bomb);
  assert.equal(d[0]!.code, "yaml");
  assert.match(d[0]!.message, /alias/i);
});

Deno.test("parsePipeline() refuses very deep nesting", () => {
  const d = problems("version: 1\nx: " + "[".repeat(200) + "]".repeat(200) + "\n");
  assert.equal(d[0]!.code, "too_deep");
});

Deno.test("parsePipeline() points at the collection that nests too deep, however deep", () => {
  const block = "version: 1\nx:\n" +
    Array.from({ length: 40 }, (_, i) => `${" ".repeat(i + 1)}k:`).join("\n") + " 1\n";
  const d = problems(block);
  assert.deepEqual([d[0]!.code, d[0]!.line], ["too_deep", 35]);
  // So deep that the YAML composer's recursion overflows: still one clear problem.
  const flow = problems("version: 1\nx: " + "[".repeat(5000) + "]".repeat(5000) + "\n");
  assert.deepEqual(flow.map((x) => [x.code, x.line, x.message]), [
    ["too_deep", 2, "Pipeline file nests deeper than 32 levels"],
  ]);
});

Deno.test("parsePipeline() refuses keys that differ in YAML but collide as names", () => {
  const d = problems(GOOD.replace("  stage: Stage", '  1: Stage\n  "1": Other'));
  assert.equal(d[0]!.code, "duplicate_key");
  assert.equal(d[0]!.line, 16);
  assert.match(d[0]!.message, /"1" is also the key on line 15/);
});

Deno.test("parsePipeline() quotes a long value in a message only in part", () => {
  const d = problems(GOOD.replace("api: workspan", `api: ${"w".repeat(100_000)}`));
  // The list of registered targets after the quote grows with the registry; the quote must not.
  const quoted = d[0]!.message.split(": expected one of")[0]!;
  assert.ok(quoted.length < 200, d[0]!.message.slice(0, 300));
  assert.match(d[0]!.message, /^target\.api: Unknown value "w+…" \(100000 characters\)/);
});

Deno.test("parsePipeline() says a quoted number is a string, not an unknown value", () => {
  const d = problems(GOOD.replace("version: 1", 'version: "1"'));
  assert.equal(d[0]!.message, 'version: Expected 1, got string "1"');
  const inf = problems(GOOD.replace("integration_id: WS-Integration_x", "$&\n  batch_size: .inf"));
  assert.equal(inf[0]!.message, "target.batch_size: Expected a finite number, got Infinity");
});

Deno.test("parsePipeline() refuses an empty file and a list", () => {
  assert.equal(problems("")[0]!.code, "empty");
  assert.equal(problems("- a\n- b\n")[0]!.code, "invalid_type");
});

Deno.test("parsePipeline() refuses plain http in a URL that is not a URL", () => {
  const d = problems(GOOD.replace("${BASE:-http://127.0.0.1:8787}", "ftp://example.com"));
  assert.match(d[0]!.message, /target.base_url: Expected an http/);
});

Deno.test("interpolate() handles defaults, required messages and $$", () => {
  const e = env({ A: "1", EMPTY: "" });
  assert.deepEqual(interpolate("x${A}y", e), { text: "x1y", problems: [], usedEnv: true });
  assert.equal(interpolate("${B:-dflt}", e).text, "dflt");
  assert.equal(interpolate("${EMPTY:-dflt}", e).text, "dflt");
  assert.equal(interpolate("$${A}", e).text, "${A}");
  assert.equal(interpolate("cost $5", e).text, "cost $5");
  const r = interpolate("${B:?set B to the API host}", e);
  assert.equal(r.problems[0]!.message, "Environment variable B is not set: set B to the API host");
  assert.equal(interpolate("${1X}", e).problems[0]!.code, "bad_reference");
  assert.equal(interpolate("${EMPTY}", e).problems[0]!.code, "missing_env");
  assert.equal(interpolate("${A", e).problems[0]!.code, "bad_reference");
  assert.equal(interpolate("$${A", e).text, "${A");
});

Deno.test("parseDuration() reads ms, s, m and h", () => {
  assert.equal(parseDuration("200ms"), 200);
  assert.equal(parseDuration("5s"), 5000);
  assert.equal(parseDuration("1.5m"), 90_000);
  assert.equal(parseDuration("1h"), 3_600_000);
  assert.equal(parseDuration("5"), undefined);
  assert.equal(parseDuration("5 s"), undefined);
});

Deno.test("closest() suggests near words only", () => {
  assert.equal(closest("mapings", ["mappings", "polling"]), "mappings");
  assert.equal(closest("zzzzzz", ["mappings", "polling"]), undefined);
});

Deno.test("parsePipeline() never quotes the value of a secret field, even of the wrong type", () => {
  const text = GOOD.replace("    token: ${TOKEN}\n", "    token: 12345678\n");
  const withHeaders = text.replace(
    "  integration_id: WS-Integration_x\n",
    '  integration_id: WS-Integration_x\n  headers: { X-Api-Key: 987654321, X-Ok: "fine" }\n',
  );
  const found = problems(withHeaders);
  const messages = found.map((d) => d.message).join("\n");
  assert.match(messages, /target\.auth\.token: Expected string, got a number \(not shown/);
  assert.match(messages, /target\.headers\.X-Api-Key: Expected string, got a number \(not shown/);
  assert.doesNotMatch(messages, /12345678|987654321/);
});

Deno.test("parsePipeline() counts as secrets only environment values in fields marked secret", () => {
  const text = GOOD.replace("integration_id: WS-Integration_x", "integration_id: ${INTEGRATION}");
  const { secrets } = parsePipeline(
    "p.yaml",
    text,
    env({ TOKEN: "secret-1", INTEGRATION: "WS-1", BASE: "http://127.0.0.1:9" }),
  );
  assert.deepEqual(secrets, ["secret-1"]);
});
