/**
 * Never twice, never leaked — the local half, end to end: the real CLI against the sandbox.
 * Two runs of one pipeline at once, damaged journals, outputs that cannot be written, an empty
 * source.
 */
import assert from "node:assert/strict";
import {
  opportunitiesCsv,
  runCli,
  type Summary,
  tempDir,
  withSandbox,
  workspanPipeline,
} from "./_harness.ts";
import { hostName } from "../runner/lock.ts";
import { CHILD_V8_FLAGS, childArgs, hostsOf } from "../runner/narrow.ts";
import type { Sandbox } from "../sandbox/server.ts";

const TOKEN = "local-safety-token";
const env = (sandbox: Sandbox) => ({ WORKSPAN_BASE_URL: sandbox.url, WORKSPAN_TOKEN: TOKEN });

/** Every key of `n` opportunities was stored exactly once. */
function assertStoredOnce(sandbox: Sandbox, n: number): void {
  for (let i = 0; i < n; i++) {
    const key = `op${String(i).padStart(6, "0")}`;
    assert.equal(sandbox.workspan.loadCount(key), 1, `${key} stored once`);
  }
}

// ---------------------------------------------------------------------------------------------
// One run at a time

Deno.test("of two runs of one pipeline at once, one runs and the other exits 2 naming it", async () => {
  await withSandbox({ workspan: { token: TOKEN, processingMs: 1500 } }, async (sandbox) => {
    const dir = await tempDir({
      "data.csv": opportunitiesCsv(20),
      "p.yaml": workspanPipeline({ source: "data.csv", batchSize: 10 }),
    });
    const [a, b] = await Promise.all([
      runCli(["run", "--json", `${dir}/p.yaml`], env(sandbox), { cwd: dir }),
      runCli(["run", "--json", `${dir}/p.yaml`], env(sandbox), { cwd: dir }),
    ]);
    const [ran, refused] = a.code === 0 ? [a, b] : [b, a];
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal(refused.code, 2, refused.stderr);
    assert.equal(refused.summaries.length, 0);
    assert.match(
      refused.stderr,
      new RegExp(
        `^error: Another run of this pipeline is in progress: run \\d+ on ${hostName()} since \\d{4}-\\d\\d-\\d\\dT[^ ]+ \\(bulkrun run ${dir}/p\\.yaml\\) holds "\\.state/e2e\\.lock"; nothing was sent\\. If that run is no longer running .*, delete "\\.state/e2e\\.lock" and run again\\n$`,
      ),
    );
    assert.equal((ran.summaries[0] as Summary).counts.succeeded, 20);
    assertStoredOnce(sandbox, 20);
    assert.equal(sandbox.workspan.executions().length, 2, "two batches, uploaded once each");
    assert.throws(() => Deno.statSync(`${dir}/.state/e2e.lock`), Deno.errors.NotFound);
  });
});

Deno.test("a lock left by a dead run is taken over, with a line saying so", async () => {
  await withSandbox({ workspan: { token: TOKEN, processingMs: 50 } }, async (sandbox) => {
    // What a run killed with SIGKILL leaves: the record, with the kernel's lock gone.
    const stale = { pid: 9_999_999, host: hostName(), since: "2026-01-01T00:00:00.000Z" };
    const dir = await tempDir({
      "data.csv": opportunitiesCsv(3),
      "p.yaml": workspanPipeline({ source: "data.csv" }),
      ".state/e2e.lock": JSON.stringify({ ...stale, command: "bulkrun run p.yaml" }),
    });
    const r = await runCli(["run", "--json", `${dir}/p.yaml`], env(sandbox), { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stderr,
      `Taking over the lock ".state/e2e.lock" of run 9999999 on ${hostName()} (since 2026-01-01T00:00:00.000Z), which is no longer running\n`,
    );
    assertStoredOnce(sandbox, 3);
    assert.throws(() => Deno.statSync(`${dir}/.state/e2e.lock`), Deno.errors.NotFound);
  });
});

Deno.test("a lock held by a live process is never taken over: exit 2, nothing sent", async () => {
  await withSandbox({ workspan: { token: TOKEN } }, async (sandbox) => {
    const holder = {
      pid: 4242,
      host: "other-machine",
      since: "2026-01-01T00:00:00.000Z",
      command: "bulkrun run p.yaml",
    };
    const dir = await tempDir({
      "data.csv": opportunitiesCsv(3),
      "p.yaml": workspanPipeline({ source: "data.csv" }),
      ".state/e2e.lock": JSON.stringify(holder),
    });
    // This test process holds the lock, as a live run would.
    using file = Deno.openSync(`${dir}/.state/e2e.lock`, { read: true, write: true });
    file.lockSync(true);
    const r = await runCli(["run", `${dir}/p.yaml`], env(sandbox), { cwd: dir });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /run 4242 on other-machine since 2026-01-01T00:00:00.000Z/);
    assert.equal(sandbox.workspan.requests.length, 0);
    assert.deepEqual(JSON.parse(Deno.readTextFileSync(`${dir}/.state/e2e.lock`)), holder);
  });
});

