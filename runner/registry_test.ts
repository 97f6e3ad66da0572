import assert from "node:assert/strict";
import { PipelineError } from "./errors.ts";
import { describedApiName, describedTargets, TARGETS } from "./registry.ts";

Deno.test("the registry lists the built-in targets and every description in apis/", () => {
  assert.deepEqual(TARGETS.map((t) => t.api), [
    "workspan",
    "bigin",
    "bigin-described",
    "salesforce-bulk2",
    "workspan-described",
  ]);
});

Deno.test("describedApiName() keeps a built-in target's name for the built-in one", () => {
  assert.equal(describedApiName("bigin.yaml", new Set(["bigin"])), "bigin-described");
  assert.equal(describedApiName("salesforce-bulk2.yaml", new Set(["bigin"])), "salesforce-bulk2");
});

Deno.test("an invalid description fails only the pipelines that name it, at its file:line:col", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(
    `${dir}/broken.yaml`,
    "version: 1\ntitle: Broken\nparams: {}\nsubmitt: []\n",
  );
  const defs = describedTargets(new URL(`file://${dir}/`), new Set());
  assert.equal(defs.length, 1);
  assert.equal(defs[0]!.api, "broken");
  assert.equal(defs[0]!.schema.safeParse({ api: "broken" }).success, true);
  assert.throws(() => defs[0]!.create({ api: "broken" }, { key: "k", fields: [] }, {}));
  try {
    defs[0]!.create({ api: "broken" }, { key: "k", fields: [] }, {});
  } catch (e) {
    assert.ok(e instanceof PipelineError);
    assert.match(e.file, /broken\.yaml$/);
    const d = e.diagnostics.find((x) => x.message.includes("submitt"));
    assert.ok(d, e.diagnostics.map((x) => x.message).join("; "));
    assert.deepEqual([d.line, d.column], [4, 1]);
  }
});
