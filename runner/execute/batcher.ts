/**
 * The batcher: turns source records into mapped batches in source order. Rows that cannot be
 * read or mapped are rejected here (to the ledger and the rejects file) and never sent.
 *
 * @module
 */
import type { Plan } from "../compile.ts";
import type { RejectsWriter } from "../report/rejects.ts";
import type { SourceRecord } from "../sources/mod.ts";
import type { MappedRow } from "../mapping/mod.ts";
import type { Batch, RowPacker } from "../targets/mod.ts";
import type { ChangeTracker } from "./changes.ts";
import { KeyIndex, KeyLines } from "../state/mod.ts";
import { KeyColumn } from "../util/key_column.ts";
import { freeBytes } from "../util/bytes.ts";
import type { RunLedger } from "./ledger.ts";

/**
 * A batch on its way. Only the batch: the source records of its rows are not kept (a row that
 * fails remotely is written to the rejects file from the source, by line, when the run ends;
 * see `RejectsWriter.writeLater`).
 */
export interface InFlight {
  batch: Batch;
}

/** Where rows that did not load go (the rejects file). */
export type RejectsSink = Pick<RejectsWriter, "write" | "writeLater">;

/** What the batcher needs of a plan. */
export type BatcherPlan =
  & Pick<Plan, "mapper" | "keyOf" | "key">
  & Partial<Pick<Plan, "duplicates">>;

/** What a key seen again means: nothing, or a local reject naming the other line. */
export type DuplicateCheck = (
  key: string | undefined,
  line: number,
) => { reject: boolean; message: string } | undefined;

/** Each key's line, as the `last_wins` pre-scan found it (a `KeyIndex`, or a Map in tests). */
export type LineOfKey = Pick<ReadonlyMap<string, number>, "get">;

/** What to do with a key seen again in the same file (`duplicates`). */
export type DuplicatePolicy = Plan["duplicates"];

/**
 * Finds rows whose key was seen on another line of the same file. `reject` and `first_wins`
 * remember each key and the line it was first seen on, and drop a later row with that key;
 * `last_wins` drops every row that is not the last of its key in `last` (from a first pass
 * over the source, `lastLines`); `allow` finds nothing. A dropped row is a local reject
 * naming both lines, so it is counted and written to the rejects file. Keys live in one
 * `KeyIndex` (typed arrays): 23–29 bytes a key of 10 characters, so 1M keys take about 25 MB
 * and no object per key, and past 786,000 keys, with `newIndex` giving it files, 2 bytes a key
 * (`allow` keeps none).
 *
 * @param last `last_wins`: each key's last line (rows the pre-scan did not see are sent)
 * @param newIndex makes the index of `reject` and `first_wins` (by default in memory alone)
 */
export function duplicateFinder(
  policy: DuplicatePolicy,
  last?: LineOfKey,
  newIndex: () => KeyIndex = () => new KeyIndex(),
): DuplicateCheck {
  if (policy === "allow") return () => undefined;
  const quoted = (key: string) => `Duplicate key ${JSON.stringify(key)}`;
  if (policy === "last_wins") {
    return (key, line) => {
      const wins = key === undefined ? undefined : last?.get(key);
      if (key === undefined || wins === undefined || wins === line) return undefined;
      return {
        reject: true,
        message: `${
          quoted(key)
        } dropped: line ${wins} has the same key and wins (duplicates: last_wins)`,
      };
    };
  }
  const seen = newIndex();
  return (key, line) => {
    if (key === undefined) return undefined;
    const first = seen.claim(key, line);
    if (first === undefined) return undefined;
    return {
      reject: true,
      message: policy === "first_wins"
        ? `${quoted(key)} dropped: line ${first} has the same key and wins (duplicates: first_wins)`
        : `${quoted(key)}: line ${first} has the same key (duplicates: reject)`,
    };
  };
}

/**
 * Rows handed to a target's packer at a time: enough to amortise each piece, few enough that
 * they die young (a scavenge every ~10,000 rows), so no row reaches the old generation.
 */
const CHUNK_ROWS = 1000;

