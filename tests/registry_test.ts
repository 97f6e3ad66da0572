/**
 * A target defined only here — schema with a secret field, factory, and a tiny HTTP server —
 * registered by handing a registry to the same command functions the CLI calls. Nothing outside
 * this file knows it exists.
 */
import assert from "node:assert/strict";
import { z } from "zod";
import { type Io, runCommand, validateCommand } from "../runner/commands.ts";
import { planCommand } from "../runner/plan.ts";
import { baseUrl } from "../runner/config/mod.ts";
import {
  type Batch,
  commonTargetFields,
  concurrency,
  type RequestInfo,
  secret,
  type Target,
  type TargetDefinition,
} from "../runner/targets/mod.ts";

const KEY = "toy-key-5f1e9c";
const HEADER_VALUE = "hdr-value-77aa";

const toySchema = z.strictObject({
  api: z.literal("toy"),
  base_url: baseUrl,
  api_key: secret(z.string().min(1)),
  batch_size: z.number().int().min(1).default(2),
  concurrency: concurrency(4, "Batches in flight"),
  ...commonTargetFields,
});

/** The toy API: POST /batches, GET /batches/{id}, GET /batches/{id}/results. */
function createToyTarget(config: z.output<typeof toySchema>): Target {
  const base = config.base_url;
  const headers = { ...config.headers, "x-api-key": config.api_key };
  const requests: RequestInfo[] = [
    {
      name: "upload",
      method: "POST",
      when: "per_batch",
      safeToRepeat: false,
      detail: `POST ${base}/batches`,
    },
    {
      name: "status",
      method: "GET",
      when: "per_poll",
      safeToRepeat: true,
      detail: `GET ${base}/batches/<id>`,
    },
    {
      name: "results",
      method: "GET",
      when: "on_finish",
      safeToRepeat: true,
      detail: `GET ${base}/batches/<id>/results`,
    },
  ];
  const get = async (url: string, fetch: typeof globalThis.fetch) => {
    const res = await fetch(url, { headers });
    if (!res.ok) throw new Error(`Toy API answered HTTP ${res.status}`);
    return await res.json();
  };
  return {
    api: "toy",
    batchSize: config.batch_size,
    concurrency: config.concurrency,
    duplicatesOnResend: false,
    limits: {},
    requests: () => requests,
    async submit(batch: Batch, ctx) {
      const res = await ctx.fetch(`${base}/batches`, {
        method: "POST",
        headers: { ...headers, "content-type": "application/json" },
        body: JSON.stringify(batch.rows),
      });
      if (!res.ok) throw new Error(`Toy API refused the batch: HTTP ${res.status}`);
      return { id: String((await res.json()).id) };
    },
    async status(sub, _batch, ctx) {
      const body = await get(`${base}/batches/${sub.id}`, ctx.fetch);
      // The toy API echoes the key it was called with: the runner must hide it in its log.
      ctx.log(`Toy batch ${sub.id}: ${body.note}`);
      return { done: true, status: "completed", remoteStatus: body.state };
    },
    async results(sub, _done, batch, ctx) {
      const body = await get(`${base}/batches/${sub.id}/results`, ctx.fetch);
      const failures = (body.failed as { row: number; message: string }[]).map((f) => ({
        row: f.row,
        key: String(batch.rows[f.row]![batch.key]),
        message: f.message,
      }));
      return {
        counts: {
          succeeded: batch.rows.length - failures.length,
          failed: failures.length,
          skipped: 0,
        },
        failures,
        problems: [],
      };
    },
  };
}

const toy: TargetDefinition<typeof toySchema> = {
  api: "toy",
  title: "Toy bulk API",
  schema: toySchema,
  create: (config) => createToyTarget(config),
};
const REGISTRY: readonly TargetDefinition[] = [toy];

