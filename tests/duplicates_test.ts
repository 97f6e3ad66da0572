/**
 * `duplicates:` end to end: which of the rows sharing a key the WorkSpan sandbox loaded, and how
 * the rows left out are counted and listed. The real CLI against the sandbox.
 */
import assert from "node:assert/strict";
import {
  opportunitiesCsv,
  runCli,
  type Summary,
  tempDir,
  withSandbox,
  workspanPipeline,
} from "./_harness.ts";

const TOKEN = "tok-duplicates-1234";
const wsEnv = (url: string) => ({ WORKSPAN_BASE_URL: url, WORKSPAN_TOKEN: TOKEN });

/** Six rows; op000001 is on lines 3, 5 and 7 with amounts 1001, 1003 and 1005. */
const CSV = opportunitiesCsv(6, (i, row) => {
  if (i === 3 || i === 5) row[0] = "op000001";
});

async function runWith(policy: string) {
  return await withSandbox({ workspan: { token: TOKEN } }, async (sandbox) => {
    const cwd = await tempDir({});
    const dir = await tempDir({
      "data.csv": CSV,
      "p.yaml": workspanPipeline({
        source: "data.csv",
        limits: "  max_error_rate: 0.5",
        output: "  rejects: out/rejects.csv",
      }) + `duplicates: ${policy}\n`,
    });
    const r = await runCli(["run", "--json", `${dir}/p.yaml`], wsEnv(sandbox.url), { cwd });
    assert.equal(r.code, 0, r.stderr);
    const s = r.summaries[0] as Summary;
    const c = s.counts;
    assert.equal(
      c.read,
      c.rejected + (c.unchanged ?? 0) + c.sent + c.unsent,
      "every row is accounted for",
    );
    const rejects = await Deno.readTextFile(`${cwd}/out/rejects.csv`).catch(() => "");
    const rejectedLines = rejects.trimEnd().split("\r\n").slice(1).filter((l) => l !== "")
      .map((l) => Number(l.split(",")[4]));
    const record = sandbox.workspan.records().find((x) => x.key === "op000001")!;
    return { s, rejectedLines, record, keys: sandbox.workspan.records().length };
  });
}

Deno.test("duplicates: reject sends the first row of a key and rejects the later ones", async () => {
  const { s, rejectedLines, record, keys } = await runWith("reject");
  assert.deepEqual([s.counts.rejected, s.counts.sent], [2, 4]);
  assert.deepEqual(rejectedLines, [5, 7]);
  assert.deepEqual([record.row.amount, record.loads, keys], [1001, 1, 4]);
  assert.match(s.errors[0]!.message, /line 3 has the same key \(duplicates: reject\)/);
});

Deno.test("duplicates: first_wins loads the first row of a key and lists the dropped ones", async () => {
  const { s, rejectedLines, record, keys } = await runWith("first_wins");
  assert.deepEqual([s.counts.rejected, s.counts.sent], [2, 4]);
  assert.deepEqual(rejectedLines, [5, 7]);
  assert.deepEqual([record.row.amount, record.loads, keys], [1001, 1, 4]);
  const e = s.errors.find((x) => x.source_line === 7)!;
  assert.equal(e.code, "duplicate_key");
  assert.match(e.message, /dropped: line 3 has the same key and wins \(duplicates: first_wins\)/);
});

Deno.test("duplicates: last_wins loads only the last row of a key and lists the earlier ones", async () => {
  const { s, rejectedLines, record, keys } = await runWith("last_wins");
  assert.deepEqual([s.counts.rejected, s.counts.sent], [2, 4]);
  assert.deepEqual(rejectedLines, [3, 5]);
  assert.deepEqual([record.row.amount, record.loads, keys], [1005, 1, 4]);
  const e = s.errors.find((x) => x.source_line === 3)!;
  assert.equal(e.code, "duplicate_key");
  assert.match(e.message, /dropped: line 7 has the same key and wins \(duplicates: last_wins\)/);
});

Deno.test("duplicates: allow sends every row and the API keeps the last one loaded", async () => {
  const { s, rejectedLines, record, keys } = await runWith("allow");
  assert.deepEqual([s.counts.rejected, s.counts.sent], [0, 6]);
  assert.deepEqual(rejectedLines, []);
  assert.deepEqual([record.row.amount, record.loads, keys], [1005, 3, 4]);
});
