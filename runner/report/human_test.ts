import assert from "node:assert/strict";
import { humanReport, plural } from "./human.ts";
import type { BatchSummary, Summary } from "./summary.ts";

function batch(index: number, rows: number, polls: number): BatchSummary {
  return {
    index,
    execution_id: `e${index}`,
    rows,
    first_line: 2,
    last_line: 1 + rows,
    status: "completed",
    polls,
    counts: { succeeded: rows, failed: 0, skipped: 0 },
  };
}

function summary(batches: BatchSummary[]): Summary {
  const rows = batches.reduce((n, b) => n + b.rows, 0);
  return {
    version: 1,
    pipeline: "p",
    target: "workspan",
    status: "succeeded",
    started_at: "2026-11-25T19:40:01.112Z",
    finished_at: "2026-11-25T19:40:02.112Z",
    duration_ms: 1000,
    source: "data.csv",
    counts: {
      read: rows,
      rejected: 0,
      sent: rows,
      succeeded: rows,
      failed: 0,
      skipped: 0,
      pending: 0,
      unknown: 0,
      unsent: 0,
    },
    error_rate: 0,
    max_error_rate: 0,
    batches,
    errors: [],
    errors_omitted: 0,
    problems: [],
    hints: [],
    exit_code: 0,
    outputs: {},
  };
}

Deno.test("plural() uses the singular for exactly one and the plural otherwise", () => {
  assert.equal(plural(1, "row"), "1 row");
  assert.equal(plural(0, "row"), "0 rows");
  assert.equal(plural(2, "batch", "batches"), "2 batches");
  assert.equal(plural(1, "batch", "batches"), "1 batch");
});

Deno.test("humanReport() says 1 row and 1 poll, not 1 rows and 1 polls", () => {
  const lines = humanReport(summary([batch(0, 1, 1)]), { color: false });
  assert.ok(
    lines.includes("  batch 1: lines 2-2, 1 row, completed, execution e0, 1 poll"),
    lines.join("\n"),
  );
});

Deno.test("humanReport() counts rows, polls and the batches not shown in the plural", () => {
  const lines = humanReport(
    summary(Array.from({ length: 9 }, (_, i) => batch(i, 2, 3))),
    { color: false },
  );
  assert.ok(lines.includes("  batch 1: lines 2-3, 2 rows, completed, execution e0, 3 polls"));
  assert.ok(lines.includes("  ... 1 more batch"), lines.join("\n"));
  const ten = humanReport(
    summary(Array.from({ length: 10 }, (_, i) => batch(i, 2, 3))),
    { color: false },
  );
  assert.ok(ten.includes("  ... 2 more batches"), ten.join("\n"));
});
