/**
 * ZIP helpers for the targets: packing one file into an upload ZIP, and reading the one file
 * out of a result ZIP without ever inflating more than a set number of bytes.
 *
 * @module
 */
import {
  Unzip,
  type UnzipFileInfo,
  UnzipInflate,
  unzipSync,
  Zip,
  ZipDeflate,
  zipSync,
} from "fflate";
import { RunnerError } from "../errors.ts";

/** Packs one file into a ZIP archive (deflated). */
export function zipOne(name: string, data: Uint8Array): Uint8Array {
  return zipSync({ [name]: [data, { level: 6 }] });
}

/**
 * One file packed into a ZIP archive (deflated) piece by piece, as the pieces come: neither the
 * file nor the archive is ever one array.
 */
export class ZipWriter {
  readonly #parts: Uint8Array[] = [];
  #size = 0;
  #failure: Error | null = null;
  readonly #zip: Zip;
  readonly #file: ZipDeflate;

  constructor(name: string) {
    this.#zip = new Zip((err, chunk) => {
      if (err) this.#failure = err;
      else if (chunk.length > 0) {
        this.#parts.push(chunk);
        this.#size += chunk.length;
      }
    });
    this.#file = new ZipDeflate(name, { level: 6 });
    this.#zip.add(this.#file);
  }

  /** Adds the file's next piece. */
  push(piece: Uint8Array): void {
    this.#file.push(piece);
  }

  /** Ends the file and the archive; returns the archive's pieces and their total size. */
  end(): { parts: Uint8Array[]; size: number } {
    this.#file.push(new Uint8Array(0), true);
    this.#zip.end();
    if (this.#failure) throw this.#failure;
    return { parts: this.#parts, size: this.#size };
  }
}

/**
 * Packs one file, given in pieces, into a ZIP archive (deflated) as it goes: neither the file nor
 * the archive is ever one array. Returns the archive's pieces and their total size.
 */
export function zipOneStreamed(
  name: string,
  pieces: Iterable<Uint8Array>,
): { parts: Uint8Array[]; size: number } {
  const zip = new ZipWriter(name);
  for (const piece of pieces) zip.push(piece);
  return zip.end();
}

// Compressed bytes handed to the inflater at a time. DEFLATE expands at most ~1032:1, so one
// step can overshoot the limit by at most ~16 MB before the count stops it.
const STEP = 16 * 1024;

function zipError(what: string, detail: string, cause?: unknown): RunnerError {
  return new RunnerError("transport", `Cannot read ${what}: ${detail}`, { cause });
}

/**
 * Reads the one file out of a ZIP archive. Directory entries are ignored; anything but
 * exactly one file is refused. The entry is refused when its declared size passes `maxBytes`,
 * and inflated in small steps that stop as soon as the output passes `maxBytes`, whatever the
 * header declared: a ZIP bomb costs at most `maxBytes` plus one step.
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
  const entries: UnzipFileInfo[] = [];
  try {
    // The filter sees every central-directory entry; returning false inflates nothing.
    unzipSync(zip, {
      filter: (info) => {
        entries.push(info);
        return false;
      },
    });
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
  if (entry.originalSize > maxBytes) {
    throw zipError(
      what,
      `"${entry.name}" declares ${entry.originalSize} bytes uncompressed, over the limit of ${maxBytes}`,
    );
  }
  if (entry.compression !== 0 && entry.compression !== 8) {
    throw zipError(
      what,
      `"${entry.name}" uses unsupported compression method ${entry.compression}`,
    );
  }

  const chunks: Uint8Array[] = [];
  let total = 0;
  let failure: RunnerError | undefined;
  let done = false;
  const unzip = new Unzip((file) => {
    if (file.name !== entry.name || failure || done) return; // not started: skipped
    file.ondata = (err, chunk, final) => {
      if (failure || done) return;
      if (err) {
        failure = zipError(what, `"${entry.name}" is corrupt (${err.message})`, err);
        return;
      }
      total += chunk.length;
      if (total > maxBytes) {
        failure = zipError(
          what,
          `"${entry.name}" inflates to more than ${maxBytes} bytes (declared ${entry.originalSize})`,
        );
        file.terminate();
        return;
      }
      if (chunk.length > 0) chunks.push(chunk);
      if (final) done = true;
    };
    file.start();
  });
  unzip.register(UnzipInflate);
  try {
    for (let i = 0; i < zip.length && !failure && !done; i += STEP) {
      unzip.push(zip.subarray(i, i + STEP), i + STEP >= zip.length);
    }
  } catch (err) {
    failure ??= zipError(what, `corrupt ZIP (${err instanceof Error ? err.message : err})`, err);
  }
  if (failure) throw failure;
  if (!done) throw zipError(what, `"${entry.name}" ends early`);
  const data = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    data.set(c, at);
    at += c.length;
  }
  return { name: entry.name, data };
}
