/**
 * The one interface every target implements. Nothing outside `targets/` knows a target's URLs,
 * field names or answer shapes: the executor only submits batches and polls them.
 *
 * @module
 */
import type { MappedRow } from "../mapping/mod.ts";
import type { FIELD_TYPES } from "../config/schema.ts";

/** The type a mapped field was checked as. */
export type FieldType = typeof FIELD_TYPES[number];

/** A batch of mapped rows, in source order, ready to send. */
export interface Batch {
  /** 0-based position of the batch in the run. */
  index: number;
  /** Target field names, in the order they are sent (CSV column order). */
  fields: readonly string[];
  rows: MappedRow[];
  /** Source line of each row (same index as `rows`). */
  lines: number[];
  /** The pipeline's key field (present in every row). */
  key: string;
}

/** Per-row counts a target reports for one batch. */
export interface BatchCounts {
  succeeded: number;
  failed: number;
  skipped: number;
}

/** One row the remote side did not load. */
export interface RowFailure {
  /** Index of the row in its batch when the target could tell which row it was. */
  row?: number;
  /** Value of the key field as the API reported it. */
  key?: string;
  field?: string;
  /** The API's own error code, where it has one (Bigin: `MANDATORY_NOT_FOUND`). */
  code?: string;
  message: string;
  /** `skipped` for rows the API skipped rather than failed. */
  outcome?: "failed" | "skipped";
}

/** What a poll found: still running, or finished with per-row results. */
export type PollResult =
  | { done: false; remoteStatus: string }
  | {
    done: true;
    /** `failed` when the whole execution or job failed (not just some rows). */
    status: "completed" | "failed";
    remoteStatus: string;
    message?: string;
    counts: BatchCounts;
    /** Failed and skipped rows, as far as the API details them. */
    failures: RowFailure[];
    /** Contradictions in the API's answer (counts that do not add up); reported, never hidden. */
    problems: string[];
  };

/** A submitted batch: the remote id and anything the target needs to poll it. */
export interface Submission {
  id: string;
  /** Opaque, JSON-safe data the target wants back on `poll` (e.g. a job's download URL). */
  data?: Record<string, unknown>;
}

/** Effects a target may use; injected so tests can hand in a fake `fetch`. */
export interface TargetContext {
  fetch: typeof fetch;
  /**
   * The fetch for requests that must reach the server at most once (uploads, job creation).
   * Deno's fetch silently resends a request whose reused keep-alive connection dropped; this
   * one opens a fresh connection each time, which is never resent. Defaults to `fetch`.
   */
  fetchOnce?: typeof fetch;
  /** Retry budget from the pipeline's `target.retries`. */
  retry?: { attempts: number; baseDelayMs: number; maxDelayMs: number };
  /** Diagnostic log line on stderr (never given secrets). */
  log: (message: string) => void;
  signal?: AbortSignal;
}

/** What a target knows of the rows it will be sent, fixed at compile time. */
export interface RowShape {
  /** The pipeline's key field. */
  key: string;
  /** Target fields in wire order, with the type each was checked as. */
  fields: readonly { name: string; type: FieldType }[];
}

/** A step as `plan` shows it. */
export interface PlanStep {
  name: string;
  detail: string;
}

/** A compiled target, ready to run. */
export interface Target {
  readonly api: string;
  /** Rows per batch (the target may cap the configured value at its API limit). */
  readonly batchSize: number;
  /** Batches allowed in flight at once. */
  readonly concurrency: number;
  /**
   * Whether sending the same row twice creates a second record (an insert), rather than
   * updating the first. Such pipelines refuse to load the same file twice without `--force`.
   */
  readonly duplicatesOnResend: boolean;
  /** Steps a run performs per batch, for `plan`. */
  describe(): PlanStep[];
  /**
   * Fields the API is known to have, where it publishes them (Bigin's standard module fields),
   * and the fields it requires. `validate` warns about mapped fields not among them, with a
   * "did you mean" hint. Undefined when the target publishes nothing.
   */
  knownFields?():
    | { known: readonly string[]; required: readonly string[]; key?: string }
    | undefined;
  /** Sends one batch; resolves when the API has accepted it and given it an id. */
  submit(batch: Batch, ctx: TargetContext): Promise<Submission>;
  /** Checks a submitted batch once. */
  poll(submission: Submission, batch: Batch, ctx: TargetContext): Promise<PollResult>;
}
