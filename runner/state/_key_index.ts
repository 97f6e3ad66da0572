/**
 * The duplicate-key index of a run, bounded in memory: the keys of a file with the line each was
 * first (or last) seen on, as `KeyLines` holds them, up to `memoryKeys` of them. Past that, the
 * keys held so far move to a file (the same entries and slots, written once), and a filter of
 * 2 bytes a key stays in memory to tell which file may hold a key. A lookup asks memory, then the
 * filter of each file; only a key a filter cannot rule out (about 1 in 500 of the keys the file
 * does not hold, and every key it does) costs a read of the file, from the page cache as a rule.
 * So 5M keys take about the memory of 786,000 plus 2 bytes a key, where `KeyLines` alone grew by
 * 23–29 bytes a key.
 *
 * The files are made by `spill` (in the run's state folder, mode 0600, removed at once: they have
 * no name, and a crash leaves nothing behind) and closed by `close`. Where no file can be made or
 * written, the keys stay in memory, with one line to `log`: the run goes on as before.
 *
 * @module
 */
import { freeBytes } from "../util/bytes.ts";
import { readAt, writeAll } from "../util/fs.ts";
import { fmix } from "./_hash.ts";
import { KeyLines } from "./_key_lines.ts";

/** Options of {@linkcode KeyIndex}; without `spill`, it is a `KeyLines`. */
export interface KeyIndexOptions {
  /** A new empty file, readable and writable, that nobody else can open; throws when it cannot. */
  spill?: () => Deno.FsFile;
  /** Keys held in memory before they move to a file (default `MEMORY_KEYS`, about 18 MB). */
  memoryKeys?: number;
  /** Where the one line about keeping the keys in memory goes. */
  log?: (line: string) => void;
}

/**
 * Just under three quarters of 2^20 slots, where `KeyLines` would double its index: at
 * 10-character keys, the log and the index take about 18 MB here. Measured on 5M keys (the
 * transform bench): peak RSS 292 MiB with every key in memory, 216 MiB with 1,572,000 keys in
 * memory (3 files), 193 MiB with this (6 files), for 4% and 10% more CPU; 1M rows, 167 MiB,
 * did not move (docs/performance.md).
 */
export const MEMORY_KEYS = 786_000;

const enc = new TextEncoder();

/** How a short key file is named when it throws. */
const KEY_FILE = { what: "The key file" };

/** Slots read per file read while probing: 64 slots and their tags. */
const PROBE_SLOTS = 64;

/** Filter bits per key, and bits set per key in its 512-bit block. */
const FILTER_BITS_PER_KEY = 16;
const FILTER_HASHES = 8;

/** Keys with the line each was first or last given; entries are never removed. */
export class KeyIndex {
  #memory = new KeyLines();
  readonly #files: KeyFile[] = [];
  #spill: (() => Deno.FsFile) | undefined;
  readonly #memoryKeys: number;
  readonly #log: (line: string) => void;
  /** A key's UTF-8 bytes, for comparing it with what a file holds. */
  #scratch = new Uint8Array(256);

  constructor(options: KeyIndexOptions = {}) {
    this.#spill = options.spill;
    this.#memoryKeys = Math.max(1, options.memoryKeys ?? MEMORY_KEYS);
    this.#log = options.log ?? (() => {});
  }

  /** How many keys are held, in memory and in files. */
  get size(): number {
    return this.#files.reduce((n, f) => n + f.keys, this.#memory.size);
  }

  /** How many files hold keys (for tests and diagnostics). */
  get files(): number {
    return this.#files.length;
  }

  /** The line of a key, or undefined when it was never set. */
  get(key: string): number | undefined {
    const h = this.#memory.hash(key);
    const at = this.#memory.find(key, h);
    if (at >= 0) return this.#memory.lineAt(at);
    const found = this.#inFiles(key, h);
    return found ? found.file.lineAt(found.at) : undefined;
  }

  /** Sets the line of a key, adding the key when it is new. */
  set(key: string, line: number): void {
    const h = this.#memory.hash(key);
    const at = this.#memory.find(key, h);
    if (at >= 0) return this.#memory.setLine(at, line);
    const found = this.#inFiles(key, h);
    if (found) return found.file.setLine(found.at, line);
    this.#add(key, h, line);
  }

