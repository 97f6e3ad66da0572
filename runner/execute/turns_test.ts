import assert from "node:assert/strict";
import { RECORDS_PER_TURN, runtimeTurn, UploadTurns } from "./turns.ts";

Deno.test("with no upload on its way, the reader is never asked to wait", () => {
  const turns = new UploadTurns();
  for (let i = 0; i < 10 * RECORDS_PER_TURN; i++) assert.equal(turns.afterRecord(), undefined);
});

Deno.test("while an upload is on its way, one turn every RECORDS_PER_TURN records", async () => {
  const turns = new UploadTurns();
  const { promise, resolve } = Promise.withResolvers<string>();
  const upload = turns.during(promise);
  assert.equal(turns.uploads, 1);
  const waits = [];
  for (let i = 0; i < 4 * RECORDS_PER_TURN; i++) {
    const w = turns.afterRecord();
    if (w) waits.push(w);
  }
  assert.equal(waits.length, 4);
  await Promise.all(waits);
  resolve("done");
  assert.equal(await upload, "done");
  assert.equal(turns.uploads, 0);
  assert.equal(turns.afterRecord(), undefined);
});

Deno.test("an upload that fails is no longer counted", async () => {
  const turns = new UploadTurns();
  await assert.rejects(turns.during(Promise.reject(new Error("refused"))), /refused/);
  assert.equal(turns.uploads, 0);
});

Deno.test("a turn never fails the run, even where the runtime refuses the digest", async () => {
  const digest = crypto.subtle.digest;
  crypto.subtle.digest = () => Promise.reject(new Error("no digest here"));
  try {
    assert.equal(await runtimeTurn(), undefined);
  } finally {
    crypto.subtle.digest = digest;
  }
});
