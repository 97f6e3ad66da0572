/**
 * The bad-input matrix, end to end: broken pipeline files and broken source files given to the
 * real CLI against the sandbox. Each case asserts the exact exit code, the `path:line` message,
 * and, from the sandbox's own request log, that nothing (or no bad row) reached the API.
 */
import assert from "node:assert/strict";
import {
  assertIdentities,
  opportunitiesCsv,
  runCli,
  type Summary,
  tempDir,
  withSandbox,
  workspanPipeline,
} from "./_harness.ts";
import type { Sandbox } from "../sandbox/server.ts";

const TOKEN = "tok-bad-input-4921";
const HEADER = "Opportunity ID,Close Date,Amount,Stage\n";
const row = (id: string, amount = 1) => `${id},01-Jan-2024,${amount},Prospecting\n`;
const enc = new TextEncoder();

/** JSON and JSON Lines sources: one mapped field, the key. */
const ID_ONLY = "  opportunity_id: id";

function envFor(sandbox: Sandbox, extra: Record<string, string> = {}) {
  return { WORKSPAN_BASE_URL: sandbox.url, WORKSPAN_TOKEN: TOKEN, ...extra };
}

/**
 * A temp folder with the files (text or bytes; a name ending in "/" is a folder). Each
 * pipeline is named after its file, so that pipelines run together keep separate journals.
 */
async function folder(files: Record<string, string | Uint8Array>): Promise<string> {
  const dir = await tempDir({});
  for (const [name, content] of Object.entries(files)) {
    const path = `${dir}/${name}`;
    if (name.endsWith("/")) await Deno.mkdir(path, { recursive: true });
    else if (typeof content !== "string") await Deno.writeFile(path, content);
    else {
      const named = name.endsWith(".yaml")
        ? content.replace("name: e2e\n", `name: ${name.slice(0, -5)}\n`)
        : content;
      await Deno.writeTextFile(path, named);
    }
  }
  return dir;
}

/**
 * Runs `run <files>` and asserts a refusal: exit 2, no summary, stderr exactly `lines` (with
 * `DIR` standing for the temp folder), and not one request to the sandbox.
 */
async function assertRefused(
  sandbox: Sandbox,
  dir: string,
  files: string[],
  lines: string[],
  env: Record<string, string> = envFor(sandbox),
): Promise<void> {
  const r = await runCli(["run", ...files.map((f) => `${dir}/${f}`)], env);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.summaries.length, 0, "no summary for a run that never started");
  assert.deepEqual(r.stderr.trimEnd().split("\n"), lines.map((l) => l.replaceAll("DIR", dir)));
  assert.equal(sandbox.workspan.requests.length, 0, "nothing was sent");
}

/** The usual last line of a refused pipeline. */
const nothingSent = (file: string) => `DIR/${file}: invalid pipeline, nothing was sent`;

// Line numbers below refer to `workspanPipeline()`: 4 source.path, 7 base_url, 10 batch_size,
// 13 token, 14 key, 16-19 mappings, 21-24 polling, 26 max_error_rate.

// ---------------------------------------------------------------------------------------------
// Pipeline files

Deno.test("run refuses invalid YAML with the line and column of each problem", async () => {
  await withSandbox({ workspan: { token: TOKEN } }, async (sandbox) => {
    const dir = await folder({
      "data.csv": opportunitiesCsv(3),
      "p.yaml": workspanPipeline({ source: "data.csv" }).replace(
        "  batch_size: 5000",
        "  batch_size: [5000",
      ),
      "q.yaml": workspanPipeline({ source: "data.csv" }).replace(
        "key: opportunity_id",
        "key: opportunity_id\n\tstray: tab",
      ),
    });
    await assertRefused(sandbox, dir, ["p.yaml", "q.yaml"], [
      "DIR/p.yaml:11:3 error Invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]",
      nothingSent("p.yaml"),
      "DIR/q.yaml:15:1 error Invalid YAML: Tabs are not allowed as indentation",
      nothingSent("q.yaml"),
    ]);
  });
});

