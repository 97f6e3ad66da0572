/**
 * Salesforce Bulk API 2.0 end to end, through its description (apis/salesforce-bulk2.yaml) and
 * nothing else: the real CLI against the sandbox's Salesforce simulator, with faults and kills.
 */
import assert from "node:assert/strict";
import type { Fault } from "../sandbox/faults.ts";
import type { Sandbox } from "../sandbox/server.ts";
import {
  assertIdentities,
  runCli,
  spawnCli,
  type Summary,
  tempDir,
  withSandbox,
} from "./_harness.ts";

const SECRET = "sandbox-sf-secret";
const CLIENT = "sandbox-sf-client";
/** The shape of the access tokens the simulator issues (`<org id>!<hex>`). */
const ISSUED_TOKEN = /00DSB0000000001AAA![0-9a-f]{16,}/;
const STAGES = ["Prospecting", "Qualification", "Needs Analysis", "Closed Won", "Closed Lost"];

/** What each source row of `sfCsv` is meant to become. */
interface Row {
  line: number;
  ref: string;
  fate: "stored" | "local" | "remote";
  /** For remote refusals: the Salesforce error code and field. */
  code?: string;
  field?: string;
}

/**
 * A CSV of `n` opportunities: some rejected locally (a date that does not exist, no ref), some
 * refused by Salesforce (a stage not in the picklist, a name over 120 characters). Notes hold
 * commas, quotes, newlines and non-ASCII text.
 */
