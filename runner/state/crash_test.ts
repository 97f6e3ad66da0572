/**
 * Crash safety of the state store: a run killed with SIGKILL at arbitrary points, then reopened,
 * keeps every committed confirmation, records nothing it was not told was confirmed, and opens
 * cleanly; a dead run's lock is taken over.
 *
 * @module
 */
import assert from "node:assert/strict";
import { openStateStore, type StateStore } from "./mod.ts";

const WORKER = new URL("./testdata/worker.ts", import.meta.url).pathname;

/** Starts the worker; resolves when it has printed `until` lines, with what it printed. */
async function startWorker(dir: string, mode: string, run: number, until: number) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", WORKER, dir, mode, String(run)],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines: string[] = [];
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (lines.length < until) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
    const parts = text.split("\n");
    text = parts.pop()!;
    lines.push(...parts);
  }
  return {
    child,
    lines,
    /** Kills the worker at once and returns everything it printed (lines after a commit). */
    async kill(): Promise<string[]> {
      child.kill("SIGKILL");
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
      }
      lines.push(...text.split("\n").filter((l) => l !== ""));
      const status = await child.status;
      assert.deepEqual(status.signal, "SIGKILL");
      return lines;
    },
  };
}

/** Whether every key of a worker batch was committed: true, false, or throws when only some. */
function batchState(store: StateStore, run: number, b: number): boolean {
  const decisions = new Set<string>();
  for (let j = 0; j < 100; j++) {
    const d = store.decide(`r${run}-b${b}-${j}`, b * 1000 + j);
    decisions.add(d);
  }
  for (let j = 0; j < 20; j++) decisions.add(store.decide(`r${run}-b${b}-u${j}`, 0) + ":u");
  const all = ["retry:u", "unchanged"];
  const none = ["new", "new:u"];
  const got = [...decisions].sort();
  if (JSON.stringify(got) === JSON.stringify(all)) return true;
  if (JSON.stringify(got) === JSON.stringify(none)) return false;
  throw new Error(`Batch ${b} of run ${run} is partly committed: ${got.join(", ")}`);
}

Deno.test("a run killed at arbitrary points keeps every committed confirmation and opens cleanly", async () => {
  const dir = Deno.makeTempDirSync();
  let seed = 20260601;
  const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
  try {
    for (let run = 0; run < 6; run++) {
      const worker = await startWorker(dir, "loop", run, 2 + (next() % 24));
      const printed = (await worker.kill()).map(Number);
      const last = Math.max(...printed);
      assert.deepEqual(printed, [...Array(last + 1).keys()]);

      const opened = openStateStore(dir, "crash", "identity");
      const store = opened.store;
      try {
        assert.deepEqual(opened.fresh, false);
        assert.deepEqual(opened.previousHolder?.pid, worker.child.pid);
        for (let b = 0; b <= last; b++) assert.ok(batchState(store, run, b), `batch ${b} lost`);
        // The batch in flight at the kill: whole or absent; nothing after it.
        const inFlight = batchState(store, run, last + 1);
        assert.deepEqual(batchState(store, run, last + 2), false);
        const shared = run * 1e6 + (inFlight ? last + 1 : last);
        for (let j = 0; j < 10; j++) {
          assert.deepEqual(store.decide(`shared-${j}`, shared), "unchanged");
        }
        // Earlier runs' confirmations survive this run's kills and compactions (their keys that
        // were never confirmed are dropped when a compaction does not see them: harmless).
        for (let j = 0; run > 0 && j < 100; j++) {
          assert.deepEqual(store.decide(`r${run - 1}-b0-${j}`, j), "unchanged");
        }
      } finally {
        store.close();
      }
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("confirmations a killed run never committed are not on disk, and its lock is taken over", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const worker = await startWorker(dir, "hold", 0, 1);
    assert.deepEqual(worker.lines, ["ready"]);
    await worker.kill();
    const opened = openStateStore(dir, "crash", "identity");
    try {
      assert.deepEqual(opened.previousHolder?.pid, worker.child.pid);
      for (let j = 0; j < 10; j++) assert.deepEqual(opened.store.decide(`held-${j}`, j), "new");
    } finally {
      opened.store.close();
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
