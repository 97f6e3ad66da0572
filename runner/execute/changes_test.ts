import assert from "node:assert/strict";
import type { BatchOutcome } from "../journal.ts";
import { openStateStore } from "../state/mod.ts";
import type { Batch } from "../targets/mod.ts";
import { ChangeTracker, confirmedRows, removedPath } from "./changes.ts";

const outcome = (
  counts: BatchOutcome["counts"],
  failures: BatchOutcome["failures"] = [],
): BatchOutcome => ({
  status: "completed",
  remote_status: "done",
  counts,
  failures,
  problems: [],
  polls: 1,
});

const batch = (index: number, rows: number): Batch => ({
  index,
  fields: ["id", "v"],
  rows: Array.from({ length: rows }, () => ({})),
  lines: [],
  keys: Array.from({ length: rows }, () => null),
  key: "id",
});

Deno.test("confirmedRows() confirms only rows the API accounts for, by index", () => {
  const all = confirmedRows(outcome({ succeeded: 3, failed: 0, skipped: 0 }), 3);
  assert.deepEqual([0, 1, 2].map(all), [true, true, true]);
  const some = confirmedRows(
    outcome({ succeeded: 2, failed: 1, skipped: 0 }, [{ row: 1, message: "bad" }]),
    3,
  );
  assert.deepEqual([0, 1, 2].map(some), [true, false, true]);
  const unnamed = confirmedRows(
    outcome({ succeeded: 2, failed: 1, skipped: 0 }, [{ message: "bad" }]),
    3,
  );
  assert.deepEqual([0, 1, 2].map(unnamed), [false, false, false]);
  const short = confirmedRows(outcome({ succeeded: 2, failed: 0, skipped: 0 }), 3);
  assert.deepEqual([0, 1, 2].map(short), [false, false, false]);
});

Deno.test("a tracker sends new and changed rows, confirms what loaded and counts removed keys", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const fields = ["id", "v"];
    let { store } = openStateStore(dir, "p", "id-1");
    let t = new ChangeTracker(store, fields, "id", { full: false });
    assert.equal(t.admit(0, { id: "a", v: 1 }), true);
    assert.equal(t.admit(0, { id: "b", v: 1 }), true);
    assert.equal(t.admit(0, { id: "c", v: 1 }), true);
    t.settled(
      batch(0, 3),
      outcome({ succeeded: 2, failed: 1, skipped: 0 }, [{ row: 2, message: "x" }]),
    );
    assert.equal(t.finish(10).count, 0);
    store.close();

    ({ store } = openStateStore(dir, "p", "id-1"));
    t = new ChangeTracker(store, fields, "id", { full: false });
    assert.equal(t.admit(0, { id: "a", v: 1 }), false, "unchanged");
    assert.equal(t.admit(0, { id: "c", v: 1 }), true, "failed before: retry");
    t.rejected("b");
    assert.deepEqual(t.decided, { new: 0, changed: 0, unchanged: 1, retry: 1 });
    assert.equal(t.finish(10).count, 0, "b was rejected, not removed");
    store.close();

    ({ store } = openStateStore(dir, "p", "id-1"));
    t = new ChangeTracker(store, fields, "id", { full: true });
    assert.equal(t.admit(0, { id: "a", v: 1 }), true, "--full sends unchanged rows");
    assert.deepEqual(t.finish(10), { count: 1, keys: ["b"] });
    store.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("the removed keys file sits beside the rejects file", () => {
  assert.equal(removedPath("out/deals.rejects.csv"), "out/deals.rejects.removed.csv");
  assert.equal(removedPath("out/rejects"), "out/rejects.removed.csv");
});
