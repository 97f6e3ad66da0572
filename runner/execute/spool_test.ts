import assert from "node:assert/strict";
import fc from "fast-check";
import { fileSpool, SPOOL_READ_BYTES } from "./spool.ts";
import type { SpooledBody } from "../targets/mod.ts";

/** The body's text, each piece decoded as it comes (a piece may be emptied once the next is read). */
async function text(body: SpooledBody): Promise<string> {
  const dec = new TextDecoder();
  let out = "";
  for await (const piece of body.stream()) out += dec.decode(piece, { stream: true });
  return out + dec.decode();
}
const spoolFiles = (dir: string) =>
  [...Deno.readDirSync(dir)].filter((e) => e.name.startsWith(".spool-")).map((e) => e.name);

Deno.test("a spooled body streams back what was written, for every attempt, from a file nobody can open", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const logs: string[] = [];
    const spool = fileSpool(dir, (l) => logs.push(l));
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.string({ unit: "binary", maxLength: 50 }),
            // Pieces larger than the write buffer and the read size.
            fc.string({ minLength: 1, maxLength: 3 }).map((s) => s.repeat(120_000)),
          ),
          { maxLength: 8 },
        ),
        async (pieces) => {
          const w = spool.open();
          assert.deepEqual(spoolFiles(dir), [], "removed as soon as it was opened");
          for (const p of pieces) w.write(p);
          const body = w.end();
          const all = pieces.join("");
          assert.equal(body.size, new TextEncoder().encode(all).length);
          assert.equal(await text(body), all);
          assert.equal(await text(body), all, "a retry streams the same bytes");
          assert.equal(new TextDecoder().decode(body.bytes()), all);
          body.free();
          await assert.rejects(text(body), /freed/, "a freed body is not sent");
          assert.throws(() => body.bytes(), /freed/);
        },
      ),
      { numRuns: 60 },
    );
    assert.deepEqual(logs, [], "nothing fell back to memory");
    assert.deepEqual(spoolFiles(dir), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a spooled body is streamed in pieces of at most SPOOL_READ_BYTES, each given back once the next is asked for", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const w = fileSpool(dir, () => {}).open();
    w.write("x".repeat(SPOOL_READ_BYTES * 2 + 10));
    const body = w.end();
    const reader = body.stream().getReader();
    const pieces: Uint8Array[] = [];
    const lengths: number[] = [];
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      pieces.push(r.value);
      lengths.push(r.value.length);
    }
    assert.deepEqual(lengths, [SPOOL_READ_BYTES, SPOOL_READ_BYTES, 10]);
    assert.deepEqual(pieces.map((p) => p.length), [0, 0, 0], "each given back once read past");
    body.free();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("where no file can be made, bodies are kept in memory, said once", async () => {
  const logs: string[] = [];
  const spool = fileSpool("/nonexistent-folder/for-spool", (l) => logs.push(l));
  for (const s of ["a", "b"]) {
    const w = spool.open();
    w.write(`[${s}]`);
    const body = w.end();
    assert.equal(await text(body), `[${s}]`);
    assert.equal(await text(body), `[${s}]`);
    body.free();
  }
  assert.equal(logs.length, 1, logs.join("\n"));
  assert.match(
    logs[0]!,
    /Cannot keep upload bodies on disk in \/nonexistent-folder\/for-spool\/ .*keeping them in memory/,
  );
});

/** A real file whose writes fail after `ok` of them (a disk that fills up). */
function failingAfter(ok: number) {
  return (path: string): Deno.FsFile => {
    const file = Deno.openSync(path, { read: true, write: true, createNew: true, mode: 0o600 });
    let writes = 0;
    return {
      seekSync: (o: number, w: Deno.SeekMode) => file.seekSync(o, w),
      readSync: (b: Uint8Array) => file.readSync(b),
      writeSync: (b: Uint8Array) => {
        if (writes++ >= ok) throw new Error("No space left on device (os error 28)");
        return file.writeSync(b);
      },
      close: () => file.close(),
    } as unknown as Deno.FsFile;
  };
}

Deno.test("a body whose file stops taking writes goes on in memory, with what the file already held", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const ok of [0, 1, 2]) {
      const logs: string[] = [];
      const w = fileSpool(dir, (l) => logs.push(l), failingAfter(ok)).open();
      // Each piece over the write buffer goes to the file on its own: the failure can hit the
      // first, second or third write.
      const pieces = ["é".repeat(100_000), "b".repeat(100_000), "small", "ü".repeat(90_000)];
      for (const p of pieces) w.write(p);
      const body = w.end();
      assert.equal(await text(body), pieces.join(""), `failing after ${ok} writes`);
      assert.equal(await text(body), pieces.join(""));
      body.free();
      assert.equal(logs.length, 1);
      assert.match(logs[0]!, /No space left on device/);
    }
    assert.deepEqual(spoolFiles(dir), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
