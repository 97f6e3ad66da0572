import assert from "node:assert/strict";
import { marked, type Token, type Tokens } from "marked";
import {
  annotateDiagnostics,
  annotations,
  endGroup,
  escapeData,
  escapeMarkdown,
  escapeProperty,
  failureSummary,
  formatDuration,
  formatOutputs,
  githubEnvironment,
  jobSummary,
  outputValues,
  resumeCommands,
  startGroup,
  stopCommands,
  workflowCommand,
  writeGithubFailure,
  writeGithubReport,
} from "./github.ts";
import type { BatchSummary, RowError, Summary } from "./summary.ts";

const WS = "/home/runner/work/etl/etl";

/** A run like the README's example: 200 rows, 1 rejected locally, 2 refused by WorkSpan. */
function summary(over: Partial<Summary> = {}): Summary {
  return {
    version: 1,
    pipeline: "workspan-opportunities",
    target: "workspan",
    status: "completed_with_errors",
    reason: "1 rejected, 2 failed, 0 skipped, within max_error_rate 2%",
    started_at: "2026-11-25T19:40:01.112Z",
    finished_at: "2026-11-25T19:40:03.391Z",
    duration_ms: 2279,
    source: `${WS}/pipelines/data/opportunities.csv`,
    counts: {
      read: 200,
      rejected: 1,
      sent: 199,
      succeeded: 197,
      failed: 2,
      skipped: 0,
      pending: 0,
      unknown: 0,
      unsent: 0,
    },
    error_rate: 0.015,
    max_error_rate: 0.02,
    batches: [{
      index: 0,
      execution_id: "a64690c2450",
      rows: 199,
      first_line: 2,
      last_line: 201,
      status: "completed",
      remote_status: "completed",
      polls: 1,
      counts: { succeeded: 197, failed: 2, skipped: 0 },
    }],
    errors: [
      {
        source_line: 81,
        key: "aw00079",
        field: "stage",
        message: "invalid value in field 'stage'",
        stage: "remote",
      },
      {
        source_line: 84,
        key: "aw00082",
        field: "stage",
        message: "invalid value in field 'stage'",
        stage: "remote",
      },
      {
        source_line: 122,
        field: "opportunity_id",
        code: "key_missing",
        message: "Missing value of key field",
        stage: "local",
      },
    ],
    errors_omitted: 0,
    problems: [],
    hints: [
      `3 rows that did not load are in ${WS}/out/workspan-opportunities.rejects.csv, with their line and error`,
    ],
    exit_code: 0,
    outputs: {
      summary: `${WS}/out/workspan-opportunities.summary.json`,
      rejects: `${WS}/out/workspan-opportunities.rejects.csv`,
    },
    ...over,
  };
}

const OPTS = {
  pipelineFile: "pipelines/workspan-opportunities.yaml",
  workspace: WS,
  blobUrl: "https://github.com/acme/etl/blob/0123abc",
  runUrl: "https://github.com/acme/etl/actions/runs/42",
};

function batches(n: number): BatchSummary[] {
  return Array.from({ length: n }, (_, i) => ({
    index: i,
    execution_id: `ex${String(i).padStart(4, "0")}`,
    rows: 100,
    first_line: 2 + i * 100,
    last_line: 101 + i * 100,
    status: "completed" as const,
    polls: 2,
    counts: { succeeded: 99, failed: 1, skipped: 0 },
  }));
}

function rowErrors(n: number): RowError[] {
  return Array.from({ length: n }, (_, i) => ({
    source_line: 10 + i,
    key: `k${i}`,
    field: "amount",
    message: `Not a number: "x${i}"`,
    stage: "local" as const,
  }));
}

/** The GFM tables of a Markdown text, as marked parses them (header cells, then row cells). */
function tables(md: string): { header: string[]; rows: string[][] }[] {
  const out: { header: string[]; rows: string[][] }[] = [];
  marked.walkTokens(marked.lexer(md), (t: Token) => {
    if (t.type === "table") {
      const table = t as Tokens.Table;
      out.push({
        header: table.header.map((c) => c.text),
        rows: table.rows.map((r) => r.map((c) => c.text)),
      });
    }
  });
  return out;
}

