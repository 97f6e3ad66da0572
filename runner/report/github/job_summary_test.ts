import assert from "node:assert/strict";
import { marked } from "marked";
import { capped, jobSummary } from "./job_summary.ts";
import { batches, OPTS, rowErrors, section, summary, tables, WS } from "./_testing.ts";

Deno.test("jobSummary() shows status, counts, batches and failed rows as Markdown tables", () => {
  const md = jobSummary(summary(), OPTS);
  assert.match(md, /^### workspan-opportunities: COMPLETED WITH ERRORS\n/);
  assert.match(md, /\*\*Status\*\* `COMPLETED WITH ERRORS` \(exit code 0\)/);
  assert.match(md, /\*\*Duration\*\* 2\.3 s/);
  assert.match(md, /> 1 rejected, 2 failed, 0 skipped, within max\\_error\\_rate 2%/);
  assert.match(
    md,
    /\[`pipelines\/workspan-opportunities.yaml`\]\(https:\/\/github.com\/acme\/etl\/blob\/0123abc\/pipelines\/workspan-opportunities.yaml\)/,
  );
  const [counts, batch, rows] = tables(md);
  assert.deepEqual(counts!.header, [
    "read",
    "rejected",
    "sent",
    "succeeded",
    "failed",
    "skipped",
    "pending",
    "unknown",
    "unsent",
  ]);
  assert.deepEqual(counts!.rows, [["200", "1", "199", "197", "2", "0", "0", "0", "0"]]);
  assert.deepEqual(batch!.rows, [[
    "1",
    "2–201",
    "199",
    "completed",
    "`a64690c2450`",
    "197",
    "2",
    "0",
    "1",
  ]]);
  assert.equal(rows!.rows.length, 3);
  assert.deepEqual(rows!.rows[0], [
    "[81](https://github.com/acme/etl/blob/0123abc/pipelines/data/opportunities.csv?plain=1#L81)",
    "aw00079",
    "stage",
    "failed",
    "invalid value in field 'stage'",
  ]);
  assert.equal(rows!.rows[2]![4], "Missing value of key field (key\\_missing)");
  assert.match(md, /Error rate 1\.5% .*limit 2%/);
  // The hint's absolute path is shortened to the repository path.
  const next = section(md, "What to do next");
  assert.match(next, /in out\/workspan-opportunities\.rejects\.csv, with their line and error\n/);
  // Where to download the rejects file comes with it, chosen by the summary's fields.
  assert.match(
    next,
    /Download the rejects file `out\/workspan-opportunities\.rejects\.csv` from \[this run's artifacts\]\(https:\/\/github.com\/acme\/etl\/actions\/runs\/42#artifacts\)/,
  );
  assert.doesNotMatch(md, /\/home\/runner/);
});

Deno.test("jobSummary() escapes pipes and HTML in user data so table cells stay intact", () => {
  const s = summary({
    pipeline: "p<b>x</b>",
    errors: [{
      source_line: 7,
      key: "a|b",
      field: "note",
      message: 'Bad value "<script>alert(1)</script>" | next\ncell *bold* [link](http://x)',
      stage: "remote",
    }],
    problems: ["API said <img src=x> | 3 != 4"],
  });
  const md = jobSummary(s, OPTS);
  assert.match(md, /^### p&lt;b&gt;x&lt;\/b&gt;: /);
  assert.doesNotMatch(md, /<script>|<img|<b>/);
  const rows = tables(md)[2]!;
  assert.equal(rows.rows.length, 1);
  assert.equal(rows.rows[0]!.length, 5, "a pipe in the data split the row into more cells");
  // marked, like GitHub, takes the escaped pipe back as text inside the cell.
  assert.equal(rows.rows[0]![1], "a|b");
  assert.ok(
    rows.rows[0]![4]!.startsWith('Bad value "&lt;script&gt;alert(1)&lt;/script&gt;" | next cell'),
    rows.rows[0]![4],
  );
  assert.match(rows.rows[0]![4]!, /\\\*bold\\\* \\\[link\\\]\(http:\/\/x\)/);
  assert.match(section(md, "Problems"), /- API said &lt;img src=x&gt; \\\| 3 != 4/);
  // Rendered, the text reads as written, with no live HTML.
  const html = marked.parse(md, { async: false });
  assert.match(html, /a\|b/);
  assert.match(html, /&lt;script&gt;/);
  assert.doesNotMatch(html, /<script>|<img /);
});

Deno.test("jobSummary() lists the first 20 batches and failed rows, then says how many more", () => {
  const s = summary({
    status: "failed",
    exit_code: 1,
    batches: batches(45),
    errors: rowErrors(30),
    errors_omitted: 100,
  });
  const md = jobSummary(s, OPTS);
  const [, batch, rows] = tables(md);
  assert.equal(batch!.rows.length, 20);
  assert.equal(batch!.rows[19]![4], "`ex0019`");
  assert.match(md, /#### Batches \(45\)/);
  assert.match(md, /and 25 more batches/);
  assert.equal(rows!.rows.length, 20);
  assert.match(md, /#### First 20 of 130 rows that did not load/);
  assert.match(
    md,
    /and 110 more: the rejects file has every one, in \[this run's artifacts\]\(https:\/\/github.com\/acme\/etl\/actions\/runs\/42#artifacts\)/,
  );
  const fewer = jobSummary(s, { ...OPTS, maxBatches: 5, maxRows: 3 });
  assert.equal(tables(fewer)[1]!.rows.length, 5);
  assert.equal(tables(fewer)[2]!.rows.length, 3);
  assert.match(fewer, /and 40 more batches/);
  assert.match(fewer, /and 127 more/);
});

Deno.test("jobSummary() without a repository link shows plain source lines and paths", () => {
  const md = jobSummary(summary({ source: "/data/drop/opportunities.csv" }), OPTS);
  assert.equal(tables(md)[2]!.rows[0]![0], "81");
  assert.match(md, /source `\/data\/drop\/opportunities.csv`/);
  const noLinks = jobSummary(summary(), { workspace: WS });
  assert.doesNotMatch(noLinks, /https:/);
  assert.match(noLinks, /Download the rejects file `out\/[^`]+` from this run's artifacts:/);
});

Deno.test("jobSummary() of a clean run says there is nothing to do and lists no rows", () => {
  const s = summary({
    status: "succeeded",
    counts: { ...summary().counts, rejected: 0, failed: 0, sent: 200, succeeded: 200 },
    errors: [],
    hints: [],
    error_rate: 0,
  });
  s.reason = undefined;
  const md = jobSummary(s, OPTS);
  assert.match(md, /^### workspan-opportunities: SUCCEEDED/);
  assert.doesNotMatch(md, /rows that did not load|#### Problems|^>/m);
  assert.match(section(md, "What to do next"), /Nothing: every row loaded/);
  assert.equal(tables(md).length, 2);
});

Deno.test("jobSummary() lists problems and advises keeping the summary", () => {
  const s = summary({
    status: "failed",
    exit_code: 1,
    problems: ["Accounting breach: sent 199 != succeeded 190 + failed 2"],
  });
  const md = jobSummary(s, OPTS);
  assert.match(
    section(md, "Problems"),
    /- Accounting breach: sent 199 != succeeded 190 \+ failed 2/,
  );
  assert.match(section(md, "What to do next"), /The counts did not add up/);
});

Deno.test("capped() cuts a job summary over the limit at a line, with a note", () => {
  const md = Array.from({ length: 2000 }, (_, i) => `| ${i} | row |`).join("\n");
  const out = capped(md, 4000);
  assert.ok(new TextEncoder().encode(out).length <= 4000);
  assert.match(out, /cut to stay under GitHub's 1 MiB limit/);
  assert.equal(capped("short\n"), "short\n");
});
