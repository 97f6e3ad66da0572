import assert from "node:assert/strict";
import { RunnerError } from "./errors.ts";
import {
  finishedRunsOf,
  hashFile,
  hashJson,
  history,
  isFinished,
  isResumable,
  JournalDamagedError,
  type JournalEvent,
  journalPath,
  JournalWriter,
  keepDamagedAside,
  readJournal,
  viewJournal,
} from "./journal.ts";

/** Runs `f` in a new temporary folder, removed afterwards whatever happens. */
function inTempDir(f: (dir: string) => void): void {
  const dir = Deno.makeTempDirSync();
  try {
    f(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

const AT = "2026-01-01T00:00:00.000Z";

function run(n: number, o: Partial<Extract<JournalEvent, { event: "run" }>> = {}): JournalEvent {
  return {
    event: "run",
    run_id: `r${n}`,
    at: `2026-01-0${n}T00:00:00.000Z`,
    pipeline: "p",
    source_hash: "sha256:s",
    plan_hash: "sha256:p",
    duplicates_on_resend: true,
    ...o,
  };
}

const submit = (batch: number): JournalEvent => ({
  event: "submit",
  batch,
  first_line: 2,
  last_line: 3,
  rows: 2,
  at: AT,
});
const accepted = (batch: number): JournalEvent => ({
  event: "accepted",
  batch,
  submission: { id: `x${batch}`, data: { url: "/r" } },
  at: AT,
});
const done = (batch: number): JournalEvent => ({
  event: "done",
  batch,
  status: "completed",
  remote_status: "Completed",
  counts: { succeeded: 2, failed: 0, skipped: 0 },
  failures: [],
  problems: [],
  polls: 1,
  at: AT,
});
const end = (status: string): JournalEvent => ({ event: "end", status, exit_code: 0, at: AT });

Deno.test("JournalWriter writes events that readJournal reads back unchanged", () =>
  inTempDir((dir) => {
    const path = journalPath(`${dir}/state/`, "p");
    assert.equal(path, `${dir}/state/p.journal.jsonl`);
    const events = [run(1), submit(0), accepted(0), done(0), end("succeeded")];
    const w = new JournalWriter(path);
    for (const e of events) w.record(e);
    assert.deepEqual(readJournal(path), events);
    // A resumed run keeps the earlier events and appends after them.
    const again = new JournalWriter(path, events);
    again.record({ event: "resume", at: AT });
    assert.deepEqual(readJournal(path), [...events, { event: "resume", at: AT }]);
    assert.deepEqual([...Deno.readDirSync(`${dir}/state`)].map((e) => e.name), [
      "p.journal.jsonl",
    ], "no temp file is left behind");
  }));

Deno.test("readJournal() takes a missing file as an empty journal", () => {
  assert.deepEqual(readJournal(`${Deno.makeTempDirSync()}/none.jsonl`), []);
});

Deno.test("readJournal() names the file and the damaged line, and how to get past it", () =>
  inTempDir((dir) => {
    const path = `${dir}/p.journal.jsonl`;
    Deno.writeTextFileSync(path, `${JSON.stringify(run(1))}\n\n{"event":"submit","ba\n`);
    assert.throws(
      () => readJournal(path),
      (e) =>
        e instanceof RunnerError && e.code === "journal_damaged" &&
        e.message ===
          `Run journal "${path}" is damaged at line 3: not JSON; nothing was sent. Run with --fresh to keep the damaged file aside (as "${path}.damaged-<time>") and start over, after checking in the target what the last run loaded`,
    );
  }));

Deno.test("readJournal() tells null and a wrong shape from garbage", () =>
  inTempDir((dir) => {
    const path = `${dir}/p.journal.jsonl`;
    const cases: [string, string][] = [
      // Cut short, but not the last line: written over, not an append that never finished.
      [
        `${JSON.stringify(run(1))}\n{"event":"sub\n${JSON.stringify(run(2))}\n`,
        "at line 2: not JSON;",
      ],
      [`${JSON.stringify(run(1))}\nnull\n`, "at line 2: not a journal event;"],
      [`${JSON.stringify(run(1))}\n42\n`, "at line 2: not a journal event;"],
      [`{"event":"submit","batch":"one"}\n`, "at line 1: not a journal event (batch);"],
      [`{"event":"explode"}\n`, "at line 1: not a journal event (event);"],
      [`\u0000\u0001garbage\n`, "at line 1: not JSON;"],
    ];
    for (const [text, want] of cases) {
      Deno.writeTextFileSync(path, text);
      assert.throws(
        () => readJournal(path),
        (e) => e instanceof JournalDamagedError && e.message.includes(want),
        want,
      );
    }
  }));

Deno.test("readJournal() leaves out a last line cut short: an append that never finished", () =>
  inTempDir((dir) => {
    const path = `${dir}/p.journal.jsonl`;
    const whole = [run(1), submit(0), accepted(0)];
    const text = whole.map((e) => JSON.stringify(e) + "\n").join("");
    for (const tail of ['{"event":"sub', JSON.stringify(done(0)).slice(0, -1), "\u0000\u0000"]) {
      Deno.writeTextFileSync(path, text + tail);
      assert.deepEqual(readJournal(path), whole, JSON.stringify(tail));
    }
    // Whole, only its line end missing: kept (it may have been written; counting it is safe).
    Deno.writeTextFileSync(path, text + JSON.stringify(done(0)));
    assert.deepEqual(readJournal(path), [...whole, done(0)]);
    // The next run's first write replaces the file: the cut line is gone.
    Deno.writeTextFileSync(path, text + '{"event":"sub');
    const w = new JournalWriter(path, readJournal(path));
    w.record({ event: "resume", at: AT });
    w.record(end("succeeded"));
    assert.equal(
      Deno.readTextFileSync(path),
      [...whole, { event: "resume", at: AT }, end("succeeded")].map((e) => JSON.stringify(e) + "\n")
        .join(""),
    );
  }));

Deno.test("JournalWriter appends each event after the first, and appends nothing after a failed write", () =>
  inTempDir((dir) => {
    const path = `${dir}/p.journal.jsonl`;
    const w = new JournalWriter(path, [run(1), end("succeeded")]);
    w.record(run(2));
    const inode = Deno.statSync(path).ino;
    w.record(submit(0));
    w.record(accepted(0));
    assert.equal(Deno.statSync(path).ino, inode, "appended, not replaced");
    assert.deepEqual(readJournal(path), [run(1), end("succeeded"), run(2), submit(0), accepted(0)]);
    // The file is taken away: the append fails, and so does every later one.
    Deno.removeSync(path);
    assert.throws(() => w.record(done(0)), Deno.errors.NotFound);
    Deno.writeTextFileSync(path, "");
    assert.throws(() => w.record(end("succeeded")), Deno.errors.NotFound);
    assert.equal(Deno.readTextFileSync(path), "");
  }));

Deno.test("keepDamagedAside() moves the journal to a dated name and leaves none behind", () =>
  inTempDir((dir) => {
    const path = `${dir}/p.journal.jsonl`;
    Deno.writeTextFileSync(path, "garbage\n");
    const aside = keepDamagedAside(path, new Date("2026-02-03T04:05:06.789Z"));
    assert.equal(aside, `${path}.damaged-2026-02-03T04-05-06.789Z`);
    assert.equal(Deno.readTextFileSync(aside), "garbage\n");
    assert.deepEqual(readJournal(path), []);
  }));

Deno.test("viewJournal() gives each batch of the last run its furthest state", () => {
  const view = viewJournal([
    run(1),
    submit(0),
    accepted(0),
    done(0),
    submit(1),
    accepted(1),
    submit(2),
    submit(3),
    { event: "unknown", batch: 3, message: "Connection reset", at: AT },
    submit(4),
    { event: "refused", batch: 4, message: "HTTP 400", at: AT },
  ]);
  assert.equal(view.run?.run_id, "r1");
  assert.equal(view.end, undefined);
  const b = view.batches;
  assert.deepEqual(b.get(0), {
    state: "done",
    event: done(0),
    submission: { id: "x0", data: { url: "/r" } },
  });
  assert.deepEqual(b.get(1), { state: "accepted", submission: { id: "x1", data: { url: "/r" } } });
  assert.deepEqual(b.get(2), {
    state: "uncertain",
    message: "The runner stopped while this batch was being uploaded",
    submitOnly: true,
  });
  assert.deepEqual(b.get(3), { state: "uncertain", message: "Connection reset" });
  assert.equal(b.has(4), false, "a refused batch may be sent again");
});

Deno.test("viewJournal() starts over at each run and reopens a run on resume", () => {
  const events = [run(1), submit(0), end("failed"), run(2), submit(5)];
  const view = viewJournal(events);
  assert.equal(view.run?.run_id, "r2");
  assert.deepEqual([...view.batches.keys()], [5]);
  assert.equal(viewJournal([...events, end("timed_out")]).end?.status, "timed_out");
  assert.equal(
    viewJournal([...events, end("timed_out"), { event: "resume", at: AT }]).end,
    undefined,
  );
});

Deno.test("isResumable() and isFinished() tell unfinished runs from finished ones", () => {
  const crashed = viewJournal([run(1), submit(0)]);
  assert.deepEqual([isResumable(crashed), isFinished(crashed)], [true, false]);
  const timedOut = viewJournal([run(1), submit(0), accepted(0), end("timed_out")]);
  assert.deepEqual([isResumable(timedOut), isFinished(timedOut)], [true, false]);
  const ok = viewJournal([run(1), submit(0), accepted(0), done(0), end("completed_with_errors")]);
  assert.deepEqual([isResumable(ok), isFinished(ok)], [false, true]);
  // Nothing reached the API: nothing to resume.
  const nothing = viewJournal([run(1), submit(0), {
    event: "refused",
    batch: 0,
    message: "no",
    at: AT,
  }]);
  assert.equal(isResumable(nothing), false);
  assert.equal(isResumable(viewJournal([])), false);
});

Deno.test("history() keeps only run and end events, and the last `keep` runs", () => {
  const events = [run(1), submit(0), end("succeeded"), run(2), accepted(0), end("failed"), run(3)];
  assert.deepEqual(history(events), [run(1), end("succeeded"), run(2), end("failed"), run(3)]);
  assert.deepEqual(history(events, 1), [run(3)]);
  assert.deepEqual(history(events, 2), [run(2), end("failed"), run(3)]);
});

Deno.test("finishedRunsOf() finds finished loads of the same source and plan only", () => {
  const events = [
    run(1),
    end("succeeded"),
    run(2, { source_hash: "sha256:other" }),
    end("succeeded"),
    run(3),
    end("failed"),
    run(4),
    end("completed_with_errors"),
  ];
  assert.deepEqual(finishedRunsOf(events, "sha256:s", "sha256:p"), [
    { at: "2026-01-01T00:00:00.000Z", status: "succeeded" },
    { at: "2026-01-04T00:00:00.000Z", status: "completed_with_errors" },
  ]);
  assert.deepEqual(finishedRunsOf(events, "sha256:s", "sha256:changed"), []);
});

Deno.test("hashJson() does not depend on key order; hashFile() on how the file is read", async () => {
  assert.equal(hashJson({ a: 1, b: [{ c: 2, d: 3 }] }), hashJson({ b: [{ d: 3, c: 2 }], a: 1 }));
  assert.notEqual(hashJson({ a: 1 }), hashJson({ a: 2 }));
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(`${dir}/f`, "abc");
    assert.equal(
      await hashFile(`${dir}/f`),
      "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("viewJournal() keeps a created job recoverable, also after an upload of unknown fate", () => {
  const job = { id: "750x", data: { id: "750x", line_ending: "LF" } };
  const view = viewJournal([
    run(1),
    submit(0),
    { event: "created", batch: 0, submission: job, at: AT },
    submit(1),
    { event: "created", batch: 1, submission: { id: "750y" }, at: AT },
    { event: "unknown", batch: 1, message: "Connection reset on close", at: AT },
    submit(2),
    { event: "created", batch: 2, submission: { id: "750z" }, at: AT },
    accepted(2),
  ]);
  assert.deepEqual(view.batches.get(0), { state: "created", submission: job });
  assert.deepEqual(view.batches.get(1), {
    state: "created",
    submission: { id: "750y" },
    message: "Connection reset on close",
  });
  assert.equal(view.batches.get(2)?.state, "accepted");
});
