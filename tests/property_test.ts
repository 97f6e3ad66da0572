/**
 * Property tests of a whole run, in process: random CSV files (quotes, delimiters, line breaks,
 * unicode, ragged rows, bad numbers and dates) go through `loadPipeline` → `compile` →
 * `execute`, with `fetch` answered by the WorkSpan simulator's handler (no sockets). Whatever the
 * file, the run accounts for every record, and no row is loaded twice.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { compile } from "../runner/compile.ts";
import { loadPipeline } from "../runner/config/mod.ts";
import { RunnerError } from "../runner/errors.ts";
import { PIPELINE_SCHEMA } from "../runner/registry.ts";
import { execute } from "../runner/execute/mod.ts";
import type { Summary } from "../runner/report/summary.ts";
import { assertIdentities } from "./_harness.ts";
import { createWorkspanSandbox, type WorkspanSandbox } from "../sandbox/workspan.ts";

const STAGES = ["Prospecting", "Qualification", "Closed Won"];
const MAPPED = ["Opportunity ID", "Close Date", "Amount", "Stage"];

/** `fetch` answered in process by the simulator. */
function inProcess(ws: WorkspanSandbox): typeof fetch {
  return async (input, init) => {
    const req = new Request(input, init);
    return (await ws.handle(req, new URL(req.url), "http://127.0.0.1:9")) ??
      Response.json({ message: "no route" }, { status: 404 });
  };
}

function pipeline(o: { source: string; delimiter: string; batchSize: number; wire: string }) {
  return `version: 1
name: property
source:
  path: ${o.source}
  format: csv
  delimiter: ${JSON.stringify(o.delimiter)}
target:
  api: workspan
  base_url: http://127.0.0.1:9
  integration_id: WS-Integration_property
  content_type: ${o.wire}
  batch_size: ${o.batchSize}
  auth: { type: bearer, token: sandbox-token }
key: opportunity_id
mappings:
  opportunity_id: { from: "Opportunity ID", required: true }
  close_date: { from: "Close Date", type: date, format: "dd-MMM-yyyy" }
  amount: { from: Amount, type: number }
  stage: Stage
polling: { interval: 1ms, backoff: 1, max_interval: 1ms, timeout: 10s }
limits: { max_error_rate: 1 }
`;
}

/** Loads, compiles and executes `csv` against a fresh simulator. */
async function run(
  dir: string,
  csv: string,
  o: { delimiter: string; batchSize: number; wire: string },
): Promise<{ outcome: Summary | RunnerError; ws: WorkspanSandbox; path: string }> {
  const id = crypto.randomUUID();
  const path = `${dir}/${id}.csv`;
  await Deno.writeTextFile(path, csv);
  await Deno.writeTextFile(`${dir}/${id}.yaml`, pipeline({ source: `${id}.csv`, ...o }));
  const plan = await compile(
    await loadPipeline(`${dir}/${id}.yaml`, {
      env: () => undefined,
      schema: PIPELINE_SCHEMA,
    }),
  );
  const ws = createWorkspanSandbox({
    processingMs: 0,
    fields: { close_date: "date", amount: "number", stage: { oneOf: STAGES } },
  });
  let outcome: Summary | RunnerError;
  try {
    outcome = await execute(plan, { fetch: inProcess(ws), log: () => {} });
  } catch (e) {
    // Only a source that cannot be read may end a run by throwing.
    if (!(e instanceof RunnerError) || e.code !== "invalid_source") throw e;
    outcome = e;
  }
  return { outcome, ws, path };
}

/** Line breaks in `text`: each LF, CRLF or lone CR is one. */
function breaks(text: string): number {
  return (text.match(/\r\n|\r|\n/g) ?? []).length;
}

