/**
 * The change-only state store (`runner/state/`) measured against an SQLite table (`node:sqlite`,
 * WAL) doing the same work, for `send: changed` on 1M keys:
 *
 * 1. first run: every row new; hash, decide, confirm, commit every 5,000 rows (one batch), close;
 * 2. second run over the same keys with 1% of rows changed: open, `rowHash` + `decide` for every
 *    row, confirm + commit the changed 1%, list removed keys, close.
 *
 * Each engine runs in its own process (for its peak RSS). Per-row costs are set against the
 * runner's local work per row with `send: all` (about 2.5–2.7 µs/row, `docs/performance.md`) and
 * against `JSON.stringify` of the same mapped rows (what the target does per row) in this run.
 *
 * Usage: `deno run -A bench/state_store.ts [--rows 1000000] [--engine store|sqlite]`
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { parseArgs } from "node:util";
import { openStateStore, rowHash } from "../runner/state/mod.ts";

const FIELDS = [
  "opportunity_id",
  "opportunity_name",
  "close_date",
  "amount",
  "stage",
  "account",
  "owner_email",
  "source_system",
] as const;
const STAGES = ["Prospecting", "Qualification", "Proposal", "Negotiation", "Closed Won"];
const ACCOUNTS = ["Globex", "Initech", "Hooli", "Acme, Inc.", 'Umbrella "Health"', "Soylent"];
const CHUNK = 10_000;
const BATCH = 5_000;

/** A mapped row like the bench pipeline's output; `changed` alters the amount. */
function mappedRow(i: number, changed: boolean): Record<string, unknown> {
  return {
    opportunity_id: `aw${String(i).padStart(7, "0")}`,
    opportunity_name: `Opportunity ${i} - Renewal ${2019 + (i % 8)}`,
    close_date: `20${19 + (i % 8)}-0${1 + (i % 9)}-${10 + (i % 18)}`,
    amount: 1000 * (1 + (i % 500)) + (changed ? 1 : 0),
    stage: STAGES[i % STAGES.length],
    account: ACCOUNTS[i % ACCOUNTS.length],
    owner_email: `owner${i % 5}@example.com`,
    source_system: "crm",
  };
}

/** Numbers of the first run, in ms, bytes and MiB. */
interface FirstRun {
  firstRunMs: number;
  bytesAfterFirst: number;
  firstRssMiB: number;
}

/** Numbers of the second run (1% changed). */
interface SecondRun {
  openMs: number;
  hashMs: number;
  decideMs: number;
  decideShuffledMs: number;
  stringifyMs: number;
  changed: number;
  confirmCommitMs: number;
  removedMs: number;
  closeMs: number;
  bytesAfterSecond: number;
  secondRssMiB: number;
  /** RSS grown by opening the state. */
  openRssMiB: number;
  /** RSS grown from before the open to after every lookup (index built), rows included. */
  stateRssMiB: number;
}

/** Both runs of one engine. */
type EngineResult = { engine: string; rows: number } & FirstRun & SecondRun;

/** The small surface both engines offer the measuring loop. */
interface Engine {
  decide(key: string, hash: number): string;
  confirm(key: string, hash: number): void;
  commit(): void;
  removed(): number;
  close(): void;
}

function storeEngine(dir: string): Engine {
  const { store } = openStateStore(dir, "bench", "identity-1");
  return {
    decide: (k, h) => store.decide(k, h),
    confirm: (k, h) => store.confirm(k, h),
    commit: () => store.commit(),
    removed: () => store.removed(100).count,
    close: () => store.close(),
  };
}

/**
 * SQLite, one row per key. With `inMemory`, the table is read into a `Map` at open and decide()
 * asks the Map, the best SQLite can do per row; otherwise each decide() is a prepared SELECT.
 */
function sqliteEngine(dir: string, inMemory: boolean): Engine {
  const db = new DatabaseSync(`${dir}/bench.sqlite`);
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;");
  db.exec(
    "CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, hash INTEGER NOT NULL, flags INTEGER NOT NULL) WITHOUT ROWID",
  );
  const get = db.prepare("SELECT hash, flags FROM state WHERE key = ?");
  const put = db.prepare(
    "INSERT INTO state (key, hash, flags) VALUES (?, ?, 3) ON CONFLICT(key) DO UPDATE SET hash = excluded.hash, flags = 3",
  );
  const map = new Map<string, number>();
  if (inMemory) {
    for (const r of db.prepare("SELECT key, hash, flags FROM state").iterate()) {
      const row = r as { key: string; hash: number; flags: number };
      map.set(row.key, row.flags & 1 ? row.hash : -1);
    }
  }
  let open = false;
  return {
    decide(k, h) {
      if (inMemory) {
        const v = map.get(k);
        return v === undefined ? "new" : v === -1 ? "retry" : v === h ? "unchanged" : "changed";
      }
      const r = get.get(k) as { hash: number; flags: number } | undefined;
      return !r ? "new" : !(r.flags & 1) ? "retry" : r.hash === h ? "unchanged" : "changed";
    },
    confirm(k, h) {
      if (!open) db.exec("BEGIN");
      open = true;
      put.run(k, h);
    },
    commit() {
      if (open) db.exec("COMMIT");
      open = false;
    },
    // Seen keys would need a temp table joined here; the count of all keys stands in for it.
    removed: () => Number((db.prepare("SELECT count(*) AS n FROM state").get() as { n: number }).n),
    close() {
      db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
      db.close();
    },
  };
}