  /**
   * The line a key was first given, or, for a key not held yet, undefined after adding it with
   * `line` (one lookup for both).
   */
  claim(key: string, line: number): number | undefined {
    const h = this.#memory.hash(key);
    const at = this.#memory.find(key, h);
    if (at >= 0) return this.#memory.lineAt(at);
    const found = this.#inFiles(key, h);
    if (found) return found.file.lineAt(found.at);
    this.#add(key, h, line);
    return undefined;
  }

  /** Closes the files (their space is given back) and empties the index. */
  close(): void {
    for (const f of this.#files.splice(0)) f.close();
    this.#memory = new KeyLines();
  }

  #inFiles(key: string, h: number): { file: KeyFile; at: number } | undefined {
    if (this.#files.length === 0) return undefined;
    let bytes: Uint8Array | undefined;
    for (const file of this.#files) {
      if (!file.mayHold(h)) continue;
      bytes ??= this.#utf8(key);
      const at = file.find(bytes, h);
      if (at >= 0) return { file, at };
    }
    return undefined;
  }

  #utf8(key: string): Uint8Array {
    if (this.#scratch.length < key.length * 3) this.#scratch = new Uint8Array(key.length * 3);
    return this.#scratch.subarray(0, enc.encodeInto(key, this.#scratch).written);
  }

  #add(key: string, h: number, line: number): void {
    if (this.#spill !== undefined && this.#memory.size >= this.#memoryKeys) this.#moveToFile();
    this.#memory.add(key, h, line);
  }

  /** Moves the keys in memory to a new file; on failure, they stay in memory from now on. */
  #moveToFile(): void {
    const spill = this.#spill!;
    let file: Deno.FsFile | undefined;
    try {
      file = spill();
      const filter = new BlockFilter(this.#memory.size);
      this.#memory.forEachHash((h) => filter.add(h));
      const frozen = this.#memory.freeze();
      const slotCount = frozen.slots.length;
      try {
        // The slots in the machine's byte order: only this process reads them back.
        writeAll(file, new Uint8Array(frozen.slots.buffer, 0, frozen.slots.byteLength));
        writeAll(file, frozen.tags);
        writeAll(file, frozen.log);
      } catch (err) {
        // The keys are still in the frozen arrays: put them back before giving up on files.
        this.#memory = restore(frozen);
        throw err;
      } finally {
        freeBytes(frozen.slots);
        freeBytes(frozen.tags);
        freeBytes(frozen.log);
      }
      this.#files.push(new KeyFile(file, slotCount, frozen.keys, filter));
    } catch (err) {
      try {
        file?.close();
      } catch {
        // Closed already.
      }
      this.#spill = undefined;
      this.#log(
        `Cannot keep the keys of the duplicate check on disk (${
          err instanceof Error ? err.message : String(err)
        }): keeping them in memory`,
      );
    }
  }
}

/** The keys of a frozen `KeyLines` in a fresh one (after a file could not take them). */
function restore(frozen: ReturnType<KeyLines["freeze"]>): KeyLines {
  const k = new KeyLines();
  const dec = new TextDecoder();
  for (const e of frozen.slots) {
    if (e === 0) continue;
    const entry = readEntry(frozen.log, e - 1);
    k.set(dec.decode(frozen.log.subarray(entry.start, entry.start + entry.length)), entry.line);
  }
  return k;
}

/** The line, and where the key starts and how long it is, of the entry at `at` of a log. */
function readEntry(b: Uint8Array, at: number): { line: number; start: number; length: number } {
  const line = b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24);
  let p = at + 4;
  let len = b[p++]!;
  if (len >= 0x80) {
    len = (len & 0x7f) | (b[p++]! << 7);
    if (len >= 0x4000) len = (len & 0x3fff) | (b[p++]! << 14);
  }
  return { line, start: p, length: len };
}

/**
 * A Bloom filter of 512-bit blocks: each key sets `FILTER_HASHES` bits of one block, so a
 * lookup touches one cache line. About 0.2% false positives at 16 bits a key.
 */
class BlockFilter {
  readonly #words: Uint32Array;
  readonly #blocks: number;

  constructor(keys: number) {
    this.#blocks = Math.max(1, Math.ceil(keys * FILTER_BITS_PER_KEY / 512));
    this.#words = new Uint32Array(this.#blocks * 16);
  }

