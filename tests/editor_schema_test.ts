/**
 * The committed JSON Schema works for editors the way it works for the runner: every example
 * pipeline passes it (Ajv, draft 2020-12, strict), a broken pipeline is flagged on the right
 * lines, and every example names the schema in its `yaml-language-server` comment.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Ajv2020, type ErrorObject } from "ajv/dist/2020.js";
import { isMap, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import { parsePipeline } from "../runner/config/mod.ts";
import { PipelineError } from "../runner/errors.ts";
import { PIPELINE_SCHEMA } from "../runner/registry.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const SCHEMA_PATH = `${ROOT}/schema/pipeline.schema.json`;
const SCHEMA_COMMENT = "# yaml-language-server: $schema=../schema/pipeline.schema.json";

/** A schema finding placed in the YAML text, as an editor would underline it. */
interface Finding {
  line: number;
  column: number;
  pointer: string;
  keyword: string;
  message: string;
}

const schema = JSON.parse(await Deno.readTextFile(SCHEMA_PATH));
// Strict, as a careful editor would be; union types (`"type": ["string", "number"]`) are how the
// schema says "a string or a number", so they are allowed.
const validate = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true })
  .compile(schema);

/** The pair or item at a JSON pointer: its key node (for object members) and value node. */
function nodeAt(root: unknown, segments: string[]): { key?: Node; value?: Node } {
  let key: Node | undefined;
  let value: unknown = root;
  for (const seg of segments) {
    if (isMap(value)) {
      const pair = value.items.find((p) =>
        String((p.key as { value?: unknown } | null)?.value ?? p.key) === seg
      );
      if (!pair) return {};
      key = pair.key as Node;
      value = pair.value;
    } else if (isSeq(value)) {
      key = undefined;
      value = value.items[Number(seg)];
    } else return {};
  }
  return { ...(key ? { key } : {}), ...(value ? { value: value as Node } : {}) };
}

const pointerSegments = (pointer: string) =>
  pointer === ""
    ? []
    : pointer.slice(1).split("/").map((s) => s.replaceAll("~1", "/").replaceAll("~0", "~"));

/**
 * Keeps what an editor shows for `oneOf`/`anyOf` (the target told apart by `api`, a mapping that
 * is a string or an object): the errors of the branches that fit the value's shape, without the
 * combinator's own summary, unless no branch fits. A branch does not fit when its discriminating
 * `const` failed or the value has another JSON type than the branch wants.
 */
function bestBranches(errors: ErrorObject[]): ErrorObject[] {
  const branchOf = (e: ErrorObject) => /^(.*\/(?:oneOf|anyOf)\/\d+)\//.exec(e.schemaPath)?.[1];
  const combinatorAt = new Map(
    errors.filter((e) => e.keyword === "oneOf" || e.keyword === "anyOf")
      .map((e) => [e.schemaPath, e.instancePath]),
  );
  const misfits = new Set<string>();
  for (const e of errors) {
    const branch = branchOf(e);
    if (branch === undefined) continue;
    const at = combinatorAt.get(branch.replace(/\/\d+$/, ""));
    if (e.keyword === "const" || (e.keyword === "type" && e.instancePath === at)) {
      misfits.add(branch);
    }
  }
  const kept = errors.filter((e) => {
    const branch = branchOf(e);
    return branch === undefined || !misfits.has(branch);
  });
  return kept.filter((e) =>
    !((e.keyword === "oneOf" || e.keyword === "anyOf") &&
      kept.some((k) => k.schemaPath.startsWith(`${e.schemaPath}/`)))
  );
}

/** Validates YAML text against the schema; findings are placed on their line and column. */
function check(text: string): Finding[] {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  assert.deepEqual(doc.errors, [], "the YAML itself does not parse");
  if (validate(doc.toJS())) return [];
  return bestBranches(validate.errors ?? []).map((e) => {
    const segments = pointerSegments(e.instancePath);
    let node: Node | undefined;
    let pointer = e.instancePath;
    if (e.keyword === "additionalProperties") {
      const name = String(e.params.additionalProperty);
      node = nodeAt(doc.contents, [...segments, name]).key;
      pointer = `${pointer}/${name}`;
    } else {
      const found = nodeAt(doc.contents, segments);
      // A required key is missing from a map: point at the map's own key, where editors do.
      node = e.keyword === "required" ? found.key ?? found.value : found.value ?? found.key;
    }
    const pos = lineCounter.linePos(node?.range?.[0] ?? 0);
    return {
      line: pos.line,
      column: pos.col,
      pointer,
      keyword: e.keyword,
      message: e.message ?? "",
    };
  }).sort((a, b) => a.line - b.line || a.column - b.column);
}

