import assert from "node:assert/strict";
import fc from "fast-check";
import { assertSourceError, bytes, readAll, readOnce, tempFile } from "./_testing.ts";
import { syntaxErrorAt } from "./json.ts";

// ---------------------------------------------------------------------------------------
// JSON: an array of objects

Deno.test("a JSON array of objects yields one record per element, on the line it starts", async () => {
  const { records } = await readAll(
    `[
  {"id": 1, "name": "Ana"},
  {
    "id": 2,
    "name": "Bo"
  },
  {"id": 3}, {"id": 4}
]
`,
    "json",
  );
  assert.deepEqual(records, [
    { line: 2, values: { id: 1, name: "Ana" } },
    { line: 3, values: { id: 2, name: "Bo" } },
    { line: 7, values: { id: 3 } },
    { line: 7, values: { id: 4 } },
  ]);
});

Deno.test("JSON values keep their types and nested values are left as they are", async () => {
  const { records } = await readAll(
    '[{"n": 1.5, "b": false, "z": null, "s": "x", "o": {"k": [1, {"d": 2}]}, "a": []}]',
    "json",
  );
  assert.deepEqual(records[0]!.values, {
    n: 1.5,
    b: false,
    z: null,
    s: "x",
    o: { k: [1, { d: 2 }] },
    a: [],
  });
});

Deno.test("brackets, braces and escaped quotes inside JSON strings do not cut elements", async () => {
  const tricky = [
    { s: "]}" },
    { s: '{"not": "an object"}' },
    { s: 'a \\"quoted\\" word' },
    { s: "ends with a backslash \\\\" },
    { s: "\\\\\\" },
    { "key with ] and }": "[{", u: "\u00e9\ud83d\ude00" },
  ];
  const text = `[\n${tricky.map((o) => JSON.stringify(o)).join(",\n")}\n]`;
  const { records } = await readAll(text, "json");
  assert.deepEqual(records.map((r) => r.values), tricky);
  assert.deepEqual(records.map((r) => r.line), [2, 3, 4, 5, 6, 7]);
});

Deno.test("an empty JSON array yields no records", async () => {
  for (const text of ["[]", " [ \n ] \n", "\uFEFF[]"]) {
    const { records, columns } = await readAll(text, "json");
    assert.deepEqual(records, []);
    assert.deepEqual(columns, []);
  }
});

Deno.test("JSON columns() are the keys of the first record, extended in first-seen order", async () => {
  const { columns } = await readAll(
    '[{"b": 1, "a": 2}, {"a": 3, "c": 4}, {"d": 5, "b": 6}]',
    "json",
  );
  assert.deepEqual(columns, ["b", "a", "c", "d"]);
});

Deno.test('a JSON key "__proto__" stays an own property', async () => {
  const { records } = await readAll('[{"__proto__": {"x": 1}, "y": 2}]', "json");
  assert.deepEqual(Object.keys(records[0]!.values), ["__proto__", "y"]);
  assert.equal(Object.getPrototypeOf(records[0]!.values), Object.prototype);
});

Deno.test("a JSON file that is not an array is an error on line 1", async () => {
  await assertSourceError(
    '{"id": 1}',
    "FILE:1: Expected a JSON array of objects: the file starts with an object",
    "json",
  );
  await assertSourceError(
    '\n"text"',
    "FILE:2: Expected a JSON array of objects: the file starts with a string",
    "json",
  );
});

Deno.test("a JSON element that is not an object is an error on its line", async () => {
  await assertSourceError(
    '[\n{"id": 1},\n  42\n]',
    "FILE:3: Element 2 is not an object: found a number",
    "json",
  );
  await assertSourceError(
    '[{"id": 1}, [1, 2]]',
    "FILE:1: Element 2 is not an object: found an array",
    "json",
  );
  await assertSourceError("[null]", "FILE:1: Element 1 is not an object: found null", "json");
});

Deno.test("malformed JSON inside an element is an error on the line where it is", async () => {
  await assertSourceError(
    '[\n{"id": 1},\n{\n  "id": 2,\n  "name" "Bo"\n}\n]',
    "FILE:5: Invalid JSON in element 2: Expected ':' after property name",
    "json",
  );
  await assertSourceError(
    '[\n{"id": tru}\n]',
    "FILE:2: Invalid JSON in element 1: Unexpected token '}'",
    "json",
  );
});

Deno.test("an unexpected token is reported on its own line, not the element's first", async () => {
  // V8 words this error without a position.
  await assertSourceError(
    '[\n  {"id": "a"},\n  {"id":\n    b}\n]\n',
    "FILE:4: Invalid JSON in element 2: Unexpected token 'b'",
    "json",
  );
});

Deno.test("syntaxErrorAt() finds where text stops being JSON", () => {
  const cases: [string, number][] = [
    ['{"a": 1}', 0],
    ['{"a":\n  b}', 8],
    ['{"a": [1, 2,]}', 12],
    ['{"a": tru}', 6],
    ['{"a": "x\\q"}', 9],
    ['{"a": {"b": [{}, [], -1.5e3, "\\u00e9"]}}', 0],
    ['{"a": 1', 7],
    ['{"a": 1}}', 8],
    ['{"a": 1 "b": 2}', 8],
    ["{'a': 1}", 1],
  ];
  for (const [text, at] of cases) assert.equal(syntaxErrorAt(text), at, text);
});

Deno.test("records before a JSON error are yielded first", async () => {
  const before = await assertSourceError(
    '[{"a": 1},\n{"a": 2},\n{"a": 3} {"a": 4}]',
    'FILE:3: Expected "," or "]" after element 3: found "{"',
    "json",
  );
  assert.deepEqual(before.map((r) => r.values.a), [1, 2, 3]);
});

