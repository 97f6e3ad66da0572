import assert from "node:assert/strict";
import { humanReport, oneLine, shownKey } from "./human.ts";
import type { BatchSummary, Summary } from "./summary.ts";

function summary(over: Partial<Summary> = {}): Summary {
  return {
    version: 1,
    pipeline: "p",
    target: "workspan",
    status: "succeeded",
    started_at: "2026-11-25T19:40:01.112Z",
    finished_at: "2026-11-25T19:44:13.112Z",
    duration_ms: 252_000,
    source: "data.csv",
    counts: {
      read: 10,
      rejected: 0,
      sent: 10,
      succeeded: 10,
      failed: 0,
      skipped: 0,
      pending: 0,
      unknown: 0,
      unsent: 0,
    },
    error_rate: 0,
    max_error_rate: 0,
    batches: [],
    errors: [],
    errors_omitted: 0,
    problems: [],
    hints: [],
    exit_code: 0,
    outputs: {},
    ...over,
  };
}

const batch = (index: number): BatchSummary => ({
  index,
  rows: 1,
  first_line: index + 2,
  last_line: index + 2,
  status: "completed",
  polls: 0,
  counts: { succeeded: 1, failed: 0, skipped: 0 },
});

Deno.test("humanReport() gives the duration the way the job summary does", () => {
  assert.equal(
    humanReport(summary(), { color: false })[0],
    "p -> workspan: succeeded in 4 min 12 s (exit 0)",
  );
  assert.match(humanReport(summary({ duration_ms: 850 }), { color: false })[0]!, / in 850 ms /);
});

Deno.test("humanReport() counts the batches it leaves out in words", () => {
  const nine = humanReport(summary({ batches: Array.from({ length: 9 }, (_, i) => batch(i)) }), {
    color: false,
  });
  assert.equal(nine.at(-1), "  ... 1 more batch");
  const ten = humanReport(summary({ batches: Array.from({ length: 10 }, (_, i) => batch(i)) }), {
    color: false,
  });
  assert.equal(ten.at(-1), "  ... 2 more batches");
});

Deno.test("oneLine() turns line breaks and control characters into spaces", () => {
  assert.equal(oneLine("a\nb\r\n::error::x\u0007"), "a b ::error::x ");
});

Deno.test("humanReport() says 1 row and 1 poll, not 1 rows and 1 polls", () => {
  const one = { ...batch(0), execution_id: "e0", polls: 1 };
  const lines = humanReport(summary({ batches: [one] }), { color: false });
  assert.ok(
    lines.includes("  batch 1: lines 2-2, 1 row, completed, execution e0, 1 poll"),
    lines.join("\n"),
  );
});

Deno.test("humanReport() names the field of a failed row when the API named it", () => {
  const lines = humanReport(
    summary({
      counts: { ...summary().counts, succeeded: 8, failed: 2 },
      errors: [
        {
          source_line: 81,
          key: "aw00079",
          field: "stage",
          message: "invalid value in field 'stage'",
          stage: "remote",
        },
        { source_line: 90, key: "aw00088", message: "Row failed", stage: "remote" },
      ],
    }),
    { color: false },
  );
  assert.ok(
    lines.includes(
      `    line 81 [aw00079] field "stage" failed: invalid value in field 'stage'`,
    ),
    lines.join("\n"),
  );
  assert.ok(lines.includes("    line 90 [aw00088] failed: Row failed"), lines.join("\n"));
});

Deno.test("a long key is cut short in a row's line, with its length; a short one is whole", () => {
  const long = `Deal 017 ${"x".repeat(250)}`;
  const lines = humanReport(
    summary({
      counts: { ...summary().counts, succeeded: 9, failed: 1 },
      errors: [{ source_line: 19, key: long, message: "INVALID_DATA", stage: "remote" }],
    }),
    { color: false },
  );
  assert.ok(
    lines.includes(
      `    line 19 [Deal 017 ${"x".repeat(30)}… (259 characters)] failed: INVALID_DATA`,
    ),
    lines.join("\n"),
  );
  assert.equal(shownKey("aw00079"), "aw00079");
  assert.equal(shownKey("x".repeat(40)), "x".repeat(40));
  // Counted in characters, never cutting one in half.
  assert.equal(shownKey("東".repeat(41)), `${"東".repeat(39)}… (41 characters)`);
  assert.equal(shownKey("😀".repeat(41)), `${"😀".repeat(39)}… (41 characters)`);
  assert.equal(shownKey("a\nb"), "a b");
});
