/**
 * The process exit codes, as the README documents them. `main.ts` returns them for commands and
 * the executor's verdict gives one per run.
 *
 * @module
 */

/** Exit codes: 0 ok, 1 rows failed, 2 invalid input, 3 API or transport error, 4 timed out. */
export const EXIT = { ok: 0, rowsFailed: 1, invalid: 2, transport: 3, timedOut: 4 } as const;

/** One of the exit codes. */
export type ExitCode = typeof EXIT[keyof typeof EXIT];
