/**
 * Generates the benchmark's input: an opportunities CSV with the columns and quirks of
 * `examples/data/opportunities.csv`, at any size, and the pipeline files that read it.
 *
 * Same columns (`Opportunity ID,Name,Close Date,Amount,Stage,Account,Owner`) and the same
 * quirks, at about 100 bytes a row:
 * - accounts quoted for a comma (`"Acme, Inc."`) or an escaped quote (`"Umbrella ""Health"""`),
 *   about 30% of rows;
 * - `Close Date` as `dd-MMM-yyyy` (sent as `yyyy-MM-dd`);
 * - `Amount` as a whole number, and in 10% of rows with cents (`123456.50`);
 * - one stage in 2,000 the API would refuse (`Closed-Won?`, `Lost (old)`), passed through;
 * - one row in 10,000 without an `Opportunity ID`, rejected locally by the runner.
 *
 * Deterministic (a seeded PRNG), so every run and every machine reads the same bytes.
 *
 * @module
 */

/** The header of `examples/data/opportunities.csv`. */
export const HEADER = [
  "Opportunity ID",
  "Name",
  "Close Date",
  "Amount",
  "Stage",
  "Account",
  "Owner",
];

const PRODUCTS = ["Renewal", "Expansion", "New Business", "Upsell", "Pilot"];
const STAGES = [
  "Prospecting",
  "Qualification",
  "Proposal",
  "Negotiation",
  "Closed Won",
  "Closed Lost",
];
const BAD_STAGES = ["Closed-Won?", "Lost (old)"];
const ACCOUNTS = [
  "Globex",
  "Initech",
  "Hooli",
  "Soylent",
  "Stark Industries",
  "Wayne Enterprises",
  'Umbrella "Health"',
  "Acme, Inc.",
];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const OWNERS = [
  "ana.silva@example.com",
  "li.wei@example.com",
  "raj.patel@example.com",
  "jose.garcia@example.com",
  "emma.muller@example.com",
];

/** Mulberry32: small, fast, good enough to vary test data deterministically. */
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

/** What the generator wrote. */
export interface Generated {
  path: string;
  rows: number;
  bytes: number;
  /** Rows without a key, which the runner rejects locally. */
  missingKey: number;
}

/**
 * Writes `rows` data rows to `path` (LF line ends), unless a file of that many rows written
 * by this generator is already there (a marker file beside it records the row count).
 */
export async function generateOpportunities(path: string, rows: number): Promise<Generated> {
  const marker = `${path}.rows`;
  const existing = await Deno.readTextFile(marker).catch(() => "");
  const stat = await Deno.stat(path).catch(() => undefined);
  if (stat && existing.trim() !== "") {
    const m = JSON.parse(existing) as Generated;
    if (m.rows === rows && m.bytes === stat.size) return m;
  }
  const rand = mulberry32(20260601);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  const encoder = new TextEncoder();
  let bytes = 0;
  let missingKey = 0;
  let text = HEADER.join(",") + "\n";
  const flush = async () => {
    const data = encoder.encode(text);
    bytes += data.length;
    for (let off = 0; off < data.length;) off += await file.write(data.subarray(off));
    text = "";
  };
  try {
    for (let r = 0; r < rows; r++) {
      let id = `aw${String(r).padStart(7, "0")}`;
      if (rand() < 0.0001) {
        id = "";
        missingKey++;
      }
      const name = `Opportunity ${r} - ${pick(PRODUCTS)} ${2019 + Math.floor(rand() * 8)}`;
      const day = String(1 + Math.floor(rand() * 28)).padStart(2, "0");
      const date = `${day}-${pick(MONTHS)}-${2019 + Math.floor(rand() * 8)}`;
      const whole = 1000 * (1 + Math.floor(rand() * 500));
      const amount = rand() < 0.1 ? `${whole + Math.floor(rand() * 1000)}.50` : String(whole);
      const stage = rand() < 0.0005 ? pick(BAD_STAGES) : pick(STAGES);
      // Quoted accounts in about 30% of rows, as in the sample (a comma or an escaped quote).
      const account = rand() < 0.3 ? pick(ACCOUNTS.slice(6)) : pick(ACCOUNTS.slice(0, 6));
      const fields = [id, name, date, amount, stage, account, pick(OWNERS)];
      text += fields.map(quote).join(",") + "\n";
      if (text.length > 1 << 20) await flush();
    }
    await flush();
  } finally {
    file.close();
  }
  const out: Generated = { path, rows, bytes, missingKey };
  await Deno.writeTextFile(marker, JSON.stringify(out));
  return out;
}

/** Settings of a generated pipeline file. */
export interface PipelineSettings {
  name: string;
  /** Absolute path of the CSV. */
  source: string;
  baseUrl: string;
  batchSize: number;
  concurrency: number;
  /** Polling interval, e.g. `100ms`. */
  interval: string;
}

/**
 * The benchmark's pipeline file: the mappings of `examples/workspan-opportunities.yaml`
 * (a key, a date to reformat, a number to parse, strings, a constant), no output files.
 */
export function pipelineYaml(s: PipelineSettings): string {
  return `# Generated by bench/run.ts; overwritten on every run.
version: 1
name: ${s.name}
source:
  path: ${JSON.stringify(s.source)}
  format: csv
target:
  api: workspan
  base_url: ${JSON.stringify(s.baseUrl)}
  integration_id: WS-Integration_bench
  content_type: json
  batch_size: ${s.batchSize}
  concurrency: ${s.concurrency}
  auth:
    type: bearer
    token: \${WORKSPAN_TOKEN:-sandbox-token}
key: opportunity_id
mappings:
  opportunity_id: { from: "Opportunity ID", required: true }
  opportunity_name: Name
  close_date: { from: "Close Date", type: date, format: "dd-MMM-yyyy" }
  amount: { from: Amount, type: number }
  stage: Stage
  account: Account
  owner_email: Owner
  source_system: { value: crm }
polling:
  interval: ${s.interval}
  backoff: 1.0
  max_interval: ${s.interval}
  timeout: 30m
limits:
  max_error_rate: 0.01
`;
}
