import assert from "node:assert/strict";
import { escapeMarkdown } from "./markdown.ts";

Deno.test("escapeMarkdown() neutralises Markdown and HTML and joins lines", () => {
  assert.equal(escapeMarkdown("a|b"), "a\\|b");
  assert.equal(escapeMarkdown("<x> & y"), "&lt;x&gt; &amp; y");
  assert.equal(escapeMarkdown("one\r\ntwo\nthree"), "one two three");
  assert.equal(escapeMarkdown("`code` _u_ *s* ~t~ \\"), "\\`code\\` \\_u\\_ \\*s\\* \\~t\\~ \\\\");
});
