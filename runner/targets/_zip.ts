/**
 * ZIP helpers for the targets, on the runtime's native zlib: packing one file into an upload ZIP,
 * and reading the one file out of a result ZIP without ever inflating more than a set number of
 * bytes.
 *
 * @module
 */
import { crc32, deflateRawSync, inflateRawSync } from "node:zlib";
import { RunnerError } from "../errors.ts";
import { concatBytes } from "../util/bytes.ts";

/** Packs one file into a ZIP archive (deflated). */
export function zipOne(name: string, data: Uint8Array): Uint8Array {
  const zip = new ZipWriter(name);
  zip.push(data);
  return concatBytes(zip.end().parts);
}

/**
 * zlib's level 4. On 30 MB of the bench's CSV in Bigin-sized pieces: level 6 (zlib's default, and
 * fflate's, which this replaced) 314 ms for 4.58 MB; level 4 202 ms for 4.73 MB (3% more bytes);
 * level 3 158 ms for 5.10 MB; level 1 157 ms for 7.39 MB. fflate's level 6 took 610 ms.
 */
const DEFLATE_LEVEL = 4;

/**
 * One file packed into a ZIP archive (deflated by the runtime's native zlib), given in pieces:
 * the file's pieces are kept until `end`, which deflates them in one call and writes the ZIP
 * records around the result (no data descriptor, no ZIP64: the sizes are known, and under 4 GiB).
 * Native zlib deflates 30 MB of CSV in 280 ms where fflate, in JavaScript, took 610 ms, and its
 * CRC-32 is nearly free.
 */
export class ZipWriter {
  readonly #name: Uint8Array;
  #pieces: Uint8Array[] = [];
  #size = 0;
  #crc = 0;

  constructor(name: string) {
    this.#name = new TextEncoder().encode(name);
  }

  /** Adds the file's next piece. */
  push(piece: Uint8Array): void {
    if (piece.length === 0) return;
    this.#pieces.push(piece);
    this.#size += piece.length;
    this.#crc = crc32(piece, this.#crc);
  }

