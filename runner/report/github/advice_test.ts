import assert from "node:assert/strict";
import { failureSummary, jobSummary } from "./job_summary.ts";
import { nextSteps, startAdvice } from "./advice.ts";
import { batches, OPTS, section, summary } from "./_testing.ts";

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
    /The run passed: the 3 rows that failed \(1 rejected locally, 2 refused by the API\) are within `limits.max_error_rate` 2%/,
  );
  assert.doesNotMatch(ok, /above/);
});

Deno.test("failureSummary() advises a fresh start when the journal refuses to resume", () => {
  const md = failureSummary("pipelines/x.yaml", {
    message:
      'The last run of "x" did not finish, and the source file changed since: rerun it unchanged to finish it, or start over with --fresh (see .state/x.journal.jsonl)',
    code: "resume_refused",
    exitCode: 2,
  });
  assert.match(md, /with `fresh` ticked/);
  assert.doesNotMatch(md, /\| line \|/);
});

Deno.test("nextSteps() chooses the rejects download by the summary's fields, not the hints' text", () => {
  const download = /Download the rejects file `out\/workspan-opportunities\.rejects\.csv`/;
  // No hint mentions the file, yet there are rows in it.
  assert.ok(nextSteps(summary({ hints: [] }), OPTS).some((n) => download.test(n)));
  // A hint naming the file, but no row went into it: nothing to download.
  const clean = summary({
    status: "succeeded",
    counts: { ...summary().counts, rejected: 0, failed: 0, sent: 200, succeeded: 200 },
    errors: [],
  });
  assert.ok(!nextSteps(clean, OPTS).some((n) => download.test(n)));
  // No rejects file written: nothing to download either.
  assert.ok(!nextSteps(summary({ outputs: {} }), OPTS).some((n) => download.test(n)));
});

Deno.test("nextSteps() words a single row in the singular", () => {
  const s = summary({
    status: "failed",
    exit_code: 3,
    counts: { ...summary().counts, unknown: 1, unsent: 1 },
  });
  const next = nextSteps(s, OPTS).join("\n");
  assert.match(next, /^1 row was in uploads whose answer never came/m);
  assert.match(next, /^1 row was not sent because the run stopped/m);
});

Deno.test("startAdvice() follows the error code, whatever the message says", () => {
  const message = "Something unexpected";
  assert.match(startAdvice("p.yaml", "resume_refused").join(), /with `fresh` ticked/);
  assert.match(startAdvice("p.yaml", "already_loaded").join(), /with `--force`/);
  // A message mentioning --fresh or --force does not choose the advice on its own.
  for (const text of [`${message}: try --fresh`, `${message}: use --force`]) {
    const md = failureSummary("p.yaml", { message: text, code: "usage", exitCode: 2 });
    assert.doesNotMatch(md, /`fresh` ticked|with `--force`/);
    assert.match(md, /Check the repository secrets and variables/);
  }
});

Deno.test("startAdvice() follows the diagnostics' codes", () => {
  const d = { path: [], message: "x", line: 1, column: 1 };
  assert.match(
    startAdvice("p.yaml", "invalid_pipeline", [{ ...d, code: "missing_env" }]).join(),
    /add it as a repository \(or environment\) secret/,
  );
  assert.match(
    startAdvice("p.yaml", "invalid_pipeline", [{ ...d, code: "unknown_key" }]).join(),
    /Fix the problems above; `deno task validate` `p.yaml`/,
  );
});
