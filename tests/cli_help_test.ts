/**
 * Every command's `--help` prints that command's own usage, exits 0 and does nothing else: no
 * file written, no server started, no request sent. Each case runs the task as a user would
 * (`deno task schema --help`), since `deno task` appends the arguments to the task's last command.
 *
 * @module
 */
import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const SKIP = new Set([".git", "node_modules", "bench/data"]);

/** Every file under `dir` (skipping `.git` and generated data) with its size and mtime. */
async function snapshot(dir: string, prefix = ""): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const e of Deno.readDir(`${dir}/${prefix}`)) {
    const rel = `${prefix}${e.name}`;
    if (SKIP.has(rel)) continue;
    if (e.isDirectory) {
      for (const [k, v] of await snapshot(dir, `${rel}/`)) out.set(k, v);
    } else if (e.isFile) {
      const info = await Deno.stat(`${dir}/${rel}`);
      out.set(rel, `${info.size} ${info.mtime?.getTime()}`);
    }
  }
  return out;
}

/** Runs `deno <args>` in `cwd`; returns the exit code and both streams. */
async function deno(args: string[], cwd = ROOT, env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

/** The task, and the first line and a line of the body its `--help` must print. */
const CASES: [task: string, usage: RegExp, body: RegExp][] = [
  ["run", /^Usage: deno task run \[options\] <pipeline\.yaml/, /--state-dir DIR/],
  ["run-ci", /^Usage: deno task run \[options\]/, /use deno task run-ci/],
  ["validate", /^Usage: deno task validate \[options\]/, /--allow-missing-env/],
  ["plan", /^Usage: deno task plan \[options\] <pipeline\.yaml>/, /--rows N/],
  ["schema", /^Usage: deno task schema \[options\]/, /docs\/pipeline-reference\.md/],
  ["sandbox", /^Usage: deno task sandbox \[serve\]/, /--fault <fault>/],
  ["demo", /^Usage: deno task demo\n/, /examples\//],
];

for (const [task, usage, body] of CASES) {
  Deno.test(`deno task ${task} --help prints its own usage, exits 0 and writes nothing`, async () => {
    // run-ci may write under $RUNNER_TEMP (the job summary): that folder must stay empty too.
    const temp = await Deno.makeTempDir({ prefix: "bulkrun-help-" });
    const before = await snapshot(ROOT);
    const r = await deno(["task", "--quiet", task, "--help"], ROOT, { RUNNER_TEMP: temp });
    const after = await snapshot(ROOT);
    const written = [...await snapshot(temp).finally(() => Deno.remove(temp, { recursive: true }))];
    assert.deepEqual(written, []);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, usage);
    assert.match(r.stdout, body);
    // Another command's options would mean the wrong help (sandbox's serve has --fault).
    if (task !== "sandbox") assert.doesNotMatch(r.stdout, /--fault/);
    if (task !== "schema") assert.doesNotMatch(r.stdout, /--check/);
    assert.doesNotMatch(r.stderr, /Sandbox on|wrote |Checked/);
    assert.deepEqual([...after].filter(([k, v]) => before.get(k) !== v), []);
    assert.deepEqual([...before.keys()].filter((k) => !after.has(k)), []);
  });
}

Deno.test("schema --help writes neither the schema file nor the field table it is given", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bulkrun-help-" });
  try {
    await Deno.writeTextFile(`${dir}/ref.md`, "<!-- fields:start -->\n<!-- fields:end -->\n");
    const r = await deno([
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-run",
      `${ROOT}/runner/main.ts`,
      "schema",
      "--out",
      `${dir}/schema.json`,
      "--reference",
      `${dir}/ref.md`,
      "--fmt",
      "--help",
    ], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Usage: deno task schema/);
    const names = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assert.deepEqual(names, ["ref.md"]);
    assert.equal(
      await Deno.readTextFile(`${dir}/ref.md`),
      "<!-- fields:start -->\n<!-- fields:end -->\n",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--help without a command lists the commands and how to get each one's help", async () => {
  const r = await deno(["run", "--allow-read", "--allow-env", `${ROOT}/runner/main.ts`, "--help"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Usage: deno task <command>/);
  for (const command of ["run", "validate", "plan", "schema"]) {
    assert.match(r.stdout, new RegExp(`^  ${command} `, "m"));
  }
  assert.match(r.stdout, /deno task run --help/);
});

Deno.test("a command missing its file names the problem with that command's usage, exit 2", async () => {
  const r = await deno(["run", "--allow-read", "--allow-env", `${ROOT}/runner/main.ts`, "plan"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^error: plan needs a pipeline file\n\nUsage: deno task plan/);
});
