import assert from "node:assert/strict";
import type { MapResult } from "../mapping/mod.ts";
import { checkCounts } from "../report/summary.ts";
import { Batcher, type BatcherPlan, duplicateFinder, sparseRows } from "./batcher.ts";
import { RunLedger } from "./ledger.ts";

/** A batch's keys as an array. */
function keysOf(b: { keys: { length: number; at(i: number): unknown } }): unknown[] {
  return Array.from({ length: b.keys.length }, (_, i) => b.keys.at(i));
}

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
    writeLater: () => {
      throw new Error("the batcher writes only local rejects, with their values");
    },
  };
  return { ledger, written, batcher: new Batcher(plan, 2, ledger, withRejects ? sink : undefined) };
}

Deno.test("Batcher fills batches in source order with each row's source line", () => {
  const { batcher, ledger } = setup();
  const out = [2, 3, 4, 5, 6].map((line) =>
    batcher.add({ line, values: { ID: `k${line}`, N: String(line) } })
  );
  assert.deepEqual(out.map((b) => b?.batch.index), [undefined, 0, undefined, 1, undefined]);
  assert.deepEqual(Array.from(out[3]!.batch.lines), [4, 5]);
  assert.deepEqual(out[3]!.batch.rows, [{ id: "k4", n: 4 }, { id: "k5", n: 5 }]);
  assert.deepEqual(keysOf(out[3]!.batch), ["k4", "k5"]);
  const rest = batcher.rest()!;
  assert.deepEqual([rest.batch.index, Array.from(rest.batch.lines)], [2, [6]]);
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

Deno.test("Batcher keeps no source record, with or without a rejects file", () => {
  for (const withRejects of [true, false]) {
    const { batcher } = setup(withRejects);
    batcher.add({ line: 2, values: { ID: "a", N: "1" } });
    const full = batcher.add({ line: 3, values: { ID: "b", N: "2" } });
    assert.deepEqual(Object.keys(full!), ["batch"]);
    assert.equal(batcher.rest(), undefined, "an empty last batch is not a batch");
  }
});

Deno.test("duplicateFinder under reject refuses a later row with a seen key, naming the first line", () => {
  const find = duplicateFinder("reject");
  assert.equal(find("a", 2), undefined);
  assert.equal(find("b", 3), undefined);
  assert.equal(find(undefined, 4), undefined, "a row without a key is never a duplicate");
  assert.deepEqual(find("a", 5), {
    reject: true,
    message: 'Duplicate key "a": line 2 has the same key (duplicates: reject)',
  });
});

Deno.test("duplicateFinder under first_wins drops every later row of a key, naming the line that wins", () => {
  const find = duplicateFinder("first_wins");
  assert.equal(find("a", 2), undefined);
  assert.equal(
    find("a", 7)?.message,
    'Duplicate key "a" dropped: line 2 has the same key and wins (duplicates: first_wins)',
  );
  assert.equal(find("a", 9)?.reject, true);
});

Deno.test("duplicateFinder under last_wins drops every row but the last of its key", () => {
  const find = duplicateFinder("last_wins", new Map([["a", 9], ["b", 3]]));
  assert.equal(
    find("a", 2)?.message,
    'Duplicate key "a" dropped: line 9 has the same key and wins (duplicates: last_wins)',
  );
  assert.equal(find("b", 3), undefined);
  assert.equal(find("a", 9), undefined, "the last row of a key is sent");
  assert.equal(find("c", 4), undefined, "a key the pre-scan did not see is sent");
});

Deno.test("duplicateFinder under allow finds nothing", () => {
  const find = duplicateFinder("allow");
  find("a", 2);
  assert.equal(find("a", 3), undefined);
});

Deno.test("Batcher counts rows dropped by last_wins as rejected and writes them to the rejects file", () => {
  const ledger = new RunLedger({ maxErrors: 10, now: () => 0 });
  const written: [number | undefined, string][] = [];
  const sink = {
    write: (_: unknown, l: number | undefined, m: string) => written.push([l, m]),
    writeLater: () => {},
  };
  const last = new Map([["a", 4], ["b", 3]]);
  const batcher = new Batcher(
    { ...plan, duplicates: "last_wins" },
    10,
    ledger,
    sink,
    undefined,
    last,
  );
  for (const [line, id] of [[2, "a"], [3, "b"], [4, "a"]] as const) {
    batcher.add({ line, values: { ID: id, N: String(line) } });
  }
  assert.deepEqual(batcher.rest()!.batch.rows, [{ id: "b", n: 3 }, { id: "a", n: 4 }]);
  assert.deepEqual(written, [
    [2, 'Duplicate key "a" dropped: line 4 has the same key and wins (duplicates: last_wins)'],
  ]);
  ledger.finish();
  assert.deepEqual(ledger.lists().errors.map((e) => [e.source_line, e.key, e.code, e.field]), [
    [2, "a", "duplicate_key", "id"],
  ]);
  const c = ledger.counts();
  assert.deepEqual([c.read, c.rejected, c.unsent], [3, 1, 2]);
  assert.deepEqual(checkCounts(c), []);
});

Deno.test("Batcher hands a packing target its rows a chunk at a time and keeps none", () => {
  const ledger = new RunLedger({ maxErrors: 10, now: () => 0 });
  const calls: string[] = [];
  const pack = (b: { index: number }) => ({
    add: (rows: readonly Record<string, unknown>[]) =>
      calls.push(`${b.index}:add ${rows.map((r) => r.id).join(",")}`),
    end: () => calls.push(`${b.index}:end`),
  });
  const batcher = new Batcher(plan, 2500, ledger, undefined, undefined, undefined, pack);
  let full;
  for (let line = 2; line < 2 + 2600; line++) {
    full = batcher.add({ line, values: { ID: `k${line}`, N: "1" } }) ?? full;
  }
  // Chunks of 1,000 rows, the rest at the end of the batch; the next batch packs on its own.
  assert.deepEqual(
    calls.map((c) => c.replace(/ .*/, "")),
    [
      "0:add",
      "0:add",
      "0:add",
      "0:end",
      "1:add",
      "1:end",
    ].slice(0, 4),
  );
  assert.equal(
    calls[2],
    `0:add ${Array.from({ length: 500 }, (_, i) => `k${2002 + i}`).join(",")}`,
  );
  const b = full!.batch;
  assert.equal(b.rows.length, 2500);
  assert.equal(b.rows.filter((r) => r !== undefined).length, 0, "no row is kept");
  assert.deepEqual([b.keys.at(0), b.keys.at(2499), b.lines[2499]], ["k2", "k2501", 2501]);
  const rest = batcher.rest()!;
  assert.deepEqual(calls.slice(4), [
    `1:add ${Array.from({ length: 100 }, (_, i) => `k${2502 + i}`).join(",")}`,
    "1:end",
  ]);
  assert.deepEqual([rest.batch.rows.length, rest.batch.keys.length], [100, 100]);
});

Deno.test("Batcher under duplicates: allow keeps, of a packed batch, the rows of a key already in it", () => {
  const ledger = new RunLedger({ maxErrors: 10, now: () => 0 });
  const pack = () => ({ add: () => {}, end: () => {} });
  const batcher = new Batcher(
    { ...plan, duplicates: "allow" },
    5,
    ledger,
    undefined,
    undefined,
    undefined,
    pack,
  );
  let full;
  for (const [line, id] of [[2, "a"], [3, "b"], [4, "a"], [5, "c"], [6, "a"]] as const) {
    full = batcher.add({ line, values: { ID: id, N: String(line) } }) ?? full;
  }
  const b = full!.batch;
  assert.equal(b.rows.length, 5);
  assert.deepEqual([b.rows[0], b.rows[1], b.rows[2], b.rows[3], b.rows[4]], [
    undefined,
    undefined,
    { id: "a", n: 4 },
    undefined,
    { id: "a", n: 6 },
  ]);
  // The next batch starts with no key seen.
  batcher.add({ line: 7, values: { ID: "a", N: "7" } });
  assert.equal(batcher.rest()!.batch.rows[0], undefined);
});

Deno.test("Batcher under duplicates: allow tells a number key from a string key, and null from a missing key not at all", () => {
  const ledger = new RunLedger({ maxErrors: 10, now: () => 0 });
  const pack = () => ({ add: () => {}, end: () => {} });
  // The key is mapped as it is: a number, a string, null or missing.
  const typed: BatcherPlan = {
    ...plan,
    duplicates: "allow",
    mapper: {
      ...plan.mapper,
      map: (v): MapResult => ({ ok: true, row: JSON.parse(String(v.ROW)) }),
    },
  };
  const batcher = new Batcher(typed, 7, ledger, undefined, undefined, undefined, pack);
  const rows = [
    '{"id":1}',
    '{"id":"1"}',
    '{"id":1}',
    '{"id":null}',
    "{}",
    '{"id":"é"}',
    '{"id":"é"}',
  ];
  const full = rows.map((row, i) => batcher.add({ line: i + 2, values: { ROW: row } }));
  const b = full.at(-1)!.batch;
  // Held: the second 1 (line 4), the missing key after null (line 6), the second "é" (line 8).
  assert.deepEqual([...b.rows.keys()].filter((i) => b.rows[i] !== undefined), [2, 4, 6]);
});

Deno.test("sparseRows is an array of holes of the given length", () => {
  for (const n of [0, 1, 50_000]) {
    const rows = sparseRows(n);
    assert.equal(rows.length, n);
    assert.equal(Object.keys(rows).length, 0);
    assert.equal(rows[n - 1], undefined);
  }
  const rows = sparseRows(5);
  rows[2] = { id: "a" };
  assert.deepEqual([rows.length, Object.keys(rows)], [5, ["2"]]);
});
