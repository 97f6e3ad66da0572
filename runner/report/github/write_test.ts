import assert from "node:assert/strict";
import { escapeData } from "./workflow_commands.ts";
import { escapeMarkdown } from "./markdown.ts";
import { writeGithubFailure, writeGithubReport } from "./write.ts";
import { ACTIONS_ENV, fakeFiles, summary, tables } from "./_testing.ts";

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

Deno.test("writeGithubReport() keeps numbers whole when a secret is also a count", async () => {
  const { files, appendFile } = fakeFiles();
  const logged: string[] = [];
  const s = summary({
    status: "failed",
    exit_code: 3,
    reason: "Org 1000 was refused",
    counts: { ...summary().counts, read: 1000, rejected: 1, sent: 999, succeeded: 997 },
  });
  await writeGithubReport(s, {
    env: (n) => ACTIONS_ENV[n],
    appendFile,
    log: (l) => logged.push(l),
    secrets: ["1000"],
  });
  const out = files.get("/gh/output")!;
  assert.match(out, /^read=1000$/m);
  assert.match(out, /^reason=Org \*\*\* was refused$/m);
  const md = files.get("/gh/summary.md")!;
  assert.deepEqual(tables(md)[0]!.rows[0]!.slice(0, 3), ["1,000", "1", "999"]);
  assert.match(md, /> Org \\\*\\\*\\\* was refused/);
  assert.match(logged[0]!, /FAILED: Org \*\*\* was refused/);
});

Deno.test("writeGithubReport() hides a secret with a quote or backslash in every spelling", async () => {
  const { files, appendFile } = fakeFiles();
  const logged: string[] = [];
  const secret = 'p"w\\d_1%';
  const json = JSON.stringify(secret).slice(1, -1);
  const s = summary({
    status: "failed",
    exit_code: 1,
    reason: `Refused ${secret}`,
    errors: [
      { source_line: 2, key: "k", message: `API echoed {"token":"${json}"}`, stage: "remote" },
      { source_line: 3, key: "k", message: `escaped ${escapeMarkdown(secret)}`, stage: "remote" },
      { source_line: 4, key: "k", message: `logged ${escapeData(secret)}`, stage: "remote" },
    ],
  });
  await writeGithubReport(s, {
    env: (n) => ACTIONS_ENV[n],
    appendFile,
    log: (l) => logged.push(l),
    secrets: [secret],
  });
  const all = [...files.values(), ...logged].join("\n");
  const spellings = [secret, json, escapeMarkdown(secret), escapeData(secret), "pw", "w\\d"];
  for (const spelling of [...spellings, ...spellings.map(escapeMarkdown)]) {
    assert.ok(!all.includes(spelling), `found ${spelling} in\n${all}`);
  }
  assert.match(all, /API echoed \{"token":"\*\*\*"\}/);
  assert.equal(logged.filter((l) => l.includes("***")).length, 4);
});

Deno.test("writeGithubFailure() hides secrets in the message, diagnostics and outputs", async () => {
  const { files, appendFile } = fakeFiles();
  const logged: string[] = [];
  const secret = "s3cr3t-value";
  await writeGithubFailure("pipelines/x.yaml", {
    message: `Token ${secret} refused`,
    code: "auth",
    exitCode: 3,
  }, {
    env: (n) => ACTIONS_ENV[n],
    appendFile,
    log: (l) => logged.push(l),
    secrets: [secret],
  });
  const all = [...files.values(), ...logged].join("\n");
  assert.ok(!all.includes(secret), all);
  assert.match(files.get("/gh/summary.md")!, /> Token \\\*\\\*\\\* refused/);
  assert.deepEqual(logged, ["::error file=pipelines/x.yaml::Token *** refused"]);
  assert.match(files.get("/gh/output")!, /^exit_code=3$/m);
});
