/**
 * More of the fault matrix (issue 11, the network half): answers the runner cannot read, safe
 * retries, redirects, foreign download URLs, stalled and oversized status answers, and access
 * tokens echoed back. Every case runs the real CLI against the sandbox, then — where the run
 * stopped — a clean rerun, and asserts from the sandbox's own record that each valid row was
 * stored exactly once (or reported unknown and not resent), and that no secret is in any output.
 */
import assert from "node:assert/strict";
import type { Fault } from "../sandbox/faults.ts";
import type { Sandbox } from "../sandbox/server.ts";
import {
  assertIdentities,
  biginEnv,
  biginPipeline,
  type CliResult,
  dealsCsv,
  opportunitiesCsv,
  runCli,
  type Summary,
  tempDir,
  withSandbox,
  workspanPipeline,
} from "./_harness.ts";
import { FAST_RETRIES, KEYS, ROWS, unknownKeys } from "./_faults.ts";

const TOKEN = "more-fault-token";
/** Tokens the sandbox issues: WorkSpan client credentials, Zoho refresh grants. */
const ISSUED = /ws-sandbox-[0-9a-f]{32}|1000\.[0-9a-f]{16}\.[0-9a-f]{16}/;

/** Everything a run left: stdout, stderr, and every file under its folder (summary, rejects, .state). */
async function outputs(dir: string, runs: CliResult[]): Promise<string> {
  const texts = runs.flatMap((r) => [r.stdout, r.stderr]);
  const walk = async (path: string): Promise<void> => {
    for await (const e of Deno.readDir(path)) {
      const p = `${path}/${e.name}`;
      if (e.isDirectory) await walk(p);
      else if (!p.endsWith(".csv") || p.includes("/out/")) texts.push(await Deno.readTextFile(p));
    }
  };
  await walk(dir);
  return texts.join("\n");
}

/** No secret, static or issued, in anything the runs printed or wrote. */
async function assertNoSecret(dir: string, runs: CliResult[], secrets: string[]) {
  const all = await outputs(dir, runs);
  for (const s of secrets) assert.ok(!all.includes(s), `secret "${s}" appears in an output`);
  assert.doesNotMatch(all, ISSUED, "an issued access token appears in an output");
}

function summaryOf(r: CliResult): Summary {
  assert.equal(r.summaries.length, 1, r.stderr);
  const s = r.summaries[0]!;
  assertIdentities(s);
  return s;
}

interface WsCase {
  first: CliResult;
  rerun?: CliResult;
  s: Summary;
  loads: Map<string, number>;
  executions: number;
  dir: string;
}

/**
 * A WorkSpan run of 30 rows in batches of 10 with `faults`, then (unless it exited 0) a clean
 * rerun; every key is loaded at most once, and exactly once unless the last run reports it
 * unknown and the sandbox never processed it.
 */
async function workspanCase(
  faults: Fault[],
  o: { targetExtra?: string; auth?: string; env?: Record<string, string>; rerun?: boolean } = {},
  check?: (first: Summary, r: CliResult, sandbox: Sandbox) => void,
): Promise<WsCase> {
  return await withSandbox({
    workspan: { token: TOKEN, processingMs: 20 },
    faults,
  }, async (sandbox) => {
    const dir = await tempDir({
      "data.csv": opportunitiesCsv(ROWS),
      "p.yaml": workspanPipeline({
        source: "data.csv",
        batchSize: 10,
        targetExtra: o.targetExtra ?? FAST_RETRIES,
        polling: "  interval: 20ms\n  max_interval: 100ms\n  timeout: 10s",
        output: "  summary: out/summary.json\n  rejects: out/rejects.csv",
        ...(o.auth ? { auth: o.auth } : {}),
      }),
    });
    const env = { WORKSPAN_BASE_URL: sandbox.url, WORKSPAN_TOKEN: TOKEN, ...o.env };
    const first = await runCli(["run", `${dir}/p.yaml`], env, { cwd: dir });
    const s1 = summaryOf(first);
    check?.(s1, first, sandbox);
    await sandbox.idle();
    sandbox.setFaults([]);
    let rerun: CliResult | undefined;
    let s = s1;
    if (first.code !== 0 && o.rerun !== false) {
      rerun = await runCli(["run", `${dir}/p.yaml`], env, { cwd: dir });
      s = summaryOf(rerun);
    }
    await new Promise((res) => setTimeout(res, 80));
    await sandbox.idle();
    sandbox.workspan.state();
    const loads = new Map(KEYS.map((k) => [k, sandbox.workspan.loadCount(k)]));
    const unknown = unknownKeys(s);
    for (const k of KEYS) {
      const n = loads.get(k) ?? 0;
      assert.ok(n <= 1, `${k} loaded ${n} times`);
      if (!unknown.has(k)) assert.equal(n, 1, `${k} loaded once`);
    }
    await assertNoSecret(dir, [first, ...(rerun ? [rerun] : [])], [TOKEN]);
    return {
      first,
      ...(rerun ? { rerun } : {}),
      s,
      loads,
      executions: sandbox.workspan.executions().length,
      dir,
    };
  });
}

