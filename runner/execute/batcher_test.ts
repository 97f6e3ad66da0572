import assert from "node:assert/strict";
import type { MapResult } from "../mapping/mod.ts";
import { checkCounts } from "../report/summary.ts";
import { Batcher, type BatcherPlan } from "./batcher.ts";
import { RunLedger } from "./ledger.ts";

/** A plan whose mapper refuses a non-numeric N. */
const plan: BatcherPlan = {
  key: "id",
  keyOf: (v) => v.ID === undefined ? undefined : String(v.ID),
  mapper: {
    fields: ["id", "n"],
    sourceColumns: ["ID", "N"],
    map(v): MapResult {
      const n = Number(v.N);
      return Number.isNaN(n)
        ? { ok: false, errors: [{ field: "n", code: "invalid_number", message: `Bad N "${v.N}"` }] }
        : { ok: true, row: { id: String(v.ID), n } };
    },
  },
};

function setup(withRejects = true) {
  const ledger = new RunLedger({ maxErrors: 10, now: () => 0 });
  const written: [Record<string, unknown>, number | undefined, string][] = [];
  const sink = {
    write: (v: Record<string, unknown>, l: number | undefined, m: string) =>
      written.push([v, l, m]),
  };
  return { ledger, written, batcher: new Batcher(plan, 2, ledger, withRejects ? sink : undefined) };
}

Deno.test("Batcher fills batches in source order with each row's source line", () => {
  const { batcher, ledger } = setup();
  const out = [2, 3, 4, 5, 6].map((line) =>
    batcher.add({ line, values: { ID: `k${line}`, N: String(line) } })
  );
  assert.deepEqual(out.map((b) => b?.batch.index), [undefined, 0, undefined, 1, undefined]);
  assert.deepEqual(out[3]!.batch.lines, [4, 5]);
  assert.deepEqual(out[3]!.batch.rows, [{ id: "k4", n: 4 }, { id: "k5", n: 5 }]);
  assert.deepEqual(out[3]!.records, [{ ID: "k4", N: "4" }, { ID: "k5", N: "5" }]);
  const rest = batcher.rest()!;
  assert.deepEqual([rest.batch.index, rest.batch.lines], [2, [6]]);
  assert.deepEqual(ledger.counts().unsent, 5, "mapped rows are unsent until their batch is sent");
});

Deno.test("Batcher rejects unreadable and unmappable rows with their line and key", () => {
  const { batcher, ledger, written } = setup();
  batcher.add({ line: 2, values: { ID: "a" }, error: "Row has 3 fields, the header 2" });
  batcher.add({ line: 3, values: { ID: "b", N: "x" } });
  batcher.add({ line: 4, values: { ID: "c", N: "1" } });
  assert.deepEqual(written.map(([, l, m]) => [l, m]), [
    [2, "Row has 3 fields, the header 2"],
    [3, 'Bad N "x"'],
  ]);
  ledger.finish();
  assert.deepEqual(ledger.lists().errors.map((e) => [e.source_line, e.key, e.code]), [
    [2, undefined, "invalid_row"],
    [3, "b", "invalid_number"],
  ]);
  const c = ledger.counts();
  assert.deepEqual([c.read, c.rejected, c.unsent], [3, 2, 1]);
  assert.deepEqual(checkCounts(c), []);
  assert.equal(batcher.rest()!.batch.rows.length, 1);
});

Deno.test("Batcher keeps no source records when there is no rejects file", () => {
  const { batcher } = setup(false);
  batcher.add({ line: 2, values: { ID: "a", N: "1" } });
  const full = batcher.add({ line: 3, values: { ID: "b", N: "2" } });
  assert.deepEqual(full!.records, []);
  assert.equal(batcher.rest(), undefined, "an empty last batch is not a batch");
});
