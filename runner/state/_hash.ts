/**
 * Fast non-cryptographic hashes for the state store: `rowHash` runs once per row, so it walks the
 * mapped values directly (no serialised string, no allocation for strings and numbers) through a
 * two-lane MurmurHash3-style mix of 32-bit words, two UTF-16 code units per word.
 *
 * @module
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;
const TWO_32 = 0x1_0000_0000;

/** Scratch views for reading a number's IEEE-754 bits without allocating. */
const F64 = new Float64Array(1);
const U32 = new Uint32Array(F64.buffer);

/** Type tags: they keep `null`, `""`, a missing field, `1` and `"1"` apart. */
const enum Tag {
  Missing = 1,
  Null = 2,
  String = 3,
  Number = 4,
  Boolean = 5,
  BigInt = 6,
  Date = 7,
  Json = 8,
}

/**
 * A 53-bit hash of exactly the values of `fields` in `row`, in that order, as a safe integer.
 * Distinguishes a missing field, `null` and `""`; numbers are canonical (`-0` is `0`, every NaN
 * is one NaN; `1` and `1.0` are one number, `1` and `"1"` are not). Dates hash by their time,
 * other objects by their JSON.
 *
 * @example
 * rowHash(["id", "amount"], { id: "A-1", amount: 10 }) === rowHash(["id", "amount"], { amount: 10, id: "A-1" })
 */
export function rowHash(fields: readonly string[], row: Readonly<Record<string, unknown>>): number {
  let h1 = 0x9747b28c | 0;
  let h2 = 0x2545f491 | 0;
  let k: number;
  for (let f = 0; f < fields.length; f++) {
    const v = row[fields[f]!];
    let s = "";
    // A head word per value: the tag in the low 4 bits, a string's length above it.
    if (typeof v === "string") {
      s = v;
      k = v.length * 16 + Tag.String;
    } else if (typeof v === "number" || v instanceof Date) {
      const n = typeof v === "number" ? v : v.getTime();
      F64[0] = n === 0 ? 0 : n !== n ? NaN : n;
      k = scramble(typeof v === "number" ? Tag.Number : Tag.Date);
      h1 = lane1(h1, k);
      h2 = lane2(h2, k) ^ h1;
      k = scramble(U32[0]!);
      h1 = lane1(h1, k);
      h2 = lane2(h2, k) ^ h1;
      k = U32[1]!; // the number's high word stands in for the head below
    } else if (v === undefined || v === null) {
      k = v === undefined ? Tag.Missing : Tag.Null;
    } else if (typeof v === "boolean") {
      k = v ? 16 + Tag.Boolean : Tag.Boolean;
    } else {
      s = typeof v === "bigint" ? String(v) : JSON.stringify(v) ?? "";
      k = s.length * 16 + (typeof v === "bigint" ? Tag.BigInt : Tag.Json);
    }
    k = scramble(k);
    h1 = lane1(h1, k);
    h2 = lane2(h2, k) ^ h1;
    // Then the string, two UTF-16 code units a word.
    const n = s.length;
    let i = 0;
    for (; i + 1 < n; i += 2) {
      k = scramble(s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16));
      h1 = lane1(h1, k);
      h2 = lane2(h2, k) ^ h1;
    }
    if (i < n) {
      k = scramble(s.charCodeAt(i));
      h1 = lane1(h1, k);
      h2 = lane2(h2, k) ^ h1;
    }
  }
  h2 ^= fields.length;
  h1 = (h1 + h2) | 0;
  h2 = (h2 + h1) | 0;
  h1 = fmix(h1);
  h2 = fmix(h2);
  h1 = (h1 + h2) | 0;
  h2 = (h2 + h1) | 0;
  return (h2 & 0x1fffff) * TWO_32 + (h1 >>> 0);
}

// MurmurHash3's block step, split so V8 inlines it: the word, then each lane. The second lane
// also takes the first, so the pair is a 64-bit state that every word permutes.
function scramble(k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  return Math.imul(k, C2);
}

function lane1(h: number, k: number): number {
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function lane2(h: number, k: number): number {
  h ^= k;
  h = (h << 17) | (h >>> 15);
  return (Math.imul(h, 9) + 0x38b34ae5) | 0;
}

/** A 32-bit hash of a key string, for the store's in-memory index (keys are then compared). */
export function keyHash(key: string): number {
  let h = 0x811c9dc5 | 0;
  for (let i = 0; i < key.length; i++) {
    h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  }
  return fmix(h ^ key.length);
}

/** MurmurHash3's finaliser: every input bit affects every output bit. */
export function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

/** CRC-32 (IEEE) table, built once. */
const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/** CRC-32 of bytes: it tells a torn or damaged log frame from a whole one. */
export function crc32(bytes: Uint8Array): number {
  let c = -1;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}
