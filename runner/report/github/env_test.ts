import assert from "node:assert/strict";
import { githubEnvironment } from "./env.ts";
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
