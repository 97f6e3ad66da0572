/**
 * The target contract of issue 10 (see the lead's contract), copied here until the reshaped
 * `runner/targets/types.ts` lands: the lead swaps this import for the shared one. Types that
 * exist today are re-exported from `../types.ts` unchanged.
 *
 * @module
 */
import type { z } from "zod";
import type {
  Batch,
  BatchCounts,
  RowFailure,
  RowShape,
  Submission,
  TargetContext as TodayContext,
} from "../types.ts";

export type { Batch, BatchCounts, RowFailure, RowShape, Submission };

/** Effects a target may use, with the multi-step job addition. */
export interface TargetContext extends TodayContext {
  /**
   * Called by submit() as soon as a remote id is known (job created, before upload/close), so
   * the executor journals it at once; data must be JSON-safe and hold no secret.
   */
  checkpoint?(partial: Submission): void;
}

/** Whatever the composition root hands every target (reserved; unused here). */
export type TargetEnv = Record<string, unknown>;

/** One HTTP request a run makes, for `plan` and the retry rules. */
export interface RequestInfo {
  name: string;
  method: string;
  when: "per_run" | "per_batch" | "per_poll" | "on_finish";
  /** Whether the request may be repeated after a lost answer without writing anything twice. */
  safeToRepeat: boolean;
  /** What plan prints: URL (no secrets), body kind. */
  detail: string;
}

/** A finished remote job. */
export interface Finished {
  done: true;
  status: "completed" | "failed";
  remoteStatus: string;
  message?: string;
  /** JSON-safe data results() needs; journaled with "finished". */
  data?: Record<string, unknown>;
}

/** One status check's answer. */
export type StatusResult = { done: false; remoteStatus: string } | Finished;

/** Per-row results of a finished batch. */
export interface BatchResults {
  counts: BatchCounts;
  failures: RowFailure[];
  problems: string[];
  /** Row indexes the API never processed: the executor sends them again in a new job, once. */
  unprocessed?: number[];
}

/** A compiled target, ready to run. */
export interface Target {
  readonly api: string;
  readonly batchSize: number;
  readonly concurrency: number;
  readonly duplicatesOnResend: boolean;
  readonly limits: { maxRowsPerBatch?: number; maxBytesPerBatch?: number; maxColumns?: number };
  /** Every HTTP request a run makes. */
  requests(): RequestInfo[];
  /** Fields the API is known to have, where it publishes them. */
  knownFields?():
    | { known: readonly string[]; required: readonly string[]; key?: string }
    | undefined;
  /** Sends one batch; resolves when the API accepted it and gave it an id. */
  submit(batch: Batch, ctx: TargetContext): Promise<Submission>;
  /** One status check (safe to repeat). */
  status(sub: Submission, batch: Batch, ctx: TargetContext): Promise<StatusResult>;
  /** Per-row results of a finished batch (safe to repeat). */
  results(sub: Submission, done: Finished, batch: Batch, ctx: TargetContext): Promise<BatchResults>;
  /** After a crash: poll a closed job, or abort an open one and resend its rows. */
  recover?(partial: Submission, batch: Batch, ctx: TargetContext): Promise<Submission | "resend">;
}

/** One API the runner can load into: its `target` schema and a factory. */
export interface TargetDefinition<S extends z.ZodType = z.ZodType> {
  /** The value of `target.api` that selects this definition. */
  api: string;
  /** The `target` section's zod schema. */
  schema: S;
  /** Builds the runnable target. */
  create(config: z.output<S>, shape: RowShape, env: TargetEnv): Target;
  /** Human title for docs and plan. */
  title: string;
}
