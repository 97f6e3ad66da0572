/**
 * Turns for the runtime while an upload is on its way. Reading and mapping the next batch runs on
 * the same thread as the runtime's HTTP client, and the client writes a request's bytes only when
 * that thread's event loop goes idle. Reading a file does not make it idle: each read is done by
 * the time the reader asks for it. So while the reader worked through the next batch, the upload
 * of the one before waited: at concurrency 1, the API got the first bytes of a 1.2 MB body 5–12 ms
 * after `fetch`, and most of a 12 MB body only once the next batch was read, so reading and the
 * API's work on the upload took turns instead of overlapping (traced in the end-to-end bench).
 *
 * While a batch is being submitted, the reader gives the runtime a turn every 256 records (about
 * 0.4 ms of reading): 1M rows at 50,000 × 1 into the sandbox, 4.76–4.92 → 4.14–4.66 s; at
 * 50,000 × 4, the same time; the 200,000-row end-to-end case at concurrency 4, overhead 12.7–15.1%
 * → 10.3–12.1% and uploads 0.94–0.99 → 0.54–0.61 s in all (A/B runs in docs/performance.md). With
 * no upload on its way, reading never stops.
 *
 * @module
 */

/** Records read between two turns while an upload is on its way (a power of two). */
export const RECORDS_PER_TURN = 256;

const ONE_BYTE = new Uint8Array(1);

/**
 * Lets the runtime run its own tasks (an HTTP client's writes) before this thread goes on. A
 * digest is an operation the runtime completes on another thread, so the event loop goes idle
 * until it is done, a few microseconds later: long enough for the runtime's tasks, unlike a
 * microtask or a message (done on this thread, without going idle) or a timer (at least a
 * millisecond). Where a runtime ran digests on this thread, this would only cost the digest.
 */
export async function runtimeTurn(): Promise<void> {
  try {
    await crypto.subtle.digest("SHA-256", ONE_BYTE);
  } catch {
    // A turn is only for speed: a runtime without the digest still reads on.
  }
}

/** Counts the uploads on their way, and tells the reader when to give the runtime a turn. */
export class UploadTurns {
  #uploads = 0;
  #records = 0;

  /** Uploads on their way now. */
  get uploads(): number {
    return this.#uploads;
  }

  /** Counts `upload` as on its way until it settles, however it ends. */
  async during<T>(upload: Promise<T>): Promise<T> {
    this.#uploads++;
    try {
      return await upload;
    } finally {
      this.#uploads--;
    }
  }

  /**
   * Called once per record read: a turn of the runtime to wait for, every `RECORDS_PER_TURN`
   * records while an upload is on its way; otherwise nothing to wait for.
   */
  afterRecord(): Promise<void> | undefined {
    if (this.#uploads === 0) return undefined;
    if ((++this.#records & (RECORDS_PER_TURN - 1)) !== 0) return undefined;
    return runtimeTurn();
  }
}
