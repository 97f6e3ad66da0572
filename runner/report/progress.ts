/**
 * The live progress line on stderr: redrawn in place on a terminal, plain periodic lines
 * otherwise (CI logs).
 *
 * @module
 */
import type { Progress } from "../execute/mod.ts";
import { count } from "../util/format.ts";

/** Renders progress to a line-writer; returns the callback `execute` takes. */
export function progressPrinter(
  name: string,
  write: (text: string) => void,
  tty: boolean,
  plainEveryMs = 10_000,
): (p: Progress) => void {
  let lastPlain = 0;
  return (p) => {
    const text = `${name}: ${p.phase} - ${count(p.read, "row")} read, ${p.rejected} rejected, ${
      count(p.batchesSent, "batch", "batches")
    } sent, ${count(p.pending, "execution")} pending, ${(p.elapsedMs / 1000).toFixed(0)} s`;
    if (tty) {
      write(`\r\x1b[2K${p.phase === "done" ? "" : text}`);
      return;
    }
    if (p.phase === "done" || p.elapsedMs - lastPlain >= plainEveryMs) {
      lastPlain = p.elapsedMs;
      if (p.phase !== "done") write(text + "\n");
    }
  };
}
