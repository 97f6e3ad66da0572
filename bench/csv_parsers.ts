/**
 * Measures streaming CSV parsers on a generated opportunities file and checks them on the
 * quirks the runner must handle. Results go to `bench/CSV_PARSERS.md` (by hand).
 *
 * Usage: `deno run -A bench/csv_parsers.ts [rows]` (default 1,000,000 rows, about 100 MB).
 * Each parser runs in its own subprocess (three timed runs, then one run that checks every
 * value and line number against what the generator wrote), so peak RSS is per parser.
 * Miller is measured too when `mlr` is on the PATH.
 *
 * @module
 */

import { parse as csvParseStream } from "csv-parse/stream";
import Papa from "papaparse";
import { inferSchema, initParser, type Parser as UdsvParser } from "udsv";
import { Readable } from "node:stream";
import process from "node:process";
import { CsvParser } from "../runner/sources/csv.ts";
import { openSource } from "../runner/sources/mod.ts";
import { openFile, readText } from "../runner/sources/_text.ts";

/** Receives one data row (the header is not passed) and, when the parser knows it, its start line. */
type OnRow = (fields: string[], line: number | undefined) => void;

/** A streaming parser under test: reads `path`, calls `onRow` for every data row. */
interface Candidate {
  name: string;
  /** True when the candidate reports each record's start line. */
  lines: boolean;
  run(path: string, delimiter: string, onRow: OnRow): Promise<void>;
}

const READ_BYTES = 1 << 20;

const candidates: Candidate[] = [
  {
    name: "decode only (floor)",
    lines: false,
    async run(path) {
      for await (const _ of readText(await openFile(path), READ_BYTES));
    },
  },
  {
    name: "csv-parse 7.0.3 (csv-parse/stream, info)",
    lines: true,
    async run(path, delimiter, onRow) {
      const file = await Deno.open(path);
      const parser = csvParseStream({
        delimiter,
        bom: true,
        info: true,
        relax_column_count: true,
        skip_empty_lines: true,
        record_delimiter: ["\r\n", "\n", "\r"],
      });
      // csv-parse reports the line where a record ends; the start follows from the previous
      // end and the blank lines skipped in between.
      let previousEnd = 0;
      let previousEmpty = 0;
      let header = true;
      for await (const { record, info } of file.readable.pipeThrough(parser)) {
        const start = previousEnd + 1 + (info.empty_lines - previousEmpty);
        previousEnd = info.lines;
        previousEmpty = info.empty_lines;
        if (header) header = false;
        else onRow(record as string[], start);
      }
    },
  },
  {
    name: "papaparse 5.7.1 (Node stream, chunk)",
    lines: false,
    async run(path, delimiter, onRow) {
      const text = Readable.from(textChunks(path));
      let header = true;
      await new Promise<void>((resolve, reject) => {
        Papa.parse<string[]>(text as unknown as File, {
          delimiter,
          skipEmptyLines: true,
          chunk(results: { data: string[][]; errors: { message: string; row?: number }[] }) {
            // Papa reports problems (an unclosed quote) beside the data instead of throwing.
            if (results.errors.length > 0) throw new Error(results.errors[0]!.message);
            const rows = results.data;
            for (let i = 0; i < rows.length; i++) {
              if (header) header = false;
              else onRow(rows[i]!, undefined);
            }
          },
          complete: () => resolve(),
          error: (e: Error) => reject(e),
        });
      });
    },
  },
  {
    name: "udsv 0.7.3 (chunk, stringArrs)",
    lines: false,
    async run(path, delimiter, onRow) {
      let parser: UdsvParser | undefined;
      const each = (row: string[]) => {
        onRow(row, undefined);
      };
      for await (const text of textChunks(path)) {
        parser ??= initParser(inferSchema(text, { col: delimiter }));
        parser.chunk<string[]>(text, parser.stringArrs, each);
      }
      parser?.end();
    },
  },
  {
    name: "hand-written CsvParser (arrays)",
    lines: true,
    async run(path, delimiter, onRow) {
      let header = true;
      const parser = new CsvParser({ path, delimiter }, (fields, line) => {
        if (header) header = false;
        else onRow(fields, line);
      });
      let tail = "";
      for await (const chunk of readText(await openFile(path), READ_BYTES)) {
        const text = tail.length > 0 ? tail + chunk.text : chunk.text;
        tail = text.slice(parser.parse(text, false));
      }
      parser.parse(tail, true);
    },
  },
  {
    name: "runner openSource().batches() (objects)",
    lines: true,
    async run(path, delimiter, onRow) {
      const source = openSource({ path, format: "csv", delimiter });
      let columns: readonly string[] = [];
      for await (const batch of source.batches()) {
        if (columns.length === 0) columns = source.columns();
        for (const r of batch) onRow(columns.map((c) => r.values[c] as string), r.line);
      }
    },
  },
  {
    name: "runner openSource().records() (objects)",
    lines: true,
    async run(path, delimiter, onRow) {
      const source = openSource({ path, format: "csv", delimiter });
      let columns: readonly string[] = [];
      for await (const r of source.records()) {
        if (columns.length === 0) columns = source.columns();
        onRow(columns.map((c) => r.values[c] as string), r.line);
      }
    },
  },
];

