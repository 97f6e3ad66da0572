/**
 * The state's in-memory table: one entry per key (its last row hash, flags and UTF-8 bytes) in
 * typed arrays, with an open-addressing index on a 32-bit key hash. 1M keys take about 30 MB and
 * no JS object per key, so the garbage collector never walks them.
 *
 * @module
 */
import { keyHash } from "./_hash.ts";

/** The last outcome sent for this key was confirmed by the API. */
export const CONFIRMED = 1;
/** The API confirmed this key at least once (it exists remotely). */
export const EVER = 2;
/** Seen in this run; never written to disk. */
export const SEEN = 4;

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Columns of a table, as stored on disk (see `_files.ts`). */
export interface Columns {
  count: number;
  hashes: Float64Array;
  keyHashes: Int32Array;
  keyOffsets: Uint32Array;
  flags: Uint8Array;
  keyBytes: Uint8Array;
}

/** Keys with their row hash and flags; entries are never removed while a table is in use. */
export class Table {
  count = 0;
  hashes: Float64Array;
  keyHashes: Int32Array;
  /** Entry i's key is keyBytes[keyOffsets[i], keyOffsets[i + 1]). */
  keyOffsets: Uint32Array;
  flags: Uint8Array;
  keyBytes: Uint8Array;
  #keyEnd = 0;
  #hint = 0;
  /** Entry index + 1 per slot, 0 when empty; a power of two at least twice count. */
  #slots: Int32Array | undefined;

  /** Adopts the columns of a snapshot as they are (no copy); they are copied on growth. */
  constructor(from?: Columns) {
    if (from) {
      this.count = from.count;
      this.hashes = from.hashes;
      this.keyHashes = from.keyHashes;
      this.keyOffsets = from.keyOffsets;
      this.flags = from.flags;
      this.keyBytes = from.keyBytes;
      this.#keyEnd = from.keyBytes.length;
    } else {
      this.hashes = new Float64Array(1024);
      this.keyHashes = new Int32Array(1024);
      this.keyOffsets = new Uint32Array(1025);
      this.flags = new Uint8Array(1024);
      this.keyBytes = new Uint8Array(16384);
    }
  }

  /**
   * Like `find`, but first tries the entry after the last one this method found: a scheduled
   * export usually lists its keys in the same order every run, and then the lookup reads the
   * columns in order instead of a random slot of a large index.
   */
  findNext(key: string, kh: number): number {
    const e = this.#hint;
    if (e < this.count && this.keyHashes[e] === kh && this.#keyIs(e, key)) {
      this.#hint = e + 1;
      return e;
    }
    const found = this.find(key, kh);
    if (found >= 0) this.#hint = found + 1;
    return found;
  }

