/**
 * The one interface every target implements. Nothing outside `targets/` knows a target's URLs,
 * field names or answer shapes: the executor only submits batches, checks their status and reads
 * their results. Each target is a folder whose `mod.ts` exports one `TargetDefinition`; the
 * registry (runner/registry.ts) lists them.
 *
 * @module
 */
import type { z } from "zod";
import type { FieldType, MappedRow } from "../mapping/mod.ts";
import type { Keys } from "../util/key_column.ts";

export type { FieldType };

/** A batch of mapped rows, in source order, ready to send. */
export interface Batch {
  /** 0-based position of the batch in the run. */
  index: number;
  /** Target field names, in the order they are sent (CSV column order). */
  fields: readonly string[];
  /**
   * The mapped rows. When the target packs the batch as it fills (`Target.pack`), none is kept:
   * the array has the batch's length and holes, but for `duplicates: allow`'s rows of a key
   * already in the batch (every such row but the first, so an API's errors can be told apart by
   * their values). Read keys from `keys` and lines from `lines`; the rows themselves are all there
   * only when the batch was not packed that way.
   */
  rows: MappedRow[];
  /**
   * Source line of each row (same index as `rows`). The batcher keeps them in a typed array (no
   * 50,000-number array per batch for the garbage collector to promote); a plain array is one too.
   */
  lines: ArrayLike<number>;
  /**
   * The key field's value of each row (same index as `rows`), kept after the rows are let go:
   * read with `keys.at(i)`. The batcher keeps them compact (`KeyColumn`); a plain array is one too.
   */
  keys: Keys;
  /** The pipeline's key field (present in every row). */
  key: string;
}

/**
 * Where bodies packed ahead wait for their turn (see `Target.pack`): written once as their batch
 * fills, streamed anew for each attempt, freed when the exchange is over. The run's spool keeps
 * them on disk (`execute/spool.ts`), so waiting and in-flight bodies cost no memory whatever the
 * batch size and concurrency; `memorySpool` (`targets/_wire.ts`) keeps them in memory.
 */
export interface Spool {
  /** A new body, written piece by piece. */
  open(): SpoolWriter;
}

/** A body being written to a spool. */
export interface SpoolWriter {
  /** Appends text, as UTF-8. */
  write(text: string): void;
  /** The body is complete. */
  end(): SpooledBody;
}

/** A complete body in a spool. */
export interface SpooledBody {
  /** Its length in bytes. */
  readonly size: number;
  /**
   * The whole body from its first byte, for one attempt. A stream of a body already freed ends
   * with an error (the server answered before reading it all, and the exchange is over). A piece
   * may be emptied once the next one is asked for (its memory given back): read it as `fetch`
   * does, or copy it.
   */
  stream(): ReadableStream<Uint8Array>;
  /** The whole body in memory (for a body that must be zipped or put in a form). */
  bytes(): Uint8Array;
  /** Gives its bytes back at once; call it only when no request will read it again. */
  free(): void;
}