async function examplePipelines(): Promise<string[]> {
  const files: string[] = [];
  for await (const e of Deno.readDir(`${ROOT}/examples`)) {
    if (e.isFile && /\.ya?ml$/.test(e.name)) files.push(`examples/${e.name}`);
  }
  assert.ok(files.length >= 3, "expected the example pipelines in examples/");
  return files.sort();
}

Deno.test("the committed schema is draft 2020-12 and compiles in Ajv's strict mode", () => {
  assert.equal(schema.$schema, "https://json-schema.org/draft/2020-12/schema");
  assert.equal(typeof validate, "function");
});

Deno.test("every example pipeline passes the editor schema", async () => {
  for (const file of await examplePipelines()) {
    const findings = check(await Deno.readTextFile(`${ROOT}/${file}`));
    assert.deepEqual(
      findings.map((f) => `${file}:${f.line}:${f.column} ${f.pointer} ${f.message}`),
      [],
    );
  }
});

Deno.test("every example pipeline starts with the yaml-language-server schema comment", async () => {
  for (const file of await examplePipelines()) {
    const first = (await Deno.readTextFile(`${ROOT}/${file}`)).split("\n")[0];
    assert.equal(first, SCHEMA_COMMENT, `${file} line 1`);
    // The comment's path, relative to the pipeline, is the committed schema.
    const target = new URL(SCHEMA_COMMENT.split("=")[1]!, `file://${ROOT}/${file}`).pathname;
    assert.equal(target, SCHEMA_PATH);
  }
});

const BROKEN = `${ROOT}/tests/testdata/broken-pipeline.yaml`;

/** Lines of the fixture that carry a `# broken` marker, so fixture and test agree. */
async function brokenLines(): Promise<number[]> {
  const text = await Deno.readTextFile(BROKEN);
  return text.split("\n").flatMap((l, i) => (/# broken\b/.test(l) ? [i + 1] : []));
}

Deno.test("the editor schema flags a broken pipeline on the broken lines only", async () => {
  assert.deepEqual(await brokenLines(), [11, 18, 20]);
  const findings = check(await Deno.readTextFile(BROKEN));
  const summary = findings.map((f) => `${f.line}:${f.column} ${f.keyword} ${f.pointer}`);
  assert.deepEqual(summary, [
    "11:15 type /target/batch_size",
    "18:33 enum /mappings/amount/type",
    "20:3 additionalProperties /limits/max_error_rates",
  ]);
  assert.match(findings[0]!.message, /integer/);
});

Deno.test("the runner flags the same lines of the broken pipeline as the editor schema", async () => {
  const text = await Deno.readTextFile(BROKEN);
  let lines: number[] = [];
  try {
    parsePipeline(
      "broken-pipeline.yaml",
      text,
      (n) => ({ WORKSPAN_TOKEN: "t-1234" })[n],
      PIPELINE_SCHEMA,
    );
    assert.fail("the broken pipeline was accepted by the runner");
  } catch (err) {
    if (!(err instanceof PipelineError)) throw err;
    lines = [...new Set(err.diagnostics.map((d) => d.line))].sort((a, b) => a - b);
  }
  assert.deepEqual(lines, await brokenLines());
});

Deno.test("the schema check places a missing required key on its parent's key", () => {
  const findings = check(`version: 1
source:
  format: csv
target: { api: workspan, integration_id: x, auth: { type: none } }
key: id
mappings: { id: ID }
`);
  assert.deepEqual(
    findings.map((f) => `${f.line}:${f.column} ${f.keyword} ${f.message}`),
    ["2:1 required must have required property 'path'"],
  );
});