/** The text under a `#### heading`, up to the next heading. */
function section(md: string, heading: string): string {
  const start = md.indexOf(`#### ${heading}`);
  assert.ok(start >= 0, `no section "${heading}" in:\n${md}`);
  const end = md.indexOf("\n#### ", start + 1);
  return md.slice(start, end < 0 ? undefined : end);
}

// ---------------------------------------------------------------------------------------------

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
    "remote",
    "invalid value in field 'stage'",
  ]);
  assert.equal(rows!.rows[2]![4], "Missing value of key field (key\\_missing)");
  assert.match(md, /Error rate 1\.5% .*limit 2%/);
  // The hint's absolute path is shortened to the repository path.
  assert.match(
    section(md, "What to do next"),
    /in out\/workspan-opportunities\.rejects\.csv, with their line and error \(download it from \[this run's artifacts\]\(https:\/\/github.com\/acme\/etl\/actions\/runs\/42#artifacts\)\)/,
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

Deno.test("escapeMarkdown() neutralises Markdown and HTML and joins lines", () => {
  assert.equal(escapeMarkdown("a|b"), "a\\|b");
  assert.equal(escapeMarkdown("<x> & y"), "&lt;x&gt; &amp; y");
  assert.equal(escapeMarkdown("one\r\ntwo\nthree"), "one two three");
  assert.equal(escapeMarkdown("`code` _u_ *s* ~t~ \\"), "\\`code\\` \\_u\\_ \\*s\\* \\~t\\~ \\\\");
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
  assert.match(noLinks, /\(download it from this run's artifacts\)/);
});

Deno.test("jobSummary() advises what to do next for a timed-out run", () => {
  const s = summary({
    status: "timed_out",
    exit_code: 4,
    reason: "1 execution still running after the polling timeout",
    counts: {
      read: 200,
      rejected: 0,
      sent: 100,
      succeeded: 0,
      failed: 0,
      skipped: 0,
      pending: 100,
      unknown: 0,
      unsent: 100,
    },
    batches: [{
      ...batches(1)[0]!,
      status: "timed_out",
      counts: { succeeded: 0, failed: 0, skipped: 0 },
    }],
    errors: [],
    hints: ["Execution ex0000 is still running: its 100 rows are pending"],
    error_rate: 0,
  });
  const next = section(jobSummary(s, OPTS), "What to do next");
  assert.match(next, /Execution ex0000 is still running/);
  assert.match(next, /next scheduled run resumes from the journal/);
  assert.match(next, /Do not start over with `fresh`/);
  assert.doesNotMatch(next, /rows were not sent because the run stopped/);
});

Deno.test("jobSummary() tells to check the target before resending rows of unknown fate", () => {
  const s = summary({
    status: "failed",
    exit_code: 3,
    reason: "Upload of batch 2 was not answered",
    counts: {
      read: 300,
      rejected: 0,
      sent: 200,
      succeeded: 100,
      failed: 0,
      skipped: 0,
      pending: 0,
      unknown: 100,
      unsent: 100,
    },
    batches: [...batches(2), { ...batches(3)[2]!, status: "not_sent" }],
    errors: [],
    hints: [],
    error_rate: 0,
  });
  const next = section(jobSummary(s, OPTS), "What to do next");
  assert.match(next, /100 rows were in uploads whose answer never came: check in workspan/);
  assert.match(next, /never resends them on its own/);
  assert.match(next, /100 rows were not sent because the run stopped; the next run resumes/);
  // A lost answer is not a credentials problem.
  assert.doesNotMatch(next, /check the repository secrets/);
});

Deno.test("jobSummary() of a refused upload points at the secrets", () => {
  const s = summary({
    status: "failed",
    exit_code: 3,
    reason: "WorkSpan refused the token (401)",
    counts: { ...summary().counts, sent: 0, succeeded: 0, failed: 0, unsent: 199 },
    batches: [{ ...batches(1)[0]!, status: "not_sent" }],
    errors: [],
    hints: [],
  });
  const next = section(jobSummary(s, OPTS), "What to do next");
  assert.match(next, /check the repository secrets and `base_url`/);
  assert.match(next, /199 rows were not sent/);
});

Deno.test("jobSummary() points at the rejects artifact when failures exceed max_error_rate", () => {
  const s = summary({
    status: "failed",
    exit_code: 1,
    reason: "3 of 200 rows failed (1.5%), above max_error_rate 1%",
    max_error_rate: 0.01,
  });
  const next = section(jobSummary(s, OPTS), "What to do next");
  assert.match(next, /1\.5% of the rows did not load, above `limits.max_error_rate` 1%/);
  assert.match(
    next,
    /rejects file, in \[this run's artifacts\]\(https:\/\/github.com\/acme\/etl\/actions\/runs\/42#artifacts\)/,
  );
  // Within the limit the advice is milder.
  const ok = section(jobSummary(summary(), OPTS), "What to do next");
  assert.match(
    ok,
    /The run passed: the 3 rows that did not load are within `limits.max_error_rate` 2%/,
  );
  assert.doesNotMatch(ok, /above/);
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

Deno.test("formatDuration() reads like a person would say it", () => {
  assert.equal(formatDuration(850), "850 ms");
  assert.equal(formatDuration(2279), "2.3 s");
  assert.equal(formatDuration(252_000), "4 min 12 s");
  assert.equal(formatDuration(3_900_000), "1 h 5 min");
});

// ---------------------------------------------------------------------------------------------

Deno.test("escapeData() and escapeProperty() follow GitHub's workflow command rules", () => {
  assert.equal(escapeData("100% done\r\nnext: a,b"), "100%25 done%0D%0Anext: a,b");
  assert.equal(escapeProperty("C:\\a,b%\n"), "C%3A\\a%2Cb%25%0A");
  assert.equal(
    workflowCommand("error", { file: "a,b.csv", line: 3, col: undefined, title: "p: x" }, "m\nn"),
    "::error file=a%2Cb.csv,line=3,title=p%3A x::m%0An",
  );
  assert.equal(workflowCommand("warning", {}, "plain"), "::warning::plain");
});

Deno.test("annotations() put failed rows on their source line, relative to the checkout", () => {
  const s = summary({ status: "failed", exit_code: 1, reason: "3 of 200 rows failed (1.5%)" });
  const lines = annotations(s, OPTS);
  assert.equal(
    lines[0],
    "::error title=workspan-opportunities::FAILED: 3 of 200 rows failed (1.5%25) (exit code 1)",
  );
  assert.equal(
    lines[1],
    '::error file=pipelines/data/opportunities.csv,line=81,title=workspan-opportunities::row "aw00079", field "stage": invalid value in field \'stage\' [remote]',
  );
  assert.equal(
    lines[3],
    '::error file=pipelines/data/opportunities.csv,line=122,title=workspan-opportunities::field "opportunity_id": Missing value of key field (key_missing) [local]',
  );
  assert.equal(lines.length, 4);
});

Deno.test("annotations() are warnings when the run stayed within max_error_rate", () => {
  const lines = annotations(summary(), OPTS);
  assert.match(lines[0]!, /^::notice title=workspan-opportunities::COMPLETED WITH ERRORS: /);
  assert.ok(lines.slice(1).every((l) => l.startsWith("::warning file=")), lines.join("\n"));
  assert.deepEqual(annotations(summary({ status: "succeeded", errors: [] }), OPTS), []);
});

Deno.test("annotations() escape row messages so they cannot start a new command", () => {
  const s = summary({
    status: "failed",
    exit_code: 1,
    pipeline: "deals,eu: main",
    errors: [{
      source_line: 5,
      key: "k1",
      message: "50% off\n::add-mask::x\r\n::error::forged",
      stage: "remote",
    }],
  });
  const row = annotations(s, OPTS)[1]!;
  assert.equal(row.split("\n").length, 1);
  assert.equal(
    row,
    '::error file=pipelines/data/opportunities.csv,line=5,title=deals%2Ceu%3A main::row "k1": 50%25 off%0A::add-mask::x%0D%0A::error::forged [remote]',
  );
});

Deno.test("annotations() stop at the cap with one warning counting the rest", () => {
  const s = summary({ status: "failed", exit_code: 1, errors: rowErrors(30), errors_omitted: 70 });
  const lines = annotations(s, OPTS);
  const rows = lines.filter((l) => l.startsWith("::error file="));
  assert.equal(rows.length, 10);
  assert.equal(
    lines.at(-1),
    "::warning title=workspan-opportunities::90 more failed rows, see the rejects file (out/workspan-opportunities.rejects.csv)",
  );
  assert.equal(
    annotations(s, { ...OPTS, maxAnnotations: 50 }).filter((l) => l.startsWith("::error file="))
      .length,
    30,
  );
});

Deno.test("annotations() of a source outside the checkout name the file in the message", () => {
  const s = summary({ status: "failed", exit_code: 1, source: "/mnt/drop/opps.csv" });
  const row = annotations(s, OPTS)[1]!;
  assert.equal(
    row,
    '::error title=workspan-opportunities::/mnt/drop/opps.csv:81: row "aw00079", field "stage": invalid value in field \'stage\' [remote]',
  );
});

Deno.test("annotations() clip long keys and messages", () => {
  const s = summary({
    errors: [{ source_line: 3, key: "k".repeat(2000), message: "m".repeat(5000), stage: "remote" }],
  });
  const row = annotations(s, OPTS)[1]!;
  assert.ok(row.length < 800, `${row.length} characters`);
  assert.match(row, /row "k{79}…": m{499}… \[remote\]$/);
});

Deno.test("annotations() add a warning per problem", () => {
  const s = summary({ problems: ["Counts do not add up: 3 != 4"], errors: [] });
  assert.deepEqual(annotations(s, OPTS).slice(1), [
    "::warning title=workspan-opportunities::Counts do not add up: 3 != 4",
  ]);
});

Deno.test("annotateDiagnostics() points at line and column of the pipeline file", () => {
  const lines = annotateDiagnostics("pipelines/x.yaml", [
    {
      code: "unknown_key",
      path: ["sourse"],
      message: 'Unknown key "sourse": did you mean "source"?',
      line: 4,
      column: 1,
    },
    {
      code: "invalid_type",
      path: ["target", "batch_size"],
      message: "Expected number, received string\n100%",
      line: 12,
      column: 15,
    },
  ]);
  assert.deepEqual(lines, [
    '::error file=pipelines/x.yaml,line=4,col=1,title=unknown_key::Unknown key "sourse": did you mean "source"?',
    "::error file=pipelines/x.yaml,line=12,col=15,title=invalid_type::Expected number, received string%0A100%25",
  ]);
});

Deno.test("group and stop-commands helpers produce GitHub's markers", () => {
  assert.equal(startGroup("bigin-deals\n"), "::group::bigin-deals%0A");
  assert.equal(endGroup(), "::endgroup::");
  assert.equal(stopCommands("tok-1"), "::stop-commands::tok-1");
  assert.equal(resumeCommands("tok-1"), "::tok-1::");
});

// ---------------------------------------------------------------------------------------------

Deno.test("formatOutputs() writes name=value lines, and a delimited block for multi-line values", () => {
  const values = outputValues(summary(), WS);
  const text = formatOutputs(values, () => "EOF_1");
  const lines = text.trimEnd().split("\n");
  assert.deepEqual(lines.slice(0, 4), [
    "pipeline=workspan-opportunities",
    "status=completed_with_errors",
    "exit_code=0",
    "reason=1 rejected, 2 failed, 0 skipped, within max_error_rate 2%",
  ]);
  for (
    const l of [
      "read=200",
      "rejected=1",
      "sent=199",
      "succeeded=197",
      "failed=2",
      "skipped=0",
      "pending=0",
      "unknown=0",
      "unsent=0",
      "rejects_file=out/workspan-opportunities.rejects.csv",
    ]
  ) assert.ok(lines.includes(l), `missing ${l} in\n${text}`);

  let n = 0;
  const multi = formatOutputs(
    { reason: "one\nEOF_1\nthree", status: "failed" },
    () => `EOF_${++n}`,
  );
  assert.equal(multi, "reason<<EOF_2\none\nEOF_1\nthree\nEOF_2\nstatus=failed\n");
});

Deno.test("githubEnvironment() recognises Actions and finds its files and links", () => {
  assert.deepEqual(githubEnvironment(() => undefined), { actions: false });
  assert.deepEqual(
    githubEnvironment((n) => ({ GITHUB_ACTIONS: "false", GITHUB_OUTPUT: "/tmp/o" })[n]),
    { actions: false },
  );
  const env: Record<string, string> = {
    GITHUB_ACTIONS: "true",
    GITHUB_STEP_SUMMARY: "/tmp/s.md",
    GITHUB_OUTPUT: "/tmp/o.txt",
    GITHUB_WORKSPACE: WS,
    GITHUB_SERVER_URL: "https://github.example.com",
    GITHUB_REPOSITORY: "acme/etl",
    GITHUB_SHA: "0123abc",
    GITHUB_RUN_ID: "42",
  };
  assert.deepEqual(githubEnvironment((n) => env[n]), {
    actions: true,
    stepSummary: "/tmp/s.md",
    output: "/tmp/o.txt",
    workspace: WS,
    blobUrl: "https://github.example.com/acme/etl/blob/0123abc",
    runUrl: "https://github.example.com/acme/etl/actions/runs/42",
  });
});

function fakeFiles() {
  const files = new Map<string, string>();
  return {
    files,
    appendFile: (path: string, text: string) => {
      files.set(path, (files.get(path) ?? "") + text);
      return Promise.resolve();
    },
  };
}

const ACTIONS_ENV: Record<string, string> = {
  GITHUB_ACTIONS: "true",
  GITHUB_STEP_SUMMARY: "/gh/summary.md",
  GITHUB_OUTPUT: "/gh/output",
  GITHUB_WORKSPACE: WS,
  GITHUB_REPOSITORY: "acme/etl",
  GITHUB_SHA: "0123abc",
  GITHUB_RUN_ID: "42",
};

Deno.test("writeGithubReport() appends summary and outputs, prints annotations, hides secrets", async () => {
  const { files, appendFile } = fakeFiles();
  const logged: string[] = [];
  const s = summary({
    status: "failed",
    exit_code: 3,
    reason: "Token tok-SECRET-123 was refused",
  });
  const first = await writeGithubReport(s, {
    env: (n) => ACTIONS_ENV[n],
    appendFile,
    log: (l) => logged.push(l),
    pipelineFile: "pipelines/workspan-opportunities.yaml",
    secrets: ["tok-SECRET-123"],
  });
  assert.equal(first.actions, true);
  await writeGithubReport(summary({ pipeline: "bigin-deals" }), {
    env: (n) => ACTIONS_ENV[n],
    appendFile,
  });
  const md = files.get("/gh/summary.md")!;
  assert.match(
    md,
    /### workspan-opportunities: FAILED[\s\S]*### bigin-deals: COMPLETED WITH ERRORS/,
  );
  assert.match(
    md,
    /\]\(https:\/\/github.com\/acme\/etl\/blob\/0123abc\/pipelines\/workspan-opportunities.yaml\)/,
  );
  assert.match(md, /actions\/runs\/42#artifacts/);
  const out = files.get("/gh/output")!;
  assert.match(out, /^status=failed$/m);
  assert.match(out, /^exit_code=3$/m);
  assert.match(out, /^pipeline=bigin-deals$/m, "the second pipeline's outputs come last");
  assert.deepEqual(logged, first.annotations);
  assert.equal(logged.length, 4);
  for (const text of [md, out, ...logged]) assert.doesNotMatch(text, /tok-SECRET-123/);
  assert.match(md, /Token \*\*\* was refused|Token \\\*\\\*\\\* was refused/);
});

Deno.test("writeGithubReport() hides secrets that Markdown or command escaping would respell", async () => {
  const { files, appendFile } = fakeFiles();
  const logged: string[] = [];
  const secret = "tok_SECRET*1%x";
  const s = summary({
    status: "failed",
    exit_code: 1,
    reason: `Header value ${secret} rejected`,
    errors: [{ source_line: 2, key: secret, message: `echoed ${secret}`, stage: "remote" }],
  });
  await writeGithubReport(s, {
    env: (n) => ACTIONS_ENV[n],
    appendFile,
    log: (l) => logged.push(l),
    secrets: [secret],
  });
  const all = [...files.values(), ...logged].join("\n");
  for (const spelling of [secret, escapeMarkdown(secret), escapeData(secret), "SECRET"]) {
    assert.ok(!all.includes(spelling), `found ${spelling}`);
  }
  assert.match(all, /Header value \\\*\\\*\\\* rejected/);
});

Deno.test("writeGithubReport() outside Actions writes and prints nothing", async () => {
  const { files, appendFile } = fakeFiles();
  const logged: string[] = [];
  const r = await writeGithubReport(summary(), {
    env: (n) => ({ GITHUB_STEP_SUMMARY: "/gh/summary.md" })[n],
    appendFile,
    log: (l) => logged.push(l),
  });
  assert.deepEqual(r, { actions: false, annotations: [] });
  assert.equal(files.size, 0);
  assert.equal(logged.length, 0);
});

Deno.test("writeGithubFailure() explains a pipeline that could not start", async () => {
  const { files, appendFile } = fakeFiles();
  const logged: string[] = [];
  await writeGithubFailure("pipelines/bigin-deals.yaml", {
    message: "pipelines/bigin-deals.yaml: 1 problem",
    exitCode: 2,
    diagnostics: [{
      code: "missing_env",
      path: ["target", "org_id"],
      message: 'Variable "BIGIN_ORG_ID" is not set',
      line: 13,
      column: 11,
    }],
  }, { env: (n) => ACTIONS_ENV[n], appendFile, log: (l) => logged.push(l) });
  const md = files.get("/gh/summary.md")!;
  assert.match(md, /^### pipelines\/bigin-deals.yaml: NOT STARTED/);
  assert.match(
    md,
    /\| \[13\]\(https:\/\/github.com\/acme\/etl\/blob\/0123abc\/pipelines\/bigin-deals.yaml\?plain=1#L13\) \| 11 \| Variable "BIGIN\\_ORG\\_ID" is not set \|/,
  );
  assert.match(md, /add it as a repository \(or environment\) secret/);
  assert.equal(
    files.get("/gh/output"),
    "pipeline_file=pipelines/bigin-deals.yaml\nstatus=not_started\nexit_code=2\n",
  );
  assert.deepEqual(logged, [
    '::error file=pipelines/bigin-deals.yaml,line=13,col=11,title=missing_env::Variable "BIGIN_ORG_ID" is not set',
  ]);
});

Deno.test("failureSummary() advises a fresh start when the journal refuses to resume", () => {
  const md = failureSummary("pipelines/x.yaml", {
    message:
      'The last run of "x" did not finish, and the source file changed since: rerun it unchanged to finish it, or start over with --fresh (see .state/x.journal.jsonl)',
    exitCode: 2,
  });
  assert.match(md, /with `fresh` ticked/);
  assert.doesNotMatch(md, /\| line \|/);
});