  add(h: number): void {
    const base = this.#base(h);
    let g = fmix(h ^ 0x5bd1e995);
    for (let i = 0; i < FILTER_HASHES; i++) {
      const bit = g & 511;
      this.#words[base + (bit >>> 5)]! |= 1 << (bit & 31);
      g = i % 3 === 2 ? fmix(g ^ h) : (g >>> 9) | (g << 23);
    }
  }

  mayHold(h: number): boolean {
    const base = this.#base(h);
    let g = fmix(h ^ 0x5bd1e995);
    for (let i = 0; i < FILTER_HASHES; i++) {
      const bit = g & 511;
      if ((this.#words[base + (bit >>> 5)]! & (1 << (bit & 31))) === 0) return false;
      g = i % 3 === 2 ? fmix(g ^ h) : (g >>> 9) | (g << 23);
    }
    return true;
  }

  #base(h: number): number {
    return ((h >>> 0) % this.#blocks) * 16;
  }
}

/**
 * A frozen `KeyLines` in a file: its `slotCount` slots (entry offset + 1, 4 bytes each), their
 * hash tags (1 byte each), then the log. Found the way `KeyLines` finds a key, a block of slots
 * and tags and an entry at a time.
 */
class KeyFile {
  readonly keys: number;
  readonly #file: Deno.FsFile;
  readonly #mask: number;
  readonly #tagsAt: number;
  readonly #logAt: number;
  readonly #filter: BlockFilter;
  readonly #slots = new Uint32Array(PROBE_SLOTS);
  readonly #tags = new Uint8Array(PROBE_SLOTS);
  #entry = new Uint8Array(64);

  constructor(file: Deno.FsFile, slotCount: number, keys: number, filter: BlockFilter) {
    this.#file = file;
    this.#mask = slotCount - 1;
    this.#tagsAt = slotCount * 4;
    this.#logAt = slotCount * 5;
    this.keys = keys;
    this.#filter = filter;
  }

  mayHold(h: number): boolean {
    return this.#filter.mayHold(h);
  }

  /** The log offset of the key's entry, or -1 when the file does not hold it. */
  find(utf8: Uint8Array, h: number): number {
    const tag = h >>> 24;
    const slots = this.#mask + 1;
    let s = h & this.#mask;
    for (let seen = 0; seen < slots;) {
      const n = Math.min(PROBE_SLOTS, slots - s);
      readAt(this.#file, s * 4, new Uint8Array(this.#slots.buffer, 0, n * 4), KEY_FILE);
      readAt(this.#file, this.#tagsAt + s, this.#tags.subarray(0, n), KEY_FILE);
      for (let i = 0; i < n; i++) {
        const e = this.#slots[i]!;
        if (e === 0) return -1;
        if (this.#tags[i] === tag && this.#holds(e - 1, utf8)) return e - 1;
      }
      seen += n;
      s = (s + n) & this.#mask;
    }
    return -1;
  }

  /** Whether the entry at `at` holds the key. */
  #holds(at: number, utf8: Uint8Array): boolean {
    // The line, at most 3 bytes of length, the key.
    const need = 7 + utf8.length;
    if (this.#entry.length < need) this.#entry = new Uint8Array(need);
    const got = readAt(this.#file, this.#logAt + at, this.#entry.subarray(0, need), {
      short: true,
    });
    const b = this.#entry.subarray(0, got);
    if (got < 5) return false;
    const entry = readEntry(b, 0);
    if (entry.length !== utf8.length || entry.start + entry.length > got) return false;
    for (let i = 0; i < utf8.length; i++) if (b[entry.start + i] !== utf8[i]) return false;
    return true;
  }

  lineAt(at: number): number {
    const b = new Uint8Array(4);
    readAt(this.#file, this.#logAt + at, b, KEY_FILE);
    return b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24);
  }

  setLine(at: number, line: number): void {
    const b = new Uint8Array([line & 0xff, (line >>> 8) & 0xff, (line >>> 16) & 0xff, line >>> 24]);
    this.#file.seekSync(this.#logAt + at, Deno.SeekMode.Start);
    writeAll(this.#file, b);
  }

  close(): void {
    try {
      this.#file.close();
    } catch {
      // Closed already.
    }
  }
}