Deno.test("the lock is released when the run fails after sending", async () => {
  await withSandbox({ workspan: { token: TOKEN, statusAlwaysRunning: true } }, async (sandbox) => {
    const dir = await tempDir({
      "data.csv": opportunitiesCsv(3),
      "p.yaml": workspanPipeline({
        source: "data.csv",
        polling: "  interval: 20ms\n  timeout: 200ms",
      }),
    });
    const r = await runCli(["run", "--json", `${dir}/p.yaml`], env(sandbox), { cwd: dir });
    assert.equal(r.code, 4, r.stderr);
    assert.throws(() => Deno.statSync(`${dir}/.state/e2e.lock`), Deno.errors.NotFound);
  });
});

// ---------------------------------------------------------------------------------------------
// Damaged journals

const RUN_LINE = JSON.stringify({
  event: "run",
  run_id: "r1",
  at: "2026-01-01T00:00:00.000Z",
  pipeline: "e2e",
  source_hash: "sha256:x",
  plan_hash: "sha256:y",
  duplicates_on_resend: false,
});

const DAMAGE: [string, string, string][] = [
  [
    "a line cut short with more after it",
    `${RUN_LINE}\n{"event":"sub\n${RUN_LINE}\n`,
    "2: not JSON",
  ],
  ["garbage", `${RUN_LINE}\n\u0000\u0007 not json at all\n`, "2: not JSON"],
  ["null", `${RUN_LINE}\nnull\n`, "2: not a journal event"],
  ["a wrong shape", `{"event":"submit","batch":"zero"}\n`, "1: not a journal event (batch)"],
];

for (const [kind, text, where] of DAMAGE) {
  Deno.test(`a journal damaged by ${kind} stops the run with its line; --fresh keeps it aside`, async () => {
    await withSandbox({ workspan: { token: TOKEN, processingMs: 50 } }, async (sandbox) => {
      const dir = await tempDir({
        "data.csv": opportunitiesCsv(3),
        "p.yaml": workspanPipeline({ source: "data.csv" }),
        ".state/e2e.journal.jsonl": text,
      });
      const journal = ".state/e2e.journal.jsonl";
      const r = await runCli(["run", `${dir}/p.yaml`], env(sandbox), { cwd: dir });
      assert.equal(r.code, 2, r.stderr);
      assert.equal(
        r.stderr,
        `error: Run journal "${journal}" is damaged at line ${where}; nothing was sent. Run with --fresh to keep the damaged file aside (as "${journal}.damaged-<time>") and start over, after checking in the target what the last run loaded\n`,
      );
      assert.equal(sandbox.workspan.requests.length, 0);

      const fresh = await runCli(["run", "--json", "--fresh", `${dir}/p.yaml`], env(sandbox), {
        cwd: dir,
      });
      assert.equal(fresh.code, 0, fresh.stderr);
      const m = fresh.stderr.match(/kept aside as "(\.state\/e2e\.journal\.jsonl\.damaged-[^"]+)"/);
      assert.ok(m, fresh.stderr);
      assert.equal(Deno.readTextFileSync(`${dir}/${m[1]}`), text, "the damaged file, unchanged");
      assertStoredOnce(sandbox, 3);
      const events = Deno.readTextFileSync(`${dir}/${journal}`).trim().split("\n");
      assert.equal(JSON.parse(events.at(-1)!).event, "end", "a new, whole journal");
    });
  });
}

