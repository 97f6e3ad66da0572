import assert from "node:assert/strict";
import fc from "fast-check";
import type { MappedRow, Value } from "../mapping/mod.ts";
import { toCsv } from "./_csv.ts";
import type { Batch } from "./types.ts";
import {
  bodySteps,
  csvRowsWriter,
  memorySpool,
  Packs,
  type PackSteps,
  pieceRows,
} from "./_wire.ts";

const value: fc.Arbitrary<Value> = fc.oneof(
  fc.string({ unit: "binary" }),
  fc.string(),
  fc.double(),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
);
const fieldName = fc.oneof(fc.string({ unit: "binary" }), fc.constantFrom("__proto__", "a b"));
const batch = fc.uniqueArray(fieldName, { minLength: 0, maxLength: 6 }).chain((fields) =>
  fc.tuple(
    fc.constant(fields),
    fc.array(fc.tuple(...fields.map(() => value)), { maxLength: 30 }).map((rows) =>
      rows.map((vals) => {
        const row: MappedRow = {};
        fields.forEach((f, i) =>
          Object.defineProperty(row, f, {
            value: vals[i],
            enumerable: true,
            writable: true,
            configurable: true,
          })
        );
        return row;
      })
    ),
  )
);

Deno.test("the CSV writer writes what toCsv writes, for random rows and delimiters", () => {
  fc.assert(
    fc.property(batch, fc.constantFrom(",", ";", "\t", "|", "]"), ([fields, rows], d) => {
      const header = toCsv(fields, [], d).slice(0, -2);
      const text = header + "\r\n" + csvRowsWriter(fields, d)(rows, 0, rows.length);
      assert.deepEqual(text, toCsv(fields, rows, d));
    }),
    { numRuns: 300 },
  );
});

Deno.test("the CSV writer converts the values of the fields it is told to", () => {
  const write = csvRowsWriter(["a", "b"], ",", { b: (v) => `<${v}>` });
  assert.deepEqual(write([{ a: "1", b: "x" }, { a: "2", b: null }], 0, 2), "1,<x>\r\n2,<null>\r\n");
});

/** Packs `rows` in the given chunk sizes, as the batcher does, and returns the body's text. */
async function packed(
  fields: string[],
  rows: MappedRow[],
  format: "json" | "csv",
  cuts: number[],
): Promise<string> {
  const packs = new Packs(bodySteps(format));
  const batch: Batch = { index: 0, fields, rows: [], lines: [], keys: [], key: fields[0] ?? "" };
  const packer = packs.packer(batch, memorySpool)!;
  let from = 0;
  for (const cut of cuts) {
    packer.add(rows.slice(from, Math.min(rows.length, from + cut)));
    from = Math.min(rows.length, from + cut);
  }
  packer.add(rows.slice(from));
  packer.end();
  const body = packs.take(batch);
  // Streamed twice, as a retried upload does: the same bytes each time.
  const first = await new Response(body.stream()).text();
  assert.equal(await new Response(body.stream()).text(), first);
  assert.equal(new TextDecoder().decode(body.bytes()), first);
  assert.equal(body.size, new TextEncoder().encode(first).length);
  body.free();
  await assert.rejects(new Response(body.stream()).text(), /freed/, "a freed body is not sent");
  return first;
}

Deno.test("a body packed chunk by chunk is JSON.stringify's or toCsv's text, for random rows and cuts", async () => {
  await fc.assert(
    fc.asyncProperty(
      batch,
      fc.array(fc.integer({ min: 0, max: 12 }), { maxLength: 5 }),
      async ([fields, rows], cuts) => {
        assert.equal(await packed(fields, rows, "json", cuts), JSON.stringify(rows));
        if (fields.length > 0) {
          assert.equal(await packed(fields, rows, "csv", cuts), toCsv(fields, rows));
        }
      },
    ),
    { numRuns: 100 },
  );
});

Deno.test("Packs packs a batch that was not packed as it filled from its rows, and keeps a packing failure for take", () => {
  const steps: PackSteps<string[], string> = {
    begin: (b) => {
      if (b.index === 9) throw new Error("cannot begin");
      return [];
    },
    add: (s, rows) => {
      if (rows.some((r) => r.id === "bad")) throw new Error("over the limit");
      s.push(...rows.map((r) => String(r.id)));
    },
    end: (s) => s.join("|"),
  };
  const packs = new Packs(steps);
  const of = (index: number, ids: string[]): Batch => ({
    index,
    fields: ["id"],
    rows: ids.map((id) => ({ id })),
    lines: ids.map((_, i) => i + 2),
    keys: ids,
    key: "id",
  });
  assert.equal(packs.take(of(0, ["a", "b"])), "a|b", "not packed as it filled: packed now");
  assert.equal(
    packs.packer(of(9, []), memorySpool),
    undefined,
    "a batch that cannot begin keeps its rows",
  );
  const bad = of(1, []);
  const p = packs.packer(bad, memorySpool)!;
  p.add([{ id: "x" }, { id: "bad" }]);
  p.add([{ id: "y" }]);
  p.end();
  assert.throws(() => packs.take(bad), /over the limit/);
  const good = of(2, []);
  const q = packs.packer(good, memorySpool)!;
  q.add([{ id: "x" }]);
  q.end();
  assert.equal(packs.take(good), "x");
});

Deno.test("rows are written in pieces of text under 128 KiB (young strings), and the body is still the whole text", async () => {
  const rows: MappedRow[] = Array.from({ length: 3000 }, (_, i) => ({
    id: `k${i}`,
    note: 'é,"x"\n'.repeat(i % 7 === 0 ? 400 : 3),
  }));
  for (const format of ["json", "csv"] as const) {
    const writes: string[] = [];
    const spool = {
      open() {
        const w = memorySpool.open();
        return {
          write: (t: string) => {
            writes.push(t);
            w.write(t);
          },
          end: () => w.end(),
        };
      },
    };
    const packs = new Packs(bodySteps(format));
    const batch: Batch = {
      index: 0,
      fields: ["id", "note"],
      rows: [],
      lines: [],
      keys: [],
      key: "id",
    };
    const packer = packs.packer(batch, spool)!;
    for (let from = 0; from < rows.length; from += 1000) packer.add(rows.slice(from, from + 1000));
    packer.end();
    const body = packs.take(batch);
    const want = format === "json" ? JSON.stringify(rows) : toCsv(["id", "note"], rows);
    assert.equal(await new Response(body.stream()).text(), want);
    assert.ok(writes.length > 3 + 6, `${format}: more pieces than chunks (${writes.length})`);
    // A piece is sized from the last one: one row much longer than those before can overshoot.
    const over = writes.filter((w) => w.length > 128 * 1024);
    assert.ok(over.length <= 2, `${format}: ${over.length} pieces over 128 KiB`);
  }
});

Deno.test("pieceRows aims at about 48K characters a piece, between 1 row and a chunk", () => {
  assert.equal(pieceRows(64, 64 * 240), 204);
  assert.equal(pieceRows(100, 10), 1000, "never more than a chunk");
  assert.equal(pieceRows(10, 10_000_000), 1, "never less than a row");
  assert.equal(pieceRows(0, 0), 1000);
});