/** A cell as a careful writer puts it: quoted when it must be (or when told to). */
function field(value: string, delimiter: string, force: boolean): string {
  return force || /["\r\n]/.test(value) || value.includes(delimiter)
    ? `"${value.replaceAll('"', '""')}"`
    : value;
}

const text = (maxLength: number) =>
  fc.string({
    unit: fc.constantFrom("a", "Z", "1", " ", ",", ";", "\t", "|", '"', "\n", "\r", "é", "😀"),
    maxLength,
  });

const layout = {
  delimiter: fc.constantFrom(",", ";", "\t", "|"),
  eol: fc.constantFrom("\n", "\r\n", "\r"),
  bom: fc.boolean(),
  finalEol: fc.boolean(),
  batchSize: fc.integer({ min: 1, max: 25 }),
  wire: fc.constantFrom("json", "csv"),
};

// ---------------------------------------------------------------------------------------------
// Well-formed files: every count, line and load is known in advance.

/** One data row as the test means it, before it is written. */
const rowArb = fc.record({
  key: fc.oneof({ weight: 8, arbitrary: text(6) }, { weight: 1, arbitrary: fc.constant(" ") }),
  date: fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom("05-Mar-2024", "28-Feb-2023", " 01-Jan-2000", "") },
    { weight: 1, arbitrary: fc.constantFrom("31-Feb-2024", "2024-03-05", "soon") },
  ),
  amount: fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom("12", "-3.5", "1,234.50", " 42 ", "0", "") },
    { weight: 1, arbitrary: fc.constantFrom("abc", "12x", "1..2", "--1") },
  ),
  stage: fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...STAGES) },
    { weight: 1, arbitrary: fc.constantFrom("Bogus", "Won?") },
  ),
  /** Fields to drop (negative) or add (positive) to make the row ragged; 0 for none. */
  ragged: fc.oneof({ weight: 9, arbitrary: fc.constant(0) }, {
    weight: 1,
    arbitrary: fc.integer({ min: -20, max: 2 }).filter((n) => n !== 0),
  }),
  quoteAll: fc.boolean(),
});

const wellFormed = fc.record({
  ...layout,
  extra: fc.uniqueArray(text(5).filter((s) => s !== "" && !MAPPED.includes(s)), {
    maxLength: 3,
  }),
  order: fc.array(fc.nat(), { minLength: 8, maxLength: 8 }),
  rows: fc.array(fc.tuple(rowArb, fc.array(text(6), { minLength: 3, maxLength: 3 })), {
    maxLength: 40,
    size: "medium",
  }),
});

