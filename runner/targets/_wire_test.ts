import assert from "node:assert/strict";
import fc from "fast-check";
import type { MappedRow, Value } from "../mapping/mod.ts";
import { toCsv } from "./_csv.ts";
import { csvChunks, csvRowsWriter, jsonArrayChunks, textStream } from "./_wire.ts";

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

Deno.test("JSON chunks join to JSON.stringify's text and parse back equal, for random rows", () => {
  fc.assert(
    fc.property(batch, ([_fields, rows]) => {
      const text = [...jsonArrayChunks(rows)].join("");
      assert.deepEqual(JSON.parse(text), JSON.parse(JSON.stringify(rows)));
      assert.equal(text, JSON.stringify(rows));
    }),
    { numRuns: 300 },
  );
});

Deno.test("a large batch is cut into chunks that join to one array", () => {
  const rows = Array.from({ length: 2500 }, (_, i) => ({ id: String(i), n: i }));
  const chunks = [...jsonArrayChunks(rows)];
  assert.equal(chunks.length, 3);
  assert.equal(chunks.join(""), JSON.stringify(rows));
  assert.equal(
    [...jsonArrayChunks(rows.slice(0, 1000))].join(""),
    JSON.stringify(rows.slice(0, 1000)),
  );
  assert.deepEqual([...jsonArrayChunks([])], ["[]"]);
});

Deno.test("the CSV writer writes what toCsv writes, for random rows and delimiters", () => {
  fc.assert(
    fc.property(batch, fc.constantFrom(",", ";", "\t", "|", "]"), ([fields, rows], d) => {
      const header = toCsv(fields, [], d).slice(0, -2);
      const text = [...csvChunks(header, csvRowsWriter(fields, d), rows)].join("");
      assert.deepEqual(text, toCsv(fields, rows, d));
    }),
    { numRuns: 300 },
  );
});

Deno.test("the CSV writer converts the values of the fields it is told to", () => {
  const write = csvRowsWriter(["a", "b"], ",", { b: (v) => `<${v}>` });
  assert.deepEqual(write([{ a: "1", b: "x" }, { a: "2", b: null }], 0, 2), "1,<x>\r\n2,<null>\r\n");
});

Deno.test("a text stream encodes its chunks as they are pulled", async () => {
  const body = textStream(() => ["[1,", '"é"]'][Symbol.iterator]());
  assert.deepEqual(await new Response(body).text(), '[1,"é"]');
});
