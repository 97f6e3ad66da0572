/**
 * Test helpers of the key maps (`KeyLines`, `KeyIndex`).
 *
 * @module
 */
import assert from "node:assert/strict";

/** What `KeyLines` and `KeyIndex` share. */
export interface LinesOfKeys {
  readonly size: number;
  get(key: string): number | undefined;
  set(key: string, line: number): void;
  claim(key: string, line: number): number | undefined;
}

/** One step: read a key, set its line, or claim it with a line. */
export type KeyOp = readonly [key: string, line: number, op: "get" | "set" | "claim"];

/** Applies the steps to `k` and to a `Map`, and asserts they agree at each step and at the end. */
export function agreesWithMap(k: LinesOfKeys, ops: readonly KeyOp[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const [key, line, op] of ops) {
    if (op === "get") assert.equal(k.get(key), m.get(key));
    else if (op === "set") {
      k.set(key, line);
      m.set(key, line);
    } else {
      const first = m.get(key);
      assert.equal(k.claim(key, line), first);
      if (first === undefined) m.set(key, line);
    }
  }
  assert.equal(k.size, m.size);
  for (const [key, line] of m) assert.equal(k.get(key), line);
  return m;
}
