import assert from "node:assert/strict";
import fc from "fast-check";
import { unzipSync, Zip, ZipDeflate, ZipPassThrough, zipSync } from "fflate";
import { RunnerError } from "../errors.ts";
import { concatBytes } from "../util/bytes.ts";
import { crc32 } from "node:zlib";
import { unzipOne, zipOne, ZipWriter } from "./_zip.ts";

Deno.test("a ZIP written piece by piece holds the file, its CRC-32 and sizes, for random pieces and names", () => {
  fc.assert(
    fc.property(
      // A name ending in "/" is a folder to every reader.
      fc.string({ minLength: 1, maxLength: 20 }).filter((n) => !n.endsWith("/")),
      fc.array(fc.uint8Array({ maxLength: 3000 }), { maxLength: 6 }),
      (name, pieces) => {
        const zip = new ZipWriter(name);
        for (const p of pieces) zip.push(p);
        const { parts, size } = zip.end();
        const archive = new Uint8Array(size);
        let at = 0;
        for (const p of parts) {
          archive.set(p, at);
          at += p.length;
        }
        const data = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
        at = 0;
        for (const p of pieces) {
          data.set(p, at);
          at += p.length;
        }
        // Another reader (fflate) finds the one entry by its name.
        assert.deepEqual(unzipSync(archive)[name], data);
        const entry = unzipOne(archive, data.length + 1);
        assert.equal(entry.name, name);
        assert.deepEqual(entry.data, data);
        const v = new DataView(archive.buffer);
        assert.equal(v.getUint32(14, true), crc32(data) >>> 0, "the local header's CRC-32");
        assert.equal(v.getUint32(22, true), data.length, "the local header's size");
      },
    ),
    { numRuns: 100 },
  );
});

Deno.test("zipOne deflates: 1 MB of CSV is a small archive", () => {
  const csv = new TextEncoder().encode("id,name\r\n" + "42,Ünïcode name\r\n".repeat(60_000));
  const zip = zipOne("batch-1.csv", csv);
  assert.ok(zip.length < csv.length / 20, `${zip.length} bytes`);
  assert.deepEqual(unzipOne(zip, csv.length).data, csv);
});

/** A ZIP written by fflate's streaming writer: data descriptors, sizes 0 in the local header. */
function streamedByFflate(name: string, data: Uint8Array, level: 0 | 6): Uint8Array {
  const parts: Uint8Array[] = [];
  const zip = new Zip((err, chunk) => {
    if (err) throw err;
    parts.push(chunk);
  });
  const file = level === 0 ? new ZipPassThrough(name) : new ZipDeflate(name, { level });
  zip.add(file);
  file.push(data, true);
  zip.end();
  return concatBytes(parts);
}

Deno.test("unzipOne reads what other writers make: data descriptors, stored entries, a comment", () => {
  const data = new TextEncoder().encode("Record Id,Status\r\n" + "123,ADDED\r\n".repeat(5000));
  for (const level of [0, 6] as const) {
    const entry = unzipOne(streamedByFflate("result.csv", data, level), data.length);
    assert.deepEqual([entry.name, entry.data], ["result.csv", data], `level ${level}`);
  }
  const stored = zipSync({ "r.csv": [data, { level: 0 }] }, { comment: "made by a server" });
  assert.deepEqual(unzipOne(stored, data.length).data, data);
  assert.throws(() => unzipOne(stored, data.length - 1), /declares \d+ bytes uncompressed/);
});

Deno.test("unzipOne refuses a cut-off or damaged archive, naming what it reads", () => {
  const zip = zipOne("r.csv", new TextEncoder().encode("x,y\r\n".repeat(1000)));
  assert.throws(
    () => unzipOne(zip.subarray(0, zip.length - 5), 1e6, "the result"),
    (e) => e instanceof RunnerError && /^Cannot read the result: not a ZIP archive/.test(e.message),
  );
  const damaged = zip.slice();
  damaged[40] = damaged[40]! ^ 0xff; // inside the deflated data
  damaged[41] = damaged[41]! ^ 0xff;
  assert.throws(
    () => unzipOne(damaged, 1e6, "the result"),
    (e) =>
      e instanceof RunnerError && /^Cannot read the result: "r.csv" is corrupt/.test(e.message),
  );
});

Deno.test("unzipOne refuses a file whose bytes do not match its CRC-32", () => {
  const zip = zipSync({ "r.csv": [new TextEncoder().encode("a,b\r\n1,2\r\n"), { level: 0 }] });
  const changed = zip.slice();
  changed[30 + 5] = "A".charCodeAt(0); // the stored file's first byte
  assert.equal(new TextDecoder().decode(unzipOne(zip, 100).data), "a,b\r\n1,2\r\n");
  assert.throws(() => unzipOne(changed, 100, "the result"), (e) =>
    e instanceof RunnerError &&
    e.message === 'Cannot read the result: "r.csv" is corrupt (its CRC-32 does not match)');
});