Deno.test("any well-formed CSV: every record is counted, rejected by line, or loaded once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bulkrun-property-" });
  try {
    await fc.assert(
      fc.asyncProperty(wellFormed, async (t) => {
        // Header: the mapped columns and the extra ones, in a random order.
        const header = [...MAPPED, ...t.extra]
          .map((name, i) => ({ name, rank: t.order[i]! }))
          .sort((a, b) => a.rank - b.rank)
          .map((c) => c.name);
        const width = header.length;
        const lines = [header.map((h) => field(h, t.delimiter, false)).join(t.delimiter)];
        let line = 1 + breaks(lines[0]!);
        const expected = t.rows.map(([r, extras], i) => {
          const key = `op${i}-${r.key}`.trim();
          const cells: Record<string, string> = {
            "Opportunity ID": r.key === " " ? " " : `op${i}-${r.key}`,
            "Close Date": r.date,
            Amount: r.amount,
            Stage: r.stage,
          };
          t.extra.forEach((name, k) => cells[name] = extras[k]!);
          let values = header.map((h) => cells[h]!);
          if (r.ragged < 0) values = values.slice(0, Math.max(1, width + r.ragged));
          if (r.ragged > 0) values = [...values, ...extras.slice(0, r.ragged)];
          const ragged = values.length !== width;
          // A lone empty field must be quoted, or the row would be a blank line.
          const written = values
            .map((v) => field(v, t.delimiter, r.quoteAll || (values.length === 1 && v === "")))
            .join(t.delimiter);
          lines.push(written);
          const at = ++line;
          line += breaks(written);
          const rejected = ragged || r.key === " " ||
            ["31-Feb-2024", "2024-03-05", "soon"].includes(r.date) ||
            ["abc", "12x", "1..2", "--1"].includes(r.amount);
          const failed = !rejected && !STAGES.includes(r.stage);
          return { line: at, key, ragged, rejected, failed };
        });
        const csv = (t.bom ? "\uFEFF" : "") + lines.join(t.eol) + (t.finalEol ? t.eol : "");

        const { outcome: s, ws } = await run(dir, csv, t);
        assert.ok(!(s instanceof RunnerError), `a well-formed file was refused: ${s}`);
        assertIdentities(s);
        const rejected = expected.filter((e) => e.rejected);
        const failed = expected.filter((e) => e.failed);
        const loaded = expected.filter((e) => !e.rejected && !e.failed);
        assert.deepEqual({ ...s.counts }, {
          read: expected.length,
          rejected: rejected.length,
          sent: expected.length - rejected.length,
          succeeded: loaded.length,
          failed: failed.length,
          skipped: 0,
          pending: 0,
          unknown: 0,
          unsent: 0,
        });
        assert.equal(s.exit_code, 0);
        assert.equal(
          s.status,
          rejected.length + failed.length > 0 ? "completed_with_errors" : "succeeded",
        );
        assert.deepEqual(s.problems, []);
        // Every error is on the line of the row it is about, with the row's key when sent.
        const local = s.errors.filter((e) => e.stage === "local");
        assert.deepEqual(
          [...new Set(local.map((e) => e.source_line))],
          rejected.map((e) => e.line),
        );
        assert.deepEqual(
          local.filter((e) => e.code === "invalid_row").map((e) => e.source_line),
          expected.filter((e) => e.ragged).map((e) => e.line),
        );
        assert.deepEqual(
          s.errors.filter((e) => e.stage === "remote").map((e) => [e.source_line, e.key]),
          failed.map((e) => [e.line, e.key]),
        );
        // What the simulator holds: each loaded row once, nothing else.
        for (const e of expected) {
          assert.equal(ws.loadCount(e.key), e.rejected || e.failed ? 0 : 1, `key ${e.key}`);
        }
        assert.equal(ws.records().length, loaded.length);
        const executions = ws.executions();
        assert.equal(executions.reduce((n, x) => n + x.rowsReceived, 0), s.counts.sent);
        assert.equal(executions.length, Math.ceil(s.counts.sent / t.batchSize));
      }),
      { numRuns: 60 },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------------------------------------
// Arbitrary text after a good header: compared with a plain reference reader.

interface RefRecord {
  fields: string[];
  line: number;
  /** Text after a closing quote. */
  problem: boolean;
}

/**
 * The documented CSV rules, written plainly: LF, CRLF and CR end records; blank lines are
 * skipped; `""` escapes a quote inside quotes; a quote inside an unquoted field is text; text
 * after a closing quote is kept but marks the row. An unclosed quote ends the file in error on
 * the line where it opens.
 */
function reference(
  text: string,
  d: string,
): { records: RefRecord[]; unclosedAt?: number } {
  const records: RefRecord[] = [];
  const n = text.length;
  const endOfField = (from: number) => {
    let end = from;
    while (end < n && text[end] !== d && text[end] !== "\n" && text[end] !== "\r") end++;
    return end;
  };
  let pos = 0;
  let line = 1;
  while (pos < n) {
    if (text[pos] === "\n" || text[pos] === "\r") {
      pos += text.startsWith("\r\n", pos) ? 2 : 1;
      line++;
      continue;
    }
    const record: RefRecord = { fields: [], line, problem: false };
    for (;;) {
      if (pos >= n) {
        record.fields.push("");
        break;
      }
      let value = "";
      if (text[pos] === '"') {
        let j = pos + 1;
        for (;;) {
          const q = text.indexOf('"', j);
          if (q === -1) return { records, unclosedAt: line };
          value += text.slice(j, q);
          if (text[q + 1] === '"') {
            value += '"';
            j = q + 2;
            continue;
          }
          line += breaks(text.slice(pos + 1, q));
          pos = q + 1;
          break;
        }
        if (pos < n && text[pos] !== d && text[pos] !== "\n" && text[pos] !== "\r") {
          record.problem = true;
          const end = endOfField(pos);
          value += text.slice(pos, end);
          pos = end;
        }
      } else {
        const end = endOfField(pos);
        value = text.slice(pos, end);
        pos = end;
      }
      record.fields.push(value);
      if (pos >= n) break;
      if (text[pos] === d) {
        pos++;
        continue;
      }
      pos += text.startsWith("\r\n", pos) ? 2 : 1;
      line++;
      break;
    }
    records.push(record);
  }
  return { records };
}

/** Text with few quotes: a quote often swallows what follows, up to the next one. */
const noise = fc.string({
  unit: fc.oneof(
    { weight: 12, arbitrary: fc.constantFrom("a", "1", " ", "é", "😀", "\t") },
    { weight: 4, arbitrary: fc.constantFrom(",", ";", "|") },
    { weight: 4, arbitrary: fc.constantFrom("\n", "\r", "\r\n") },
    { weight: 1, arbitrary: fc.constant('"') },
  ),
  maxLength: 40,
});

/** Lines that would load (`null`, numbered when written) mixed with noise. */
const garbage = fc.record({
  ...layout,
  body: fc.array(
    fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: noise }),
    {
      maxLength: 80,
      size: "large",
    },
  ),
});