async function* textChunks(path: string): AsyncGenerator<string> {
  for await (const chunk of readText(await openFile(path), READ_BYTES)) yield chunk.text;
}

// ---------------------------------------------------------------------------------------
// Data generation

const HEADER = [
  "Opportunity ID",
  "Name",
  "Close Date",
  "Amount",
  "Stage",
  "Account",
  "Owner",
  "Notes",
];
const COMPANIES = [
  "Acme",
  "Globex, Inc.",
  "Initech",
  "Umbrella Corp",
  "Stark Industries",
  "Wayne Enterprises",
  "Hooli",
  "Vandelay Industries, LLC",
  "Soylent",
  "Tyrell Corporation",
];
const PRODUCTS = ["Renewal", "Expansion", "New Business", "Upsell", "Pilot"];
const STAGES = ["Prospecting", "Qualification", "Needs Analysis", "Closed Won", "Closed Lost"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const FIRST = ["Ana", "Bo", "Chen", "Dana", "Eli", "Fatima", "Gus", "Hiro", "Ines", "José"];
const LAST = ["Smith", "Nguyen", "García", "Okafor", "Müller", "Rossi", "Kim", "Dubois"];
const WORDS = [
  "call",
  "back",
  "next",
  "quarter",
  "budget",
  "approved",
  "legal",
  "review",
  "pending",
  "champion",
  "left",
  "pricing",
  "discount",
  "requested",
];
const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function quote(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** FNV-1a over every field of every row, plus the record count and (optionally) lines. */
class Fingerprint {
  rows = 0;
  values = 0x811c9dc5;
  lines = 0x811c9dc5;
  add(fields: string[], line: number | undefined): void {
    this.rows++;
    let h = this.values;
    for (let f = 0; f < fields.length; f++) {
      const s = fields[f]!;
      for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
      h = Math.imul(h ^ 0x1f, 16777619);
    }
    this.values = Math.imul(h ^ 0x1e, 16777619);
    if (line !== undefined) this.lines = Math.imul(this.lines ^ line, 16777619);
  }
  toJSON() {
    return { rows: this.rows, values: this.values >>> 0, lines: this.lines >>> 0 };
  }
}

/** Writes the opportunities file and returns the fingerprint of what it wrote. */
export async function generate(
  path: string,
  rows: number,
): Promise<ReturnType<Fingerprint["toJSON"]>> {
  const rand = mulberry32(42);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const truth = new Fingerprint();
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  const encoder = new TextEncoder();
  let line = 1;
  let text = HEADER.join(",") + "\n";
  line++;
  for (let r = 0; r < rows; r++) {
    let id = "006";
    for (let i = 0; i < 12; i++) id += BASE62[Math.floor(rand() * 62)];
    id += "AAA";
    const account = pick(COMPANIES);
    const name = `${account} - ${pick(PRODUCTS)} ${2019 + Math.floor(rand() * 6)}`;
    const day = String(1 + Math.floor(rand() * 28)).padStart(2, "0");
    const date = `${day}-${pick(MONTHS)}-${2019 + Math.floor(rand() * 6)}`;
    const cents = Math.floor(rand() * 100_000_000);
    const amount = rand() < 0.5
      ? String(Math.floor(cents / 100) * 100)
      : (cents / 100).toLocaleString("en-US", { minimumFractionDigits: 2 });
    const owner = `${pick(FIRST)} ${pick(LAST)}`;
    const k = rand();
    let notes = "";
    if (k < 0.3) {
      notes = `${pick(WORDS)} ${pick(WORDS)} ${pick(WORDS)}`;
    } else if (k < 0.5) {
      notes = `Customer said "${pick(WORDS)} ${pick(WORDS)}", ${pick(WORDS)} ${pick(WORDS)}`;
    } else if (k < 0.52) {
      notes = `${pick(WORDS)} ${pick(WORDS)}\n${pick(WORDS)}, ${pick(WORDS)}\n"${pick(WORDS)}"`;
    }
    const fields = [id, name, date, amount, pick(STAGES), account, owner, notes];
    truth.add(fields, line);
    line += 1 + (notes.split("\n").length - 1);
    text += fields.map(quote).join(",") + "\n";
    if (text.length > 1 << 20) {
      await file.write(encoder.encode(text));
      text = "";
    }
  }
  await file.write(encoder.encode(text));
  file.close();
  return truth.toJSON();
}

// ---------------------------------------------------------------------------------------
// Quirks: small inputs each candidate must get right to be usable by the runner.

interface Quirk {
  name: string;
  text: string;
  delimiter?: string;
  /** Expected data rows, or "error" when the parser must refuse the input. */
  rows: string[][] | "error";
  /** Expected start lines of the data rows. */
  lines?: number[];
}

const QUIRKS: Quirk[] = [
  {
    name: "BOM, CRLF, newline in a quoted cell",
    text: '\uFEFFa,b\r\n1,"x\r\ny"\r\n2,3\r\n',
    rows: [["1", "x\r\ny"], ["2", "3"]],
    lines: [2, 4],
  },
  {
    name: 'escaped quotes "" and commas in quotes',
    text: 'a,b\n"say ""hi"", ok","1,234.50"\n',
    rows: [['say "hi", ok', "1,234.50"]],
    lines: [2],
  },
  {
    name: "blank lines skipped, lines still right",
    text: "a,b\n\n1,2\n\n\n3,4\n",
    rows: [["1", "2"], ["3", "4"]],
    lines: [3, 6],
  },
  {
    name: "mixed LF / CRLF / CR line ends",
    text: "a,b\n1,2\r\n3,4\r5,6\n",
    rows: [["1", "2"], ["3", "4"], ["5", "6"]],
    lines: [2, 3, 4],
  },
  {
    name: "LF inside a quoted cell of a CRLF file",
    text: 'a,b\r\n1,"x\ny"\r\n2,3\r\n',
    rows: [["1", "x\ny"], ["2", "3"]],
    lines: [2, 4],
  },
  {
    name: "ragged rows keep their field count",
    text: "a,b\n1,2,3\n4\n5,6\n",
    rows: [["1", "2", "3"], ["4"], ["5", "6"]],
    lines: [2, 3, 4],
  },
  {
    name: '";" delimiter',
    text: 'a;b\n"1;x";2\n',
    delimiter: ";",
    rows: [["1;x", "2"]],
    lines: [2],
  },
  {
    name: "no line break at the end",
    text: 'a,b\n1,"2"',
    rows: [["1", "2"]],
    lines: [2],
  },
  { name: "unclosed quote is an error", text: 'a,b\n1,"x\n2,3\n', rows: "error" },
];

async function checkQuirks(dir: string): Promise<Record<string, Record<string, string>>> {
  const table: Record<string, Record<string, string>> = {};
  for (const c of candidates) {
    // The runner's own sources turn rows into objects and are covered by their unit tests.
    if (c.name.startsWith("decode only") || c.name.startsWith("runner")) continue;
    const row: Record<string, string> = {};
    for (const q of QUIRKS) {
      const path = `${dir}/quirk.csv`;
      await Deno.writeTextFile(path, q.text);
      const rows: string[][] = [];
      const lines: (number | undefined)[] = [];
      let error: string | undefined;
      try {
        await c.run(path, q.delimiter ?? ",", (f, l) => {
          rows.push([...f]);
          lines.push(l);
        });
      } catch (e) {
        error = e instanceof Error ? e.message : String(e);
      }
      if (q.rows === "error") {
        row[q.name] = error !== undefined ? "yes" : `**no** (${rows.length} rows, no error)`;
        continue;
      }
      if (error !== undefined) {
        row[q.name] = `**no** (error: ${error.slice(0, 60)})`;
        continue;
      }
      const sameRows = JSON.stringify(rows) === JSON.stringify(q.rows);
      const sameLines = !c.lines || JSON.stringify(lines) === JSON.stringify(q.lines);
      row[q.name] = sameRows && sameLines
        ? "yes"
        : !sameRows
        ? `**no** (got ${JSON.stringify(rows).slice(0, 70)})`
        : `values ok, **lines wrong** (${JSON.stringify(lines)})`;
    }
    table[c.name] = row;
  }
  return table;
}

// ---------------------------------------------------------------------------------------
// Child: one parser, one run.

function peakRssMiB(): number {
  const status = Deno.readTextFileSync("/proc/self/status");
  const m = /VmHWM:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) / 1024 : NaN;
}

async function child(name: string, path: string, verify: boolean): Promise<void> {
  const c = candidates.find((x) => x.name === name);
  if (!c) throw new Error(`Unknown candidate "${name}"`);
  let rows = 0;
  let widths = 0;
  const fp = new Fingerprint();
  const onRow: OnRow = verify ? (f, l) => fp.add(f, l) : (f) => {
    rows++;
    widths += f.length;
  };
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await c.run(path, ",", onRow);
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  console.log(JSON.stringify({
    ms,
    cpuMs: (cpu.user + cpu.system) / 1000,
    rows: verify ? fp.rows : rows,
    widths,
    rssMiB: peakRssMiB(),
    fingerprint: verify ? fp.toJSON() : undefined,
  }));
}

// ---------------------------------------------------------------------------------------
// Parent

interface RunResult {
  ms: number;
  /** Wall time of the whole child process, startup included, as Miller is timed. */
  processMs: number;
  cpuMs: number;
  rows: number;
  rssMiB: number;
  fingerprint?: ReturnType<Fingerprint["toJSON"]>;
}

async function spawnChild(name: string, path: string, verify: boolean): Promise<RunResult> {
  const args = ["run", "-A", import.meta.filename!, "--child", name, path];
  if (verify) args.push("--verify");
  const t0 = performance.now();
  const out = await new Deno.Command(Deno.execPath(), { args, stderr: "inherit" }).output();
  const processMs = performance.now() - t0;
  if (!out.success) throw new Error(`Child "${name}" failed`);
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  return { ...JSON.parse(lines[lines.length - 1]!), processMs };
}

/** Runs a command, returns wall ms, CPU ms and peak RSS (from the kernel's rusage). */
async function timeCommand(cmd: string[]): Promise<{ ms: number; cpuMs: number; rssMiB: number }> {
  const py = `
import resource, subprocess, sys, time, json
t = time.perf_counter()
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)
ms = (time.perf_counter() - t) * 1000
u = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"ms": ms, "cpuMs": (u.ru_utime + u.ru_stime) * 1000, "rssMiB": u.ru_maxrss / 1024}))
`;
  const out = await new Deno.Command("python3", { args: ["-c", py, ...cmd] }).output();
  if (!out.success) {
    throw new Error(`${cmd.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function hasCommand(name: string): Promise<boolean> {
  try {
    const out = await new Deno.Command("sh", { args: ["-c", `command -v ${name}`] }).output();
    return out.success;
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  const rows = Number(Deno.args[0] ?? 1_000_000);
  const dir = await Deno.makeTempDir({ prefix: "csv_bench_" });
  try {
    const path = `${dir}/opportunities.csv`;
    console.log(`Generating ${rows} rows...`);
    const truth = await generate(path, rows);
    const size = (await Deno.stat(path)).size;
    const mb = size / 1e6;
    console.log(`${path}: ${mb.toFixed(1)} MB, ${truth.rows} rows`);

    console.log("\n## Quirks");
    const quirks = await checkQuirks(dir);
    const names = QUIRKS.map((q) => q.name);
    console.log(`| parser | ${names.join(" | ")} |`);
    console.log(`|---|${names.map(() => "---").join("|")}|`);
    for (const [c, r] of Object.entries(quirks)) {
      console.log(`| ${c} | ${names.map((n) => r[n]).join(" | ")} |`);
    }

    console.log(
      "\n## Throughput (parse only; median of 3 runs, each in its own process, run round-robin)",
    );
    console.log(
      "| parser | rows/s | MB/s | wall (s) | CPU (s) | process wall (s) | peak RSS (MiB) | values = generated | lines = generated |",
    );
    console.log("|---|---:|---:|---:|---:|---:|---:|---|---|");
    const runs = new Map<string, RunResult[]>(candidates.map((c) => [c.name, []]));
    for (let i = 0; i < 3; i++) {
      for (const c of candidates) runs.get(c.name)!.push(await spawnChild(c.name, path, false));
    }
    for (const c of candidates) {
      const rs = runs.get(c.name)!;
      const ms = median(rs.map((r) => r.ms));
      const cpuMs = median(rs.map((r) => r.cpuMs));
      const processMs = median(rs.map((r) => r.processMs));
      const rss = Math.max(...rs.map((r) => r.rssMiB));
      let values = "n/a";
      let lines = "n/a";
      if (!c.name.startsWith("decode only")) {
        const v = await spawnChild(c.name, path, true);
        const fp = v.fingerprint!;
        values = fp.rows === truth.rows && fp.values === truth.values
          ? "yes"
          : `**no** (${fp.rows} rows)`;
        lines = c.lines ? (fp.lines === truth.lines ? "yes" : "**no**") : "not available";
      }
      const rowsPerS = c.name.startsWith("decode only") ? "" : fmtRate(truth.rows / (ms / 1000));
      console.log(
        `| ${c.name} | ${rowsPerS} | ${(mb / (ms / 1000)).toFixed(0)} | ${
          (ms / 1000).toFixed(2)
        } | ${(cpuMs / 1000).toFixed(2)} | ${(processMs / 1000).toFixed(2)} | ${
          rss.toFixed(0)
        } | ${values} | ${lines} |`,
      );
    }

    if (await hasCommand("mlr")) {
      console.log("\n## Miller (wall time of the whole process, median of 3)");
      console.log("| command | rows/s | MB/s | wall (s) | CPU (s) | peak RSS (MiB) |");
      console.log("|---|---:|---:|---:|---:|---:|");
      for (const verb of [["nothing"], ["cat"]]) {
        const cmd = ["mlr", "--icsv", "--ojson", ...verb, path];
        const runs = [];
        for (let i = 0; i < 3; i++) runs.push(await timeCommand(cmd));
        const ms = median(runs.map((r) => r.ms));
        const cpu = median(runs.map((r) => r.cpuMs));
        const rss = Math.max(...runs.map((r) => r.rssMiB));
        console.log(
          `| \`${cmd.slice(0, -1).join(" ")}\` | ${fmtRate(truth.rows / (ms / 1000))} | ${
            (mb / (ms / 1000)).toFixed(0)
          } | ${(ms / 1000).toFixed(2)} | ${(cpu / 1000).toFixed(2)} | ${rss.toFixed(0)} |`,
        );
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function fmtRate(perS: number): string {
  return perS >= 1e6 ? `${(perS / 1e6).toFixed(2)}M` : `${(perS / 1e3).toFixed(0)}K`;
}

if (import.meta.main) {
  if (Deno.args[0] === "--child") {
    await child(Deno.args[1]!, Deno.args[2]!, Deno.args.includes("--verify"));
  } else {
    await main();
  }
}
