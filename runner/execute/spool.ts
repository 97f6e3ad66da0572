/**
 * The run's spool: upload bodies packed ahead of their turn (`Target.pack`) wait on disk, not in
 * memory, so a batch filling, waiting or in flight costs the runner a read buffer, whatever the
 * batch size and concurrency (a Salesforce job takes 100 MB; four in flight would be 400 MB of
 * memory). Each body is one file in the state directory, opened with mode 0600 and removed at
 * once: it has no name from then on, so no other process can open it and a crash leaves nothing
 * behind; the open file lives until the body is freed or the process ends. The operating system
 * keeps recent writes in its page cache, so reading a body back soon after is a memory copy.
 *
 * Where no file can be made (a read-only state directory) or written (a full disk), bodies are
 * kept in memory instead, with one line on stderr: the run goes on as before spooling existed.
 *
 * @module
 */
import { memorySpool, type Spool, type SpooledBody, type SpoolWriter } from "../targets/mod.ts";
import { freeBytes } from "../util/bytes.ts";
import { openUnnamed, readAt, writeAll } from "../util/fs.ts";

/** Bytes read from a spooled body per piece of its stream. */
export const SPOOL_READ_BYTES = 256 * 1024;

/** Bytes gathered before a write to the file. */
const WRITE_BYTES = 256 * 1024;

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * A spool writing bodies to files in `dir` (which exists: the run's lock is in it).
 *
 * @param log where the one line about falling back to memory goes
 * @param open opens a new file (tests give one that fails)
 */
export function fileSpool(
  dir: string,
  log: (line: string) => void,
  open?: (path: string) => Deno.FsFile,
): Spool {
  // Text is encoded into one buffer, reused by every write of the run (writes are synchronous).
  const scratch = new Scratch();
  let warned = false;
  const fallBack = (why: unknown) => {
    if (warned) return;
    warned = true;
    log(
      `Cannot keep upload bodies on disk in ${dir}/ (${
        why instanceof Error ? why.message : String(why)
      }): keeping them in memory`,
    );
  };
  return {
    open(): SpoolWriter {
      let made;
      try {
        made = openUnnamed(dir, ".spool", open);
      } catch (err) {
        fallBack(err);
        return memorySpool.open();
      }
      // A system that cannot remove an open file: the body's file is removed when freed instead.
      const { file, named } = made;
      return new FileWriter(file, named, scratch, fallBack);
    },
  };
}

/** A body being written to its file; in memory from the first write that fails. */
class FileWriter implements SpoolWriter {
  readonly #file: Deno.FsFile;
  readonly #path: string | undefined;
  readonly #scratch: Scratch;
  readonly #fallBack: (why: unknown) => void;
  #size = 0;
  /** Encoded text not written yet: `#buffer[0, #used)`. */
  readonly #buffer = new Uint8Array(WRITE_BYTES);
  #used = 0;
  #memory: SpoolWriter | undefined;

  constructor(
    file: Deno.FsFile,
    path: string | undefined,
    scratch: Scratch,
    fallBack: (why: unknown) => void,
  ) {
    this.#file = file;
    this.#path = path;
    this.#scratch = scratch;
    this.#fallBack = fallBack;
  }

  write(text: string): void {
    if (this.#memory) return this.#memory.write(text);
    try {
      // Small pieces gather in the buffer and reach the file together (at most 3 bytes per
      // UTF-16 unit); a piece larger than the buffer is encoded on its own.
      if (this.#used + text.length * 3 > this.#buffer.length) this.#flush();
      if (text.length * 3 > this.#buffer.length) {
        const bytes = this.#scratch.encode(text);
        writeAll(this.#file, bytes);
        this.#size += bytes.length;
      } else {
        this.#used += enc.encodeInto(text, this.#buffer.subarray(this.#used)).written;
      }
    } catch (err) {
      this.#toMemory(err);
      this.#memory!.write(text);
    }
  }

  /** After a failed write: what the file and the buffer hold is read back, and goes on in memory. */
  #toMemory(err: unknown): void {
    this.#fallBack(err);
    const memory = memorySpool.open();
    try {
      if (this.#size > 0) memory.write(dec.decode(bytesAt(this.#file, 0, this.#size)));
    } finally {
      closeQuietly(this.#file, this.#path);
    }
    memory.write(dec.decode(this.#buffer.subarray(0, this.#used)));
    this.#used = 0;
    this.#memory = memory;
  }

  /** Writes what the buffer holds to the file. */
  #flush(): void {
    if (this.#used === 0) return;
    writeAll(this.#file, this.#buffer.subarray(0, this.#used));
    this.#size += this.#used;
    this.#used = 0;
  }

  end(): SpooledBody {
    if (!this.#memory) {
      try {
        this.#flush();
      } catch (err) {
        this.#toMemory(err);
      }
    }
    freeBytes(this.#buffer);
    if (this.#memory) return this.#memory.end();
    return new FileBody(this.#file, this.#path, this.#size);
  }
}

/** A complete body in its file, read a piece at a time for each attempt. */
class FileBody implements SpooledBody {
  readonly size: number;
  readonly #file: Deno.FsFile;
  readonly #path: string | undefined;
  #freed = false;

  constructor(file: Deno.FsFile, path: string | undefined, size: number) {
    this.#file = file;
    this.#path = path;
    this.size = size;
  }

  /**
   * Each piece is read into a new array, valid until the reader asks for the next one: then its
   * memory goes back at once rather than at the next garbage collection (with four uploads of
   * 12 MB streaming, 20–25 MB of sent pieces waited for it). `fetch` reads this way: it hands each
   * piece to the runtime, which keeps its own reference to the bytes until they are sent, before it
   * asks for the next. A reader that keeps pieces must copy them.
   */
  stream(): ReadableStream<Uint8Array> {
    let at = 0;
    let last: Uint8Array | undefined;
    const release = () => {
      if (last) freeBytes(last);
      last = undefined;
    };
    return new ReadableStream<Uint8Array>({
      pull: (controller) => {
        release();
        if (this.#freed) {
          return controller.error(new Error("The body was freed: its exchange is over"));
        }
        if (at >= this.size) return controller.close();
        last = bytesAt(this.#file, at, Math.min(SPOOL_READ_BYTES, this.size - at));
        at += last.length;
        controller.enqueue(last);
      },
      cancel: release,
    }, { highWaterMark: 0 });
  }

  bytes(): Uint8Array {
    if (this.#freed) throw new Error("The body was freed: its exchange is over");
    return bytesAt(this.#file, 0, this.size);
  }

  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    closeQuietly(this.#file, this.#path);
  }
}

/** A reusable buffer that text is encoded into as UTF-8. */
class Scratch {
  #buffer = new Uint8Array(64 * 1024);
  readonly #enc = new TextEncoder();

  /** The text's UTF-8 bytes, valid until the next call. */
  encode(text: string): Uint8Array {
    // At most 3 bytes per UTF-16 unit.
    if (text.length * 3 > this.#buffer.length) {
      this.#buffer = new Uint8Array(Math.max(text.length * 3, this.#buffer.length * 2));
    }
    const { written } = this.#enc.encodeInto(text, this.#buffer);
    return this.#buffer.subarray(0, written);
  }
}

/**
 * `length` bytes from `position`: the pieces come from the page cache.
 *
 * @throws {Error} when the file is shorter than that (it was changed under the run)
 */
function bytesAt(file: Deno.FsFile, position: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  readAt(file, position, out, { what: "The spooled body" });
  return out;
}

function closeQuietly(file: Deno.FsFile, path: string | undefined): void {
  try {
    file.close();
  } catch {
    // Already closed.
  }
  if (path === undefined) return;
  try {
    Deno.removeSync(path);
  } catch {
    // Gone already; a leftover `.spool-*` holds no secret and is removed by no one else.
  }
}

/**
 * A file for the keys the duplicate check moves out of memory (`KeyIndex`), beside the bodies
 * and as private: mode 0600 and no name.
 *
 * @throws {Error} when no such file can be made, or the system cannot remove an open file
 */
export function keyFile(dir: string): Deno.FsFile {
  const { file, named } = openUnnamed(dir, ".keys");
  if (named === undefined) return file;
  closeQuietly(file, named);
  throw new Error("this system cannot remove an open file");
}