Deno.test("run reports every wrong type at once, in line order", async () => {
  await withSandbox({ workspan: { token: TOKEN } }, async (sandbox) => {
    const dir = await folder({
      "data.csv": opportunitiesCsv(3),
      "p.yaml": workspanPipeline({ source: "data.csv" })
        .replace("version: 1", 'version: "1"')
        .replace("batch_size: 5000", "batch_size: lots")
        .replace("required: true", "required: yes")
        .replace("backoff: 1.5", "backoff: .inf")
        .replace("max_error_rate: 0.05", "max_error_rate: [0]"),
    });
    await assertRefused(sandbox, dir, ["p.yaml"], [
      'DIR/p.yaml:1:10 error version: Expected 1, got string "1"',
      'DIR/p.yaml:10:15 error target.batch_size: Expected number, got string "lots"',
      'DIR/p.yaml:16:55 error mappings.opportunity_id.required: Expected boolean, got string "yes"',
      "DIR/p.yaml:22:12 error polling.backoff: Expected a finite number, got Infinity",
      "DIR/p.yaml:26:19 error limits.max_error_rate: Expected number, got a list",
      nothingSent("p.yaml"),
    ]);
  });
});

Deno.test("run refuses unknown keys at every level, each with a did-you-mean hint", async () => {
  await withSandbox({ workspan: { token: TOKEN } }, async (sandbox) => {
    const dir = await folder({
      "data.csv": opportunitiesCsv(3),
      "p.yaml": workspanPipeline({ source: "data.csv" })
        .replace("name: e2e", "naem: e2e")
        .replace("  batch_size", "  batchsize")
        .replace("amount: { from: Amount", "amount: { form: Amount, from: Amount")
        .replace("  interval: 50ms", "  intervall: 50ms"),
    });
    await assertRefused(sandbox, dir, ["p.yaml"], [
      'DIR/p.yaml:2:1 error Unknown key "naem": did you mean "name"?',
      'DIR/p.yaml:10:3 error Unknown key "batchsize" in target: did you mean "batch_size"?',
      'DIR/p.yaml:18:13 error Unknown key "form" in mappings.amount: did you mean "from"?',
      'DIR/p.yaml:21:3 error Unknown key "intervall" in polling: did you mean "interval"?',
      nothingSent("p.yaml"),
    ]);
  });
});

Deno.test("run names every missing environment variable and an unclosed reference", async () => {
  await withSandbox({ workspan: { token: TOKEN } }, async (sandbox) => {
    const dir = await folder({
      "data.csv": opportunitiesCsv(3),
      "p.yaml": workspanPipeline({ source: "data.csv" })
        .replace("integration_id: WS-Integration_test", "integration_id: ${WS_INTEGRATION")
        .replace("${WORKSPAN_TOKEN}", "${WS_TOKEN:?set WS_TOKEN to the API token}"),
    });
    await assertRefused(
      sandbox,
      dir,
      ["p.yaml"],
      [
        "DIR/p.yaml:7:13 error Environment variable WORKSPAN_BASE_URL is not set (write ${WORKSPAN_BASE_URL:-default} to give a default): target.base_url needs it",
        'DIR/p.yaml:8:19 error "${" is not closed: write ${NAME}, or $${ for a literal "${"',
        "DIR/p.yaml:13:12 error Environment variable WS_TOKEN is not set: set WS_TOKEN to the API token: target.auth.token needs it",
        nothingSent("p.yaml"),
      ],
      { WORKSPAN_TOKEN: TOKEN },
    );
  });
});

Deno.test("run refuses a source path that is missing or is a folder, at source.path", async () => {
  await withSandbox({ workspan: { token: TOKEN } }, async (sandbox) => {
    const dir = await folder({
      "p.yaml": workspanPipeline({ source: "nope.csv" }),
      "q.yaml": workspanPipeline({ source: "data.csv" }),
      "data.csv/": "",
    });
    await assertRefused(sandbox, dir, ["p.yaml", "q.yaml"], [
      'DIR/p.yaml:4:9 error Source file "DIR/nope.csv" does not exist',
      nothingSent("p.yaml"),
      'DIR/q.yaml:4:9 error Source path "DIR/data.csv" is not a file',
      nothingSent("q.yaml"),
    ]);
  });
});

