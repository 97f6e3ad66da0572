/**
 * The live progress line on stderr: redrawn in place on a terminal, plain periodic lines
 * otherwise (CI logs).
 *
 * @module
 */
import type { Progress } from "../execute.ts";
import { plural } from "./human.ts";

/** Renders progress to a line-writer; returns the callback `execute` takes. */
export function progressPrinter(
  name: string,
  write: (text: string) => void,
  tty: boolean,
  plainEveryMs = 10_000,
): (p: Progress) => void {
  let lastPlain = 0;
  return (p) => {
    const text = `${name}: ${p.phase} - ${plural(p.read, "row")} read, ${p.rejected} rejected, ${
      plural(p.batchesSent, "batch", "batches")
    } sent, ${plural(p.pending, "execution")} pending, ${(p.elapsedMs / 1000).toFixed(0)} s`;
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
