import assert from "node:assert/strict";
import { PollSchedule, sleep } from "./schedule.ts";

const policy = { interval: 10, backoff: 2, max_interval: 40, timeout: 200 };

Deno.test("PollSchedule keeps to upload + interval, + interval*backoff, ... whatever the answers took", async () => {
  let clock = 1000;
  const s = new PollSchedule(policy, () => clock);
  const waits: number[] = [];
  for (let i = 0; i < 5; i++) {
    assert.ok(
      await s.next((ms) => {
        waits.push(ms);
        clock += ms + 3; // each answer takes 3 ms
        return Promise.resolve();
      }),
    );
  }
  // Checks at 10, 30, 70, 110, 150 ms after the upload.
  assert.deepEqual(waits, [10, 17, 37, 37, 37]);
});

Deno.test("PollSchedule never waits past the timeout and then says stop", async () => {
  let clock = 0;
  const s = new PollSchedule({ ...policy, timeout: 25 }, () => clock);
  const waits: number[] = [];
  const wait = (ms: number) => {
    waits.push(ms);
    clock += ms;
    return Promise.resolve();
  };
  assert.equal(await s.next(wait), true);
  assert.equal(await s.next(wait), true);
  assert.equal(await s.next(wait), false);
  assert.deepEqual(waits, [10, 15], "the second wait is cut to the 25 ms deadline");
  assert.equal(s.delay(), undefined);
});

Deno.test("PollSchedule checks at once when an answer took longer than the next interval", () => {
  let clock = 0;
  const s = new PollSchedule(policy, () => clock);
  clock = 10;
  s.advance();
  clock = 90; // the answer took 80 ms: the check due at 30 is late
  assert.equal(s.delay(), 0);
  s.advance();
  clock = 93;
  s.advance();
  clock = 96;
  assert.equal(s.delay(), 34, "then back on the grown interval, counted from the late check");
});

Deno.test("sleep() rejects with the signal's reason when aborted", async () => {
  const c = new AbortController();
  const p = sleep(60_000, c.signal);
  c.abort(new Error("stop"));
  await assert.rejects(p, /stop/);
  await assert.rejects(sleep(1, c.signal), /stop/);
});
