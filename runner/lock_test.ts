import assert from "node:assert/strict";
import { acquireLock, lockPath } from "./lock.ts";

/**
 * Starts a process that locks `path`, says "locked", and only `writeAfterMs` later writes its name
 * in the file (as a run does right after it locked it, in a gap that load can stretch).
 */
async function slowHolder(path: string, writeAfterMs: number) {
  const code = `
    const file = Deno.openSync(${JSON.stringify(path)}, { read: true, write: true, create: true });
    if (!file.tryLockSync(true)) Deno.exit(9);
    console.log("locked");
    await new Promise((r) => setTimeout(r, ${writeAfterMs}));
    file.writeSync(new TextEncoder().encode(JSON.stringify({ pid: 4242, host: "elsewhere", since: "2026-12-02T00:00:00.000Z", command: "bulkrun run p.yaml" }) + "\\n"));
    await new Promise((r) => setTimeout(r, 3000));
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const { value } = await reader.read();
  assert.equal(value?.trim(), "locked");
  return {
    async stop() {
      child.kill("SIGKILL");
      await child.status;
      await reader.cancel();
    },
  };
}

/** What `acquireLock` says while a slow holder (see `slowHolder`) has the lock. */
async function secondRunSays(writeAfterMs: number, says: RegExp): Promise<void> {
  const dir = await Deno.makeTempDir();
  const holder = await slowHolder(lockPath(dir, "p"), writeAfterMs);
  try {
    assert.throws(() => acquireLock(dir, "p", "bulkrun run p.yaml", () => {}), says);
  } finally {
    await holder.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a second run names the holder that wrote its name just after it locked the file", async () => {
  await secondRunSays(
    60,
    /in progress: run 4242 on elsewhere since 2026-12-02T00:00:00.000Z \(bulkrun run p.yaml\) holds/,
  );
});

Deno.test("a second run calls a holder that never writes its name unknown, and sends nothing", async () => {
  await secondRunSays(
    2000,
    /in progress: another run \(the lock file is unreadable\) holds .*nothing was sent/,
  );
});