/** The toy API's server: takes batches, fails rows named "bad". */
function serveToy() {
  const batches: Record<string, unknown>[][] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    if (req.headers.get("x-api-key") !== KEY) return new Response("no", { status: 401 });
    const path = new URL(req.url).pathname.split("/").filter(Boolean);
    if (req.method === "POST" && path.length === 1) {
      batches.push(await req.json());
      return Response.json({ id: batches.length - 1 });
    }
    const rows = batches[Number(path[1])];
    if (!rows) return new Response("unknown batch", { status: 404 });
    if (path.length === 2) {
      return Response.json({ state: "done", note: `processed with key ${KEY}` });
    }
    const failed = rows.flatMap((r, row) =>
      r.name === "bad" ? [{ row, message: "Name must not be bad" }] : []
    );
    return Response.json({ failed });
  });
  return { server, batches, url: `http://127.0.0.1:${server.addr.port}` };
}

function captureIo(env: Record<string, string>): Io & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return {
    stdout,
    stderr,
    out: (l) => stdout.push(l),
    err: (l) => stderr.push(l),
    errRaw: (t) => stderr.push(t),
    stderrIsTty: false,
    color: false,
    env: (n) => env[n],
    fetch: globalThis.fetch,
    appendFile: () => Promise.resolve(),
  };
}

async function allText(dir: string): Promise<string> {
  let text = "";
  for await (const e of Deno.readDir(dir)) {
    const p = `${dir}/${e.name}`;
    text += e.isDirectory ? await allText(p) : await Deno.readTextFile(p);
  }
  return text;
}

Deno.test("a target defined only in a test validates, plans and runs through the commands, its secret hidden", async () => {
  const dir = await Deno.makeTempDir({ prefix: "registry_test_" });
  const api = serveToy();
  try {
    await Deno.writeTextFile(`${dir}/data.csv`, "ID,Name\n1,one\n2,bad\n3,three\n4,four\n");
    const file = `${dir}/toy.yaml`;
    await Deno.writeTextFile(
      file,
      `version: 1
source: { path: data.csv }
target:
  api: toy
  base_url: ${api.url}
  api_key: \${TOY_KEY}
  headers: { X-Trace: "${HEADER_VALUE}" }
key: id
mappings:
  id: ID
  name: Name
polling: { interval: 1ms, max_interval: 5ms, timeout: 10s }
output:
  summary: ${dir}/out/summary.json
  rejects: ${dir}/out/rejects.csv
`,
    );
    const env = { TOY_KEY: KEY };

    const checked = captureIo(env);
    assert.equal(await validateCommand([file], checked, "text", false, REGISTRY), 0);
    assert.match(checked.stdout.join("\n"), /ok \(toy -> toy, 2 fields\)/);

    const builtIn = captureIo(env);
    assert.equal(await validateCommand([file], builtIn), 2, "the built-in registry has no toy");

    const planned = captureIo(env);
    assert.equal(await planCommand(file, planned, 2, REGISTRY), 0);
    const plan = planned.stdout.join("\n");
    assert.match(plan, /2\. upload {2}POST http:\/\/127\.0\.0\.1:\d+\/batches \(never resent/);
    assert.match(plan, /send 4 in 2 batches: 4 requests, plus one status check per poll/);

    const ran = captureIo(env);
    const code = await runCommand([file], ran, {
      quiet: false,
      json: false,
      stateDir: `${dir}/.state`,
      targets: REGISTRY,
    });
    assert.equal(code, 1, ran.stderr.join("\n"));
    assert.equal(api.batches.length, 2);
    const summary = JSON.parse(ran.stdout.at(-1)!);
    assert.deepEqual(
      [summary.counts.read, summary.counts.succeeded, summary.counts.failed],
      [4, 3, 1],
    );
    assert.match(ran.stderr.join("\n"), /Toy batch 0: processed with key \*\*\*/);

    const rejects = await Deno.readTextFile(`${dir}/out/rejects.csv`);
    assert.match(rejects, /Name must not be bad/);
    const everything = [
      ...checked.stdout,
      ...checked.stderr,
      ...planned.stdout,
      ...planned.stderr,
      ...ran.stdout,
      ...ran.stderr,
      await allText(`${dir}/out`),
      await allText(`${dir}/.state`),
    ].join("\n");
    for (const s of [KEY, HEADER_VALUE]) assert.ok(!everything.includes(s), `${s} leaked`);
  } finally {
    await api.server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
