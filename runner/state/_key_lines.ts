/**
 * A compact map from key to source line, for the duplicate-key checks that must remember every
 * key of a file. Each entry is one record in a byte log (the line, 4 bytes; the key's UTF-8
 * length, 1 to 3 bytes; the key's bytes), found through an open-addressing index of entry
 * offsets with an 8-bit hash tag per slot, so most probes never touch the log. About 16 bytes a
 * key of 10 ASCII characters in the log plus 7–13 in the index: 23–29 bytes a key, where separate
 * columns of lines, hashes and offsets took 28–45, and a `Map<string, number>` about 90 (with a
 * million objects for the garbage collector to walk). No JS object per key.
 *
 * @module
 */
import { freeBytes } from "../util/bytes.ts";
import { fmix } from "./_hash.ts";
import { bytesAre } from "./_table.ts";

const enc = new TextEncoder();

/**
 * How much the log grows when full: by half, not double, so a log just past a power of two does
 * not carry twice the room it needs (the index still doubles: it must stay a power of two).
 */
const GROWTH = 1.5;

/** Keys with the line each was last set to; entries are never removed. */
export class KeyLines {
  #count = 0;
  /** The entries, back to back; `#end` is where the next one goes. */
  #log = new Uint8Array(16384);
  #end = 0;
  /** Entry offset + 1 per slot, 0 when empty; a power of two at most three quarters full. */
  #slots = new Uint32Array(2048);
  /** The top 8 bits of the key hash of each used slot. */
  #tags = new Uint8Array(2048);
  /** A non-ASCII key's UTF-8 bytes, for hashing it. */
  #scratch = new Uint8Array(256);

  /** How many keys are held. */
  get size(): number {
    return this.#count;
  }

  /** The line of a key, or undefined when it was never set. */
  get(key: string): number | undefined {
    const at = this.find(key, this.hash(key));
    return at < 0 ? undefined : this.lineAt(at);
  }

  /** Sets the line of a key, adding the key when it is new. */
  set(key: string, line: number): void {
    const h = this.hash(key);
    const at = this.find(key, h);
    if (at >= 0) this.setLine(at, line);
    else this.add(key, h, line);
  }

  /**
   * The line a key was first given, or, for a key not held yet, undefined after adding it with
   * `line` (one lookup for both).
   */
  claim(key: string, line: number): number | undefined {
    const h = this.hash(key);
    const at = this.find(key, h);
    if (at >= 0) return this.lineAt(at);
    this.add(key, h, line);
    return undefined;
  }

