import assert from "node:assert/strict";
import {
  endGroup,
  escapeData,
  escapeProperty,
  resumeCommands,
  startGroup,
  stopCommands,
  workflowCommand,
} from "./workflow_commands.ts";

Deno.test("escapeData() and escapeProperty() follow GitHub's workflow command rules", () => {
  assert.equal(escapeData("100% done\r\nnext: a,b"), "100%25 done%0D%0Anext: a,b");
  assert.equal(escapeProperty("C:\\a,b%\n"), "C%3A\\a%2Cb%25%0A");
  assert.equal(
    workflowCommand("error", { file: "a,b.csv", line: 3, col: undefined, title: "p: x" }, "m\nn"),
    "::error file=a%2Cb.csv,line=3,title=p%3A x::m%0An",
  );
  assert.equal(workflowCommand("warning", {}, "plain"), "::warning::plain");
});

Deno.test("group and stop-commands helpers produce GitHub's markers", () => {
  assert.equal(startGroup("bigin-deals\n"), "::group::bigin-deals%0A");
  assert.equal(endGroup(), "::endgroup::");
  assert.equal(stopCommands("tok-1"), "::stop-commands::tok-1");
  assert.equal(resumeCommands("tok-1"), "::tok-1::");
});