Deno.test("a trailing comma, text after the array and an unclosed array are errors", async () => {
  await assertSourceError(
    '[{"a": 1},\n]',
    'FILE:2: Unexpected "]" after ",": a trailing comma is not JSON',
    "json",
  );
  await assertSourceError(
    '[{"a": 1}]\n\n[{"a": 2}]',
    'FILE:3: Unexpected "[" after the closing "]"',
    "json",
  );
  await assertSourceError(
    '[{"a": 1},\n{"a": 2}\n',
    'FILE:3: The array is never closed: expected "]" at the end of the file',
    "json",
  );
  await assertSourceError(
    '[{"a": 1},\n{"a": "never ends}]\n',
    "FILE:2: Element 2 never ends: the file stops inside it",
    "json",
  );
});

Deno.test("an empty or blank JSON file is an error on line 1", async () => {
  await assertSourceError("", "FILE:1: File is empty: expected a JSON array of objects", "json");
  await assertSourceError(
    " \n\n",
    "FILE:1: File is blank: expected a JSON array of objects",
    "json",
  );
});

Deno.test("invalid UTF-8 in a JSON file is an error naming its line", async () => {
  await assertSourceError(
    bytes('[{"a": "ok"},\n{"a": "caf', [0xe9], '"}]'),
    "FILE:2: Invalid UTF-8: the file must be saved as UTF-8",
    "json",
  );
});

Deno.test("a JSON element longer than maxRecordBytes is an error on its first line", async () => {
  await assertSourceError(
    `[{"a": 1},\n{"a": "${"x".repeat(3000)}"}]`,
    "FILE:2: Element 2 is longer than the limit of 1 KiB: it starts here",
    "json",
    { maxRecordBytes: 1024 },
  );
});

Deno.test("any array of objects, however it is laid out, reads back the same", async () => {
  const value = fc.oneof(
    fc.string({ unit: fc.constantFrom("a", '"', "\\", "[", "]", "{", "}", ",", "é", "\n") }),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
    fc.dictionary(fc.string({ maxLength: 3 }), fc.integer(), { maxKeys: 2 }),
  );
  const element = fc.dictionary(fc.string({ maxLength: 5 }), value, { maxKeys: 4 });
  await fc.assert(
    fc.asyncProperty(
      fc.array(element, { maxLength: 10 }),
      fc.constantFrom(undefined, 0, 2, "\t"),
      fc.constantFrom(1, 3, 16, 4096),
      async (elements, indent, readBytes) => {
        const text = JSON.stringify(elements, null, indent);
        const path = await tempFile(text, "json");
        const { records } = await readOnce({ path, format: "json", delimiter: ",", readBytes });
        // -0 does not survive JSON, so compare with what JSON itself gives back.
        assert.deepEqual(records.map((r) => r.values), JSON.parse(text));
        if (indent === undefined) assert.ok(records.every((r) => r.line === 1));
      },
    ),
    { numRuns: 200 },
  );
});

// ---------------------------------------------------------------------------------------
// JSON Lines

Deno.test("JSON Lines yields one record per line and skips blank lines", async () => {
  const { records, columns } = await readAll(
    '{"id": 1, "tags": ["a"]}\n\n  \r\n{"id": 2, "x": null}\r\n{"id": 3}',
    "jsonl",
  );
  assert.deepEqual(records, [
    { line: 1, values: { id: 1, tags: ["a"] } },
    { line: 4, values: { id: 2, x: null } },
    { line: 5, values: { id: 3 } },
  ]);
  assert.deepEqual(columns, ["id", "tags", "x"]);
});

Deno.test("a malformed JSON line rejects only that line, with its text", async () => {
  const { records } = await readAll('{"id": 1}\n{"id": 2,\r\n{"id": 3}\n', "jsonl");
  assert.deepEqual(records, [
    { line: 1, values: { id: 1 } },
    {
      line: 2,
      values: {},
      error: "Invalid JSON: Expected double-quoted property name",
      raw: '{"id": 2,',
    },
    { line: 3, values: { id: 3 } },
  ]);
});

Deno.test("a JSON line that is not an object rejects only that line", async () => {
  const { records } = await readAll('[1, 2]\n"x"\n7\nnull\n{"ok": true}\n', "jsonl");
  assert.deepEqual(records.map((r) => [r.line, r.error]), [
    [1, "Line is not a JSON object: found an array"],
    [2, "Line is not a JSON object: found a string"],
    [3, "Line is not a JSON object: found a number"],
    [4, "Line is not a JSON object: found null"],
    [5, undefined],
  ]);
});

Deno.test("invalid UTF-8 in a JSON Lines file is an error naming its line", async () => {
  const before = await assertSourceError(
    bytes('{"a": 1}\n{"a": 2}\n{"a": "', [0xc3, 0x28], '"}\n'),
    "FILE:3: Invalid UTF-8: the file must be saved as UTF-8",
    "jsonl",
  );
  assert.deepEqual(before.map((r) => r.values.a), [1, 2]);
});

Deno.test("a JSON line longer than maxRecordBytes is an error on its line", async () => {
  await assertSourceError(
    `{"a": 1}\n{"a": "${"x".repeat(3000)}"}\n`,
    "FILE:2: Line is longer than the limit of 1 KiB",
    "jsonl",
    { maxRecordBytes: 1024 },
  );
});

Deno.test("an empty JSON Lines file yields no records", async () => {
  const { records } = await readAll("", "jsonl");
  assert.deepEqual(records, []);
});
