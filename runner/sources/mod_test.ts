import assert from "node:assert/strict";
import { formatFromPath, openSource } from "./mod.ts";
import { tempFile } from "./_testing.ts";

Deno.test("formatFromPath() maps extensions to formats, ignoring case", () => {
  const cases: [string, ReturnType<typeof formatFromPath>][] = [
    ["data/opps.csv", "csv"],
    ["data/Opps.CSV", "csv"],
    ["x.tsv", "csv"],
    ["export.txt", "csv"],
    ["a/b.c/list.json", "json"],
    ["events.jsonl", "jsonl"],
    ["events.NDJSON", "jsonl"],
    ["notes.md", undefined],
    ["Makefile", undefined],
    ["dir.csv/file", undefined],
    [".csv", undefined],
  ];
  for (const [path, format] of cases) assert.equal(formatFromPath(path), format, path);
});

Deno.test("openSource() reads each format with its own reader", async () => {
  const read = async (format: "csv" | "json" | "jsonl", text: string) => {
    const path = await tempFile(text, format);
    const values = [];
    for await (const r of openSource({ path, format, delimiter: ";" }).records()) {
      values.push(r.values);
    }
    return values;
  };
  assert.deepEqual(await read("csv", "a;b\n1;2\n"), [{ a: "1", b: "2" }]);
  assert.deepEqual(await read("json", '[{"a": 1}]'), [{ a: 1 }]);
  assert.deepEqual(await read("jsonl", '{"a": 1}\n'), [{ a: 1 }]);
});

Deno.test({
  name: "breaking out of records() early closes the file",
  // The resource sanitizer (off by default in Deno 2) fails the test if a file is left open.
  sanitizeResources: true,
}, async () => {
  for (
    const [format, text] of [["csv", "a\n1\n2\n"], ["json", '[{"a":1},{"a":2}]'], [
      "jsonl",
      '{"a":1}\n{"a":2}\n',
    ]] as const
  ) {
    const path = await tempFile(text, format);
    const source = openSource({ path, format, delimiter: ",", readBytes: 4 });
    let seen = 0;
    for await (const _ of source.records()) {
      seen++;
      break;
    }
    assert.equal(seen, 1);
  }
});