function sfCsv(n: number): { text: string; rows: Row[] } {
  const lines = ["ref,deal,stage,close,amount,probability,notes"];
  const rows: Row[] = [];
  let line = 2;
  for (let i = 0; i < n; i++) {
    const ref = `REF-${String(i).padStart(5, "0")}`;
    let cells = [
      ref,
      `Deal ${i}`,
      STAGES[i % STAGES.length]!,
      `${String((i % 28) + 1).padStart(2, "0")}/${String((i % 12) + 1).padStart(2, "0")}/2026`,
      `${1000 + i}.50`,
      String(i % 101),
      i % 3 === 0 ? `Zoë said "yes, \nmaybe", №${i}` : `note ${i}`,
    ];
    let row: Row = { line, ref, fate: "stored" };
    if (i % 97 === 5) {
      cells[3] = "30/02/2026";
      row = { ...row, fate: "local" };
    } else if (i % 113 === 7) {
      cells[0] = "";
      row = { ...row, fate: "local" };
    } else if (i % 50 === 9) {
      cells[2] = "Won (verbal)";
      row = {
        ...row,
        fate: "remote",
        code: "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        field: "StageName",
      };
    } else if (i % 71 === 11) {
      cells[1] = "x".repeat(121);
      row = { ...row, fate: "remote", code: "STRING_TOO_LONG", field: "Name" };
    }
    cells = cells.map((c) => (/[",\n]/.test(c) ? `"${c.replaceAll('"', '""')}"` : c));
    lines.push(cells.join(","));
    rows.push(row);
    line += cells.join(",").split("\n").length;
  }
  return { text: lines.join("\n") + "\n", rows };
}

function sfPipeline(o: { batchSize: number; concurrency?: number; polling?: string }): string {
  return `version: 1
name: sf-e2e
source: { path: data.csv }
target:
  api: salesforce-bulk2
  instance_url: \${SALESFORCE_INSTANCE_URL}
  object: Opportunity
  operation: upsert
  external_id_field: External_Ref__c
  client_id: \${SALESFORCE_CLIENT_ID}
  client_secret: \${SALESFORCE_CLIENT_SECRET}
  batch_size: ${o.batchSize}
  concurrency: ${o.concurrency ?? 1}
  retries: { attempts: 4, base_delay: 10ms, max_delay: 50ms }
key: External_Ref__c
mappings:
  External_Ref__c: { from: ref, required: true }
  Name: deal
  StageName: stage
  CloseDate: { from: close, type: date, format: "dd/MM/yyyy" }
  Amount: { from: amount, type: number }
  Probability: { from: probability, type: number }
  Description: notes
polling: ${o.polling ?? "{ interval: 30ms, backoff: 1.5, max_interval: 150ms, timeout: 30s }"}
limits: { max_error_rate: 0.2 }
output:
  summary: out/sf.summary.json
  rejects: out/sf.rejects.csv
`;
}

function sfEnv(sandbox: Sandbox): Record<string, string> {
  return {
    SALESFORCE_INSTANCE_URL: sandbox.url,
    SALESFORCE_CLIENT_ID: CLIENT,
    SALESFORCE_CLIENT_SECRET: SECRET,
  };
}

/** Every good row stored exactly once, no local reject sent, no job left open. */
/**
 * Each row stored once or not at all, as its fate says; no job left Open but `open` (empty jobs
 * whose creation's answer the runner never read).
 */
function assertStored(sandbox: Sandbox, rows: Row[], open: string[] = []): void {
  const sf = sandbox.salesforce;
  for (const r of rows) {
    const writes = r.ref === "" ? 0 : sf.writeCount("Opportunity", "External_Ref__c", r.ref);
    assert.equal(writes, r.fate === "stored" ? 1 : 0, `${r.ref} (line ${r.line}, ${r.fate})`);
  }
  assert.deepEqual(sf.openJobs().map((j) => j.id), open, "no other job left Open");
}

/** Every server refusal joined to its source line, with its code and field. */
function assertRefusals(s: Summary, rows: Row[]): void {
  for (const r of rows.filter((r) => r.fate === "remote")) {
    const e = s.errors.find((e) => e.source_line === r.line && e.stage === "remote");
    assert.ok(e, `refusal of line ${r.line} reported`);
    assert.equal(e.key, r.ref);
    assert.equal(e.code, r.code);
    assert.equal(e.field, r.field);
  }
}

/** Nothing the runner printed or wrote holds the client secret or an issued access token. */
async function assertNoSecrets(dir: string, outputs: string[]): Promise<void> {
  const texts = [...outputs];
  for (const folder of ["out", ".state"]) {
    try {
      for await (const e of Deno.readDir(`${dir}/${folder}`)) {
        if (e.isFile) texts.push(await Deno.readTextFile(`${dir}/${folder}/${e.name}`));
      }
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  for (const t of texts) {
    assert.ok(!t.includes(SECRET), "the client secret appears nowhere");
    assert.ok(!ISSUED_TOKEN.test(t), "no issued access token appears anywhere");
  }
}

function expectedCounts(rows: Row[]) {
  const n = (f: Row["fate"]) => rows.filter((r) => r.fate === f).length;
  return {
    read: rows.length,
    rejected: n("local"),
    sent: n("stored") + n("remote"),
    succeeded: n("stored"),
    failed: n("remote"),
  };
}

function countsOf(s: Summary) {
  const c = s.counts;
  return {
    read: c.read,
    rejected: c.rejected,
    sent: c.sent,
    succeeded: c.succeeded,
    failed: c.failed,
  };
}

Deno.test("1,000 rows into Salesforce: each good row stored once, each refusal joined to its line", async () => {
  await withSandbox({ salesforce: { processingMs: 60 } }, async (sandbox) => {
    const { text, rows } = sfCsv(1000);
    const dir = await tempDir({
      "data.csv": text,
      "p.yaml": sfPipeline({ batchSize: 300, concurrency: 2 }),
    });
    const r = await runCli(["run", "--json", `${dir}/p.yaml`], sfEnv(sandbox), { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    const s = r.summaries[0]!;
    assertIdentities(s);
    assert.equal(s.status, "completed_with_errors");
    assert.deepEqual(countsOf(s), expectedCounts(rows));
    assert.equal(s.counts.unsent + s.counts.unknown + s.counts.pending, 0);
    assert.equal(s.batches.length, 4);
    assert.equal(sandbox.salesforce.jobs().length, 4, "one job per batch");
    assertStored(sandbox, rows);
    assertRefusals(s, rows);
    // The values arrive as mapped: date rewritten, number kept, notes with newline and quotes.
    const rec = sandbox.salesforce.records("Opportunity").find((x) =>
      x.fields.External_Ref__c === "REF-00003"
    )!;
    assert.equal(rec.fields.CloseDate, "2026-04-04");
    assert.equal(rec.fields.Amount, "1003.5");
    assert.equal(rec.fields.Description, 'Zoë said "yes, \nmaybe", №3');
    const rejects = await Deno.readTextFile(`${dir}/out/sf.rejects.csv`);
    assert.equal(rejects.split("\n").filter((l) => /^"?REF-|^,/.test(l)).length > 0, true);
    await assertNoSecrets(dir, [r.stdout, r.stderr]);
    console.log(`1,000-row run counts: ${JSON.stringify(s.counts)}`);
  });
});

/** The fault cases: each must end with the same stored rows as a run without faults. */
const FAULTS: { name: string; faults: Fault[]; jobs?: number; check?: (sb: Sandbox) => void }[] = [
  // Creating and uploading are not safe to repeat: only a 503 that says "not processed"
  // (Retry-After) is retried. Closing, polling and downloads are safe and retried on any 503.
  {
    name: "503 on create",
    faults: [{ endpoint: "sf.create", kind: "status", status: 503, retryAfter: "0" }],
  },
  {
    name: "503 on upload",
    faults: [{ endpoint: "sf.upload", kind: "status", status: 503, retryAfter: "0" }],
  },
  { name: "503 on close", faults: [{ endpoint: "sf.close", kind: "status", status: 503 }] },
  { name: "503 on a poll", faults: [{ endpoint: "sf.job", kind: "status", status: 503 }] },
  {
    name: "503 on a results download",
    faults: [{ endpoint: "sf.results", kind: "status", status: 503 }],
  },
  {
    name: "429 on polls",
    faults: [{ endpoint: "sf.job", kind: "too_many_requests", retryAfter: "0", times: 3 }],
  },
  {
    name: "an access token that expires mid-run",
    faults: [{ endpoint: "sf.upload", kind: "token_expired", after: 1 }],
    check: (sb) => assert.equal(sb.salesforce.tokenGrants, 2, "one new token, once"),
  },
  {
    name: "a job that fails half-way",
    faults: [{ endpoint: "sf.job", kind: "job_failed_partway" }],
    // One more job: the rows the failed job never processed, sent again once.
    jobs: 3,
    check: (sb) => {
      const failed = sb.salesforce.jobs().filter((j) => j.state === "Failed");
      assert.equal(failed.length, 1);
      assert.ok(failed[0]!.numberRecordsUnprocessed > 0);
    },
  },
];

for (const f of FAULTS) {
  Deno.test(`Salesforce under ${f.name}: every good row stored once, counts add up`, async () => {
    await withSandbox({ salesforce: { processingMs: 40 }, faults: f.faults }, async (sandbox) => {
      const { text, rows } = sfCsv(120);
      const dir = await tempDir({ "data.csv": text, "p.yaml": sfPipeline({ batchSize: 60 }) });
      const r = await runCli(["run", "--json", `${dir}/p.yaml`], sfEnv(sandbox), { cwd: dir });
      assert.equal(r.code, 0, r.stderr);
      const s = r.summaries[0]!;
      assertIdentities(s);
      assert.deepEqual(countsOf(s), expectedCounts(rows));
      assert.ok(sandbox.faultLog.length > 0, "the fault fired");
      assert.equal(sandbox.salesforce.jobs().length, f.jobs ?? 2);
      assertStored(sandbox, rows);
      assertRefusals(s, rows);
      f.check?.(sandbox);
      await assertNoSecrets(dir, [r.stdout, r.stderr]);
    });
  });
}

Deno.test("an upload Salesforce refuses aborts its job; the rerun loads every row once", async () => {
  await withSandbox({
    salesforce: { processingMs: 40 },
    faults: [{ endpoint: "sf.upload", kind: "status", status: 400, after: 1 }],
  }, async (sandbox) => {
    const { text, rows } = sfCsv(120);
    const dir = await tempDir({ "data.csv": text, "p.yaml": sfPipeline({ batchSize: 60 }) });
    const env = sfEnv(sandbox);
    const first = await runCli(["run", "--json", `${dir}/p.yaml`], env, { cwd: dir });
    assert.equal(first.code, 3, first.stderr);
    assertIdentities(first.summaries[0]!);
    assert.deepEqual(sandbox.salesforce.openJobs(), [], "the job of the refused upload is aborted");
    assert.equal(sandbox.salesforce.jobs().filter((j) => j.state === "Aborted").length, 1);
    const again = await runCli(["run", "--json", `${dir}/p.yaml`], env, { cwd: dir });
    assert.equal(again.code, 0, again.stderr);
    assertIdentities(again.summaries[0]!);
    assertStored(sandbox, rows);
  });
});

function journalHas(dir: string, event: string): boolean {
  try {
    return Deno.readTextFileSync(`${dir}/.state/sf-e2e.journal.jsonl`).includes(
      `"event":"${event}"`,
    );
  } catch {
    return false;
  }
}

/** Starts a run and kills it (-9) once its journal has `event` and the held request is in flight. */
async function killAfter(
  sandbox: Sandbox,
  dir: string,
  env: Record<string, string>,
  event: string,
) {
  const child = spawnCli(["run", "--json", `${dir}/p.yaml`], env, dir);
  for (let i = 0; i < 400 && !journalHas(dir, event); i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  // The delayed request is in flight now: kill -9 while it is.
  await new Promise((r) => setTimeout(r, 200));
  child.kill("SIGKILL");
  await child.status;
  await sandbox.idle();
  assert.ok(journalHas(dir, event), `the run got as far as "${event}"`);
}

/** Runs the pipeline again with the faults off: it resumes, and every row ends as its fate says. */
async function resumeAndCheck(
  sandbox: Sandbox,
  dir: string,
  env: Record<string, string>,
  rows: Row[],
  open: string[] = [],
) {
  sandbox.setFaults([]);
  const again = await runCli(["run", "--json", `${dir}/p.yaml`], env, { cwd: dir });
  assert.equal(again.code, 0, again.stderr);
  const s = again.summaries[0]!;
  assert.equal(s.resumed, true);
  assertIdentities(s);
  assert.deepEqual(countsOf(s), expectedCounts(rows));
  assertStored(sandbox, rows, open);
  await assertNoSecrets(dir, [again.stdout, again.stderr]);
}

/** Where a run is killed, and the fault that holds it there long enough. */
const KILLS: { name: string; event: string; faults: Fault[]; jobs: number; aborted: number }[] = [
  {
    // The job is still Open: the rerun aborts it and sends its rows in a new job.
    name: "after the job was created (during its upload)",
    event: "created",
    faults: [{ endpoint: "sf.upload", kind: "latency", ms: 1500 }],
    jobs: 3,
    aborted: 1,
  },
  {
    // The close arrived after the kill: the rerun finds the job closed and polls it.
    name: "after the upload (during the close)",
    event: "created",
    faults: [{ endpoint: "sf.close", kind: "latency", ms: 1500 }],
    jobs: 2,
    aborted: 0,
  },
  {
    name: "while polling",
    event: "accepted",
    faults: [{ endpoint: "sf.job", kind: "latency", ms: 1500 }],
    jobs: 2,
    aborted: 0,
  },
];

for (const k of KILLS) {
  Deno.test(`a Salesforce run killed ${k.name} is finished by the rerun: nothing lost or twice`, async () => {
    await withSandbox({ salesforce: { processingMs: 40 }, faults: k.faults }, async (sandbox) => {
      const { text, rows } = sfCsv(100);
      const dir = await tempDir({ "data.csv": text, "p.yaml": sfPipeline({ batchSize: 50 }) });
      const env = sfEnv(sandbox);
      await killAfter(sandbox, dir, env, k.event);
      await resumeAndCheck(sandbox, dir, env, rows);
      const jobs = sandbox.salesforce.jobs();
      assert.equal(jobs.length, k.jobs, "jobs in all");
      assert.equal(jobs.filter((j) => j.state === "Aborted").length, k.aborted, "jobs aborted");
    });
  });
}

Deno.test("a Salesforce run killed after a job failed half-way, while the rows it never processed go out again, is finished by the rerun: nothing lost or twice", async () => {
  await withSandbox({
    salesforce: { processingMs: 40 },
    faults: [
      { endpoint: "sf.job", kind: "job_failed_partway" },
      // The job for the unprocessed rows (the second created) is held: the kill lands after the
      // failed job's outcome is journaled, while its follow-up's job is being created.
      { endpoint: "sf.create", kind: "latency", ms: 1500, after: 1 },
    ],
  }, async (sandbox) => {
    const { text, rows } = sfCsv(100);
    const dir = await tempDir({ "data.csv": text, "p.yaml": sfPipeline({ batchSize: 50 }) });
    const env = sfEnv(sandbox);
    await killAfter(sandbox, dir, env, "done");
    assert.equal(
      countEvents(dir, "created"),
      1,
      "the follow-up's job id never reached the journal",
    );
    const failed = sandbox.salesforce.jobs().filter((j) => j.state === "Failed");
    assert.equal(failed.length, 1);
    assert.ok(failed[0]!.numberRecordsUnprocessed > 0, "the job left rows unprocessed");
    // The follow-up's job was created after the kill: empty, never closed, it loads nothing.
    const orphan = oneEmptyOpenJob(sandbox);
    await resumeAndCheck(sandbox, dir, env, rows, [orphan]);
  });
});

/** The one job left Open by a creation whose answer the runner never read; it must be empty. */
function oneEmptyOpenJob(sandbox: Sandbox): string {
  const open = sandbox.salesforce.openJobs();
  assert.equal(open.length, 1, "one job left Open");
  assert.equal(open[0]!.uploads, 0, "no row was uploaded to it");
  return open[0]!.id;
}

function countEvents(dir: string, event: string): number {
  return Deno.readTextFileSync(`${dir}/.state/sf-e2e.journal.jsonl`).split(`"event":"${event}"`)
    .length - 1;
}

Deno.test("a job creation whose answer is lost leaves nothing loaded: its rows are unsent, not unknown, and the rerun sends them once", async () => {
  await withSandbox({
    salesforce: { processingMs: 40 },
    faults: [{ endpoint: "sf.create", kind: "reset_after" }],
  }, async (sandbox) => {
    const { text, rows } = sfCsv(100);
    const dir = await tempDir({ "data.csv": text, "p.yaml": sfPipeline({ batchSize: 50 }) });
    const env = sfEnv(sandbox);
    const first = await runCli(["run", "--json", `${dir}/p.yaml`], env, { cwd: dir });
    assert.equal(first.code, 3, first.stderr);
    const s1 = first.summaries[0]!;
    assertIdentities(s1);
    assert.equal(s1.counts.unknown, 0, "no row of unknown fate: none was sent");
    assert.ok(s1.counts.unsent >= 50, JSON.stringify(s1.counts));
    assert.match(s1.batches[0]!.message ?? "", /before any row was sent: nothing was loaded/);
    // The server did create the job the lost answer named: it stays empty and Open.
    const orphan = oneEmptyOpenJob(sandbox);
    sandbox.setFaults([]);
    const again = await runCli(["run", "--json", `${dir}/p.yaml`], env, { cwd: dir });
    assert.equal(again.code, 0, again.stderr);
    const s = again.summaries[0]!;
    assertIdentities(s);
    assert.deepEqual(countsOf(s), expectedCounts(rows));
    assertStored(sandbox, rows, [orphan]);
  });
});
