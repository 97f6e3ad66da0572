/**
 * Writing files so that a crash never leaves a torn one: write a temp file beside the target,
 * fsync it, rename it over the target. Readers see the old file or the new one, never half.
 *
 * @module
 */
import { basename, dirname, isAbsolute, join, relative, resolve } from "node:path";
import { RunnerError } from "../errors.ts";

/** Options of {@linkcode writeAtomic} and {@linkcode writeAtomicSync}. */
export interface WriteAtomicOptions {
  /**
   * The folder the file must end up in. The path is refused when it, or a symbolic link on its
   * way (a parent folder, or the file itself), resolves to a place outside this folder.
   */
  within?: string;
}

let calls = 0;

/**
 * A temp name no other process or call uses: the pid tells processes apart, the counter calls
 * in one process, the random part a reused pid. It is created with `createNew`, which never
 * follows a symbolic link someone planted under that name.
 */
function tempName(path: string): string {
  const random = crypto.getRandomValues(new Uint32Array(1))[0]!.toString(36);
  return `${path}.tmp-${Deno.pid}-${++calls}-${random}`;
}

/**
 * Writes `text` to `path` atomically, creating the parent folders. A symbolic link at `path` is
 * replaced by the new file, never written through.
 *
 * @throws {RunnerError} `usage` when `options.within` is given and the path leads outside it
 * @example
 * await writeAtomic("out/run.summary.json", JSON.stringify(summary), { within: Deno.cwd() });
 */