// 1. A 2xx the runner could not read, on an upload: processed, so unknown, and never resent.

const UNREADABLE_UPLOADS: [string, Fault, string?][] = [
  ["cut short", { endpoint: "ws.upload", kind: "body_cut", after: 1 }],
  ["an HTML page", { endpoint: "ws.upload", kind: "body_html", after: 1 }],
  ["without execution_id", { endpoint: "ws.upload", kind: "body_no_id", after: 1 }],
  ["that stalls past request_timeout", {
    endpoint: "ws.upload",
    kind: "body_stall",
    after: 1,
  }, `${FAST_RETRIES}\n  request_timeout: 300ms`],
  ["over the size cap", { endpoint: "ws.upload", kind: "body_oversized", after: 1 }],
];

for (const [name, fault, extra] of UNREADABLE_UPLOADS) {
  Deno.test(`fault: an upload answered 2xx ${name} is unknown, never resent, and loaded once`, async () => {
    const c = await workspanCase([fault], extra ? { targetExtra: extra } : {}, (s, r) => {
      assert.equal(r.code, 3, r.stderr);
      assert.equal(s.batches[1]!.status, "unknown", JSON.stringify(s.batches[1]));
      assert.equal(s.counts.unknown, 10);
      assert.ok(s.hints.some((h) => /lines 12-21\) may or may not have been loaded/.test(h)));
      assert.ok(s.hints.some((h) => /resend_uncertain/.test(h)));
    });
    assert.equal(c.rerun!.code, 3, "the rerun still reports batch 2 unknown");
    assert.equal(c.s.batches[1]!.status, "unknown");
    assert.equal(c.executions, 3, "one execution per batch: batch 2 was never sent again");
    assert.equal(c.loads.get(KEYS[10]!), 1, "the unreadable upload did land, once");
  });
}

// 3. Redirects are refusals: never followed, nothing processed, the Location named.

Deno.test("fault: an upload redirected elsewhere is not followed, not sent, and sent by the rerun", async () => {
  const c = await workspanCase(
    [{
      endpoint: "ws.upload",
      kind: "redirect",
      location: "http://elsewhere.invalid/steal",
      after: 1,
    }],
    {},
    (s, r) => {
      assert.equal(r.code, 3, r.stderr);
      assert.equal(s.counts.unsent, 20, "the redirected batch and the next are not sent");
      assert.equal(s.counts.unknown, 0);
      assert.match(s.reason ?? "", /HTTP 307.*"http:\/\/elsewhere\.invalid\/steal"/);
    },
  );
  assert.equal(c.rerun!.code, 0, c.rerun!.stderr);
  assert.equal(c.s.counts.succeeded, ROWS, "the rerun sends the refused batches, each once");
});

Deno.test("fault: a status check redirected elsewhere stops the run naming it; the rerun finishes", async () => {
  const c = await workspanCase(
    [{
      endpoint: "ws.status",
      kind: "redirect",
      location: "http://elsewhere.invalid/status",
    }],
    {},
    (s, r) => {
      assert.equal(r.code, 3, r.stderr);
      assert.match(
        JSON.stringify(s),
        /redirected it \(HTTP 307\) to \\"http:\/\/elsewhere\.invalid/,
      );
    },
  );
  assert.equal(c.rerun!.code, 0, c.rerun!.stderr);
  assert.equal(c.executions, 3, "the rerun polled the accepted execution, not a new upload");
});

