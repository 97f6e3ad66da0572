/**
 * A run that uses a state store until it is killed, for the crash and lock tests.
 *
 * Usage: `deno run -A worker.ts <dir> <mode> <run>`
 *
 * - `loop`: per batch b, confirms 100 keys `r<run>-b<b>-<j>` (row hash b * 1000 + j), marks 20
 *   keys `r<run>-b<b>-u<j>` unconfirmed, confirms the 10 keys `shared-<j>` with row hash
 *   `<run> * 1e6 + b`, commits, then prints `b`. Every 7 batches it compacts. It never stops.
 * - `hold`: confirms `held-0` … `held-9` without committing, prints `ready`, and waits.
 *
 * @module
 */
import { openStateStore } from "../mod.ts";

const [dir, mode, run] = Deno.args;
const { store } = openStateStore(dir!, "crash", "identity");
const out = (s: string) => Deno.stdout.writeSync(new TextEncoder().encode(s + "\n"));

if (mode === "hold") {
  for (let j = 0; j < 10; j++) store.confirm(`held-${j}`, j);
  out("ready");
  // A pending timer keeps the process alive until it is killed: a promise that never settles,
  // with nothing else pending, ends the process at once ("top-level await never resolved"),
  // which raced the test's SIGKILL.
  await new Promise((resolve) => setTimeout(resolve, 3_600_000));
}

for (let b = 0;; b++) {
  for (let j = 0; j < 100; j++) store.confirm(`r${run}-b${b}-${j}`, b * 1000 + j);
  for (let j = 0; j < 20; j++) store.unconfirmed(`r${run}-b${b}-u${j}`);
  for (let j = 0; j < 10; j++) store.confirm(`shared-${j}`, Number(run) * 1e6 + b);
  store.commit();
  out(String(b));
  if (b % 7 === 6) store.compact();
}
