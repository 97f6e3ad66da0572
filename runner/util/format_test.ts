import assert from "node:assert/strict";
import { count, formatDuration, formatNumber, formatPercent } from "./format.ts";

Deno.test("formatDuration() reads like a person would say it", () => {
  assert.equal(formatDuration(850), "850 ms");
  assert.equal(formatDuration(2279), "2.3 s");
  assert.equal(formatDuration(252_000), "4 min 12 s");
  assert.equal(formatDuration(3_900_000), "1 h 5 min");
});

Deno.test("formatPercent() keeps at most two decimals and drops trailing zeros", () => {
  assert.equal(formatPercent(0.015), "1.5%");
  assert.equal(formatPercent(0.0068), "0.68%");
  assert.equal(formatPercent(0.02), "2%");
  assert.equal(formatPercent(0), "0%");
  assert.equal(formatPercent(1 / 3), "33.33%");
});

Deno.test("formatNumber() separates thousands", () => {
  assert.equal(formatNumber(12480), "12,480");
  assert.equal(formatNumber(7), "7");
});

Deno.test("count() uses the singular for one and the plural otherwise", () => {
  assert.equal(count(1, "batch", "batches"), "1 batch");
  assert.equal(count(2, "batch", "batches"), "2 batches");
  assert.equal(count(0, "row"), "0 rows");
  assert.equal(count(1, "row"), "1 row");
  assert.equal(count(12480, "row"), "12,480 rows");
});
