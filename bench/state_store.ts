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

/** Per-engine numbers, in ms and bytes. */
interface EngineResult {
  engine: string;
  rows: number;
  firstRunMs: number;
  openMs: number;
  hashMs: number;
  decideMs: number;
  stringifyMs: number;
  changed: number;
  confirmCommitMs: number;
  closeMs: number;
  removedMs: number;
  bytesAfterFirst: number;
  bytesAfterSecond: number;
  peakRssMiB: number;
}

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

function sqliteEngine(dir: string): Engine {
  const db = new DatabaseSync(`${dir}/bench.sqlite`);
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;");
  db.exec(
    "CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, hash INTEGER NOT NULL, flags INTEGER NOT NULL) WITHOUT ROWID",
  );
  const get = db.prepare("SELECT hash, flags FROM state WHERE key = ?");
  const put = db.prepare(
    "INSERT INTO state (key, hash, flags) VALUES (?, ?, 3) ON CONFLICT(key) DO UPDATE SET hash = excluded.hash, flags = 3",
  );
  let open = false;
  return {
    decide(k, h) {
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

function dirBytes(dir: string): number {
  let n = 0;
  for (const e of Deno.readDirSync(dir)) if (e.isFile) n += Deno.statSync(`${dir}/${e.name}`).size;
  return n;
}

function peakRssMiB(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** One engine, both runs, in this process. */
function runEngine(engineName: string, rows: number): EngineResult {
  const dir = Deno.makeTempDirSync({ prefix: "state-bench-" });
  const make = () => engineName === "sqlite" ? sqliteEngine(dir) : storeEngine(dir);
  const keys = (start: number, n: number) =>
    Array.from({ length: n }, (_, j) => `aw${String(start + j).padStart(7, "0")}`);
  try {
    // First run: every row new and confirmed, a commit per batch.
    let t = performance.now();
    let e = make();
    for (let start = 0; start < rows; start += CHUNK) {
      const n = Math.min(CHUNK, rows - start);
      const ks = keys(start, n);
      for (let j = 0; j < n; j++) {
        const h = rowHash(FIELDS, mappedRow(start + j, false));
        e.decide(ks[j]!, h);
        e.confirm(ks[j]!, h);
        if ((start + j + 1) % BATCH === 0) e.commit();
      }
    }
    e.commit();
    e.close();
    const firstRunMs = performance.now() - t;
    const bytesAfterFirst = dirBytes(dir);

    // Second run: 1% changed. Rows are built outside the timed parts, a chunk at a time.
    t = performance.now();
    e = make();
    const openMs = performance.now() - t;
    let hashMs = 0, decideMs = 0, stringifyMs = 0;
    const toSend: [string, number][] = [];
    const hashes = new Float64Array(CHUNK);
    let sink = 0;
    for (let start = 0; start < rows; start += CHUNK) {
      const n = Math.min(CHUNK, rows - start);
      const ks = keys(start, n);
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
    t = performance.now();
    e.close();
    const closeMs = performance.now() - t;
    if (sink === 0) throw new Error("nothing serialised");
    return {
      engine: engineName,
      rows,
      firstRunMs,
      openMs,
      hashMs,
      decideMs,
      stringifyMs,
      changed: toSend.length,
      confirmCommitMs,
      closeMs,
      removedMs,
      bytesAfterFirst,
      bytesAfterSecond: dirBytes(dir),
      peakRssMiB: peakRssMiB(),
    };
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

const ns = (ms: number, rows: number) => `${(ms * 1e6 / rows).toFixed(0)} ns`;
const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;
const rate = (ms: number, rows: number) => `${(rows / ms / 1000).toFixed(2)}M rows/s`;

function table(results: EngineResult[]): string {
  const rowsOf = (label: string, f: (r: EngineResult) => string) =>
    `| ${label} | ${results.map(f).join(" | ")} |`;
  return [
    `| ${results[0]!.rows.toLocaleString("en")} keys | ${
      results.map((r) => r.engine).join(" | ")
    } |`,
    `| --- | ${results.map(() => "---").join(" | ")} |`,
    rowsOf(
      "first run (hash, decide, confirm, commit/5,000, close)",
      (r) => `${(r.firstRunMs / 1000).toFixed(2)} s`,
    ),
    rowsOf("size on disk after the first run", (r) => mb(r.bytesAfterFirst)),
    rowsOf("second run: open", (r) => `${r.openMs.toFixed(0)} ms`),
    rowsOf(
      "second run: rowHash per row",
      (r) => `${ns(r.hashMs, r.rows)} (${rate(r.hashMs, r.rows)})`,
    ),
    rowsOf(
      "second run: decide per row",
      (r) => `${ns(r.decideMs, r.rows)} (${rate(r.decideMs, r.rows)})`,
    ),
    rowsOf("second run: JSON.stringify per row (reference)", (r) => ns(r.stringifyMs, r.rows)),
    rowsOf("second run: rows to send (1% changed)", (r) => r.changed.toLocaleString("en")),
    rowsOf("second run: confirm + commit of those", (r) => `${r.confirmCommitMs.toFixed(0)} ms`),
    rowsOf("second run: removed()", (r) => `${r.removedMs.toFixed(0)} ms`),
    rowsOf("second run: close", (r) => `${r.closeMs.toFixed(0)} ms`),
    rowsOf("size on disk after the second run", (r) => mb(r.bytesAfterSecond)),
    rowsOf("peak RSS of the process", (r) => `${r.peakRssMiB.toFixed(0)} MiB`),
    rowsOf(
      "added local work per row (open + hash + decide + commit + close) vs 2.6 µs/row",
      (r) => {
        const ms = r.openMs + r.hashMs + r.decideMs + r.confirmCommitMs + r.removedMs + r.closeMs;
        return `${ns(ms, r.rows)} = ${(ms * 1e6 / r.rows / 2600 * 100).toFixed(0)}%`;
      },
    ),
  ].join("\n");
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: { rows: { type: "string", default: "1000000" }, engine: { type: "string" } },
  });
  const rows = Number(values.rows);
  if (values.engine) {
    console.log(JSON.stringify(runEngine(values.engine, rows)));
    return;
  }
  const results: EngineResult[] = [];
  for (const engine of ["store", "sqlite"]) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", import.meta.filename!, "--rows", String(rows), "--engine", engine],
      stderr: "inherit",
    }).output();
    if (!out.success) throw new Error(`The ${engine} run failed`);
    results.push(JSON.parse(new TextDecoder().decode(out.stdout)) as EngineResult);
  }
  console.log(table(results));
  console.log(`\n${Deno.loadavg ? `load average ${Deno.loadavg().join(", ")}` : ""}`);
}

if (import.meta.main) await main();
