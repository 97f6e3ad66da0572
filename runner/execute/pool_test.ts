import assert from "node:assert/strict";
import { Pool } from "./pool.ts";

/** A task that finishes when its `done` is called. */
function gate() {
  let done!: () => void;
  const p = new Promise<void>((r) => done = r);
  return { task: () => p, done };
}

Deno.test("Pool holds a new task until one of the running tasks finishes", async () => {
  const pool = new Pool(2);
  const [a, b] = [gate(), gate()];
  const settled: string[] = [];
  pool.start(a.task, () => settled.push("a"));
  pool.start(b.task, () => settled.push("b"));
  assert.equal(pool.size, 2);
  let free = false;
  const slot = pool.slot().then((ok) => free = ok);
  await Promise.resolve();
  assert.equal(free, false);
  b.done();
  await slot;
  assert.equal(free, true);
  assert.deepEqual(settled, ["b"]);
  assert.equal(pool.size, 1);
  a.done();
  await pool.drain();
  assert.equal(pool.size, 0);
});

Deno.test("Pool gives no slot once cancelled, even with room", async () => {
  const pool = new Pool(1);
  const a = gate();
  pool.start(a.task);
  let cancelled = false;
  const slot = pool.slot(() => cancelled);
  cancelled = true;
  a.done();
  assert.equal(await slot, false);
  assert.equal(await pool.slot(() => true), false);
});

Deno.test("Pool passes on a task's failure to whoever waits for it", async () => {
  const pool = new Pool(1);
  pool.start(() => Promise.reject(new Error("disk full")));
  await assert.rejects(pool.slot(), /disk full/);
  assert.equal(pool.size, 0);
});