/** Collects mapped rows into batches of `size` rows. */
export class Batcher {
  readonly #plan: BatcherPlan;
  readonly #size: number;
  readonly #ledger: RunLedger;
  readonly #rejects: RejectsSink | undefined;
  readonly #changes: ChangeTracker | undefined;
  #next = 0;
  #cur: InFlight;
  readonly #pack: ((batch: Batch) => RowPacker | undefined) | undefined;
  /** Packs the current batch as it fills; undefined when its rows are kept instead. */
  #packer: RowPacker | undefined;
  /** Rows of the current batch not handed to its packer yet. */
  #chunk: MappedRow[] = [];
  /**
   * `duplicates: allow`: keys of the current batch, and its rows of a key seen before in it. The
   * keys are bytes in typed arrays, not a `Set` of 50,000 strings per batch that lived long
   * enough for V8 to promote them (60 MiB more heap for 1M rows, measured).
   */
  readonly #batchKeys = new KeyLines();
  #held = new Map<number, MappedRow>();
  /** The current batch's keys (its `keys`), appended to as rows come. */
  #keys = new KeyColumn();
  /** The current batch's source lines, `#lines[0, #rows)`: its `lines` once it is sealed. */
  #lines = new Uint32Array(0);
  #rows = 0;
  readonly #dupes: DuplicateCheck;

  /**
   * @param size rows per batch (the target's batch size)
   * @param rejects where rejected rows go
   * @param changes `send: changed`: decides which mapped rows are sent
   * @param lastLines `duplicates: last_wins`: each key's last line (`lastLines` in preflight)
   * @param pack starts packing a batch as it fills (`Target.pack`): its rows are handed over a
   *   chunk at a time and none is kept in the batch
   * @param newIndex makes the duplicate check's key index (see `duplicateFinder`)
   */
  constructor(
    plan: BatcherPlan,
    size: number,
    ledger: RunLedger,
    rejects?: RejectsSink,
    changes?: ChangeTracker,
    lastLines?: LineOfKey,
    pack?: (batch: Batch) => RowPacker | undefined,
    newIndex?: () => KeyIndex,
  ) {
    this.#plan = plan;
    this.#size = size;
    this.#ledger = ledger;
    this.#rejects = rejects;
    this.#changes = changes;
    this.#dupes = duplicateFinder(plan.duplicates ?? "allow", lastLines, newIndex);
    this.#pack = pack;
    this.#cur = this.#fresh();
  }

