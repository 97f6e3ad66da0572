import assert from "node:assert/strict";
import fc from "fast-check";
import type { Value } from "../mapping/mod.ts";
import { KeyColumn } from "./key_column.ts";

Deno.test("a KeyColumn gives back every key as it was pushed, through growth, for any string or value", () => {
  const key: fc.Arbitrary<Value> = fc.oneof(
    { weight: 6, arbitrary: fc.string({ unit: "binary", maxLength: 80 }) },
    { weight: 2, arbitrary: fc.string({ maxLength: 8 }) },
    fc.constant(""),
    fc.constant("x".repeat(70)),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
  );
  fc.assert(
    fc.property(fc.array(key, { maxLength: 3000 }), (keys) => {
      const c = KeyColumn.of(keys);
      assert.equal(c.length, keys.length);
      keys.forEach((k, i) => assert.deepEqual(c.at(i), k, `key ${i}`));
      assert.equal(c.at(keys.length), undefined);
      assert.equal(c.at(-1), undefined);
    }),
    { numRuns: 60 },
  );
});

Deno.test("a released KeyColumn is empty and holds no memory", () => {
  const c = KeyColumn.of(["a", "b", 3]);
  c.release();
  assert.equal(c.length, 0);
  assert.equal(c.at(0), undefined);
  c.release();
});