  /**
   * Ends the file and the archive; returns the archive's pieces and their total size.
   *
   * @throws {RangeError} when the file or its compressed form reaches 4 GiB
   */
  end(): { parts: Uint8Array[]; size: number } {
    const pieces = this.#pieces;
    this.#pieces = [];
    const data = concatBytes(pieces);
    const deflated = plain(deflateRawSync(data, { level: DEFLATE_LEVEL }));
    if (this.#size >= 2 ** 32 || deflated.length >= 2 ** 32) {
      throw new RangeError("A ZIP entry of 4 GiB or more needs ZIP64, which is not written");
    }
    const name = this.#name;
    // Bit 11: the name is UTF-8.
    const flags = name.some((b) => b >= 0x80) ? 0x0800 : 0;
    const [time, date] = dosTime(new Date());
    // The fields both headers share, from "version needed" to the name's length: the local
    // header has them at 4, the central directory entry at 6 (after "made by").
    const fields = (v: DataView, at: number) => {
      v.setUint16(at, 20, true); // version needed: 2.0 (deflate)
      v.setUint16(at + 2, flags, true);
      v.setUint16(at + 4, 8, true); // deflate
      v.setUint16(at + 6, time, true);
      v.setUint16(at + 8, date, true);
      v.setUint32(at + 10, this.#crc >>> 0, true);
      v.setUint32(at + 14, deflated.length, true);
      v.setUint32(at + 18, this.#size, true);
      v.setUint16(at + 22, name.length, true);
    };
    const local = new Uint8Array(30 + name.length);
    const l = new DataView(local.buffer);
    l.setUint32(0, 0x04034b50, true);
    fields(l, 4);
    local.set(name, 30);
    const central = new Uint8Array(46 + name.length + 22);
    const c = new DataView(central.buffer);
    c.setUint32(0, 0x02014b50, true);
    c.setUint16(4, 20, true); // made by: 2.0
    fields(c, 6);
    // extra, comment, disk, internal and external attributes, local header offset: 0.
    central.set(name, 46);
    const end = 46 + name.length;
    c.setUint32(end, 0x06054b50, true);
    c.setUint16(end + 8, 1, true); // entries on this disk
    c.setUint16(end + 10, 1, true); // entries
    c.setUint32(end + 12, 46 + name.length, true); // central directory size
    c.setUint32(end + 16, local.length + deflated.length, true); // its offset
    return {
      parts: [local, deflated, central],
      size: local.length + deflated.length + central.length,
    };
  }
}

/** MS-DOS time and date of `d` (local time, as ZIP tools read it); 1980 at the earliest. */
function dosTime(d: Date): [number, number] {
  const year = Math.max(1980, d.getFullYear());
  return [
    (d.getHours() << 11) | (d.getMinutes() << 5) | (d.getSeconds() >> 1),
    ((year - 1980) << 9) | ((d.getMonth() + 1) << 5) | d.getDate(),
  ];
}

/** A node `Buffer`'s bytes as a plain `Uint8Array` (no copy). */
function plain(b: Uint8Array): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function zipError(what: string, detail: string, cause?: unknown): RunnerError {
  return new RunnerError("transport", `Cannot read ${what}: ${detail}`, { cause });
}

/** One entry of a ZIP's central directory. */
interface ZipEntry {
  name: string;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

/**
 * The entries of a ZIP's central directory (no ZIP64: the runner reads result files of a few MB).
 *
 * @throws {Error} when the bytes are not a ZIP archive
 */
function centralDirectory(zip: Uint8Array): ZipEntry[] {
  const v = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  // The end record is the last 22 bytes, followed by a comment of up to 65,535.
  let end = -1;
  for (let i = zip.length - 22; i >= 0 && i >= zip.length - 22 - 0xffff; i--) {
    if (v.getUint32(i, true) === 0x06054b50 && i + 22 + v.getUint16(i + 20, true) === zip.length) {
      end = i;
      break;
    }
  }
  if (end < 0) throw new Error("no end of central directory record");
  const count = v.getUint16(end + 10, true);
  let at = v.getUint32(end + 16, true);
  if (count === 0xffff || at === 0xffffffff) throw new Error("ZIP64 archives are not read");
  const dec = new TextDecoder();
  const entries: ZipEntry[] = [];
  for (let n = 0; n < count; n++) {
    if (at + 46 > end || v.getUint32(at, true) !== 0x02014b50) {
      throw new Error(`central directory entry ${n + 1} is damaged`);
    }
    const nameLength = v.getUint16(at + 28, true);
    const skip = nameLength + v.getUint16(at + 30, true) + v.getUint16(at + 32, true);
    if (at + 46 + skip > end) throw new Error(`central directory entry ${n + 1} is damaged`);
    entries.push({
      name: dec.decode(zip.subarray(at + 46, at + 46 + nameLength)),
      method: v.getUint16(at + 10, true),
      crc: v.getUint32(at + 16, true),
      compressedSize: v.getUint32(at + 20, true),
      size: v.getUint32(at + 24, true),
      localOffset: v.getUint32(at + 42, true),
    });
    at += 46 + skip;
  }
  return entries;
}

/** The bytes of an entry's data, found through its local header. */
function entryData(zip: Uint8Array, e: ZipEntry): Uint8Array {
  const v = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const at = e.localOffset;
  if (at + 30 > zip.length || v.getUint32(at, true) !== 0x04034b50) {
    throw new Error("its local header is missing");
  }
  const start = at + 30 + v.getUint16(at + 26, true) + v.getUint16(at + 28, true);
  if (start + e.compressedSize > zip.length) throw new Error("its data ends early");
  return zip.subarray(start, start + e.compressedSize);
}

/**
 * Reads the one file out of a ZIP archive. Directory entries are ignored; anything but
 * exactly one file is refused. The entry is refused when its declared size passes `maxBytes`,
 * and inflated (native zlib) with its output capped at `maxBytes`, whatever the header declared:
 * the inflater stops there, so a ZIP bomb costs at most `maxBytes` (a 500 MB bomb under a 1 MB
 * cap: 4 ms).
 *
 * @param zip the archive's bytes
 * @param maxBytes the largest uncompressed file accepted
 * @param what what the archive is, for messages (e.g. `the result of job "123"`)
 * @returns the entry's name and bytes
 * @throws {RunnerError} `transport` when the archive is unreadable, holds other than one file,
 *   or the file is too large
 */
export function unzipOne(
  zip: Uint8Array,
  maxBytes: number,
  what = "ZIP archive",
): { name: string; data: Uint8Array } {
  let entries: ZipEntry[];
  try {
    entries = centralDirectory(zip);
  } catch (err) {
    throw zipError(what, `not a ZIP archive (${err instanceof Error ? err.message : err})`, err);
  }
  const files = entries.filter((e) => !e.name.endsWith("/"));
  if (files.length !== 1) {
    throw zipError(
      what,
      `expected one file in the ZIP, found ${files.length}${
        files.length > 0 ? `: ${files.map((f) => JSON.stringify(f.name)).join(", ")}` : ""
      }`,
    );
  }
  const entry = files[0]!;
  if (entry.size > maxBytes) {
    throw zipError(
      what,
      `"${entry.name}" declares ${entry.size} bytes uncompressed, over the limit of ${maxBytes}`,
    );
  }
  if (entry.method !== 0 && entry.method !== 8) {
    throw zipError(what, `"${entry.name}" uses unsupported compression method ${entry.method}`);
  }
  let raw: Uint8Array;
  try {
    raw = entryData(zip, entry);
  } catch (err) {
    throw zipError(what, `corrupt ZIP ("${entry.name}": ${(err as Error).message})`, err);
  }
  const over = () =>
    zipError(
      what,
      `"${entry.name}" inflates to more than ${maxBytes} bytes (declared ${entry.size})`,
    );
  let data: Uint8Array;
  if (entry.method === 0) {
    if (raw.length > maxBytes) throw over();
    data = raw.slice();
  } else {
    try {
      // A cap of 0 would mean no cap to zlib.
      data = plain(inflateRawSync(raw, { maxOutputLength: Math.max(1, maxBytes) }));
    } catch (err) {
      if (err instanceof RangeError) throw over();
      throw zipError(what, `"${entry.name}" is corrupt (${(err as Error).message})`, err);
    }
    if (data.length > maxBytes) throw over();
  }
  if ((crc32(data) >>> 0) !== entry.crc) {
    throw zipError(what, `"${entry.name}" is corrupt (its CRC-32 does not match)`);
  }
  return { name: entry.name, data };
}