  /** Takes one record; returns the batch it completed, if it completed one. */
  add(rec: SourceRecord): InFlight | undefined {
    if (rec.error !== undefined) {
      this.#ledger.rowRejected([
        { source_line: rec.line, code: "invalid_row", message: rec.error, stage: "local" },
      ]);
      this.#rejects?.write(rec.values, rec.line, rec.error, rec.raw);
      this.#changes?.rejected(this.#plan.keyOf(rec.values));
      return undefined;
    }
    const r = this.#plan.mapper.map(rec.values);
    if (!r.ok) {
      const key = this.#plan.keyOf(rec.values);
      this.#ledger.rowRejected(r.errors.map((e) => ({
        source_line: rec.line,
        ...(key === undefined ? {} : { key }),
        field: e.field,
        code: e.code,
        message: e.message,
        stage: "local" as const,
      })));
      this.#rejects?.write(rec.values, rec.line, r.errors.map((e) => e.message).join("; "));
      this.#changes?.rejected(key);
      return undefined;
    }
    // Before the change check: a dropped row must not be admitted, or the keys the tracker
    // keeps for the batch would no longer line up with the batch's rows.
    const key = this.#plan.keyOf(rec.values);
    const dup = this.#dupes(key, rec.line);
    if (dup?.reject) {
      this.#ledger.rowRejected([{
        source_line: rec.line,
        ...(key === undefined ? {} : { key }),
        field: this.#plan.key,
        code: "duplicate_key",
        message: dup.message,
        stage: "local",
      }]);
      this.#rejects?.write(rec.values, rec.line, dup.message);
      return undefined;
    }
    if (this.#changes && !this.#changes.admit(this.#cur.batch.index, r.row)) {
      this.#ledger.rowUnchanged();
      return undefined;
    }
    this.#ledger.rowStaged();
    const cur = this.#cur;
    if (this.#packer) {
      this.#chunk.push(r.row);
      if (this.#chunk.length === CHUNK_ROWS) {
        this.#packer.add(this.#chunk);
        this.#chunk = [];
      }
      this.#holdRepeated(r.row, this.#rows);
    } else cur.batch.rows.push(r.row);
    this.#pushLine(rec.line);
    this.#keys.push(r.row[this.#plan.key] ?? null);
    if (this.#rows < this.#size) return undefined;
    this.#seal();
    this.#cur = this.#fresh();
    return cur;
  }

  /** Appends a row's source line, growing the column by doubling up to the batch's size. */
  #pushLine(line: number): void {
    if (this.#rows === this.#lines.length) {
      const grown = new Uint32Array(Math.min(this.#size, Math.max(1024, this.#rows * 2)));
      grown.set(this.#lines);
      freeBytes(this.#lines);
      this.#lines = grown;
    }
    this.#lines[this.#rows++] = line;
  }

  /** The last, partial batch; undefined when it would be empty. */
  rest(): InFlight | undefined {
    if (this.#rows === 0) return undefined;
    this.#seal();
    return this.#cur;
  }

  /**
   * Under `duplicates: allow`, one key may be on several rows of a batch, and an API's error may
   * have to be told apart by the row's values (WorkSpan's `data_row`). Every row of a key already
   * in the batch is kept; the first one is not, and is the one left when no kept row matches.
   */
  #holdRepeated(row: MappedRow, at: number): void {
    if (this.#plan.duplicates !== "allow") return;
    const k = row[this.#plan.key];
    // Values that are not strings are told apart from strings by a prefix; where two keys still
    // read the same (a number and a string of a NUL, its digits), more rows are kept, never fewer.
    const text = typeof k === "string" ? k : `\u0000${k === undefined ? null : String(k)}`;
    if (this.#batchKeys.claim(text, at) !== undefined) this.#held.set(at, row);
  }

  /**
   * Ends the current batch's packing: its rows are in the packed body, and only rows of a key
   * repeated in the batch stay in it (see `#holdRepeated`).
   */
  #seal(): void {
    const batch = this.#cur.batch;
    batch.lines = this.#lines.subarray(0, this.#rows);
    const packer = this.#packer;
    if (!packer) return;
    if (this.#chunk.length > 0) packer.add(this.#chunk);
    packer.end();
    this.#chunk = [];
    this.#packer = undefined;
    batch.rows = sparseRows(this.#rows);
    for (const [i, row] of this.#held) batch.rows[i] = row;
    this.#held = new Map();
    this.#batchKeys.clear();
  }

  #fresh(): InFlight {
    const p = this.#plan;
    this.#keys = new KeyColumn(this.#size);
    this.#lines = new Uint32Array(0);
    this.#rows = 0;
    const batch: Batch = {
      index: this.#next++,
      fields: p.mapper.fields,
      rows: [],
      lines: [],
      keys: this.#keys,
      key: p.key,
    };
    this.#packer = this.#pack?.(batch);
    return { batch };
  }
}

/**
 * An array of `n` holes that takes no room: an array with one element far past its end is kept
 * by V8 as a dictionary, where `new Array(n)` reserves n slots (400 KB for a batch of 50,000,
 * promoted with the batch, since it lives as long as it). The element is deleted again, so every
 * index reads `undefined` and none is present, as in `new Array(n)`.
 */
export function sparseRows(n: number): MappedRow[] {
  const rows: MappedRow[] = [];
  if (n === 0) return rows;
  rows[n - 1] = undefined as unknown as MappedRow;
  delete rows[n - 1];
  return rows;
}

/**
 * Follow-up batches (rows an API left unprocessed, sent again) are numbered from here, apart
 * from the source's batches, so a resumed run numbers both the same way whatever the timing.
 */
export const RESEND_BASE = 1_000_000_000;

/** The index of the follow-up batch of batch `index`. */
export function resendIndex(index: number): number {
  return RESEND_BASE + index;
}

/** Whether a batch is a follow-up batch (whose unprocessed rows are not sent a third time). */
export function isResend(batch: Pick<Batch, "index">): boolean {
  return batch.index >= RESEND_BASE;
}

/**
 * The follow-up batch of the rows `rows` (indexes in `f`) an API never processed: the same
 * fields and key, the rows in their order, each with its source line and key.
 *
 * @param mapped the rows themselves when `f`'s were let go (read again from the source)
 */
export function resendBatch(
  f: InFlight,
  rows: readonly number[],
  mapped?: ReadonlyMap<number, MappedRow>,
): InFlight {
  const b = f.batch;
  return {
    batch: {
      index: resendIndex(b.index),
      fields: b.fields,
      key: b.key,
      rows: rows.map((i) => mapped?.get(i) ?? b.rows[i]!),
      lines: rows.map((i) => b.lines[i]!),
      keys: rows.map((i) => b.keys.at(i)!),
    },
  };
}