// 5. Status answers that stall or are too large are asked again, and name the request.

Deno.test("fault: a status answer that stalls is asked again until it completes", async () => {
  const c = await workspanCase(
    [{ endpoint: "ws.status", kind: "body_stall", times: 2 }],
    { targetExtra: `${FAST_RETRIES}\n  request_timeout: 300ms` },
    (_s, r) => {
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stderr,
        /Cannot check execution \w+: the HTTP 200 answer did not finish within 300 ms/,
      );
    },
  );
  assert.equal(c.s.counts.succeeded, ROWS);
});

Deno.test("fault: a status answer over 8 MiB is refused by name and asked again", async () => {
  const c = await workspanCase([{ endpoint: "ws.status", kind: "body_oversized" }], {}, (s, r) => {
    assert.equal(r.code, 0, r.stderr);
    assert.equal(s.counts.succeeded, ROWS);
    assert.match(
      r.stderr,
      /Cannot check execution \w+: the HTTP 200 answer is over the limit of 8 MiB/,
    );
  });
  assert.equal(c.executions, 3);
});

// 6. Tokens from grants are secrets.

Deno.test("fault: a WorkSpan access token echoed in a refusal appears in no output", async () => {
  const auth = "    type: client_credentials\n    client_id: sandbox-client\n" +
    "    client_secret: ${WS_SECRET}";
  const c = await workspanCase(
    [{ endpoint: "ws.upload", kind: "echo_token", after: 1 }],
    { auth, env: { WS_SECRET: "sandbox-secret" } },
    (s, r) => {
      assert.equal(r.code, 3, r.stderr);
      assert.match(s.reason ?? "", /Token "\*\*\*" is not allowed/);
    },
  );
  assert.equal(c.rerun!.code, 0, c.rerun!.stderr);
});

// Bigin.

interface BiginCase {
  first: CliResult;
  rerun?: CliResult;
  s: Summary;
  sandbox: Sandbox;
}

/** A Bigin run of 8 rows with `faults`, then (unless it exited 0) a clean rerun. */
async function biginCase(
  faults: Fault[],
  check?: (first: Summary, r: CliResult, sandbox: Sandbox) => void | Promise<void>,
  extra = "",
): Promise<{ s: Summary; first: CliResult; rerun?: CliResult; jobs: number }> {
  return await withSandbox({ bigin: { processingMs: 30 }, faults }, async (sandbox) => {
    const dir = await tempDir({
      "deals.csv": dealsCsv(8),
      "p.yaml": biginPipeline({ source: "deals.csv", limits: "  max_error_rate: 0" }).replace(
        "  concurrency: 1",
        `  concurrency: 1\n${FAST_RETRIES}${extra}`,
      ) + "output:\n  summary: out/summary.json\n  rejects: out/rejects.csv\n",
    });
    const env = biginEnv(sandbox.url);
    const first = await runCli(["run", `${dir}/p.yaml`], env, { cwd: dir });
    const s1 = summaryOf(first);
    await check?.(s1, first, sandbox);
    await sandbox.idle();
    sandbox.setFaults([]);
    let rerun: CliResult | undefined;
    let s = s1;
    if (first.code !== 0) {
      rerun = await runCli(["run", `${dir}/p.yaml`], env, { cwd: dir });
      s = summaryOf(rerun);
    }
    await new Promise((res) => setTimeout(res, 100));
    await sandbox.idle();
    const records = sandbox.bigin.records("Pipelines");
    assert.ok(records.every((x) => x.timesAdded === 1 && x.timesUpdated === 0), "no duplicates");
    if (s.counts.unknown === 0) assert.equal(records.length, 8, "every row stored once");
    await assertNoSecret(dir, [first, ...(rerun ? [rerun] : [])], [
      env.ZOHO_CLIENT_SECRET!,
      env.ZOHO_REFRESH_TOKEN!,
    ]);
    return { s, first, ...(rerun ? { rerun } : {}), jobs: sandbox.bigin.jobs().length };
  });
}

// 2. What is safe is retried: every good row once, exit 0.

