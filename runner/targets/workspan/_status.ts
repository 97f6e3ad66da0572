/**
 * Reading WorkSpan status answers, defensively: both `data_row` forms, missing or misspelt
 * counts, errors joined back to the batch's rows.
 *
 * @module
 */
import { HttpError } from "../../errors.ts";
import { num, obj } from "../_json.ts";
import type { Batch, BatchResults, RowFailure, StatusResult } from "../types.ts";

const FIELD_IN_MESSAGE = /field '([^']+)'/;
const FAILED_STATUSES = new Set(["failed", "error", "errored", "aborted", "cancelled", "canceled"]);
const DONE_STATUSES = new Set([
  "completed",
  "complete",
  "succeeded",
  "success",
  "finished",
  "done",
]);

function parseDataRow(v: unknown): Record<string, unknown> | undefined {
  if (v && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
  if (typeof v === "string") {
    try {
      const o = JSON.parse(v);
      if (o && typeof o === "object" && !Array.isArray(o)) return o;
    } catch {
      // A data_row that is not JSON only loses us the tie-break between duplicate keys.
    }
  }
  return undefined;
}

/** Finds which row of the batch an error is about: by key, then by data_row among equal keys. */
function matchRows(batch: Batch, errors: unknown[]): RowFailure[] {
  // Most batches have no error to place: the key index is built only when one needs it.
  if (errors.length === 0) return [];
  const byKey = new Map<string, number[]>();
  for (let i = 0; i < batch.keys.length; i++) {
    const k = batch.keys.at(i);
    const ks = k === null || k === undefined ? "" : String(k);
    const list = byKey.get(ks);
    if (list) list.push(i);
    else byKey.set(ks, [i]);
  }
  const taken = new Set<number>();
  const out: RowFailure[] = [];
  for (const e of errors) {
    const o = (e && typeof e === "object" ? e : { message: String(e) }) as Record<string, unknown>;
    const key = o.id === null || o.id === undefined ? "" : String(o.id);
    const message = typeof o.message === "string" && o.message !== "" ? o.message : "Row failed";
    const field = FIELD_IN_MESSAGE.exec(message)?.[1];
    const dataRow = parseDataRow(o.data_row);
    const candidates = (byKey.get(key) ?? []).filter((i) => !taken.has(i));
    let row: number | undefined;
    if (candidates.length > 1 && dataRow) {
      // A packed batch keeps every row of a repeated key but the first (see `Batch.rows`): when
      // no kept row has these values, the first one, not kept, is the row.
      row = candidates.find((i) => {
        const sent = batch.rows[i];
        return sent !== undefined &&
          Object.entries(dataRow).every(([f, v]) => String(sent[f] ?? "") === String(v ?? ""));
      }) ?? candidates.find((i) => batch.rows[i] === undefined);
    }
    row ??= candidates[0];
    if (row !== undefined) taken.add(row);
    out.push({ row, key, ...(field ? { field } : {}), message });
  }
  return out;
}

/** The parts of a status answer both the status and the results are read from. */
interface Answer {
  o: Record<string, unknown>;
  remoteStatus: string;
  statusMsg: string;
  failedStatus: boolean;
  done: boolean;
}

function readAnswer(body: unknown): Answer {
  const o = obj(body);
  if (!o) throw new HttpError("transport", 200, "Status answer is not a JSON object");
  const remoteStatus = typeof o.status === "string" ? o.status : "";
  const s = remoteStatus.trim().toLowerCase();
  if (s === "") throw new HttpError("transport", 200, "Status answer has no status");
  const statusMsg = typeof o.status_msg === "string" ? o.status_msg.trim() : "";
  const failedStatus = FAILED_STATUSES.has(s);
  return { o, remoteStatus, statusMsg, failedStatus, done: failedStatus || DONE_STATUSES.has(s) };
}

const SUCCESS_COUNT = ["success_count", "succcess_count", "successCount"];

/** A status_msg on an execution that loaded nothing means the execution itself failed. */
function executionFailed(a: Answer): boolean {
  const success = num(a.o, ...SUCCESS_COUNT);
  return a.failedStatus || (a.statusMsg !== "" && !(success && success > 0));
}

/**
 * Reads a status answer: still running, or finished (completed or failed), tolerating the
 * differences the API note lists.
 *
 * @throws {HttpError} `transport` when the answer has no readable `status`
 */
export function readStatus(body: unknown): StatusResult {
  const a = readAnswer(body);
  if (!a.done) return { done: false, remoteStatus: a.remoteStatus };
  return {
    done: true,
    status: executionFailed(a) ? "failed" : "completed",
    remoteStatus: a.remoteStatus,
    ...(a.statusMsg ? { message: a.statusMsg } : {}),
  };
}

/**
 * Reads the per-row results out of a finished execution's status answer: counts (both
 * spellings, missing ones filled from the rows sent) and the listed errors joined to the rows.
 *
 * @throws {HttpError} `transport` when the answer has no readable `status`
 */
export function readResults(body: unknown, batch: Batch, maxErrorsAsked: number): BatchResults {
  const a = readAnswer(body);
  const o = a.o;
  const rows = batch.rows.length;
  const problems: string[] = [];
  const errors = Array.isArray(o.errors) ? o.errors : [];
  const input = num(o, "input_count", "inputCount");
  let success = num(o, ...SUCCESS_COUNT);
  let failed = num(o, "error_count", "errorCount");
  const skipped = num(o, "skip_count", "skipCount") ?? 0;
  if (input !== undefined && input !== rows) {
    problems.push(`Execution reports input_count ${input}, but ${rows} rows were sent`);
  }
  if (executionFailed(a) && success === undefined && failed === undefined) {
    // A failed execution with no counts loaded nothing we can prove: count every row failed.
    success = 0;
    failed = rows - skipped;
  }
  failed ??= errors.length > 0
    ? Math.max(errors.length, rows - (success ?? 0) - skipped)
    : undefined;
  if (success === undefined && failed === undefined) {
    problems.push("Execution completed without success_count or error_count");
    failed = errors.length;
    success = rows - failed - skipped;
  }
  success ??= rows - failed! - skipped;
  failed ??= rows - success - skipped;
  if (success + failed + skipped !== rows) {
    problems.push(
      `Execution counts do not add up: success ${success} + error ${failed} + skip ${skipped} != ${rows} rows sent`,
    );
  }
  const failures = matchRows(batch, errors);
  const listed = Math.min(failed, maxErrorsAsked);
  if (failures.length < listed) {
    problems.push(`Execution reports ${failed} failed rows but lists only ${failures.length}`);
  }
  return { counts: { succeeded: success, failed, skipped }, failures, problems };
}
