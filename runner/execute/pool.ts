/**
 * The concurrency pool: at most `limit` batches in flight, so memory holds only those.
 *
 * @module
 */

/** Runs tasks with at most `limit` of them in flight. */
export class Pool {
  readonly #limit: number;
  readonly #running = new Set<Promise<void>>();

  /** @param limit tasks allowed in flight at once (at least 1) */
  constructor(limit: number) {
    this.#limit = Math.max(1, limit);
  }

  /** Tasks in flight. */
  get size(): number {
    return this.#running.size;
  }

  /**
   * Waits until a task may start, or until `cancelled()` says none will.
   *
   * @returns false when cancelled
   * @throws whatever a finished task threw
   */
  async slot(cancelled: () => boolean = () => false): Promise<boolean> {
    while (this.#running.size >= this.#limit && !cancelled()) await Promise.race(this.#running);
    return !cancelled();
  }

  /** Starts a task; `settled` runs once it is done (and out of the pool). */
  start(task: () => Promise<void>, settled?: () => void): void {
    const p: Promise<void> = task().finally(() => {
      this.#running.delete(p);
      settled?.();
    });
    this.#running.add(p);
  }

  /** Waits for every task in flight. */
  async drain(): Promise<void> {
    await Promise.all(this.#running);
  }
}
