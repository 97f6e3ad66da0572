import assert from "node:assert/strict";
import { checkCounts, type Summary, summaryJson } from "./summary.ts";

function summary(over: Partial<Summary> = {}): Summary {
  return {
    version: 1,
    pipeline: "p",
    target: "workspan",
    status: "failed",
    reason: "Org 1000 refused the token",
    started_at: "2026-11-25T19:40:01.112Z",
    finished_at: "2026-11-25T19:40:03.391Z",
    duration_ms: 1000,
    source: "data.csv",
    counts: {
      read: 1000,
      rejected: 0,
      sent: 1000,
      succeeded: 1000,
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
    exit_code: 3,
    outputs: {},
    ...over,
  };
}

Deno.test("summaryJson() hides a secret in strings but never turns a number into ***", () => {
  const text = summaryJson(summary(), ["1000"]);
  const back = JSON.parse(text);
  assert.equal(back.counts.read, 1000);
  assert.equal(back.duration_ms, 1000);
  assert.equal(back.reason, "Org *** refused the token");
  assert.match(text, /"read":1000/);
});

Deno.test("summaryJson() hides a secret with a quote and a backslash and stays valid JSON", () => {
  const secret = 'ab"c\\d';
  const text = summaryJson(summary({ reason: `Refused ${secret}`, hints: [secret] }), [secret]);
  const back = JSON.parse(text);
  assert.equal(back.reason, "Refused ***");
  assert.deepEqual(back.hints, ["***"]);
  assert.ok(!text.includes(JSON.stringify(secret).slice(1, -1)), text);
});

Deno.test("summaryJson() with an indent is a file: indented and ending in a line break", () => {
  const text = summaryJson(summary(), [], 2);
  assert.ok(text.endsWith("}\n"));
  assert.match(text, /^ {2}"version": 1,$/m);
  assert.ok(!summaryJson(summary(), []).includes("\n"));
});

Deno.test("checkCounts() names each identity that does not hold", () => {
  const counts = { ...summary().counts, sent: 999 };
  const problems = checkCounts(counts);
  assert.equal(problems.length, 2);
  assert.match(problems[0]!, /read 1000 != rejected 0 \+ sent 999/);
  assert.deepEqual(checkCounts(summary().counts), []);
});
