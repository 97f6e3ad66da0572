/**
 * A compact map from key to source line, for the duplicate-key checks that must remember every
 * key of a file: the keys' UTF-8 bytes in one buffer and the lines in a typed array, with an
 * open-addressing index on a 32-bit key hash. About 30 bytes a key of 10 ASCII characters (a
 * `Map<string, number>` takes about 90, and its million entries are objects the garbage collector
 * walks on every major collection); no JS object per key.
 *
 * @module
 */
import { keyHash } from "./_hash.ts";
import { bytesAre, place } from "./_table.ts";

const enc = new TextEncoder();

/**
 * How much the columns grow when full: by half, not double, so a table just past a power of two
 * does not carry twice the room it needs (the index still doubles: it must stay a power of two).
 */
const GROWTH = 1.5;

/** Keys with the line each was last set to; entries are never removed. */
export class KeyLines {
  #count = 0;
  #lines = new Int32Array(1024);
  #hashes = new Int32Array(1024);
  /** Entry i's key is #bytes[#offsets[i], #offsets[i + 1]). */
  #offsets = new Uint32Array(1025);
  #bytes = new Uint8Array(16384);
  /** Entry index + 1 per slot, 0 when empty; a power of two at most three quarters full. */
  #slots = new Int32Array(2048);

  /** How many keys are held. */
  get size(): number {
    return this.#count;
  }

  /** The line of a key, or undefined when it was never set. */
  get(key: string): number | undefined {
    const e = this.#find(key, keyHash(key));
    return e < 0 ? undefined : this.#lines[e];
  }

  /** Sets the line of a key, adding the key when it is new. */
  set(key: string, line: number): void {
    const kh = keyHash(key);
    const found = this.#find(key, kh);
    if (found >= 0) this.#lines[found] = line;
    else this.#add(key, kh, line);
  }

  /**
   * The line a key was first given, or, for a key not held yet, undefined after adding it with
   * `line` (one lookup for both).
   */
  claim(key: string, line: number): number | undefined {
    const kh = keyHash(key);
    const found = this.#find(key, kh);
    if (found >= 0) return this.#lines[found];
    this.#add(key, kh, line);
    return undefined;
  }

  #add(key: string, kh: number, line: number): void {
    if (this.#count === this.#lines.length) this.#grow();
    const e = this.#count++;
    this.#lines[e] = line;
    this.#hashes[e] = kh;
    this.#offsets[e + 1] = this.#offsets[e]! + this.#append(key);
    // Linear probing stays short up to three quarters full.
    if (this.#count * 4 > this.#slots.length * 3) this.#reindex();
    else place(this.#slots, kh, e);
  }

  #find(key: string, kh: number): number {
    const slots = this.#slots;
    const mask = slots.length - 1;
    for (let s = kh & mask;; s = (s + 1) & mask) {
      const e = slots[s]! - 1;
      if (e < 0) return -1;
      if (this.#hashes[e] === kh && this.#keyIs(e, key)) return e;
    }
  }

  /** Compares an entry's stored UTF-8 key with a string without decoding it. */
  #keyIs(e: number, key: string): boolean {
    const start = this.#offsets[e]!;
    const len = this.#offsets[e + 1]! - start;
    return bytesAre(this.#bytes, start, len, key);
  }

  /**
   * Appends a key's UTF-8 bytes after the last key (ASCII without a call into the encoder).
   *
   * @returns how many bytes it took
   */
  #append(key: string): number {
    const at = this.#offsets[this.#count - 1]!;
    if (at + key.length * 3 > this.#bytes.length) {
      const grown = Math.ceil(this.#bytes.length * GROWTH);
      const next = new Uint8Array(Math.max(grown, at + key.length * 3));
      next.set(this.#bytes.subarray(0, at));
      release(this.#bytes);
      this.#bytes = next;
    }
    const b = this.#bytes;
    for (let i = 0; i < key.length; i++) {
      const c = key.charCodeAt(i);
      if (c >= 0x80) {
        return enc.encodeInto(key, b.subarray(at)).written;
      }
      b[at + i] = c;
    }
    return key.length;
  }

  #grow(): void {
    const cap = Math.ceil(this.#lines.length * GROWTH);
    const lines = new Int32Array(cap);
    lines.set(this.#lines);
    release(this.#lines);
    this.#lines = lines;
    const hashes = new Int32Array(cap);
    hashes.set(this.#hashes);
    release(this.#hashes);
    this.#hashes = hashes;
    const offsets = new Uint32Array(cap + 1);
    offsets.set(this.#offsets);
    release(this.#offsets);
    this.#offsets = offsets;
  }

  #reindex(): void {
    const slots = new Int32Array(this.#slots.length * 2);
    for (let e = 0; e < this.#count; e++) place(slots, this.#hashes[e]!, e);
    release(this.#slots);
    this.#slots = slots;
  }
}

/**
 * Gives an outgrown column's memory back now: left to the garbage collector, the columns a
 * table has outgrown (two thirds of its size again) would sit beside it until the next
 * collection that looks at external memory.
 */
function release(column: Uint8Array | Int32Array | Uint32Array): void {
  if (column.buffer instanceof ArrayBuffer && !column.buffer.detached) column.buffer.transfer(0);
}