function makeEngine(name: string, dir: string): Engine {
  return name === "store" ? storeEngine(dir) : sqliteEngine(dir, name === "sqlite+map");
}

function dirBytes(dir: string): number {
  let n = 0;
  for (const e of Deno.readDirSync(dir)) if (e.isFile) n += Deno.statSync(`${dir}/${e.name}`).size;
  return n;
}

function peakRssMiB(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"));
  return m ? Number(m[1]) / 1024 : NaN;
}

const keyOf = (i: number) => `aw${String(i).padStart(7, "0")}`;

/** First run: every row new and confirmed, a commit per batch. */
function firstRun(engine: string, dir: string, rows: number): FirstRun {
  const t = performance.now();
  const e = makeEngine(engine, dir);
  for (let i = 0; i < rows; i++) {
    const k = keyOf(i);
    const h = rowHash(FIELDS, mappedRow(i, false));
    e.decide(k, h);
    e.confirm(k, h);
    if ((i + 1) % BATCH === 0) e.commit();
  }
  e.commit();
  e.close();
  return {
    firstRunMs: performance.now() - t,
    bytesAfterFirst: dirBytes(dir),
    firstRssMiB: peakRssMiB(),
  };
}

/** Second run, 1% changed. Rows are built outside the timed parts, a chunk at a time. */
function secondRun(engine: string, dir: string, rows: number): SecondRun {
  const rss0 = Deno.memoryUsage().rss;
  let t = performance.now();
  const e = makeEngine(engine, dir);
  const openMs = performance.now() - t;
  const openRssMiB = (Deno.memoryUsage().rss - rss0) / 2 ** 20;
  let hashMs = 0, decideMs = 0, stringifyMs = 0, sink = 0;
  const toSend: [string, number][] = [];
  const hashes = new Float64Array(CHUNK);
  for (let start = 0; start < rows; start += CHUNK) {
    const n = Math.min(CHUNK, rows - start);
    const ks = Array.from({ length: n }, (_, j) => keyOf(start + j));
    const batch = Array.from(
      { length: n },
      (_, j) => mappedRow(start + j, (start + j) % 100 === 7),
    );
    let t0 = performance.now();
    for (let j = 0; j < n; j++) hashes[j] = rowHash(FIELDS, batch[j]!);
    const t1 = performance.now();
    for (let j = 0; j < n; j++) {
      if (e.decide(ks[j]!, hashes[j]!) !== "unchanged") toSend.push([ks[j]!, hashes[j]!]);
    }
    const t2 = performance.now();
    hashMs += t1 - t0;
    decideMs += t2 - t1;
    t0 = performance.now();
    for (let j = 0; j < n; j++) sink += JSON.stringify(batch[j]).length;
    stringifyMs += performance.now() - t0;
  }
  t = performance.now();
  toSend.forEach(([k, h], i) => {
    e.confirm(k, h);
    if ((i + 1) % BATCH === 0) e.commit();
  });
  e.commit();
  const confirmCommitMs = performance.now() - t;
  t = performance.now();
  e.removed();
  const removedMs = performance.now() - t;
  const secondRssMiB = peakRssMiB();
  // The same lookups in a shuffled key order (an export sorted differently from the last one).
  const sample = Math.min(rows, 200_000);
  const order = Array.from({ length: sample }, (_, i) => (i * 7_919_993) % rows);
  const keys = order.map(keyOf);
  t = performance.now();
  for (let i = 0; i < sample; i++) sink += e.decide(keys[i]!, i).length;
  const decideShuffledMs = (performance.now() - t) * rows / sample;
  const stateRssMiB = (Deno.memoryUsage().rss - rss0) / 2 ** 20;
  t = performance.now();
  e.close();
  const closeMs = performance.now() - t;
  if (sink === 0) throw new Error("nothing serialised");
  return {
    openMs,
    hashMs,
    decideMs,
    decideShuffledMs,
    stringifyMs,
    changed: toSend.length,
    confirmCommitMs,
    removedMs,
    closeMs,
    bytesAfterSecond: dirBytes(dir),
    secondRssMiB,
    openRssMiB,
    stateRssMiB,
  };
}

