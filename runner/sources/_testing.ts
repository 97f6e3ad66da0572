/**
 * Test helpers for the source readers: temp files and reading a source whole, at several
 * read sizes so that records get cut at every possible place.
 *
 * @module
 */

import assert from "node:assert/strict";
import { RunnerError } from "../errors.ts";
import { openSource, type SourceOptions, type SourceRecord } from "./mod.ts";
import { concatBytes } from "../util/bytes.ts";

/** Read sizes every helper tries: tiny ones cut records (and UTF-8 sequences) anywhere. */
export const READ_SIZES = [1, 2, 3, 7, 64, 1 << 20];

let dir: string | undefined;

/** Writes `content` to a new temp file with the given extension and returns its path. */
export async function tempFile(content: string | Uint8Array, ext = "csv"): Promise<string> {
  if (dir === undefined) {
    const made = dir = await Deno.makeTempDir({ prefix: "sources_test_" });
    globalThis.addEventListener("unload", () => Deno.removeSync(made, { recursive: true }));
  }
  const path = `${dir}/${crypto.randomUUID()}.${ext}`;
  if (typeof content === "string") await Deno.writeTextFile(path, content);
  else await Deno.writeFile(path, content);
  return path;
}

/** What reading a source whole gave. */
export interface ReadResult {
  records: SourceRecord[];
  columns: readonly string[];
}

/** Reads every record of a source once with `records()`. */
export async function readOnce(options: SourceOptions): Promise<ReadResult> {
  const source = openSource(options);
  const records: SourceRecord[] = [];
  for await (const r of source.records()) records.push(r);
  return { records, columns: source.columns() };
}

/**
 * Reads `content` as the given format at every read size (and through `batches()` too),
 * asserts they all agree, and returns the result.
 */
export async function readAll(
  content: string | Uint8Array,
  format: SourceOptions["format"] = "csv",
  extra: Partial<SourceOptions> = {},
): Promise<ReadResult> {
  const path = await tempFile(content, format);
  const options: SourceOptions = { path, format, delimiter: ",", ...extra };
  let first: ReadResult | undefined;
  for (const readBytes of READ_SIZES) {
    const result = await readOnce({ ...options, readBytes });
    if (first === undefined) first = result;
    else assert.deepEqual(result, first, `read size ${readBytes} differs from read size 1`);
  }
  const batched: SourceRecord[] = [];
  for await (const batch of openSource(options).batches()) {
    assert.ok(batch.length > 0, "batches() yielded an empty batch");
    batched.push(...batch);
  }
  assert.deepEqual(batched, first!.records, "batches() differs from records()");
  return first!;
}

/**
 * Asserts that reading `content` fails with `invalid_source` and exactly `message` (which
 * starts `file:line:`, written here with `FILE` for the path), at every read size.
 * Returns the records yielded before the error (at the default read size).
 */
export async function assertSourceError(
  content: string | Uint8Array,
  message: string,
  format: SourceOptions["format"] = "csv",
  extra: Partial<SourceOptions> = {},
): Promise<SourceRecord[]> {
  const path = await tempFile(content, format);
  let before: SourceRecord[] = [];
  for (const readBytes of READ_SIZES) {
    const records: SourceRecord[] = [];
    const source = openSource({ path, format, delimiter: ",", readBytes, ...extra });
    await assert.rejects(
      async () => {
        for await (const r of source.records()) records.push(r);
      },
      (e: unknown) => {
        assert.ok(e instanceof RunnerError, `expected a RunnerError, got ${e}`);
        assert.equal(e.code, "invalid_source");
        assert.equal(e.message, message.replace("FILE", path), `read size ${readBytes}`);
        return true;
      },
    );
    before = records;
  }
  return before;
}

/** Concatenates text (encoded as UTF-8) and raw bytes, to build files with invalid UTF-8. */
export function bytes(...parts: (string | number[])[]): Uint8Array {
  return concatBytes(
    parts.map((p) => typeof p === "string" ? new TextEncoder().encode(p) : new Uint8Array(p)),
  );
}
