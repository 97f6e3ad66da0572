/**
 * The store's two files and how they are written so that a kill at any moment leaves a state
 * that opens cleanly and holds every committed confirmation:
 *
 * - `<pipeline>.state`, the snapshot: a JSON header, then the table's columns as raw typed
 *   arrays. Only ever replaced whole (temp file, fsync, rename, fsync of the folder).
 * - `<pipeline>.changes`, the log of commits since that snapshot: a header naming the snapshot's
 *   generation, then one frame per commit (length, CRC-32, records), appended and fsynced. A
 *   torn last frame fails its CRC and is cut off on the next open; a log whose generation is not
 *   the snapshot's was already folded into it (a kill between the two renames) and is dropped.
 *
 * @module
 */
import { writeAll } from "../util/fs.ts";
import { crc32 } from "./_hash.ts";
import type { Columns } from "./_table.ts";

const SNAPSHOT_MAGIC = "BULKST01";
const LOG_MAGIC = "BULKLG01";
/** Bytes of the log header: magic and generation. */
export const LOG_HEADER = 16;

const enc = new TextEncoder();
const dec = new TextDecoder();

/** What a snapshot says about itself. */
export interface SnapshotMeta {
  pipeline: string;
  identity: string;
  generation: number;
  written_at: string;
}

/** One change recorded in the log: the key's flags and row hash after a commit. */
export interface LogRecord {
  key: string;
  hash: number;
  flags: number;
}

/**
 * Writes a snapshot atomically (see `writeFileAtomic`): header, then each column straight from its
 * typed array, so no second copy of the state is built in memory. Returns its size in bytes.
 */
export function writeSnapshot(path: string, meta: SnapshotMeta, c: Columns): number {
  const n = c.count;
  const head = enc.encode(JSON.stringify({ ...meta, count: n, key_bytes: c.keyBytes.length }));
  const start = align8(16 + head.length);
  const first = new Uint8Array(start);
  first.set(enc.encode(SNAPSHOT_MAGIC), 0);
  const view = new DataView(first.buffer);
  view.setUint32(8, head.length, true);
  view.setUint32(12, crc32(head), true);
  first.set(head, 16);
  const parts = [first, c.hashes, c.keyHashes, c.keyOffsets, c.flags, c.keyBytes].map((col) =>
    new Uint8Array(col.buffer, col.byteOffset, col.byteLength)
  );
  return writeFileAtomic(path, ...parts);
}