const ns = (ms: number, rows: number) => `${(ms * 1e6 / rows).toFixed(0)} ns`;
const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;
const rate = (ms: number, rows: number) => `${(rows / ms / 1000).toFixed(2)}M rows/s`;

function table(results: EngineResult[]): string {
  const line = (label: string, f: (r: EngineResult) => string) =>
    `| ${label} | ${results.map(f).join(" | ")} |`;
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const added = (r: EngineResult) =>
    r.openMs + r.hashMs + r.decideMs + r.confirmCommitMs + r.removedMs + r.closeMs;
  return [
    `| ${results[0]!.rows.toLocaleString("en")} keys | ${
      results.map((r) => r.engine).join(" | ")
    } |`,
    `| --- | ${results.map(() => "---").join(" | ")} |`,
    line("first run: hash, decide, confirm, commit per 5,000, close", (r) => s(r.firstRunMs)),
    line("first run: peak RSS of the bench process", (r) => `${r.firstRssMiB.toFixed(0)} MiB`),
    line("size on disk after the first run", (r) => mb(r.bytesAfterFirst)),
    line("second run: open", (r) => `${r.openMs.toFixed(0)} ms`),
    line(
      "second run: rowHash per row",
      (r) => `${ns(r.hashMs, r.rows)} (${rate(r.hashMs, r.rows)})`,
    ),
    line(
      "second run: decide per row, same order",
      (r) => `${ns(r.decideMs, r.rows)} (${rate(r.decideMs, r.rows)})`,
    ),
    line(
      "second run: decide per row, shuffled order",
      (r) => `${ns(r.decideShuffledMs, r.rows)} (${rate(r.decideShuffledMs, r.rows)})`,
    ),
    line(
      "second run: JSON.stringify per row (what send: all does per row)",
      (r) => ns(r.stringifyMs, r.rows),
    ),
    line("second run: rows to send (1% changed)", (r) => r.changed.toLocaleString("en")),
    line(
      "second run: confirm + commit of those (2 commits)",
      (r) => `${r.confirmCommitMs.toFixed(0)} ms`,
    ),
    line("second run: removed()", (r) => `${r.removedMs.toFixed(0)} ms`),
    line("second run: close", (r) => `${r.closeMs.toFixed(0)} ms`),
    line("second run: peak RSS of the bench process", (r) => `${r.secondRssMiB.toFixed(0)} MiB`),
    line("second run: RSS grown by open", (r) => `${r.openRssMiB.toFixed(0)} MiB`),
    line("second run: RSS grown by the whole run", (r) => `${r.stateRssMiB.toFixed(0)} MiB`),
    line("size on disk after the second run", (r) => mb(r.bytesAfterSecond)),
    line(
      "added local work per row (open, hash, decide, commit, close)",
      (r) => ns(added(r), r.rows),
    ),
    line(
      "the same, net of the 99% of rows not serialised",
      (r) => ns(added(r) - r.stringifyMs * (1 - r.changed / r.rows), r.rows),
    ),
  ].join("\n");
}

async function child(args: string[]): Promise<unknown> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", import.meta.filename!, ...args],
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`The run ${args.join(" ")} failed`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      rows: { type: "string", default: "1000000" },
      engine: { type: "string", default: "store,sqlite+map,sqlite" },
      phase: { type: "string" },
      dir: { type: "string" },
    },
  });
  const rows = Number(values.rows);
  if (values.phase && values.dir) {
    const run = values.phase === "first" ? firstRun : secondRun;
    console.log(JSON.stringify(run(values.engine, values.dir, rows)));
    return;
  }
  const results: EngineResult[] = [];
  for (const engine of values.engine.split(",")) {
    const dir = Deno.makeTempDirSync({ prefix: "state-bench-" });
    try {
      const common = ["--rows", String(rows), "--engine", engine, "--dir", dir];
      const first = await child([...common, "--phase", "first"]) as FirstRun;
      const second = await child([...common, "--phase", "second"]) as SecondRun;
      results.push({ engine, rows, ...first, ...second });
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  }
  console.log(table(results));
  console.log(
    `\nDeno ${Deno.version.deno}; load average ${
      Deno.loadavg().map((x) => x.toFixed(2)).join(" ")
    }`,
  );
}

if (import.meta.main) await main();