Deno.test("a journal whose last line is cut short (an append that never finished) is resumed, and its batch sent once", async () => {
  // A finished run gives the journal's run line (its hashes match the pipeline).
  const dir = await tempDir({
    "data.csv": opportunitiesCsv(3),
    "p.yaml": workspanPipeline({ source: "data.csv" }),
  });
  const journal = `${dir}/.state/e2e.journal.jsonl`;
  await withSandbox({ workspan: { token: TOKEN, processingMs: 50 } }, async (sandbox) => {
    const first = await runCli(["run", "--json", `${dir}/p.yaml`], env(sandbox), { cwd: dir });
    assert.equal(first.code, 0, first.stderr);
  });
  const lines = Deno.readTextFileSync(journal).trim().split("\n");
  const submit = lines.find((l) => JSON.parse(l).event === "submit")!;
  // The run was killed while it appended its submit: the line is cut, the upload never went out.
  const runLine = lines.findLast((l) => JSON.parse(l).event === "run")!;
  Deno.writeTextFileSync(journal, `${runLine}\n${submit.slice(0, submit.length >> 1)}`);
  await withSandbox({ workspan: { token: TOKEN, processingMs: 50 } }, async (sandbox) => {
    const r = await runCli(["run", "--json", `${dir}/p.yaml`], env(sandbox), { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assertStoredOnce(sandbox, 3);
    assert.equal(sandbox.workspan.executions().length, 1);
  });
  const events = Deno.readTextFileSync(journal).trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(events.at(-1).event, "end", "a whole journal again");
  assert.equal(events.filter((e) => e.event === "submit").length, 1);
});

// ---------------------------------------------------------------------------------------------
// Outputs that cannot be written are found before anything is sent

const OUTPUT_CASES: [string, Record<string, string>, string, (dir: string) => void, string][] = [
  [
    "is a folder",
    {},
    "out/s.json",
    (d) => Deno.mkdirSync(`${d}/out/s.json`, { recursive: true }),
    "it is a folder",
  ],
  [
    "has a file for a parent",
    { "out/x": "a file" },
    "out/x/s.json",
    () => {},
    `a part of "out/x" is a file, not a folder`,
  ],
  [
    "is a symbolic link out of out/",
    { "secret.txt": "keep" },
    "out/s.json",
    (d) => {
      Deno.mkdirSync(`${d}/out`);
      Deno.symlinkSync(`${d}/secret.txt`, `${d}/out/s.json`);
    },
    `it leads to "DIR/secret.txt", outside "DIR/out" (through a symbolic link or "..")`,
  ],
];

for (const [what, files, path, prepare, why] of OUTPUT_CASES) {
  Deno.test(`a summary path that ${what} is refused before anything is sent`, async () => {
    await withSandbox({ workspan: { token: TOKEN } }, async (sandbox) => {
      const dir = await tempDir({
        "data.csv": opportunitiesCsv(3),
        "p.yaml": workspanPipeline({ source: "data.csv", output: `  summary: ${path}` }),
        ...files,
      });
      prepare(dir);
      const real = Deno.realPathSync(dir);
      const r = await runCli(["run", `${dir}/p.yaml`], env(sandbox), { cwd: dir });
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr, `error: Cannot write "${path}": ${why.replaceAll("DIR", real)}\n`);
      assert.equal(sandbox.workspan.requests.length, 0, "nothing was sent");
      if (files["secret.txt"]) assert.equal(Deno.readTextFileSync(`${dir}/secret.txt`), "keep");
    });
  });
}

Deno.test("a summary file that fails at the end still prints the summary and closes the journal", async () => {
  await withSandbox({ workspan: { token: TOKEN, processingMs: 800 } }, async (sandbox) => {
    const dir = await tempDir({
      "data.csv": opportunitiesCsv(3),
      "p.yaml": workspanPipeline({ source: "data.csv", output: "  summary: out/x/s.json" }),
    });
    const child = runCli(["run", "--json", `${dir}/p.yaml`], env(sandbox), { cwd: dir });
    // Once the upload is in, the folder of the summary turns into a file.
    while (sandbox.workspan.executions().length === 0) {
      await new Promise((r) => setTimeout(r, 20));
    }
    Deno.removeSync(`${dir}/out/x`, { recursive: true });
    Deno.writeTextFileSync(`${dir}/out/x`, "in the way");
    const r = await child;
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /^error: Cannot write the summary file "out\/x\/s\.json": /);
    const s = r.summaries[0] as Summary;
    assert.equal(s.status, "succeeded");
    assert.equal(s.exit_code, 3);
    assert.equal(s.outputs.summary, undefined);
    assert.match(s.problems.join("\n"), /Cannot write the summary file "out\/x\/s\.json"/);
    const journal = Deno.readTextFileSync(`${dir}/.state/e2e.journal.jsonl`).trim().split("\n");
    assert.equal(JSON.parse(journal.at(-1)!).event, "end");
    assertStoredOnce(sandbox, 3);
  });
});