Deno.test("run refuses a pipeline path that is missing or a folder without pipelines", async () => {
  await withSandbox({ workspan: { token: TOKEN } }, async (sandbox) => {
    const dir = await folder({ "empty/": "" });
    await assertRefused(sandbox, dir, ["nope.yaml"], [
      'error: Cannot read pipeline file "DIR/nope.yaml": it does not exist',
    ]);
    await assertRefused(sandbox, dir, ["empty"], [
      'error: No pipeline files (*.yaml) in "DIR/empty"',
    ]);
  });
});

Deno.test("run refuses a YAML alias bomb at its first alias without expanding it", async () => {
  await withSandbox({ workspan: { token: TOKEN } }, async (sandbox) => {
    const levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i < 9; i++) {
      const [me, prev] = [String.fromCharCode(97 + i), String.fromCharCode(96 + i)];
      levels.push(`${me}: &${me} [${Array(10).fill(`*${prev}`).join(", ")}]`);
    }
    const dir = await folder({
      "data.csv": opportunitiesCsv(3),
      // 10^9 strings if expanded.
      "p.yaml": workspanPipeline({ source: "data.csv" }) + levels.join("\n") + "\n",
    });
    await assertRefused(sandbox, dir, ["p.yaml"], [
      "DIR/p.yaml:29:8 error Invalid YAML: Excessive alias count indicates a resource exhaustion attack",
      nothingSent("p.yaml"),
    ]);
  });
});

Deno.test("run refuses very deep nesting at the first level too deep, block or flow", async () => {
  await withSandbox({ workspan: { token: TOKEN } }, async (sandbox) => {
    const block = Array.from({ length: 40 }, (_, i) => `${"  ".repeat(i)}k${i}:`).join("\n");
    const dir = await folder({
      "data.csv": opportunitiesCsv(3),
      "p.yaml": workspanPipeline({ source: "data.csv" }) + block + " end\n",
      // Deep enough to overflow the YAML composer's recursion.
      "q.yaml": workspanPipeline({ source: "data.csv" }) + "deep: " + "[".repeat(10_000) +
        "]".repeat(10_000) + "\n",
    });
    const r = await runCli(["run", `${dir}/p.yaml`, `${dir}/q.yaml`], envFor(sandbox));
    assert.equal(r.code, 2);
    const lines = r.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 4, r.stderr);
    assert.equal(lines[0], `${dir}/p.yaml:61:67 error Pipeline file nests deeper than 32 levels`);
    assert.match(
      lines[2]!,
      new RegExp(`^${dir}/q\\.yaml:28:\\d+ error Pipeline file nests deeper than 32 levels$`),
    );
    assert.deepEqual(
      [lines[1], lines[3]],
      [`${dir}/p.yaml`, `${dir}/q.yaml`].map(
        (p) => `${p}: invalid pipeline, nothing was sent`,
      ),
    );
    assert.equal(sandbox.workspan.requests.length, 0);
  });
});

Deno.test("run refuses a pipeline file over 1 MB and quotes a huge value only in part", async () => {
  await withSandbox({ workspan: { token: TOKEN } }, async (sandbox) => {
    const base = workspanPipeline({ source: "data.csv" });
    const twoMb = "x".repeat(2 << 20);
    const dir = await folder({
      "data.csv": opportunitiesCsv(3),
      "big.yaml": base.replace("name: e2e", `name: ${twoMb}`),
      "wide.yaml": base.replace("content_type: json", `content_type: ${"j".repeat(900_000)}`),
    });
    const size = (await Deno.stat(`${dir}/big.yaml`)).size;
    await assertRefused(sandbox, dir, ["big.yaml", "wide.yaml"], [
      `DIR/big.yaml:1:1 error Pipeline file is ${size} bytes; the limit is 1048576`,
      nothingSent("big.yaml"),
      `DIR/wide.yaml:9:17 error target.content_type: Unknown value "${
        "j".repeat(60)
      }…" (900000 characters): expected one of "json", "csv"`,
      nothingSent("wide.yaml"),
    ]);
  });
});

