import assert from "node:assert/strict";
import { RunnerError } from "../errors.ts";
import { writeAtomic, writeAtomicSync } from "./fs.ts";

async function tempDir(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "bulkrun-fs-" });
}

Deno.test("writeAtomic() creates the folders and replaces the file, leaving no temp file", async () => {
  const dir = await tempDir();
  try {
    const path = `${dir}/a/b/out.json`;
    await writeAtomic(path, "one");
    await writeAtomic(path, "two");
    assert.equal(await Deno.readTextFile(path), "two");
    const names = [...Deno.readDirSync(`${dir}/a/b`)].map((e) => e.name);
    assert.deepEqual(names, ["out.json"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeAtomic() calls in parallel on one path each leave a whole file", async () => {
  const dir = await tempDir();
  try {
    const path = `${dir}/out.txt`;
    const texts = Array.from({ length: 20 }, (_, i) => String(i).repeat(10_000));
    await Promise.all(texts.map((t) => writeAtomic(path, t)));
    assert.ok(texts.includes(await Deno.readTextFile(path)));
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["out.txt"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeAtomicSync() writes the file and leaves no temp file", async () => {
  const dir = await tempDir();
  try {
    writeAtomicSync(`${dir}/j/x.jsonl`, "a\n", { within: `${dir}/j` });
    writeAtomicSync(`${dir}/j/x.jsonl`, "a\nb\n", { within: `${dir}/j` });
    assert.equal(await Deno.readTextFile(`${dir}/j/x.jsonl`), "a\nb\n");
    assert.deepEqual([...Deno.readDirSync(`${dir}/j`)].map((e) => e.name), ["x.jsonl"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeAtomic() refuses a folder that is a symbolic link to outside `within`", async () => {
  const dir = await tempDir();
  try {
    await Deno.mkdir(`${dir}/work`);
    await Deno.mkdir(`${dir}/elsewhere`);
    await Deno.symlink(`${dir}/elsewhere`, `${dir}/work/out`);
    await assert.rejects(
      writeAtomic(`${dir}/work/out/s.json`, "x", { within: `${dir}/work` }),
      (err: unknown) =>
        err instanceof RunnerError && err.code === "usage" && /outside/.test(err.message),
    );
    assert.deepEqual([...Deno.readDirSync(`${dir}/elsewhere`)], []);
    // Without `within`, the caller asked for that place: the write goes through.
    await writeAtomic(`${dir}/work/out/s.json`, "x");
    assert.equal(await Deno.readTextFile(`${dir}/elsewhere/s.json`), "x");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeAtomic() refuses a file that is a symbolic link to outside `within`, dangling or not", async () => {
  const dir = await tempDir();
  try {
    await Deno.mkdir(`${dir}/work`);
    await Deno.writeTextFile(`${dir}/secret.txt`, "keep");
    await Deno.symlink(`${dir}/secret.txt`, `${dir}/work/s.json`);
    await Deno.symlink(`${dir}/not-yet.txt`, `${dir}/work/d.json`);
    for (const name of ["s.json", "d.json"]) {
      assert.throws(
        () => writeAtomicSync(`${dir}/work/${name}`, "x", { within: `${dir}/work` }),
        RunnerError,
      );
    }
    assert.equal(await Deno.readTextFile(`${dir}/secret.txt`), "keep");
    await assert.rejects(Deno.stat(`${dir}/not-yet.txt`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeAtomic() refuses a path that climbs out of `within` with ..", async () => {
  const dir = await tempDir();
  try {
    await Deno.mkdir(`${dir}/work`);
    await assert.rejects(
      writeAtomic(`${dir}/work/../s.json`, "x", { within: `${dir}/work` }),
      RunnerError,
    );
    await writeAtomic(`${dir}/work/./new/s.json`, "x", { within: `${dir}/work` });
    assert.equal(await Deno.readTextFile(`${dir}/work/new/s.json`), "x");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeAtomic() replaces a symbolic link inside `within` rather than writing through it", async () => {
  const dir = await tempDir();
  try {
    await Deno.writeTextFile(`${dir}/target.json`, "old");
    await Deno.symlink(`${dir}/target.json`, `${dir}/link.json`);
    await writeAtomic(`${dir}/link.json`, "new", { within: dir });
    assert.equal(await Deno.readTextFile(`${dir}/target.json`), "old");
    assert.equal((await Deno.lstat(`${dir}/link.json`)).isSymlink, false);
    assert.equal(await Deno.readTextFile(`${dir}/link.json`), "new");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
