import assert from "node:assert/strict";
import { csvRecords, joinResults, type ResultSource } from "./_results.ts";
import type { Description } from "./schema.ts";
import type { Batch } from "../types.ts";

/** What `joinResults` reads of a description: rows in no result failed, no counts to check. */
const desc = { results: { unlisted: "failed" } } as unknown as Description;

function batchOf(keys: string[]): Batch {
  return {
    index: 0,
    fields: ["Name"],
    rows: new Array(keys.length),
    lines: keys.map((_, i) => i + 2),
    keys,
    key: "Name",
  };
}

Deno.test("joinResults joins CSV result files by key, read a record at a time, a key sent twice included", () => {
  // Rows 1 and 3 share key "b"; the files list rows out of order, as Salesforce's do.
  const batch = batchOf(["a", "b", "c", "b"]);
  const sources: ResultSource[] = [
    {
      name: "The successful results",
      rules: { outcome: "succeeded", by: "key" },
      records: csvRecords("sf__Id,Name\r\n001,b\r\n002,a\r\n", ","),
    },
    {
      name: "The failed results",
      rules: {
        outcome: "failed",
        by: "key",
        error: { column: "sf__Error", pattern: "^(?<code>[A-Z_]+):(?<message>.*)$" },
      },
      records: csvRecords('sf__Error,Name\r\n"BAD_VALUE:no, not this",b\r\nX:y,zz\r\n', ","),
    },
  ];
  const r = joinResults(desc, sources, batch, { state: "succeeded", values: {} });
  // "c" is in no file: failed; the stray "zz" is a problem.
  assert.deepEqual(r.counts, { succeeded: 2, failed: 2, skipped: 0 });
  assert.deepEqual(r.failures.map((f) => [f.row, f.key, f.code, f.message]), [
    [2, "c", undefined, "No result of the API mentions this row"],
    [3, "b", "BAD_VALUE", "no, not this"],
  ]);
  assert.deepEqual(r.problems, [
    'The failed results has 1 record matching no sent row (first: Name "zz")',
    "1 of 4 rows are in no result: counted failed",
  ]);
});

Deno.test("joinResults joins by position, and a result file that breaks off fails the join", () => {
  const batch = batchOf(["a", "b"]);
  const rules = { outcome: { column: "s", values: { ok: "succeeded" } }, by: "position" } as const;
  const r = joinResults(
    desc,
    [{ name: "R", rules, records: csvRecords("s\nok\nbad\nok\n", ",") }],
    batch,
    {
      state: "succeeded",
      values: {},
    },
  );
  assert.deepEqual(r.counts, { succeeded: 1, failed: 1, skipped: 0 });
  assert.deepEqual(r.problems, ["R has 1 record matching no sent row (first: record 3)"]);
  assert.throws(
    () =>
      joinResults(desc, [{ name: "R", rules, records: csvRecords('s\nok\n"bad', ",") }], batch, {
        state: "succeeded",
        values: {},
      }),
    /quoted field opened on line 3 is never closed/,
  );
});
