/**
 * Byte arrays.
 *
 * @module
 */

/** The pieces as one array (the piece itself when there is one). */
export function concatBytes(pieces: readonly Uint8Array[]): Uint8Array {
  if (pieces.length === 1) return pieces[0]!;
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Gives an array's memory back now (its buffer transferred to length 0) rather than at the next
 * garbage collection that looks at external memory; for an array nothing reads again. An array
 * already given back, or on a shared buffer, is left as it is.
 */
export function freeBytes(a: ArrayBufferView): void {
  const buffer = a.buffer;
  if (buffer instanceof ArrayBuffer && !buffer.detached) buffer.transfer(0);
}
