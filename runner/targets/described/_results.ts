/**
 * Per-row results of a described API: result records (from files or the status answer) joined
 * back to the sent rows by position or by key, with each error split into code, message, field.
 *
 * @module
 */
import { RunnerError } from "../../errors.ts";
import { csvRows } from "../_csv.ts";
import type { Batch, BatchResults, RowFailure } from "../types.ts";
import { atPointer } from "./_template.ts";
import type { Description, RowRules } from "./schema.ts";

/** One result record: column (or property) -> value. */
export type ResultRecord = Record<string, unknown>;

/** The records of one result source, with how to read them. */
export interface ResultSource {
  /** `results.files.<name>` or `results.inline`, for messages. */
  name: string;
  rules: RowRules;
  /** Read as the join goes (a CSV file a record at a time), so no record outlives its turn. */
  records: Iterable<ResultRecord>;
}

type Outcome = "succeeded" | "failed" | "skipped" | "unprocessed";

/**
 * The records of a CSV result file, one at a time; a repeated column name keeps its last cell.
 *
 * @throws {RunnerError} `transport` (when iterated) when a quoted field is never closed
 */
export function* csvRecords(
  text: string | Iterable<string>,
  delimiter: string,
): Generator<ResultRecord> {
  const rows = csvRows(text, delimiter);
  const first = rows.next();
  if (first.done) return;
  const header = first.value;
  for (const cells of rows) {
    const rec: ResultRecord = {};
    header.forEach((h, i) => (rec[h] = cells[i] ?? ""));
    yield rec;
  }
}

/**
 * Reads a JSON result (file or status answer) into records.
 *
 * @throws {RunnerError} `transport` when there is no array of objects at the pointer
 */
export function jsonRecords(doc: unknown, pointer: string, what: string): ResultRecord[] {
  const list = atPointer(doc, pointer);
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) {
    throw new RunnerError("transport", `Cannot read ${what}: "${pointer}" is not an array`);
  }
  return list.map((
    x,
  ) => (x && typeof x === "object" && !Array.isArray(x) ? x as ResultRecord : { value: x }));
}

function text(v: unknown): string {
  return v === null || v === undefined ? "" : typeof v === "string" ? v : String(v);
}

/** Each description's error patterns, compiled once rather than for every failed row. */
const patterns = new Map<string, RegExp>();

/** Splits an error text by the rule's pattern into code, message and field. */
export function splitError(
  raw: string,
  pattern: string | undefined,
): { code?: string; message: string; field?: string } {
  const t = raw.trim();
  let re: RegExp | undefined;
  if (pattern !== undefined) {
    re = patterns.get(pattern);
    if (!re) patterns.set(pattern, re = new RegExp(pattern));
  }
  const g = re?.exec(t)?.groups;
  const code = g?.code?.trim();
  const field = g?.field?.trim();
  const message = g?.message?.trim() || t;
  return { ...(code ? { code } : {}), message, ...(field ? { field } : {}) };
}

function outcomeOf(rules: RowRules, rec: ResultRecord): { outcome: Outcome; raw?: string } {
  if (typeof rules.outcome === "string") return { outcome: rules.outcome };
  const raw = text(rec[rules.outcome.column]).trim();
  const hit = Object.entries(rules.outcome.values).find(([k]) =>
    k.toLowerCase() === raw.toLowerCase()
  );
  return hit ? { outcome: hit[1] } : { outcome: "failed", raw };
}

/** How the job ended, as results need it. */
export interface JobEnd {
  state: "succeeded" | "failed" | "aborted";
  message?: string;
  /** Values taken from the status answer. */
  values: Record<string, unknown>;
}

