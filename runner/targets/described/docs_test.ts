import assert from "node:assert/strict";
import { describedDocsTable } from "./docs.ts";

const PAGE = new URL("../../../docs/api-descriptions.md", import.meta.url);

/** A Markdown table's cells, row by row, whatever padding `deno fmt` gave it. */
function cells(table: string): string[][] {
  return table.split("\n")
    .filter((l) => l.startsWith("|") && !/^\|[\s|:-]+\|$/.test(l))
    .map((l) => l.slice(1, -1).split(/(?<!\\)\|/).map((c) => c.trim()));
}

Deno.test("the docs page's key table is the one generated from the description schema", async () => {
  const page = await Deno.readTextFile(PAGE);
  const inPage = page.slice(page.indexOf("<!-- keys:start -->"), page.indexOf("<!-- keys:end -->"));
  const generated = cells(describedDocsTable());
  assert.ok(generated.length > 50);
  assert.deepEqual(cells(inPage), generated);
});

Deno.test("the generated table lists every top-level key of the language", () => {
  const keys = cells(describedDocsTable()).map((r) => r[0]).filter((k) => !k!.includes("."));
  assert.deepEqual(keys, [
    "key",
    "`version`",
    "`title`",
    "`params`",
    "`duplicates_on_resend`",
    "`auth`",
    "`submit`",
    "`requests`",
    "`status_map`",
    "`results`",
    "`limits`",
  ]);
});
