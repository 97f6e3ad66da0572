/**
 * The poll schedule of one batch: the first check `interval` after the upload, each later one
 * `backoff` times further (at most `max_interval`), until `timeout` after the upload. Checks keep
 * to the schedule (upload + interval, + interval*backoff, ...) rather than waiting a full interval
 * after each answer, so slow status answers do not delay noticing completion.
 *
 * @module
 */
import { sleep } from "../util/sleep.ts";

export { sleep };

/** The pipeline's `polling` section, in milliseconds. */
export interface PollPolicy {
  interval: number;
  backoff: number;
  max_interval: number;
  timeout: number;
}

/** When to check a batch next, from the moment it was uploaded. */
export class PollSchedule {
  readonly #policy: PollPolicy;
  readonly #now: () => number;
  readonly #deadline: number;
  #wait: number;
  #at: number;

  /** Starts the schedule now (the upload was just accepted). */
  constructor(policy: PollPolicy, now: () => number) {
    this.#policy = policy;
    this.#now = now;
    const t = now();
    this.#deadline = t + policy.timeout;
    this.#wait = policy.interval;
    this.#at = t + this.#wait;
  }

  /** How long to wait before the next check, or undefined once the timeout has passed. */
  delay(): number | undefined {
    const t = this.#now();
    const remaining = this.#deadline - t;
    if (remaining <= 0) return undefined;
    return Math.max(0, Math.min(this.#at - t, remaining));
  }

  /** A check is being made: the one after it is due one (grown) interval later, never earlier than now. */
  advance(): void {
    const p = this.#policy;
    this.#wait = Math.min(this.#wait * p.backoff, p.max_interval);
    this.#at = Math.max(this.#at + this.#wait, this.#now());
  }

  /**
   * Waits until the next check is due; false once the timeout has passed (nothing waited).
   *
   * @param sleep the injected wait
   */
  async next(
    sleep: (ms: number, signal?: AbortSignal) => Promise<void>,
    signal?: AbortSignal,
  ): Promise<boolean> {
    const ms = this.delay();
    if (ms === undefined) return false;
    await sleep(ms, signal);
    this.advance();
    return true;
  }
}