/** Reads a snapshot; throws an `Error` naming what is wrong when it is not one. */
export function decodeSnapshot(bytes: Uint8Array): { meta: SnapshotMeta; columns: Columns } {
  if (bytes.byteOffset % 8 !== 0) bytes = bytes.slice();
  if (bytes.length < 16 || dec.decode(bytes.subarray(0, 8)) !== SNAPSHOT_MAGIC) {
    throw new Error("not a state file");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const len = view.getUint32(8, true);
  const head = bytes.subarray(16, 16 + len);
  if (head.length !== len || crc32(head) !== view.getUint32(12, true)) {
    throw new Error("damaged header");
  }
  const h = JSON.parse(dec.decode(head)) as SnapshotMeta & { count: number; key_bytes: number };
  const n = h.count;
  let off = bytes.byteOffset + align8(16 + len);
  if (off - bytes.byteOffset + n * 17 + 4 + h.key_bytes !== bytes.length) {
    throw new Error(`expected ${n} keys, but the file's size does not match`);
  }
  const buf = bytes.buffer;
  const hashes = new Float64Array(buf, off, n);
  off += n * 8;
  const keyHashes = new Int32Array(buf, off, n);
  off += n * 4;
  const keyOffsets = new Uint32Array(buf, off, n + 1);
  off += (n + 1) * 4;
  const flags = new Uint8Array(buf, off, n);
  off += n;
  const keyBytes = new Uint8Array(buf, off, h.key_bytes);
  const meta = {
    pipeline: h.pipeline,
    identity: h.identity,
    generation: h.generation,
    written_at: h.written_at,
  };
  return { meta, columns: { count: n, hashes, keyHashes, keyOffsets, flags, keyBytes } };
}

/** The bytes of an empty log for a snapshot generation. */
export function logHeader(generation: number): Uint8Array {
  const out = new Uint8Array(LOG_HEADER);
  out.set(enc.encode(LOG_MAGIC), 0);
  new DataView(out.buffer).setFloat64(8, generation, true);
  return out;
}

/** Where a frame's records come from: a table's columns. */
export interface FrameSource {
  hashes: Float64Array;
  flags: Uint8Array;
  keyView(entry: number): Uint8Array;
}

/**
 * Encodes one commit as a frame: payload length, CRC-32 of the payload, then per entry its flags
 * (`persist` of them), row hash and UTF-8 key.
 */
export function encodeFrame(
  t: FrameSource,
  entries: readonly number[],
  persist: number,
): Uint8Array {
  let size = 0;
  for (const e of entries) size += 13 + t.keyView(e).length;
  const out = new Uint8Array(8 + size);
  const view = new DataView(out.buffer);
  let off = 8;
  for (const e of entries) {
    const k = t.keyView(e);
    view.setUint8(off, t.flags[e]! & persist);
    view.setFloat64(off + 1, t.hashes[e]!, true);
    view.setUint32(off + 9, k.length, true);
    out.set(k, off + 13);
    off += 13 + k.length;
  }
  view.setUint32(0, size, true);
  view.setUint32(4, crc32(out.subarray(8)), true);
  return out;
}

/**
 * Reads a log for a snapshot generation: the records of its whole frames, in order, and the
 * length of that valid prefix. `valid` is 0 when the log belongs to another generation or is not
 * a log: it is then discarded whole.
 */
export function decodeLog(
  bytes: Uint8Array,
  generation: number,
): { records: LogRecord[]; valid: number } {
  if (bytes.length < LOG_HEADER || dec.decode(bytes.subarray(0, 8)) !== LOG_MAGIC) {
    return { records: [], valid: 0 };
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  if (view.getFloat64(8, true) !== generation) return { records: [], valid: 0 };
  const records: LogRecord[] = [];
  let off = LOG_HEADER;
  while (off + 8 <= bytes.length) {
    const size = view.getUint32(off, true);
    const end = off + 8 + size;
    if (
      end > bytes.length || crc32(bytes.subarray(off + 8, end)) !== view.getUint32(off + 4, true)
    ) {
      break; // a torn frame from a kill during commit(): it was never confirmed to the caller
    }
    for (let p = off + 8; p < end;) {
      const len = view.getUint32(p + 9, true);
      records.push({
        flags: view.getUint8(p),
        hash: view.getFloat64(p + 1, true),
        key: dec.decode(bytes.subarray(p + 13, p + 13 + len)),
      });
      p += 13 + len;
    }
    off = end;
  }
  return { records, valid: off };
}

/**
 * Replaces a file atomically and durably with the parts written in order: temp file, fsync,
 * rename, fsync of the folder. Returns the bytes written.
 */
export function writeFileAtomic(path: string, ...parts: Uint8Array[]): number {
  const tmp = `${path}.tmp`;
  const file = Deno.openSync(tmp, { write: true, create: true, truncate: true });
  let bytes = 0;
  try {
    for (const part of parts) {
      writeAll(file, part);
      bytes += part.length;
    }
    file.syncSync();
  } finally {
    file.close();
  }
  Deno.renameSync(tmp, path);
  syncDir(path);
  return bytes;
}

export { writeAll };

/** Makes a rename in a folder durable; some platforms cannot open a folder, which is fine. */
function syncDir(path: string): void {
  const slash = path.lastIndexOf("/");
  try {
    const dir = Deno.openSync(slash > 0 ? path.slice(0, slash) : ".", { read: true });
    try {
      dir.syncSync();
    } finally {
      dir.close();
    }
  } catch {
    // Windows cannot open a directory this way; the rename itself is still atomic there.
  }
}

function align8(n: number): number {
  return (n + 7) & ~7;
}

/**
 * Reads a whole file into one buffer of its size (several times faster than `Deno.readFileSync`
 * for a state of tens of MB), or undefined when it does not exist.
 */
export function readFileIfAny(path: string): Uint8Array | undefined {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { read: true });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  try {
    const buf = new Uint8Array(file.statSync().size);
    let off = 0;
    while (off < buf.length) {
      const n = file.readSync(buf.subarray(off));
      if (n === null) break;
      off += n;
    }
    return off === buf.length ? buf : buf.subarray(0, off);
  } finally {
    file.close();
  }
}