Deno.test("any text after a good header: never a crash, records as a plain reader counts them", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bulkrun-property-" });
  try {
    await fc.assert(
      fc.asyncProperty(garbage, async (t) => {
        const body = t.body.map((piece, i) =>
          piece ?? ["op" + i, "05-Mar-2024", "12", "Prospecting"].join(t.delimiter)
        );
        const csv = (t.bom ? "\uFEFF" : "") + [MAPPED.join(t.delimiter), ...body].join(t.eol);
        const ref = reference(csv.replace(/^\uFEFF/, ""), t.delimiter);
        const data = ref.records.slice(1);
        const { outcome, ws, path } = await run(dir, csv, t);

        if (outcome instanceof RunnerError) {
          // Refused whole: only for a genuinely malformed file, and before anything was sent.
          assert.ok(ref.unclosedAt !== undefined, `refused a readable file: ${outcome.message}`);
          assert.equal(
            outcome.message,
            `${path}:${ref.unclosedAt}: Unclosed quote: the quoted field starting here never ends`,
          );
          assert.equal(ws.requests.length, 0);
          return;
        }
        const s = outcome;
        assertIdentities(s);
        assert.equal(s.counts.read, data.length, "read = records before any error");
        if (ref.unclosedAt !== undefined) {
          // Found after some batches went out: the run stops and says where.
          assert.equal(s.exit_code, 2);
          assert.equal(s.status, "failed");
          assert.equal(
            s.reason,
            `${path}:${ref.unclosedAt}: Unclosed quote: the quoted field starting here never ends`,
          );
        } else {
          assert.equal(s.exit_code, 0);
          assert.equal(s.counts.unsent, 0);
        }
        // Ragged rows and text after a quote are rejected on their own line, nothing else is.
        const bad = data.filter((r) => r.fields.length !== MAPPED.length || r.problem);
        assert.deepEqual(
          s.errors.filter((e) => e.code === "invalid_row").map((e) => e.source_line),
          bad.map((r) => r.line),
        );
        assert.ok(s.counts.rejected >= bad.length);
        // No row is loaded more often than its key occurs among the records.
        const occurs = new Map<string, number>();
        for (const r of data) {
          const k = (r.fields[0] ?? "").trim();
          occurs.set(k, (occurs.get(k) ?? 0) + 1);
        }
        for (const rec of ws.records()) {
          assert.ok(rec.loads <= (occurs.get(rec.key) ?? 0), `key ${rec.key} loaded ${rec.loads}x`);
        }
        assert.equal(ws.records().reduce((n, r) => n + r.loads, 0), s.counts.succeeded);
        const received = ws.executions().reduce((n, x) => n + x.rowsReceived, 0);
        assert.equal(received, s.counts.sent);
      }),
      { numRuns: 60 },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