  /**
   * FNV-1a of the key's UTF-8 bytes, through MurmurHash3's finaliser: the hash `find` and `add`
   * take (a `KeyIndex` computes it once for its memory and its files).
   */
  hash(key: string): number {
    let h = 0x811c9dc5 | 0;
    for (let i = 0; i < key.length; i++) {
      const c = key.charCodeAt(i);
      if (c >= 0x80) {
        if (this.#scratch.length < key.length * 3) this.#scratch = new Uint8Array(key.length * 3);
        const n = enc.encodeInto(key, this.#scratch).written;
        return bytesHash(this.#scratch, 0, n);
      }
      h = Math.imul(h ^ c, 0x01000193);
    }
    return fmix(h ^ key.length);
  }

  /** Where the entry of a key is in the log, or -1 when the key is not held. */
  find(key: string, h: number): number {
    const slots = this.#slots;
    const tags = this.#tags;
    const tag = h >>> 24;
    const mask = slots.length - 1;
    for (let s = h & mask;; s = (s + 1) & mask) {
      const e = slots[s]!;
      if (e === 0) return -1;
      if (tags[s] === tag && this.#keyIs(e - 1, key)) return e - 1;
    }
  }

  /** Whether the entry at `at` holds `key`. */
  #keyIs(at: number, key: string): boolean {
    const start = this.#keyStart(at);
    return bytesAre(this.#log, start, this.#keyLength, key);
  }

  /** The length of the key `#keyStart` last read. */
  #keyLength = 0;

  /** Where the key of the entry at `at` starts in the log; its length goes to `#keyLength`. */
  #keyStart(at: number): number {
    const b = this.#log;
    let p = at + 4;
    let len = b[p++]!;
    if (len >= 0x80) {
      len = (len & 0x7f) | (b[p++]! << 7);
      if (len >= 0x4000) len = (len & 0x3fff) | (b[p++]! << 14);
    }
    this.#keyLength = len;
    return p;
  }

  /** The line of the entry at `at` (from `find`). */
  lineAt(at: number): number {
    const b = this.#log;
    return b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24);
  }

  /** Sets the line of the entry at `at` (from `find`). */
  setLine(at: number, line: number): void {
    const b = this.#log;
    b[at] = line & 0xff;
    b[at + 1] = (line >>> 8) & 0xff;
    b[at + 2] = (line >>> 16) & 0xff;
    b[at + 3] = (line >>> 24) & 0xff;
  }

  /** Adds a key that `find` did not find, with its hash. */
  add(key: string, h: number, line: number): void {
    const at = this.#end;
    // At most 3 bytes of length and 3 bytes per UTF-16 unit.
    const room = 4 + 3 + key.length * 3;
    if (at + room > this.#log.length) {
      const log = new Uint8Array(Math.max(Math.ceil(this.#log.length * GROWTH), at + room));
      log.set(this.#log.subarray(0, at));
      freeBytes(this.#log);
      this.#log = log;
    }
    this.setLine(at, line);
    const b = this.#log;
    let utf8: Uint8Array | undefined;
    for (let i = 0; i < key.length; i++) {
      if (key.charCodeAt(i) >= 0x80) {
        utf8 = enc.encode(key);
        break;
      }
    }
    const n = utf8 ? utf8.length : key.length;
    let p = at + 4;
    if (n < 0x80) b[p++] = n;
    else if (n < 0x4000) {
      b[p++] = (n & 0x7f) | 0x80;
      b[p++] = n >>> 7;
    } else {
      b[p++] = (n & 0x7f) | 0x80;
      b[p++] = ((n >>> 7) & 0x7f) | 0x80;
      b[p++] = n >>> 14;
    }
    if (utf8) b.set(utf8, p);
    else for (let i = 0; i < n; i++) b[p + i] = key.charCodeAt(i);
    this.#end = p + n;
    this.#count++;
    // Linear probing stays short up to three quarters full.
    if (this.#count * 4 > this.#slots.length * 3) this.#reindex();
    else place(this.#slots, this.#tags, h, at);
  }

  /**
   * The entries as they lie in memory, for a `KeyIndex` to write to a file: the log up to its
   * end, the slots (entry offset + 1, 0 when empty) and their hash tags. The map is empty
   * afterwards; the caller gives the arrays' memory back once it has written them.
   */
  freeze(): { log: Uint8Array; slots: Uint32Array; tags: Uint8Array; keys: number } {
    const out = {
      log: this.#log.subarray(0, this.#end),
      slots: this.#slots,
      tags: this.#tags,
      keys: this.#count,
    };
    this.#log = new Uint8Array(16384);
    this.#slots = new Uint32Array(2048);
    this.#tags = new Uint8Array(2048);
    this.#end = 0;
    this.#count = 0;
    return out;
  }

  /** Forgets every key, keeping the room it has grown to (for a map used again and again). */
  clear(): void {
    this.#slots.fill(0);
    this.#end = 0;
    this.#count = 0;
  }

  /** Calls `f` with the hash of every key held (as `hash` gives it). */
  forEachHash(f: (h: number) => void): void {
    for (let at = 0; at < this.#end;) {
      const start = this.#keyStart(at);
      const len = this.#keyLength;
      f(bytesHash(this.#log, start, len));
      at = start + len;
    }
  }

  /** Doubles the index and places every entry again, hashing the keys in the log. */
  #reindex(): void {
    const slots = new Uint32Array(this.#slots.length * 2);
    const tags = new Uint8Array(slots.length);
    for (let at = 0; at < this.#end;) {
      const start = this.#keyStart(at);
      const len = this.#keyLength;
      place(slots, tags, bytesHash(this.#log, start, len), at);
      at = start + len;
    }
    freeBytes(this.#slots);
    freeBytes(this.#tags);
    this.#slots = slots;
    this.#tags = tags;
  }
}

/** FNV-1a of bytes, through MurmurHash3's finaliser (the same as `#hash` of their text). */
function bytesHash(b: Uint8Array, start: number, len: number): number {
  let h = 0x811c9dc5 | 0;
  for (let i = start; i < start + len; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  return fmix(h ^ len);
}

/** Puts the entry at `at` in the first free slot from its hash on (linear probing). */
function place(slots: Uint32Array, tags: Uint8Array, h: number, at: number): void {
  const mask = slots.length - 1;
  let s = h & mask;
  while (slots[s] !== 0) s = (s + 1) & mask;
  slots[s] = at + 1;
  tags[s] = h >>> 24;
}