const BIGIN_ABSORBED: [string, Fault[]][] = [
  ["an upload answered HTTP 200 INTERNAL_ERROR once", [{
    endpoint: "bigin.upload",
    kind: "status",
    status: 200,
    body: JSON.stringify({
      status: "error",
      code: "INTERNAL_ERROR",
      message: "Internal server error",
      details: {},
    }),
  }]],
  ["an upload answered 503 twice", [{
    endpoint: "bigin.upload",
    kind: "status",
    status: 503,
    times: 2,
  }]],
  ["an upload answered 2xx cut short", [{ endpoint: "bigin.upload", kind: "body_cut" }]],
  ["job details answered 503 twice", [{
    endpoint: "bigin.details",
    kind: "status",
    status: 503,
    times: 2,
  }]],
  ["job details answered 429", [{
    endpoint: "bigin.details",
    kind: "too_many_requests",
    retryAfter: "0",
  }]],
  ["an expired access token on the upload", [{ endpoint: "bigin.upload", kind: "token_expired" }]],
  ["job details whose answer stalls", [{ endpoint: "bigin.details", kind: "body_stall" }]],
];

for (const [name, faults] of BIGIN_ABSORBED) {
  Deno.test(`fault: bigin ${name} is retried, every row stored once, exit 0`, async () => {
    const { s, first, jobs } = await biginCase(
      faults,
      undefined,
      faults[0]!.kind === "body_stall" ? "\n  request_timeout: 300ms" : "",
    );
    assert.equal(first.code, 0, first.stderr);
    assert.equal(s.counts.succeeded, 8);
    assert.equal(jobs, 1);
  });
}

// 1. (Bigin) a job created but answered unreadably is unknown, and never created again.

for (const kind of ["body_no_id", "body_html"] as const) {
  Deno.test(`fault: a bigin job creation answered 2xx ${kind} is unknown and not created again`, async () => {
    const { s, rerun, jobs } = await biginCase([{ endpoint: "bigin.job", kind }], (s1, r) => {
      assert.equal(r.code, 3, r.stderr);
      assert.equal(s1.counts.unknown, 8);
    });
    assert.equal(rerun!.code, 3, "the rerun reports it unknown again");
    assert.equal(s.counts.unknown, 8);
    assert.equal(jobs, 1, "the job was created once");
  });
}

// 3. (Bigin) a redirected job creation is a refusal.

Deno.test("fault: a bigin job creation redirected elsewhere creates nothing; the rerun loads once", async () => {
  const { s, rerun, jobs } = await biginCase([{
    endpoint: "bigin.job",
    kind: "redirect",
    location: "https://elsewhere.invalid/write",
    status: 302,
  }], (s1, r) => {
    assert.equal(r.code, 3, r.stderr);
    assert.equal(s1.counts.unsent, 8);
    assert.match(s1.reason ?? "", /HTTP 302\) to "https:\/\/elsewhere\.invalid\/write"/);
  });
  assert.equal(rerun!.code, 0, rerun!.stderr);
  assert.equal(s.counts.succeeded, 8);
  assert.equal(jobs, 1);
});

// 4. A download_url on another host is refused; the token never goes there.

Deno.test("fault: a bigin download_url on another host is refused and gets no request", async () => {
  const seen: string[] = [];
  const other = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    seen.push(`${req.method} ${req.headers.get("authorization") ?? ""}`);
    return new Response("zip?");
  });
  try {
    const location = `http://localhost:${other.addr.port}/v2/bigin/x/bulk-write/1/1.zip`;
    const { first } = await biginCase(
      [{ endpoint: "bigin.details", kind: "download_elsewhere", location }],
      (s1, r) => {
        assert.equal(r.code, 3, r.stderr);
        assert.match(JSON.stringify(s1), /download_url points to host \\"localhost:\d+\\"/);
      },
    );
    assert.notEqual(first.code, 0);
    assert.deepEqual(seen, [], "nothing, and no token, was sent to the other host");
  } finally {
    await other.shutdown();
  }
});

// 6. (Bigin) the Zoho access token echoed in a refusal.

Deno.test("fault: a Zoho access token echoed in a refusal appears in no output", async () => {
  const { rerun } = await biginCase([{ endpoint: "bigin.job", kind: "echo_token" }], (s1, r) => {
    assert.equal(r.code, 3, r.stderr);
    assert.match(s1.reason ?? "", /Token "\*\*\*" is not allowed/);
  });
  assert.equal(rerun!.code, 0, rerun!.stderr);
});