  /** The entry of a key, or -1. */
  find(key: string, kh: number = keyHash(key)): number {
    const slots = this.#index();
    const mask = slots.length - 1;
    for (let s = kh & mask;; s = (s + 1) & mask) {
      const e = slots[s]! - 1;
      if (e < 0) return -1;
      if (this.keyHashes[e] === kh && this.#keyIs(e, key)) return e;
    }
  }

  /** Adds a key (which must be absent) and returns its entry. */
  add(key: string, kh: number, hash: number, flags: number): number {
    if (this.count === this.hashes.length) this.#grow();
    const e = this.count++;
    this.hashes[e] = hash;
    this.keyHashes[e] = kh;
    this.flags[e] = flags;
    this.#appendKey(key);
    this.keyOffsets[e + 1] = this.#keyEnd;
    const slots = this.#index();
    if (this.count * 2 > slots.length) this.#slots = undefined; // rebuilt larger on next use
    else place(slots, this.keyHashes[e]!, e);
    return e;
  }

  /** The key of an entry, decoded. */
  key(e: number): string {
    return dec.decode(this.keyBytes.subarray(this.keyOffsets[e]!, this.keyOffsets[e + 1]!));
  }

  /** The UTF-8 bytes of an entry's key (a view, valid until the next add). */
  keyView(e: number): Uint8Array {
    return this.keyBytes.subarray(this.keyOffsets[e]!, this.keyOffsets[e + 1]!);
  }

  /**
   * The columns of the entries whose flags pass `keep`, trimmed to size, with the `clear` bits
   * removed from their flags: what a snapshot holds.
   */
  columns(keep: (flags: number) => boolean, clear: number): Columns {
    const n = this.count;
    let kept = 0;
    let bytes = 0;
    for (let e = 0; e < n; e++) {
      if (keep(this.flags[e]!)) {
        kept++;
        bytes += this.keyOffsets[e + 1]! - this.keyOffsets[e]!;
      }
    }
    if (kept === n) {
      // Nothing dropped (the usual case): views of the columns, and only the flags copied.
      const flags = this.flags.slice(0, n);
      for (let e = 0; e < n; e++) flags[e]! &= ~clear;
      return {
        count: n,
        hashes: this.hashes.subarray(0, n),
        keyHashes: this.keyHashes.subarray(0, n),
        keyOffsets: this.keyOffsets.subarray(0, n + 1),
        flags,
        keyBytes: this.keyBytes.subarray(0, this.#keyEnd),
      };
    }
    const c: Columns = {
      count: kept,
      hashes: new Float64Array(kept),
      keyHashes: new Int32Array(kept),
      keyOffsets: new Uint32Array(kept + 1),
      flags: new Uint8Array(kept),
      keyBytes: new Uint8Array(bytes),
    };
    let k = 0;
    let off = 0;
    for (let e = 0; e < n; e++) {
      if (!keep(this.flags[e]!)) continue;
      c.hashes[k] = this.hashes[e]!;
      c.keyHashes[k] = this.keyHashes[e]!;
      c.flags[k] = this.flags[e]! & ~clear;
      const key = this.keyView(e);
      c.keyBytes.set(key, off);
      off += key.length;
      c.keyOffsets[++k] = off;
    }
    return c;
  }

  /** Compares an entry's stored UTF-8 key with a string without decoding it. */
  #keyIs(e: number, key: string): boolean {
    const start = this.keyOffsets[e]!;
    const len = this.keyOffsets[e + 1]! - start;
    return bytesAre(this.keyBytes, start, len, key);
  }

  #appendKey(key: string): void {
    // A key takes at most 3 bytes per UTF-16 code unit.
    if (this.#keyEnd + key.length * 3 > this.keyBytes.length) {
      const next = new Uint8Array(
        Math.max(this.keyBytes.length * 2, this.#keyEnd + key.length * 3),
      );
      next.set(this.keyBytes.subarray(0, this.#keyEnd));
      this.keyBytes = next;
    }
    this.#keyEnd += enc.encodeInto(key, this.keyBytes.subarray(this.#keyEnd)).written;
  }

  /**
   * The open-addressing index, built on first use: a run whose keys come in the stored order
   * finds them all with `findNext` and never needs it.
   */
  #index(): Int32Array {
    if (this.#slots) return this.#slots;
    const slots = new Int32Array(slotsFor(this.count));
    for (let e = 0; e < this.count; e++) place(slots, this.keyHashes[e]!, e);
    this.#slots = slots;
    return slots;
  }

  /** Makes room for more entries: half again as many (a loaded table is exactly full). */
  #grow(): void {
    const cap = Math.max(1024, Math.ceil(this.hashes.length * 1.5));
    const hashes = new Float64Array(cap);
    hashes.set(this.hashes);
    this.hashes = hashes;
    const keyHashes = new Int32Array(cap);
    keyHashes.set(this.keyHashes);
    this.keyHashes = keyHashes;
    const offsets = new Uint32Array(cap + 1);
    offsets.set(this.keyOffsets);
    this.keyOffsets = offsets;
    const flags = new Uint8Array(cap);
    flags.set(this.flags);
    this.flags = flags;
  }
}

/** Whether `len` UTF-8 bytes of `b` from `start` spell `key`, compared without decoding. */
export function bytesAre(b: Uint8Array, start: number, len: number, key: string): boolean {
  if (len === key.length) {
    // Equal lengths: the key is ASCII, since any other character takes more UTF-8 bytes.
    for (let i = 0; i < len; i++) if (b[start + i] !== key.charCodeAt(i)) return false;
    return true;
  }
  if (len < key.length) return false; // UTF-8 is never shorter than the UTF-16 code units
  const k = enc.encode(key);
  if (k.length !== len) return false;
  for (let i = 0; i < len; i++) if (b[start + i] !== k[i]) return false;
  return true;
}

/** Puts entry `e` in the first free slot from its hash on (linear probing). */
export function place(slots: Int32Array, kh: number, e: number): void {
  const mask = slots.length - 1;
  let s = kh & mask;
  while (slots[s] !== 0) s = (s + 1) & mask;
  slots[s] = e + 1;
}

/** A power of two at least twice the entries (and at least 2048), so probes stay short. */
function slotsFor(count: number): number {
  let n = 2048;
  while (n < count * 2) n *= 2;
  return n;
}