// ---------------------------------------------------------------------------------------------
// An empty source

Deno.test("a source with a header and no rows succeeds and says there was nothing to load", async () => {
  await withSandbox({ workspan: { token: TOKEN } }, async (sandbox) => {
    const dir = await tempDir({
      "data.csv": opportunitiesCsv(0),
      "p.yaml": workspanPipeline({ source: "data.csv" }),
    });
    const r = await runCli(["run", `${dir}/p.yaml`], env(sandbox), { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    const s = r.summaries[0] as Summary;
    assert.equal(s.status, "succeeded");
    assert.equal(s.reason, `Nothing to load: "${dir}/data.csv" has no rows`);
    assert.match(r.stderr, /\n {2}Nothing to load: ".*data\.csv" has no rows\n/);
    assert.equal(sandbox.workspan.requests.length, 0);
  });
});

// ---------------------------------------------------------------------------------------------
// Network access narrowed to the target's hosts

/** A server on 127.0.0.1 that counts requests and answers through `answer`. */
function server(answer: (req: Request) => Promise<Response>) {
  let count = 0;
  const s = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    count++;
    return answer(req);
  });
  return { port: s.addr.port, count: () => count, close: () => s.shutdown() };
}

/** Forwards a request to the sandbox. */
async function forward(req: Request, sandboxUrl: string): Promise<Response> {
  const url = new URL(req.url);
  const res = await fetch(`${sandboxUrl}${url.pathname}${url.search}`, {
    method: req.method,
    headers: req.headers,
    ...(req.method === "GET" ? {} : { body: await req.arrayBuffer() }),
  });
  return new Response(await res.arrayBuffer(), { status: res.status, headers: res.headers });
}

Deno.test("deno task run reaches only the target's host: a redirect to another port never reaches it", async () => {
  await withSandbox({ workspan: { token: TOKEN, processingMs: 50 } }, async (sandbox) => {
    // The target's host takes uploads, and redirects every status check to another host.
    const other = server((req) => forward(req, sandbox.url));
    const target = server((req) =>
      req.method === "GET"
        ? Promise.resolve(
          Response.redirect(`http://127.0.0.1:${other.port}${new URL(req.url).pathname}`, 307),
        )
        : forward(req, sandbox.url)
    );
    try {
      const dir = await tempDir({
        "data.csv": opportunitiesCsv(3),
        "p.yaml": workspanPipeline({
          source: "data.csv",
          polling: "  interval: 50ms\n  max_interval: 100ms\n  timeout: 1s",
        }),
      });
      const env = { WORKSPAN_BASE_URL: `http://127.0.0.1:${target.port}`, WORKSPAN_TOKEN: TOKEN };
      const r = await runCli(["run", "--json", `${dir}/p.yaml`], env, { cwd: dir });
      assert.notEqual(r.code, 0, r.stderr);
      assert.ok(target.count() > 1, "the target's host was reached");
      assert.equal(other.count(), 0, "the other host was never reached");
    } finally {
      await target.close();
      await other.close();
    }
  });
});

Deno.test("hostsOf() takes host and port from every URL of the request list", () => {
  assert.deepEqual(
    hostsOf([
      "POST https://api.example.com/v1/x (JSON body)",
      "GET http://127.0.0.1:8787/status/{id}",
      "POST https://accounts.zoho.eu/oauth/v2/token",
      "GET https://api.example.com/v1/y",
      "no URL here",
    ]),
    ["127.0.0.1:8787", "accounts.zoho.eu", "api.example.com"],
  );
});

Deno.test("the narrowed child gets the pipeline's hosts, its V8 settings, and no --allow-run", () => {
  const args = childArgs("pipelines/x.yaml", ["127.0.0.1:8787", "api.example.com"], ["out"], {
    json: true,
    quiet: false,
    fresh: false,
    force: false,
    stateDir: ".state",
  });
  assert.ok(args.includes("--allow-net=127.0.0.1:8787,api.example.com"));
  assert.ok(args.includes(`--v8-flags=${CHILD_V8_FLAGS.join(",")}`));
  assert.ok(CHILD_V8_FLAGS.length > 0);
  assert.equal(args.some((a) => a.startsWith("--allow-run")), false);
  assert.deepEqual(args.slice(-2), ["--state-dir=.state", "pipelines/x.yaml"]);
});