/** Serialises a batch's rows as the batch fills (see `Target.pack`). */
export interface RowPacker {
  /** Serialises the batch's next rows. */
  add(rows: readonly MappedRow[]): void;
  /** The batch is complete. */
  end(): void;
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

/** What a status check found: still running, or finished (per-row results come from `results`). */
export type StatusResult = { done: false; remoteStatus: string } | Finished;

/** A finished execution or job, as its status check reported it. */
export interface Finished {
  done: true;
  /** `failed` when the whole execution or job failed (not just some rows). */
  status: "completed" | "failed";
  remoteStatus: string;
  message?: string;
  /** JSON-safe data `results` needs (a download URL, the job's counts); journaled with it. */
  data?: Record<string, unknown>;
}

/** The per-row outcome of a finished batch. */
export interface BatchResults {
  counts: BatchCounts;
  /** Failed and skipped rows, as far as the API details them. */
  failures: RowFailure[];
  /** Contradictions in the API's answer (counts that do not add up); reported, never hidden. */
  problems: string[];
  /**
   * Row indexes (in the batch) the API never processed (Salesforce's "unprocessed records"):
   * they were never written, so the executor sends them again in a new job, once. They are not
   * in `counts`.
   */
  unprocessed?: number[];
}

/** A submitted batch: the remote id and anything the target needs to poll it. */
export interface Submission {
  id: string;
  /** Opaque, JSON-safe data the target wants back on `status` (e.g. the uploaded file's id). */
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
  /**
   * Called by `submit()` as soon as a remote id is known (a job created, before its upload and
   * close), so the executor journals it at once. JSON-safe, and never holding a secret.
   */
  checkpoint?(partial: Submission): void;
  /**
   * Registers a secret the target obtained at run time (an access token from a grant), so every
   * output hides it from then on, as it hides the pipeline's own secrets.
   */
  secret?(value: string): void;
}

/** What a target knows of the rows it will be sent, fixed at compile time. */
export interface RowShape {
  /** The pipeline's key field. */
  key: string;
  /** Target fields in wire order, with the type each was checked as. */
  fields: readonly { name: string; type: FieldType }[];
}

/** One kind of HTTP request a run makes, for `plan` and for the retry rules. */
export interface RequestInfo {
  /** Short name: "token", "upload", "create job", "status", "download results". */
  name: string;
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** How often it is sent: once a run, once a batch, once a status check, once a finished batch. */
  when: "per_run" | "per_batch" | "per_poll" | "on_finish";
  /**
   * Whether it may be repeated after a lost answer without writing anything twice. Safe requests
   * are retried on connection errors, timeouts, 5xx and 429; the others only when the request
   * provably did not reach the server or the server said it did not process it.
   */
  safeToRepeat: boolean;
  /** What `plan` prints: URL (no secrets) and body kind. */
  detail: string;
}

/** What the API takes in one batch, where it says. */
export interface TargetLimits {
  maxRowsPerBatch?: number;
  maxBytesPerBatch?: number;
  maxColumns?: number;
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
  /**
   * True when no request `submit` sends before it calls `ctx.checkpoint` carries a row or can
   * load one (Salesforce: the job is created empty; rows go to it after its id is known, and
   * only its close starts the load). A batch whose submit failed, or whose run died, before its
   * checkpoint was then provably not loaded, whatever became of its last request: at most an
   * empty job was left open. It is sent again rather than reported unknown.
   */
  readonly loadsNothingBeforeCheckpoint?: boolean;
  /** The API's own limits on one batch. */
  readonly limits: TargetLimits;
  /** Every kind of HTTP request a run makes, in the order a batch makes them. */
  requests(): RequestInfo[];
  /**
   * Fields the API is known to have, where it publishes them (Bigin's standard module fields),
   * and the fields it requires. `validate` warns about mapped fields not among them, with a
   * "did you mean" hint. Undefined when the target publishes nothing.
   */
  knownFields?():
    | { known: readonly string[]; required: readonly string[]; key?: string }
    | undefined;
  /**
   * Starts serialising a batch into the bytes `submit` will send, as the batch fills: the
   * batcher hands it the rows a chunk at a time and keeps none of them (see `Batch.rows`), so a
   * batch filling, waiting or in flight costs its wire bytes, its keys and its lines, never its
   * rows. Undefined when this batch cannot be packed that way (its rows are then kept, and
   * `submit` serialises them). Without it, rows are kept until the batch settles.
   *
   * @param spool where the packed bytes wait until `submit` sends them
   */
  pack?(batch: Batch, spool: Spool): RowPacker | undefined;
  /** Sends one batch; resolves when the API has accepted it and given it an id. */
  submit(batch: Batch, ctx: TargetContext): Promise<Submission>;
  /** Checks a submitted batch once (safe to repeat). */
  status(submission: Submission, batch: Batch, ctx: TargetContext): Promise<StatusResult>;
  /**
   * Per-row results of a finished batch (safe to repeat: the executor journals the finished
   * status first, and retries this call alone).
   */
  results(
    submission: Submission,
    done: Finished,
    batch: Batch,
    ctx: TargetContext,
  ): Promise<BatchResults>;
  /**
   * After a crash, for a batch whose job was created (checkpointed) but never confirmed
   * submitted: a job that was closed is returned to be polled; a job still open is aborted and
   * `"resend"` returned (its rows were never written). Safe to repeat.
   */
  recover?(partial: Submission, batch: Batch, ctx: TargetContext): Promise<Submission | "resend">;
}

/** What a target may use while it is built (nothing yet: reserved for build-time effects). */
export interface TargetEnv {
  /** Diagnostic log line on stderr (never given secrets). */
  log?: (message: string) => void;
}

/** A target as the registry lists it: its config schema, a factory and metadata. */
export interface TargetDefinition<S extends z.ZodType = z.ZodType> {
  /** The value of `target.api` that selects this definition. */
  api: string;
  /**
   * The `target` section's schema: a `z.strictObject` with `api: z.literal(api)`, built with the
   * shared pieces of `commonTargetFields`. Secret fields are marked `secret(...)`, settings that
   * may change between a run and its resumption `volatile(...)`.
   */
  schema: S;
  /** Builds the runnable target from a validated section. */
  create(config: z.output<S>, shape: RowShape, env: TargetEnv): Target;
  /** Human title for docs and plan, e.g. "Zoho Bigin Bulk Write". */
  title: string;
}
