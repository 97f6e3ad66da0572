/**
 * ZIP handling for the Bigin sandbox: reading the one CSV out of an upload without ever
 * inflating more than a set number of bytes, and packing a result CSV.
 *
 * @module
 */
import { Unzip, type UnzipFileInfo, UnzipInflate, unzipSync, zipSync } from "fflate";

/** Why an upload's ZIP was refused, as the API's error code. */
export type ZipProblemCode = "INVALID_FILE_FORMAT" | "FILE_TOO_LARGE";

/** The outcome of {@link readSingleCsv}. */
export type SingleCsvResult =
  | { ok: true; name: string; data: Uint8Array }
  | { ok: false; code: ZipProblemCode; message: string };

// Compressed bytes handed to the inflater at a time. DEFLATE expands at most ~1032:1, so one
// step can overshoot the limit by at most ~16 MB before the count stops it.
const STEP = 16 * 1024;

/**
 * Reads the single CSV file out of a ZIP archive. Directory entries are ignored; anything else
 * than exactly one `.csv` file is `INVALID_FILE_FORMAT`. The entry is inflated in small steps
 * and abandoned as soon as it passes `maxBytes`, whatever size its header declares, so a ZIP
 * bomb costs at most `maxBytes` plus one step.
 *
 * @param zip The uploaded bytes.
 * @param maxBytes The largest uncompressed CSV accepted.
 */
export function readSingleCsv(zip: Uint8Array, maxBytes: number): SingleCsvResult {
  const entries: UnzipFileInfo[] = [];
  try {
    // The filter sees every central-directory entry; returning false inflates nothing.
    unzipSync(zip, {
      filter: (info) => {
        entries.push(info);
        return false;
      },
    });
  } catch {
    return { ok: false, code: "INVALID_FILE_FORMAT", message: "The file is not a ZIP archive" };
  }
  const files = entries.filter((e) => !e.name.endsWith("/"));
  if (files.length !== 1) {
    return {
      ok: false,
      code: "INVALID_FILE_FORMAT",
      message: `The ZIP archive must hold exactly one CSV file, found ${files.length} files`,
    };
  }
  const entry = files[0]!;
  if (!/\.csv$/i.test(entry.name)) {
    return {
      ok: false,
      code: "INVALID_FILE_FORMAT",
      message: `The file in the ZIP archive is not a CSV file: "${entry.name}"`,
    };
  }
  if (entry.originalSize > maxBytes) return tooLarge(maxBytes);

  const chunks: Uint8Array[] = [];
  let total = 0;
  let overflow = false;
  let finished = false;
  let failure: string | undefined;
  const unzip = new Unzip((file) => {
    if (file.name !== entry.name || overflow || finished) return;
    file.ondata = (err, data, final) => {
      if (overflow) return;
      if (err) {
        failure = err.message;
        return;
      }
      total += data.length;
      if (total > maxBytes) {
        overflow = true;
        chunks.length = 0;
        file.terminate();
        return;
      }
      chunks.push(data);
      if (final) finished = true;
    };
    try {
      file.start();
    } catch (e) {
      failure = e instanceof Error ? e.message : String(e);
    }
  });
  unzip.register(UnzipInflate);
  try {
    for (let at = 0; at < zip.length && !overflow && !failure && !finished; at += STEP) {
      const end = Math.min(at + STEP, zip.length);
      unzip.push(zip.subarray(at, end), end === zip.length);
    }
  } catch (e) {
    failure = e instanceof Error ? e.message : String(e);
  }
  if (overflow) return tooLarge(maxBytes);
  if (failure || !finished) {
    return {
      ok: false,
      code: "INVALID_FILE_FORMAT",
      message: `The CSV file in the ZIP archive cannot be read${failure ? `: ${failure}` : ""}`,
    };
  }
  const data = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    data.set(c, offset);
    offset += c.length;
  }
  return { ok: true, name: entry.name, data };
}

function tooLarge(maxBytes: number): SingleCsvResult {
  return {
    ok: false,
    code: "FILE_TOO_LARGE",
    message: `The CSV file inflates to more than ${maxBytes} bytes`,
  };
}

/** Packs one file into a ZIP archive. */
export function zipOne(name: string, data: Uint8Array): Uint8Array {
  return zipSync({ [name]: data });
}
