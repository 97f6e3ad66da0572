import assert from "node:assert/strict";
import { progressPrinter } from "./progress.ts";

Deno.test("the progress line says 1 row, 1 batch and 1 execution in the singular", () => {
  const lines: string[] = [];
  const print = progressPrinter("p", (t) => lines.push(t), false, 0);
  print({ phase: "waiting", read: 1, rejected: 0, batchesSent: 1, pending: 1, elapsedMs: 2000 });
  print({ phase: "waiting", read: 2, rejected: 1, batchesSent: 2, pending: 0, elapsedMs: 4000 });
  assert.deepEqual(lines, [
    "p: waiting - 1 row read, 0 rejected, 1 batch sent, 1 execution pending, 2 s\n",
    "p: waiting - 2 rows read, 1 rejected, 2 batches sent, 0 executions pending, 4 s\n",
  ]);
});
