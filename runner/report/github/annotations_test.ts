import assert from "node:assert/strict";
import { annotateDiagnostics, annotations } from "./annotations.ts";
import { OPTS, rowErrors, summary } from "./_testing.ts";

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

Deno.test("annotations() show at most 10 problems, the last counting the rest", () => {
  const problems = Array.from({ length: 25 }, (_, i) => `Problem ${i + 1}`);
  const s = summary({ problems, errors: [] });
  const warnings = annotations(s, OPTS).filter((a) => a.startsWith("::warning"));
  assert.equal(warnings.length, 10);
  assert.equal(warnings[8], "::warning title=workspan-opportunities::Problem 9");
  assert.equal(
    warnings[9],
    "::warning title=workspan-opportunities::16 more problems, see the summary's problems",
  );
  const ten = annotations(summary({ problems: problems.slice(0, 10), errors: [] }), OPTS);
  assert.equal(ten.filter((a) => a.includes("Problem 10")).length, 1, "ten fit without a count");
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