Deno.test("run refuses a pipeline file that is not UTF-8 at the first bad byte", async () => {
  await withSandbox({ workspan: { token: TOKEN } }, async (sandbox) => {
    const latin1 = workspanPipeline({ source: "data.csv" }).replace("name: e2e", "name: caf\x00");
    const bytes = enc.encode(latin1);
    bytes[bytes.indexOf(0)] = 0xe9; // "é" in Latin-1
    const dir = await folder({ "data.csv": opportunitiesCsv(3), "p.yaml": bytes });
    await assertRefused(sandbox, dir, ["p.yaml"], [
      "DIR/p.yaml:2:10 error Pipeline file is not valid UTF-8: byte 0xE9 cannot be read here; save the file as UTF-8",
      nothingSent("p.yaml"),
    ]);
  });
});

Deno.test("run refuses duplicate keys, also keys that differ only in YAML type", async () => {
  await withSandbox({ workspan: { token: TOKEN } }, async (sandbox) => {
    const base = workspanPipeline({ source: "data.csv" });
    const dir = await folder({
      "data.csv": opportunitiesCsv(3),
      "p.yaml": base + "key: amount\n",
      "q.yaml": base.replace("  stage: Stage", '  1: Stage\n  "1": Amount'),
    });
    await assertRefused(sandbox, dir, ["p.yaml", "q.yaml"], [
      "DIR/p.yaml:28:1 error Invalid YAML: Map keys must be unique",
      nothingSent("p.yaml"),
      'DIR/q.yaml:20:3 error Invalid YAML: Map keys must be unique: "1" is also the key on line 19',
      nothingSent("q.yaml"),
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// Source files

Deno.test("run refuses an empty source with exit 2 and the file's line 1", async () => {
  await withSandbox({ workspan: { token: TOKEN } }, async (sandbox) => {
    const dir = await folder({
      "empty.csv": "",
      "blank.csv": "\r\n\n",
      "empty.json": "",
      "a.yaml": workspanPipeline({ source: "empty.csv" }),
      "b.yaml": workspanPipeline({ source: "blank.csv" }),
      "c.yaml": workspanPipeline({ source: "empty.json", mappings: ID_ONLY }),
    });
    await assertRefused(sandbox, dir, ["a.yaml", "b.yaml", "c.yaml"], [
      "error: DIR/empty.csv:1: File is empty: expected a header row",
      "error: DIR/blank.csv:1: File is empty: expected a header row",
      "error: DIR/empty.json:1: File is empty: expected a JSON array of objects",
    ]);
  });
});

Deno.test("a source with no records is not an error: exit 0, read 0, nothing sent", async () => {
  await withSandbox({ workspan: { token: TOKEN } }, async (sandbox) => {
    const dir = await folder({
      "header.csv": HEADER,
      "none.json": "[ ]\n",
      "none.jsonl": "",
      "a.yaml": workspanPipeline({ source: "header.csv" }),
      "b.yaml": workspanPipeline({ source: "none.json", mappings: ID_ONLY }),
      "c.yaml": workspanPipeline({ source: "none.jsonl", mappings: ID_ONLY }),
    });
    const r = await runCli(
      ["run", "--json", `${dir}/a.yaml`, `${dir}/b.yaml`, `${dir}/c.yaml`],
      envFor(sandbox),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.summaries.length, 3);
    for (const s of r.summaries as Summary[]) {
      assert.equal(s.status, "succeeded");
      assert.equal(s.exit_code, 0);
      assert.ok(Object.values(s.counts).every((n) => n === 0), JSON.stringify(s.counts));
      assert.deepEqual(s.batches, []);
      assert.deepEqual(s.errors, []);
    }
    assert.equal(sandbox.workspan.requests.length, 0, "no upload for zero rows");
  });
});

Deno.test("run refuses a CSV header with a repeated or an empty column name", async () => {
  await withSandbox({ workspan: { token: TOKEN } }, async (sandbox) => {
    const dir = await folder({
      "dup.csv": "\nOpportunity ID,Amount,Close Date,Amount,Stage\n" + row("op1"),
      "empty.csv": "Opportunity ID,,Close Date,Amount,Stage\n" + row("op1"),
      "a.yaml": workspanPipeline({ source: "dup.csv" }),
      "b.yaml": workspanPipeline({ source: "empty.csv" }),
    });
    await assertRefused(sandbox, dir, ["a.yaml", "b.yaml"], [
      'error: DIR/dup.csv:2: Column 4 repeats the name "Amount": column 2 has it too',
      "error: DIR/empty.csv:1: Column 2 has an empty name",
    ]);
  });
});

Deno.test("ragged CSV rows are rejected with their line; the other rows load", async () => {
  await withSandbox({ workspan: { token: TOKEN, processingMs: 10 } }, async (sandbox) => {
    const dir = await folder({
      "data.csv": HEADER + row("op1") + "op2,01-Jan-2024\n" + row("op3") +
        "op4,01-Jan-2024,4,Prospecting,extra\n" + 'op5,"01-Jan-2024",5,"Prospecting"\n',
      "p.yaml": workspanPipeline({ source: "data.csv", limits: "  max_error_rate: 0.5" }),
    });
    const r = await runCli(["run", "--json", `${dir}/p.yaml`], envFor(sandbox));
    assert.equal(r.code, 0, r.stderr);
    const s = r.summaries[0] as Summary;
    assert.equal(s.status, "completed_with_errors");
    assert.deepEqual(
      { read: s.counts.read, rejected: s.counts.rejected, succeeded: s.counts.succeeded },
      { read: 5, rejected: 2, succeeded: 3 },
    );
    assertIdentities(s);
    assert.deepEqual(s.errors, [
      {
        source_line: 3,
        code: "invalid_row",
        message: "Row has 2 fields, the header has 4",
        stage: "local",
      },
      {
        source_line: 5,
        code: "invalid_row",
        message: "Row has 5 fields, the header has 4",
        stage: "local",
      },
    ]);
    for (const k of ["op1", "op3", "op5"]) assert.equal(sandbox.workspan.loadCount(k), 1, k);
    for (const k of ["op2", "op4"]) assert.equal(sandbox.workspan.loadCount(k), 0, k);
    assert.equal(sandbox.workspan.executions()[0]!.rowsReceived, 3, "the bad rows never left");
  });
});

Deno.test("run refuses a CSV with an unclosed quote, a NUL byte or invalid UTF-8 at its line", async () => {
  await withSandbox({ workspan: { token: TOKEN } }, async (sandbox) => {
    const good = HEADER + row("op1");
    const dir = await folder({
      "quote.csv": good + 'op2,"01-Jan-2024,2,Prospecting\n' + row("op3"),
      "nul.csv": good + row("op2") + "op3,01-Jan\u00002024,3,Prospecting\n",
      "latin1.csv": new Uint8Array([...enc.encode(good + "op2,01-Jan-2024,2,Prospe"), 0xe9, 10]),
      "a.yaml": workspanPipeline({ source: "quote.csv" }),
      "b.yaml": workspanPipeline({ source: "nul.csv" }),
      "c.yaml": workspanPipeline({ source: "latin1.csv" }),
    });
    await assertRefused(sandbox, dir, ["a.yaml", "b.yaml", "c.yaml"], [
      "error: DIR/quote.csv:3: Unclosed quote: the quoted field starting here never ends",
      "error: DIR/nul.csv:4: File contains a NUL byte: it is not a text file (UTF-16 or binary?)",
      "error: DIR/latin1.csv:3: Invalid UTF-8: the file must be saved as UTF-8",
    ]);
  });
});

Deno.test("run refuses a JSON source that is not an array of objects, at the line", async () => {
  await withSandbox({ workspan: { token: TOKEN } }, async (sandbox) => {
    const dir = await folder({
      "object.json": '{"id": "a"}\n',
      "number.json": '[\n  {"id": "a"},\n  42,\n  {"id": "b"}\n]\n',
      "broken.json": '[\n  {"id": "a"},\n  {"id":\n    b}\n]\n',
      "a.yaml": workspanPipeline({ source: "object.json", mappings: ID_ONLY }),
      "b.yaml": workspanPipeline({ source: "number.json", mappings: ID_ONLY }),
      "c.yaml": workspanPipeline({ source: "broken.json", mappings: ID_ONLY }),
    });
    const r = await runCli(
      ["run", `${dir}/a.yaml`, `${dir}/b.yaml`, `${dir}/c.yaml`],
      envFor(sandbox),
    );
    assert.equal(r.code, 2);
    const lines = r.stderr.trimEnd().split("\n");
    assert.deepEqual(lines.slice(0, 2), [
      `error: ${dir}/object.json:1: Expected a JSON array of objects: the file starts with an object`,
      `error: ${dir}/number.json:3: Element 2 is not an object: found a number`,
    ]);
    // The engine words the JSON syntax error; the line is ours.
    assert.match(
      lines[2]!,
      new RegExp(`^error: ${dir}/broken\\.json:4: Invalid JSON in element 2: `),
    );
    assert.equal(lines.length, 3);
    assert.equal(r.summaries.length, 0);
    assert.equal(sandbox.workspan.requests.length, 0);
  });
});

Deno.test("a malformed JSON Lines line is rejected with its line; the other lines load", async () => {
  await withSandbox({ workspan: { token: TOKEN, processingMs: 10 } }, async (sandbox) => {
    const dir = await folder({
      "data.jsonl": '{"id": "j1"}\n{"id": j2}\n\n{"id": "j3"}\r\n[1, 2]\n{"id": "j4"}',
      "p.yaml": workspanPipeline({
        source: "data.jsonl",
        mappings: ID_ONLY,
        limits: "  max_error_rate: 0.5",
      }),
    });
    const r = await runCli(["run", "--json", `${dir}/p.yaml`], envFor(sandbox));
    assert.equal(r.code, 0, r.stderr);
    const s = r.summaries[0] as Summary;
    assert.deepEqual(
      [s.counts.read, s.counts.rejected, s.counts.succeeded],
      [5, 2, 3],
    );
    assertIdentities(s);
    assert.deepEqual(s.errors.map((e) => [e.source_line, e.code, e.stage]), [
      [2, "invalid_row", "local"],
      [5, "invalid_row", "local"],
    ]);
    assert.match(s.errors[0]!.message, /^Invalid JSON: /);
    assert.equal(s.errors[1]!.message, "Line is not a JSON object: found an array");
    for (const k of ["j1", "j3", "j4"]) assert.equal(sandbox.workspan.loadCount(k), 1, k);
    assert.equal(sandbox.workspan.executions()[0]!.rowsReceived, 3);
  });
});

Deno.test("run refuses a 20 MB line in any format: the record limit is 16 MiB", async () => {
  await withSandbox({ workspan: { token: TOKEN } }, async (sandbox) => {
    const huge = "x".repeat(20 << 20);
    const dir = await folder({
      "line.csv": HEADER + row("op1") + `op2,01-Jan-2024,2,${huge}\n` + row("op3"),
      "quote.csv": HEADER + row("op1") + `op2,01-Jan-2024,2,"${huge}\n` + row("op3"),
      "line.jsonl": `{"id": "a"}\n{"id": "${huge}"}\n`,
      "element.json": `[{"id": "a"},\n {"id": "${huge}"}]\n`,
      "a.yaml": workspanPipeline({ source: "line.csv" }),
      "b.yaml": workspanPipeline({ source: "quote.csv" }),
      "c.yaml": workspanPipeline({ source: "line.jsonl", mappings: ID_ONLY }),
      "d.yaml": workspanPipeline({ source: "element.json", mappings: ID_ONLY }),
    });
    await assertRefused(sandbox, dir, ["a.yaml", "b.yaml", "c.yaml", "d.yaml"], [
      "error: DIR/line.csv:3: Record is longer than the limit of 16 MiB: it starts here and does not end within it",
      "error: DIR/quote.csv:3: Record is longer than the limit of 16 MiB: the quoted field opened on line 3 does not close within it (an unclosed quote?)",
      "error: DIR/line.jsonl:2: Line is longer than the limit of 16 MiB",
      "error: DIR/element.json:2: Element 2 is longer than the limit of 16 MiB: it starts here",
    ]);
  });
});

Deno.test("a source error after batches were sent stops the run: failed, exit 2, counts honest", async () => {
  await withSandbox({ workspan: { token: TOKEN, processingMs: 10 } }, async (sandbox) => {
    // 100 good rows (lines 2-101), then an unclosed quote on line 102.
    const dir = await folder({
      "data.csv": opportunitiesCsv(100) + 'op-bad,"01-Jan-2024,1,Prospecting\n' + row("op-after"),
      "p.yaml": workspanPipeline({ source: "data.csv", batchSize: 30 }),
    });
    const r = await runCli(["run", `${dir}/p.yaml`], envFor(sandbox));
    assert.equal(r.code, 2, r.stderr);
    const s = r.summaries[0] as Summary;
    const reason = `${dir}/data.csv:102: Unclosed quote: the quoted field starting here never ends`;
    assert.equal(s.status, "failed");
    assert.equal(s.exit_code, 2);
    assert.equal(s.reason, reason);
    assert.ok(r.stderr.includes(reason), "the report on stderr names the file and line");
    assert.deepEqual({ ...s.counts }, {
      read: 100,
      rejected: 0,
      sent: 90,
      succeeded: 90,
      failed: 0,
      skipped: 0,
      pending: 0,
      unknown: 0,
      unsent: 10,
    });
    assertIdentities(s);
    assert.deepEqual(
      s.batches.map((b) => [b.rows, b.first_line, b.last_line, b.status]),
      [[30, 2, 31, "completed"], [30, 32, 61, "completed"], [30, 62, 91, "completed"]],
    );
    assert.deepEqual(s.problems, []);
    // The sandbox got three uploads: rows 0-89 once each; lines 92-101 and the bad line never.
    assert.equal(sandbox.workspan.executions().length, 3);
    for (let i = 0; i < 100; i++) {
      const key = `op${String(i).padStart(6, "0")}`;
      assert.equal(sandbox.workspan.loadCount(key), i < 90 ? 1 : 0, key);
    }
    assert.equal(sandbox.workspan.loadCount("op-bad"), 0);
    assert.equal(sandbox.workspan.loadCount("op-after"), 0);
  });
});

Deno.test("a mapped column missing from the CSV header stops the run at the header", async () => {
  await withSandbox({ workspan: { token: TOKEN } }, async (sandbox) => {
    const dir = await tempDir({
      "data.csv": "Opportunity ID,Close,Amount,Stage\nop1,01-Jan-2024,1,Prospecting\n",
      "p.yaml": workspanPipeline({ source: "data.csv" }),
    });
    const r = await runCli(["run", `${dir}/p.yaml`], envFor(sandbox), { cwd: dir });
    assert.equal(r.code, 2);
    // Named at the mapping that reads it, with a did-you-mean from the header.
    assert.match(
      r.stderr,
      /p\.yaml:17:\d+ error Column "Close Date" \(mapped to "close_date"\) is not in the header of "[^"]*data\.csv": did you mean "Close"\?/,
    );
    assert.equal(sandbox.workspan.requests.length, 0);
  });
});

Deno.test("validate warns about fields the target does not list, with a hint", async () => {
  const dir = await tempDir({
    "data.csv": "Name,Stage\nA,won\n",
    "p.yaml": `version: 1
source: { path: data.csv }
target:
  api: bigin
  module: Pipelines
  operation: upsert
  find_by: Deal_Name
  org_id: "1"
  auth: { type: zoho_refresh_token, client_id: a, client_secret: b, refresh_token: c }
key: Deal_Name
mappings:
  Deal_Name: Name
  Stag: Stage
  Sub_Pipeline: { value: Standard }
`,
  });
  const r = await runCli(["validate", "--format", "github", `${dir}/p.yaml`], {}, { cwd: dir });
  assert.equal(r.code, 0, "warnings do not fail validation");
  assert.match(
    r.stderr,
    /p\.yaml:13:3 warning "Stag" is not a standard field of bigin: did you mean "Stage"\?/,
  );
  assert.match(r.stderr, /p\.yaml:\d+:\d+ warning bigin requires "Stage", which is not mapped/);
  assert.match(r.stdout, /^::warning file=.*p\.yaml,line=13,col=3,title=unknown_field::/m);
});
