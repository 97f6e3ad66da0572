/**
 * What a journal's earlier, unfinished run means for each batch of this run: a batch it finished
 * is counted again without sending it; one whose upload may have reached the API is unknown
 * (unless `resend_uncertain`); one it saw accepted is waited for again, never resent.
 *
 * @module
 */
import type { PriorBatch } from "../journal.ts";
import type { Submission } from "../targets/mod.ts";
import type { InFlight } from "./batcher.ts";
import { type LifecycleDeps, settle } from "./lifecycle.ts";

/** What to do with a batch, given what the earlier run left for it. */
export type ResumeAction =
  | { kind: "replay"; prior: Extract<PriorBatch, { state: "done" }> }
  | { kind: "unknown"; message: string }
  | { kind: "wait"; submission: Submission }
  | { kind: "send" };

/**
 * Decides what to do with a batch from the earlier run's state of it.
 *
 * @param prior the batch's state in the journal; undefined when it never got that far
 * @param resendUncertain `target.resend_uncertain`: send uploads of unknown fate again
 */
export function resumeAction(
  prior: PriorBatch | undefined,
  resendUncertain: boolean,
): ResumeAction {
  switch (prior?.state) {
    case "done":
      return { kind: "replay", prior };
    case "uncertain":
      return resendUncertain
        ? { kind: "send" }
        : { kind: "unknown", message: `${prior.message} (earlier run)` };
    case "accepted":
      return { kind: "wait", submission: prior.submission };
    default:
      return { kind: "send" };
  }
}

/** Counts a batch the earlier run finished, without sending it again. */
export function replay(
  f: InFlight,
  prior: Extract<PriorBatch, { state: "done" }>,
  d: Pick<LifecycleDeps, "ledger" | "rejects" | "changes">,
): void {
  const { event: _e, batch: _b, at, ...outcome } = prior.event;
  settle(f, outcome, d, {
    ...(prior.submission ? { executionId: prior.submission.id } : {}),
    at,
    message: `Finished in the earlier run${outcome.message ? `: ${outcome.message}` : ""}`,
  });
}