export async function writeAtomic(
  path: string,
  text: string,
  options: WriteAtomicOptions = {},
): Promise<void> {
  if (options.within !== undefined) assertWithin(path, options.within);
  const dir = dirname(path);
  await Deno.mkdir(dir, { recursive: true });
  const tmp = tempName(path);
  try {
    const file = await Deno.open(tmp, { write: true, createNew: true });
    try {
      const data = new TextEncoder().encode(text);
      let off = 0;
      while (off < data.length) off += await file.write(data.subarray(off));
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
  syncFolder(dir);
}

/**
 * As {@linkcode writeAtomic}, synchronously: for the run journal, which must be on disk before
 * the request it announces is sent.
 *
 * @throws {RunnerError} `usage` when `options.within` is given and the path leads outside it
 */
export function writeAtomicSync(
  path: string,
  text: string,
  options: WriteAtomicOptions = {},
): void {
  if (options.within !== undefined) assertWithin(path, options.within);
  const dir = dirname(path);
  Deno.mkdirSync(dir, { recursive: true });
  const tmp = tempName(path);
  try {
    const file = Deno.openSync(tmp, { write: true, createNew: true });
    try {
      writeAll(file, new TextEncoder().encode(text));
      file.syncSync();
    } finally {
      file.close();
    }
    Deno.renameSync(tmp, path);
  } catch (err) {
    try {
      Deno.removeSync(tmp);
    } catch {
      // The temp file was never created, or is gone already.
    }
    throw err;
  }
  syncFolder(dir);
}

/** Makes the rename itself durable; some systems cannot open a folder, and then it is skipped. */
function syncFolder(dir: string): void {
  try {
    using folder = Deno.openSync(dir, { read: true });
    folder.syncSync();
  } catch {
    // Best effort: the data itself was synced before the rename.
  }
}

/**
 * Throws unless `path`, with every symbolic link resolved (including one at `path` itself, even
 * dangling), lies inside `within` (also resolved).
 *
 * @throws {RunnerError} `usage` naming the path, where it leads and the folder
 */
export function assertWithin(path: string, within: string): void {
  const root = realLocation(within);
  const real = realLocation(path);
  const rel = relative(root, real);
  if (rel === ".." || rel.startsWith("../") || isAbsolute(rel)) {
    throw new RunnerError(
      "usage",
      `Cannot write "${path}": it leads to "${real}", outside "${within}" (through a symbolic link or "..")`,
    );
  }
}

/**
 * Where a path really points: symbolic links resolved as far as the path exists, the rest
 * appended as written. A dangling link is followed to where it would create its file.
 */
function realLocation(path: string, depth = 0): string {
  if (depth > 40) {
    throw new RunnerError("usage", `Cannot write "${path}": too many levels of symbolic links`);
  }
  let head = resolve(path);
  const tail: string[] = [];
  for (;;) {
    try {
      return join(Deno.realPathSync(head), ...tail);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    const link = danglingLink(head);
    if (link !== undefined) {
      const target = isAbsolute(link) ? link : join(dirname(head), link);
      return realLocation(join(target, ...tail), depth + 1);
    }
    const up = dirname(head);
    if (up === head) return join(head, ...tail);
    tail.unshift(basename(head));
    head = up;
  }
}

/** The target of `path` when it is a symbolic link whose target does not exist. */
function danglingLink(path: string): string | undefined {
  try {
    return Deno.lstatSync(path).isSymlink ? Deno.readLinkSync(path) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Checks, before anything is sent, that a file can be written at `path`: it is not a folder,
 * its parent folders exist or can be created (none of them is a file), the parent takes a new
 * file, and no symbolic link on the way leads outside `within`. Creates the parent folders,
 * which the write would do anyway.
 *
 * @throws {RunnerError} `usage` naming the path and what is in the way
 */
export function assertCanWrite(path: string, within?: string): void {
  const refuse = (why: string) => new RunnerError("usage", `Cannot write "${path}": ${why}`);
  if (within !== undefined) {
    try {
      assertWithin(path, within);
    } catch (err) {
      if (err instanceof RunnerError) throw err;
      // A file where a folder should be on the way: said below, in the words of the mkdir.
    }
  }
  let info: Deno.FileInfo | undefined;
  try {
    info = Deno.statSync(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory)) {
      throw refuse(messageOf(err));
    }
  }
  if (info?.isDirectory) throw refuse("it is a folder");
  const dir = dirname(path);
  try {
    Deno.mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw refuse(
      err instanceof Deno.errors.AlreadyExists || err instanceof Deno.errors.NotADirectory
        ? `a part of "${dir}" is a file, not a folder`
        : messageOf(err),
    );
  }
  const probe = tempName(join(dir, ".bulkrun-probe"));
  try {
    Deno.openSync(probe, { write: true, createNew: true }).close();
    Deno.removeSync(probe);
  } catch (err) {
    throw refuse(`the folder "${dir}" takes no new file (${messageOf(err)})`);
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * A new file in `dir` that only this process can use: created with mode 0600 under a random
 * `prefix-<uuid>` name (never through a planted link), then removed at once, so it has no name,
 * nobody else can open it and a crash leaves nothing behind; its space is given back when it is
 * closed. `named` is the path when the system could not remove an open file (remove it on close).
 *
 * @throws {Deno.errors.NotFound | Deno.errors.PermissionDenied | Error} when no file can be made
 */
export function openUnnamed(
  dir: string,
  prefix: string,
  open: (path: string) => Deno.FsFile = createPrivate,
): { file: Deno.FsFile; named: string | undefined } {
  const path = `${dir.replace(/\/+$/, "")}/${prefix}-${crypto.randomUUID()}`;
  const file = open(path);
  try {
    Deno.removeSync(path);
    return { file, named: undefined };
  } catch {
    return { file, named: path };
  }
}

/** Creates a new file that only its owner may read or write. */
function createPrivate(path: string): Deno.FsFile {
  return Deno.openSync(path, { read: true, write: true, createNew: true, mode: 0o600 });
}

/** Writes every byte where the file's position is (`writeSync` may write fewer). */
export function writeAll(file: Deno.FsFile, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) off += file.writeSync(data.subarray(off));
}

/**
 * Fills `into` from byte `position` of the file, synchronously (a seek and its read must not be
 * split by another reader of the same file); returns how many bytes were read. With `short`, a
 * file that ends first gives fewer; otherwise that throws, naming `what`.
 */
export function readAt(
  file: Deno.FsFile,
  position: number,
  into: Uint8Array,
  o: { short?: boolean; what?: string } = {},
): number {
  file.seekSync(position, Deno.SeekMode.Start);
  let done = 0;
  while (done < into.length) {
    const n = file.readSync(into.subarray(done));
    if (n === null || n === 0) {
      if (o.short) break;
      throw new Error(
        `${o.what ?? "The file"} ends at byte ${position + done} of ${position + into.length}`,
      );
    }
    done += n;
  }
  return done;
}
