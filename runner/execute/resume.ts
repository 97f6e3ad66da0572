/**
 * What a journal's earlier, unfinished run means for each batch of this run: a batch it finished
 * is counted again without sending it; one whose upload may have reached the API is unknown
 * (unless `resend_uncertain`); one it saw accepted is waited for again, never resent; one whose
 * job was created but not confirmed closed is recovered by the target, when it can.
 *
 * @module
 */
import type { PriorBatch } from "../journal.ts";
import type { Submission } from "../targets/mod.ts";
import type { InFlight } from "./batcher.ts";
import { type LifecycleDeps, remapUnprocessed, settle } from "./lifecycle.ts";

/** What to do with a batch, given what the earlier run left for it. */
export type ResumeAction =
  | { kind: "replay"; prior: Extract<PriorBatch, { state: "done" }> }
  | { kind: "unknown"; message: string }
  | { kind: "wait"; submission: Submission }
  | { kind: "recover"; submission: Submission }
  | { kind: "send" };

/**
 * Decides what to do with a batch from the earlier run's state of it.
 *
 * @param prior the batch's state in the journal; undefined when it never got that far
 * @param resendUncertain `target.resend_uncertain`: send uploads of unknown fate again
 * @param canRecover whether the target has `recover` (else a created job is an upload of
 *   unknown fate, as before)
 * @param loadsNothingBeforeCheckpoint `Target.loadsNothingBeforeCheckpoint`: a batch whose run
 *   died before its job id was journaled was not loaded, and is sent
 */
export function resumeAction(
  prior: PriorBatch | undefined,
  resendUncertain: boolean,
  canRecover = false,
  loadsNothingBeforeCheckpoint = false,
): ResumeAction {
  switch (prior?.state) {
    case "done":
      return { kind: "replay", prior };
    case "created":
      if (canRecover) return { kind: "recover", submission: prior.submission };
      return resendUncertain ? { kind: "send" } : {
        kind: "unknown",
        message: `${
          prior.message ??
            `The runner stopped after job ${prior.submission.id} was created, before it was confirmed closed`
        } (earlier run)`,
      };
    case "uncertain":
      if (prior.submitOnly && loadsNothingBeforeCheckpoint) return { kind: "send" };
      return resendUncertain
        ? { kind: "send" }
        : { kind: "unknown", message: `${prior.message} (earlier run)` };
    case "accepted":
      return { kind: "wait", submission: prior.submission };
    default:
      return { kind: "send" };
  }
}

/**
 * Counts a batch the earlier run finished, without sending it again.
 *
 * @returns the follow-up batch of the rows the API left unprocessed, when there were some (their
 *   rows mapped again from the source, as for a batch finished in this run)
 */
export async function replay(
  f: InFlight,
  prior: Extract<PriorBatch, { state: "done" }>,
  d: Pick<LifecycleDeps, "ledger" | "rejects" | "changes" | "remap">,
): Promise<InFlight | undefined> {
  const { event: _e, batch: _b, at, ...done } = prior.event;
  const { outcome, mapped } = await remapUnprocessed(f.batch, done, d);
  return settle(f, outcome, d, {
    ...(prior.submission ? { executionId: prior.submission.id } : {}),
    at,
    message: `Finished in the earlier run${outcome.message ? `: ${outcome.message}` : ""}`,
  }, mapped);
}
