/**
 * Fixtures for the GitHub report tests: a run like the README's example and helpers to read
 * the Markdown back.
 *
 * @module
 */
import assert from "node:assert/strict";
import { marked, type Token, type Tokens } from "marked";
import type { BatchSummary, RowError, Summary } from "../summary.ts";

/** The checkout of the example job. */
export const WS = "/home/runner/work/etl/etl";

/** A run like the README's example: 200 rows, 1 rejected locally, 2 refused by WorkSpan. */
export function summary(over: Partial<Summary> = {}): Summary {
  return {
    version: 1,
    pipeline: "workspan-opportunities",
    target: "workspan",
    status: "completed_with_errors",
    reason: "1 rejected, 2 failed, 0 skipped, within max_error_rate 2%",
    started_at: "2026-11-25T19:40:01.112Z",
    finished_at: "2026-11-25T19:40:03.391Z",
    duration_ms: 2279,
    source: `${WS}/pipelines/data/opportunities.csv`,
    counts: {
      read: 200,
      rejected: 1,
      sent: 199,
      succeeded: 197,
      failed: 2,
      skipped: 0,
      pending: 0,
      unknown: 0,
      unsent: 0,
    },
    error_rate: 0.015,
    max_error_rate: 0.02,
    batches: [{
      index: 0,
      execution_id: "a64690c2450",
      rows: 199,
      first_line: 2,
      last_line: 201,
      status: "completed",
      remote_status: "completed",
      polls: 1,
      counts: { succeeded: 197, failed: 2, skipped: 0 },
    }],
    errors: [
      {
        source_line: 81,
        key: "aw00079",
        field: "stage",
        message: "invalid value in field 'stage'",
        stage: "remote",
      },
      {
        source_line: 84,
        key: "aw00082",
        field: "stage",
        message: "invalid value in field 'stage'",
        stage: "remote",
      },
      {
        source_line: 122,
        field: "opportunity_id",
        code: "key_missing",
        message: "Missing value of key field",
        stage: "local",
      },
    ],
    errors_omitted: 0,
    problems: [],
    hints: [
      `3 rows that did not load are in ${WS}/out/workspan-opportunities.rejects.csv, with their line and error`,
    ],
    exit_code: 0,
    outputs: {
      summary: `${WS}/out/workspan-opportunities.summary.json`,
      rejects: `${WS}/out/workspan-opportunities.rejects.csv`,
    },
    ...over,
  };
}

/** Report options of a job in acme/etl, run 42. */
export const OPTS = {
  pipelineFile: "pipelines/workspan-opportunities.yaml",
  workspace: WS,
  blobUrl: "https://github.com/acme/etl/blob/0123abc",
  runUrl: "https://github.com/acme/etl/actions/runs/42",
};

/** `n` completed batches of 100 rows, one failed row each. */
export function batches(n: number): BatchSummary[] {
  return Array.from({ length: n }, (_, i) => ({
    index: i,
    execution_id: `ex${String(i).padStart(4, "0")}`,
    rows: 100,
    first_line: 2 + i * 100,
    last_line: 101 + i * 100,
    status: "completed" as const,
    polls: 2,
    counts: { succeeded: 99, failed: 1, skipped: 0 },
  }));
}

/** `n` local row errors on consecutive lines. */
export function rowErrors(n: number): RowError[] {
  return Array.from({ length: n }, (_, i) => ({
    source_line: 10 + i,
    key: `k${i}`,
    field: "amount",
    message: `Not a number: "x${i}"`,
    stage: "local" as const,
  }));
}

/** The GFM tables of a Markdown text, as marked parses them (header cells, then row cells). */
export function tables(md: string): { header: string[]; rows: string[][] }[] {
  const out: { header: string[]; rows: string[][] }[] = [];
  marked.walkTokens(marked.lexer(md), (t: Token) => {
    if (t.type === "table") {
      const table = t as Tokens.Table;
      out.push({
        header: table.header.map((c) => c.text),
        rows: table.rows.map((r) => r.map((c) => c.text)),
      });
    }
  });
  return out;
}

/** The text under a `#### heading`, up to the next heading. */
export function section(md: string, heading: string): string {
  const start = md.indexOf(`#### ${heading}`);
  assert.ok(start >= 0, `no section "${heading}" in:\n${md}`);
  const end = md.indexOf("\n#### ", start + 1);
  return md.slice(start, end < 0 ? undefined : end);
}

// ---------------------------------------------------------------------------------------------

/** An in-memory file appender. */
export function fakeFiles() {
  const files = new Map<string, string>();
  return {
    files,
    appendFile: (path: string, text: string) => {
      files.set(path, (files.get(path) ?? "") + text);
      return Promise.resolve();
    },
  };
}

/** The environment of a GitHub Actions job. */
export const ACTIONS_ENV: Record<string, string> = {
  GITHUB_ACTIONS: "true",
  GITHUB_STEP_SUMMARY: "/gh/summary.md",
  GITHUB_OUTPUT: "/gh/output",
  GITHUB_WORKSPACE: WS,
  GITHUB_REPOSITORY: "acme/etl",
  GITHUB_SHA: "0123abc",
  GITHUB_RUN_ID: "42",
};
