import assert from "node:assert/strict";
import fc from "fast-check";
import { KeyIndex } from "./mod.ts";
import { keyFile } from "../execute/spool.ts";
import { agreesWithMap } from "./_testing.ts";

/** A KeyIndex that moves its keys to files in `dir` every `memoryKeys` keys. */
function spilling(dir: string, memoryKeys: number, log: string[] = []): KeyIndex {
  return new KeyIndex({ spill: () => keyFile(dir), memoryKeys, log: (l) => log.push(l) });
}

Deno.test("KeyIndex agrees with a Map while its keys move to files, for get, set and claim", async () => {
  const dir = await Deno.makeTempDir();
  try {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.array(
          fc.tuple(
            fc.oneof(
              fc.string({ unit: "binary", maxLength: 6 }),
              fc.string({ minLength: 120, maxLength: 300 }), // two bytes of length
              fc.constant("é".repeat(9000)), // three bytes of length
              fc.constant(""),
            ),
            fc.integer({ min: 0, max: 2 ** 31 - 1 }),
            fc.constantFrom("get", "set", "claim"),
          ),
          { maxLength: 1500 },
        ),
        (memoryKeys, ops) => {
          const k = spilling(dir, memoryKeys);
          try {
            const m = agreesWithMap(k, ops);
            if (m.size > memoryKeys) assert.ok(k.files > 0, "some keys moved to a file");
          } finally {
            k.close();
          }
        },
      ),
      { numRuns: 60 },
    );
    // The files have no name: nothing is left in the folder, during the run or after it.
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("KeyIndex finds every key among 200,000 in three files and memory, and no key it was not given", async () => {
  const dir = await Deno.makeTempDir();
  const k = spilling(dir, 50_000);
  try {
    for (let i = 0; i < 200_000; i++) assert.equal(k.claim(`OPP-${i}`, i + 2), undefined);
    assert.equal(k.files, 3);
    assert.equal(k.size, 200_000);
    for (let i = 0; i < 200_000; i += 7) assert.equal(k.claim(`OPP-${i}`, 1), i + 2);
    for (let i = 200_000; i < 210_000; i++) assert.equal(k.get(`OPP-${i}`), undefined);
    // Last line wins, in a file as in memory (what `last_wins` does).
    k.set("OPP-5", 999_999);
    k.set("OPP-199999", 999_998);
    assert.equal(k.get("OPP-5"), 999_999);
    assert.equal(k.get("OPP-199999"), 999_998);
  } finally {
    k.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("KeyIndex keeps its keys in memory, with one line, when no file can be made", () => {
  const log: string[] = [];
  const k = new KeyIndex({
    spill: () => {
      throw new Error("Read-only file system (os error 30)");
    },
    memoryKeys: 10,
    log: (l) => log.push(l),
  });
  for (let i = 0; i < 100; i++) assert.equal(k.claim(`k${i}`, i), undefined);
  for (let i = 0; i < 100; i++) assert.equal(k.claim(`k${i}`, -1), i);
  assert.equal(k.files, 0);
  assert.deepEqual(log, [
    "Cannot keep the keys of the duplicate check on disk (Read-only file system (os error 30)): keeping them in memory",
  ]);
});

Deno.test("KeyIndex keeps the keys it was moving when the file stops taking writes", async () => {
  const dir = await Deno.makeTempDir();
  const log: string[] = [];
  let made = 0;
  const k = new KeyIndex({
    spill: () => {
      const file = keyFile(dir);
      if (++made === 1) return file;
      // The second file is full from its first byte.
      file.writeSync = () => {
        throw new Error("No space left on device (os error 28)");
      };
      return file;
    },
    memoryKeys: 20,
    log: (l) => log.push(l),
  });
  try {
    for (let i = 0; i < 100; i++) assert.equal(k.claim(`é${i}`, i), undefined);
    assert.equal(k.files, 1);
    for (let i = 0; i < 100; i++) assert.equal(k.get(`é${i}`), i);
    assert.equal(log.length, 1);
    assert.match(log[0]!, /No space left on device/);
  } finally {
    k.close();
    await Deno.remove(dir, { recursive: true });
  }
});
