/**
 * The sandbox's floor, for `bench/run.ts`: how fast the sandbox takes in the real path's rows
 * from a client that does nothing but send them. The client builds every WorkSpan JSON body of
 * the real path's pipeline with the runner's own code (read, mapped, checked and packed exactly
 * as `deno task run` would) before its clock starts; then it uploads them at the given
 * concurrency and asks for each execution's status, with its errors, every millisecond until it
 * is completed. No client, the runner included, can load the file into this
 * sandbox on this machine in less wall time: what is left is the sandbox reading, parsing,
 * checking and storing the rows, and the client's HTTP.
 *
 * Usage: `deno run -A bench/_floor.ts <csv> [--concurrency N] [--batch N]`; prints one JSON line.
 *
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { bodySteps, Packs } from "../runner/targets/_wire.ts";
import { startSandbox } from "../sandbox/server.ts";
import { pipelineYaml } from "./_data.ts";
import { measure } from "./_measure.ts";
import { localTarget, runLocal } from "./_transform.ts";

/** What one floor run showed. */
export interface FloorResult {
  concurrency: number;
  batchSize: number;
  batches: number;
  rows: number;
  /** From the first upload to the last completion seen (the bodies were built before). */
  wallMs: number;
  /** CPU of the bench process (the sandbox) while the client ran, body building included. */
  sandboxCpuMs: number;
}

const INTEGRATION = "WS-Integration_bench";
const TOKEN = "sandbox-token";

/** Every body of the pipeline, as the WorkSpan target packs them, kept in memory. */
async function buildBodies(pipeline: string): Promise<{ bodies: Uint8Array[]; rows: number }> {
  const packs = new Packs(bodySteps("json"));
  const bodies: Uint8Array[] = [];
  let rows = 0;
  await runLocal(pipeline, (batchSize) =>
    localTarget(
      batchSize,
      (batch) => {
        const packed = packs.take(batch);
        bodies.push(packed.bytes());
        packed.free();
        rows += batch.rows.length;
      },
      (batch, spool) => packs.packer(batch, spool),
    ));
  return { bodies, rows };
}

/** Uploads the bodies at `concurrency` and waits for each; returns the wall time in ms. */
async function sendAll(base: string, bodies: Uint8Array[], concurrency: number): Promise<number> {
  const headers = { authorization: `Bearer ${TOKEN}` };
  const json = async (res: Response) => {
    if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
    return await res.json();
  };
  let next = 0;
  const one = async () => {
    while (next < bodies.length) {
      const body = bodies[next++]! as Uint8Array<ArrayBuffer>;
      const created = await json(
        await fetch(
          `${base}/bulk/v1/bulkload_opportunity?integration_id=${INTEGRATION}&content_type=JSON`,
          { method: "POST", headers: { ...headers, "content-type": "application/json" }, body },
        ),
      );
      const q = `execution_id=${created.execution_id}&include_errors=true&max_errors=100`;
      const ask = async () =>
        (await json(await fetch(`${base}/bulk/v1/status/${INTEGRATION}?${q}`, { headers })))
          .status;
      // A millisecond between asks: a completion is seen at once, and asking without a pause
      // would take the sandbox's CPU from the other uploads.
      while ((await ask()) !== "completed") await new Promise((r) => setTimeout(r, 1));
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, one));
  return performance.now() - t0;
}

/**
 * Runs the floor once: a fresh sandbox in fast mode here, the client as its own process.
 *
 * @throws {Error} when the client prints no result
 */
export async function runFloor(
  o: { source: string; dir: string; concurrency: number; batchSize: number; root: string },
): Promise<FloorResult> {
  const sandbox = await startSandbox({ workspan: { processingMs: 0 } });
  try {
    const file = `${o.dir}/bench-floor-c${o.concurrency}.yaml`;
    await Deno.writeTextFile(
      file,
      pipelineYaml({
        name: `bench-floor-c${o.concurrency}`,
        source: o.source,
        baseUrl: sandbox.url,
        batchSize: o.batchSize,
        concurrency: o.concurrency,
        interval: "20ms",
      }),
    );
    const cpu0 = process.cpuUsage();
    const m = await measure([
      Deno.execPath(),
      "run",
      "-A",
      `--config=${o.root}/deno.json`,
      `${o.root}/bench/_floor.ts`,
      "--client",
      file,
      "--url",
      sandbox.url,
      "--concurrency",
      String(o.concurrency),
    ]);
    const cpu = process.cpuUsage(cpu0);
    const line = m.stdout.trim().split("\n").findLast((l) => l.startsWith("{"));
    if (!line) {
      throw new Error(`The floor's client printed no result (exit ${m.code}): ${m.stderr}`);
    }
    const r = JSON.parse(line) as { wallMs: number; rows: number; batches: number };
    return {
      concurrency: o.concurrency,
      batchSize: o.batchSize,
      batches: r.batches,
      rows: r.rows,
      wallMs: r.wallMs,
      sandboxCpuMs: (cpu.user + cpu.system) / 1000,
    };
  } finally {
    await sandbox.close();
  }
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      client: { type: "string" },
      url: { type: "string" },
      batch: { type: "string", default: "50000" },
      concurrency: { type: "string", default: "4" },
    },
  });
  if (values.client && values.url) {
    const { bodies, rows } = await buildBodies(values.client);
    const wallMs = await sendAll(values.url, bodies, Number(values.concurrency));
    console.log(JSON.stringify({ wallMs, rows, batches: bodies.length }));
  } else {
    const source = positionals[0];
    if (!source) throw new Error("Usage: _floor.ts <csv> [--concurrency N] [--batch N]");
    const dir = await Deno.makeTempDir({ prefix: "bulkrun-bench-floor-" });
    try {
      console.log(JSON.stringify(
        await runFloor({
          source: await Deno.realPath(source),
          dir,
          concurrency: Number(values.concurrency),
          batchSize: Number(values.batch),
          root: new URL("..", import.meta.url).pathname.replace(/\/$/, ""),
        }),
      ));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
}
