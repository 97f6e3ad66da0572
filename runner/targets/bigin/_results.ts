/**
 * Joining a finished Bigin job back to its batch: the result CSV's STATUS and ERRORS per row into
 * counts and failures, and a failed job's counts.
 *
 * @module
 */
import { HttpError } from "../../errors.ts";
import type { Value } from "../../mapping/mod.ts";
import { csvRows } from "../_csv.ts";
import type { Batch, BatchResults, RowFailure } from "../types.ts";
import type { BiginJobCounts, BiginJobDone } from "./_job.ts";
import { csvText, toZohoDateTime } from "./_wire.ts";

/** One error of a result row: `MANDATORY_NOT_FOUND-Company,Last_Name` is a code and its columns. */
export interface BiginRowError {
  code: string;
  fields: string[];
}

const ERROR_PART = /^([A-Z][A-Z0-9_]*)(?:-(.*))?$/s;

/**
 * Parses a result row's `ERRORS` cell: errors joined by `:`, each `CODE-Column[,Column...]`.
 *
 * @returns the errors, or `undefined` when the text does not have that shape (free text)
 * @example
 * parseRowErrors("MANDATORY_NOT_FOUND-Company,Last_Name:DUPLICATE_DATA-Email")
 * // [{ code: "MANDATORY_NOT_FOUND", fields: ["Company", "Last_Name"] },
 * //  { code: "DUPLICATE_DATA", fields: ["Email"] }]
 */
export function parseRowErrors(text: string): BiginRowError[] | undefined {
  const out: BiginRowError[] = [];
  for (const part of text.split(":")) {
    const p = part.trim();
    if (p === "") continue;
    const m = ERROR_PART.exec(p);
    if (!m) return undefined;
    const fields = (m[2] ?? "").split(",").map((f) => f.trim()).filter((f) => f !== "");
    out.push({ code: m[1]!, fields });
  }
  return out;
}

/** Formats parsed errors for people: `MANDATORY_NOT_FOUND: Company, Last_Name; DUPLICATE_DATA: Email`. */
export function formatRowErrors(errors: readonly BiginRowError[]): string {
  return errors.map((e) => (e.fields.length > 0 ? `${e.code}: ${e.fields.join(", ")}` : e.code))
    .join("; ");
}

function keyText(v: Value | undefined): string | undefined {
  return v === null || v === undefined ? undefined : String(v);
}

function lastIndex(header: readonly string[], name: string): number {
  for (let i = header.length - 1; i >= 0; i--) {
    if (header[i]!.trim().toUpperCase() === name) return i;
  }
  return -1;
}

/** Error codes with which a skipped row is a plain skip rather than a failure. */
const BENIGN_SKIP_CODES = new Set(["DUPLICATE_DATA", "RESOURCE_NOT_FOUND"]);

/**
 * Joins a job's result CSV to its batch: result line `i` is batch row `i` (Bigin keeps upload
 * order). `added`/`updated` rows succeeded; `skipped` rows whose errors only say the record was
 * a duplicate (insert) or not found (update) are skipped; every other row (`skipped` for bad
 * data, `unprocessed`, blank) failed. Counts come from the file; where they disagree with the job's own
 * counts or with the rows sent, the disagreement is a problem.
 *
 * @param text the result CSV, whole or in pieces
 * @param batch the batch the job loaded
 * @param job the counts the job's details gave, to cross-check
 * @throws {HttpError} `transport` when the file has no `STATUS` column
 */
