import assert from "node:assert/strict";
import { fileLink, githubEnvironment, relativeToWorkspace } from "./env.ts";
import { WS } from "./_testing.ts";

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

Deno.test("relativeToWorkspace() shortens paths inside the checkout only", () => {
  assert.equal(relativeToWorkspace(`${WS}/pipelines/a.csv`, `${WS}/`), "pipelines/a.csv");
  assert.equal(relativeToWorkspace("./out/s.json", WS), "out/s.json");
  assert.equal(relativeToWorkspace(`${WS}-other/a.csv`, WS), `${WS}-other/a.csv`);
  assert.equal(relativeToWorkspace("/data/a.csv", undefined), "/data/a.csv");
});

Deno.test("fileLink() links repository files only, at a line in the plain view", () => {
  const o = { blobUrl: "https://github.com/acme/etl/blob/0123abc" };
  assert.equal(
    fileLink("pipelines/data/my file.csv", o, 7),
    "https://github.com/acme/etl/blob/0123abc/pipelines/data/my%20file.csv?plain=1#L7",
  );
  assert.equal(fileLink("/mnt/drop/a.csv", o), undefined);
  assert.equal(fileLink("../a.csv", o), undefined);
  assert.equal(fileLink("pipelines/x.yaml", {}), undefined);
});
