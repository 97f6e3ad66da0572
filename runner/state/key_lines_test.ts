import assert from "node:assert/strict";
import fc from "fast-check";
import { KeyLines } from "./mod.ts";
import { agreesWithMap } from "./_testing.ts";

Deno.test("KeyLines keeps the line of every key, against a Map, through growth and non-ASCII keys", () => {
  const k = new KeyLines();
  const m = new Map<string, number>();
  // 20,000 keys: the buffers and the index grow several times.
  for (let i = 0; i < 20_000; i++) {
    const key = i % 7 === 0 ? `clé-${i}-ü` : i % 11 === 0 ? `${"x".repeat(i % 40)}${i}` : `k${i}`;
    k.set(key, i + 2);
    m.set(key, i + 2);
  }
  // Setting again overwrites; the count does not change.
  k.set("k1", 99);
  m.set("k1", 99);
  assert.equal(k.size, m.size);
  for (const [key, line] of m) assert.equal(k.get(key), line, key);
  for (const absent of ["", "k", "k20000", "clé-7-u", "K1", "k1 "]) {
    assert.equal(k.get(absent), undefined, absent);
  }
});

Deno.test("KeyLines.claim returns the first line of a key and adds a new one", () => {
  const k = new KeyLines();
  assert.equal(k.claim("a", 2), undefined);
  assert.equal(k.claim("é", 3), undefined);
  assert.equal(k.claim("a", 9), 2);
  assert.equal(k.claim("é", 10), 3);
  assert.equal(k.get("a"), 2);
  assert.equal(k.size, 2);
});

Deno.test("KeyLines agrees with a Map for random keys of any length and lines of any size", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(
          fc.oneof(
            fc.string({ unit: "binary", maxLength: 12 }),
            fc.string({ minLength: 120, maxLength: 300 }), // two bytes of length
            fc.constant("é".repeat(9000)), // 18,000 bytes: three bytes of length
            fc.constant(""),
          ),
          fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        ),
        { maxLength: 3000 },
      ),
      (ops) => {
        // An even line sets, an odd one claims.
        agreesWithMap(
          new KeyLines(),
          ops.map(([key, line]) => [key, line, line % 2 === 0 ? "set" : "claim"] as const),
        );
      },
    ),
    { numRuns: 40 },
  );
});