export function readResultCsv(
  text: string | Iterable<string>,
  batch: Batch,
  job?: BiginJobCounts,
): BatchResults {
  // A row at a time: 25,000 rows of cells, all kept until the join ended, were promoted by the
  // garbage collector (heap up to 160 MB at concurrency 4).
  const records = csvRows(text);
  const first = records.next();
  const header = first.done ? [] : first.value;
  // The status columns follow the uploaded ones, which may have a field of the same name.
  const statusAt = lastIndex(header, "STATUS");
  const errorsAt = lastIndex(header, "ERRORS");
  if (statusAt < 0) {
    throw new HttpError(
      "transport",
      200,
      `Result file has no STATUS column: header is ${JSON.stringify(header.slice(0, 20))}`,
    );
  }
  const keyAt = header.slice(0, statusAt).findIndex((h) => h === batch.key);
  const sent = batch.rows.length;
  let read = 0;
  const problems: string[] = [];
  const failures: RowFailure[] = [];
  let added = 0, updated = 0, skipped = 0, failed = 0, statusSkipped = 0;
  let misplaced = 0;
  let firstMisplaced = "";

  for (let i = 0; i < sent; i++) {
    const key = keyText(batch.keys.at(i));
    const next = records.next();
    const line = next.done ? undefined : next.value;
    if (line === undefined) {
      failed++;
      failures.push({
        row: i,
        ...(key !== undefined ? { key } : {}),
        message: "Bigin's result file has no line for this row",
        outcome: "failed",
      });
      continue;
    }
    read++;
    const sentKey = csvText(batch.keys.at(i));
    const gotKey = line[keyAt] ?? "";
    if (keyAt >= 0 && gotKey !== sentKey && gotKey !== toZohoDateTime(sentKey)) {
      if (misplaced++ === 0) {
        firstMisplaced = `line ${i + 2} has ${batch.key} "${gotKey}" where row ${
          i + 1
        } sent "${sentKey}"`;
      }
    }
    const status = (line[statusAt] ?? "").trim().toLowerCase();
    if (status === "added") {
      added++;
      continue;
    }
    if (status === "updated") {
      updated++;
      continue;
    }
    const rawErrors = errorsAt >= 0 ? (line[errorsAt] ?? "").trim() : "";
    const parsed = rawErrors === "" ? [] : parseRowErrors(rawErrors);
    const first = parsed?.[0];
    // Bigin marks rows with bad data "skipped" too; only a skip that says the record simply was
    // not there to update, or already there to insert, is a skip. Anything else is a failure.
    if (status === "skipped") statusSkipped++;
    const benign = status === "skipped" &&
      (parsed ?? []).every((e) => BENIGN_SKIP_CODES.has(e.code));
    const outcome = benign ? "skipped" : "failed";
    if (outcome === "skipped") skipped++;
    else failed++;
    const detail = parsed === undefined ? rawErrors : formatRowErrors(parsed);
    failures.push({
      row: i,
      ...(key !== undefined ? { key } : {}),
      ...(first?.fields[0] !== undefined ? { field: first.fields[0] } : {}),
      ...(first ? { code: first.code } : {}),
      message: detail !== ""
        ? detail
        : outcome === "skipped"
        ? "Bigin skipped the row"
        : `Bigin did not load the row: status "${line[statusAt] ?? ""}"`,
      outcome,
    });
  }

  for (const _ of records) read++;
  if (read !== sent) {
    problems.push(`Result file has ${read} rows, but ${sent} rows were sent`);
  }
  if (misplaced > 0) {
    problems.push(
      `Result file is not in upload order for ${misplaced} rows (${firstMisplaced}): rows may be misattributed`,
    );
  }
  if (job) {
    const check = (name: string, reported: number | undefined, found: number) => {
      if (reported !== undefined && reported !== found) {
        problems.push(`Job reports ${name} ${reported}, but the result file has ${found}`);
      }
    };
    check("added_count", job.added, added);
    check("updated_count", job.updated, updated);
    check("skipped_count", job.skipped, statusSkipped);
    if (job.total !== undefined && job.total !== sent) {
      problems.push(`Job reports total_count ${job.total}, but ${sent} rows were sent`);
    }
  }
  return { counts: { succeeded: added + updated, failed, skipped }, failures, problems };
}

/**
 * The results of a failed job: counts from the job where it gives them, otherwise every row
 * failed and listed with the job's message.
 */
export function failedJobResult(job: BiginJobDone, batch: Batch): BatchResults {
  const sent = batch.rows.length;
  const message = `Bigin job failed${job.message ? `: ${job.message}` : ""}`;
  const c = job.counts;
  const succeeded = (c?.added ?? 0) + (c?.updated ?? 0);
  const skipped = c?.skipped ?? 0;
  const problems: string[] = [];
  const failures: RowFailure[] = [];
  if (succeeded + skipped === 0) {
    for (let i = 0; i < batch.keys.length; i++) {
      const key = keyText(batch.keys.at(i));
      failures.push({ row: i, ...(key !== undefined ? { key } : {}), message, outcome: "failed" });
    }
  } else {
    problems.push(
      `Job failed after loading ${succeeded} and skipping ${skipped} of ${sent} rows: which rows failed is not known`,
    );
  }
  if (succeeded + skipped > sent) {
    problems.push(
      `Job counts ${succeeded + skipped} rows loaded or skipped, but ${sent} rows were sent`,
    );
  }
  return {
    counts: { succeeded, skipped, failed: Math.max(0, sent - succeeded - skipped) },
    failures,
    problems,
  };
}