/** Joins result records to the batch's rows and counts them. */
export function joinResults(
  desc: Description,
  sources: readonly ResultSource[],
  batch: Batch,
  end: JobEnd,
): BatchResults {
  const n = batch.rows.length;
  const outcomes: (Outcome | undefined)[] = new Array(n);
  const failures: RowFailure[] = [];
  const problems: string[] = [];
  const keyOf = (i: number) => text(batch.keys.at(i));
  // Rows by key, made only when a source joins by key: a row, or the rows of a key sent twice.
  let byKey: Map<string, number | number[]> | undefined;
  const rowsOf = (key: string): number | number[] | undefined => {
    if (!byKey) {
      byKey = new Map();
      for (let i = 0; i < n; i++) {
        const k = keyOf(i);
        const had = byKey.get(k);
        if (had === undefined) byKey.set(k, i);
        else if (typeof had === "number") byKey.set(k, [had, i]);
        else had.push(i);
      }
    }
    return byKey.get(key);
  };
  const open = (rows: number | number[] | undefined) =>
    typeof rows === "number"
      ? (outcomes[rows] === undefined ? rows : undefined)
      : rows?.find((i) => outcomes[i] === undefined);
  for (const src of sources) {
    let strays = 0;
    let firstStray = "";
    let at = -1;
    for (const rec of src.records) {
      at++;
      const column = src.rules.key_column ?? batch.key;
      let row: number | undefined;
      if (src.rules.by === "position") row = at < n && outcomes[at] === undefined ? at : undefined;
      else row = open(rowsOf(text(rec[column])));
      if (row === undefined) {
        if (strays++ === 0) {
          firstStray = src.rules.by === "key"
            ? `${column} "${text(rec[column])}"`
            : `record ${at + 1}`;
        }
        continue;
      }
      const { outcome, raw } = outcomeOf(src.rules, rec);
      outcomes[row] = outcome;
      if (outcome === "failed" || outcome === "skipped") {
        const err = src.rules.error
          ? splitError(text(rec[src.rules.error.column]), src.rules.error.pattern)
          : undefined;
        const message = err?.message ||
          (raw !== undefined
            ? `The API gave the row an unknown status "${raw}"`
            : outcome === "skipped"
            ? "The API skipped the row"
            : "The API did not load the row");
        failures.push({ row, key: keyOf(row), ...err, message, outcome });
      }
    }
    if (strays > 0) {
      problems.push(
        `${src.name} has ${strays} record${
          strays === 1 ? "" : "s"
        } matching no sent row (first: ${firstStray})`,
      );
    }
  }
  return finish(desc, outcomes, failures, problems, batch, end);
}

function finish(
  desc: Description,
  outcomes: (Outcome | undefined)[],
  failures: RowFailure[],
  problems: string[],
  batch: Batch,
  end: JobEnd,
): BatchResults {
  const unlistedAs: Outcome = end.state === "succeeded"
    ? desc.results.unlisted
    : end.state === "aborted"
    ? "unprocessed"
    : "failed";
  let unlisted = 0;
  const counts = { succeeded: 0, failed: 0, skipped: 0 };
  const unprocessed: number[] = [];
  outcomes.length = batch.rows.length;
  for (let i = 0; i < batch.rows.length; i++) {
    let o = outcomes[i];
    if (o === undefined) {
      unlisted++;
      o = unlistedAs;
      if (o === "failed" || o === "skipped") {
        failures.push({
          row: i,
          key: text(batch.keys.at(i)),
          message: end.message ?? "No result of the API mentions this row",
          outcome: o,
        });
      }
    }
    if (o === "unprocessed") unprocessed.push(i);
    else counts[o]++;
  }
  if (unlisted > 0 && end.state === "succeeded" && unlistedAs !== "succeeded") {
    problems.push(
      `${unlisted} of ${batch.rows.length} rows are in no result: counted ${unlistedAs}`,
    );
  }
  failures.sort((a, b) => (a.row ?? 0) - (b.row ?? 0));
  checkCounts(desc, counts, end.values, problems);
  return { counts, failures, problems, ...(unprocessed.length > 0 ? { unprocessed } : {}) };
}

function checkCounts(
  desc: Description,
  counts: { succeeded: number; failed: number; skipped: number },
  values: Record<string, unknown>,
  problems: string[],
): void {
  const c = desc.results.counts;
  if (!c) return;
  const found = { ...counts, processed: counts.succeeded + counts.failed + counts.skipped };
  for (const kind of ["succeeded", "failed", "skipped", "processed"] as const) {
    const name = c[kind];
    if (name === undefined) continue;
    const v = values[name];
    const reported = typeof v === "number" ? v : Number(text(v));
    if (text(v) === "" || !Number.isFinite(reported)) continue;
    if (reported !== found[kind]) {
      problems.push(
        `The job reports ${reported} rows ${kind} ("${name}"), but the results show ${found[kind]}`,
      );
    }
  }
}
