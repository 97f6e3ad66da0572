import assert from "node:assert/strict";
import fc from "fast-check";
import { unzipSync } from "fflate";
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
