import assert from "node:assert/strict";
import fc from "fast-check";
import { RunnerError } from "../errors.ts";
import { openSource } from "./mod.ts";
import { CsvParser } from "./csv.ts";
import { assertSourceError, bytes, readAll, readOnce, tempFile } from "./_testing.ts";

const OPPORTUNITIES = new URL("./testdata/opportunities.csv", import.meta.url).pathname;

Deno.test("openSource() reads a CSV file into records keyed by the header, with start lines", async () => {
  const { records, columns } = await readOnce({
    path: OPPORTUNITIES,
    format: "csv",
    delimiter: ",",
  });
  assert.deepEqual(columns, [
    "Opportunity ID",
    "Name",
    "Close Date",
    "Amount",
    "Stage",
    "Account",
    "Owner",
    "Notes",
  ]);
  assert.deepEqual(records.map((r) => r.line), [2, 3, 5, 6]);
  assert.deepEqual(records[0], {
    line: 2,
    values: {
      "Opportunity ID": "0061a000001AbCdAAA",
      Name: "Acme - Renewal 2020",
      "Close Date": "20-Jan-2020",
      Amount: "250000",
      Stage: "Closed Won",
      Account: "Acme",
      Owner: "Ana Smith",
      Notes: "",
    },
  });
  assert.equal(records[1]!.values.Name, "Globex, Inc. - Pilot 2021");
  assert.equal(records[1]!.values.Amount, "1,234.50");
  assert.equal(records[1]!.values.Notes, 'Customer said "call back",\nmaybe Q3');
  assert.equal(records[3]!.values.Owner, "José Müller");
  assert.ok(records.every((r) => r.error === undefined));
});

Deno.test("a quoted cell keeps its line breaks and the next record starts on the right line", async () => {
  const { records } = await readAll('a,b\n1,"x\ny\nz"\n2,"p\r\nq"\n3,"r\rs"\n4,5\n');
  assert.deepEqual(records.map((r) => [r.line, r.values.b]), [
    [2, "x\ny\nz"],
    [5, "p\r\nq"],
    [7, "r\rs"],
    [9, "5"],
  ]);
});

Deno.test("escaped quotes and delimiters inside quotes are kept as text", async () => {
  const { records } = await readAll('a,b,c\n"say ""hi"", ok","""","a""b"\n"",x"y,z\n');
  assert.deepEqual(records.map((r) => r.values), [
    { a: 'say "hi", ok', b: '"', c: 'a"b' },
    { a: "", b: 'x"y', c: "z" },
  ]);
});

Deno.test("a BOM is stripped from the first column name", async () => {
  const { records, columns } = await readAll("\uFEFFid,name\n1,Ana\n");
  assert.deepEqual(columns, ["id", "name"]);
  assert.deepEqual(records[0]!.values, { id: "1", name: "Ana" });
});

Deno.test("CRLF, LF and CR line ends, even mixed, each end a record", async () => {
  const { records } = await readAll("a,b\r\n1,2\r\n3,4\n5,6\r7,8\r\n");
  assert.deepEqual(records.map((r) => [r.line, r.values.a, r.values.b]), [
    [2, "1", "2"],
    [3, "3", "4"],
    [4, "5", "6"],
    [5, "7", "8"],
  ]);
});

Deno.test("a last record without a line break is read", async () => {
  const { records } = await readAll('a,b\n1,2\n3,"4"');
  assert.deepEqual(records.map((r) => r.values), [{ a: "1", b: "2" }, { a: "3", b: "4" }]);
});

Deno.test("a trailing delimiter at the end of the file makes an empty last field", async () => {
  const { records } = await readAll("a,b\n1,");
  assert.deepEqual(records.map((r) => r.values), [{ a: "1", b: "" }]);
});

Deno.test('a ";" delimiter splits fields and leaves commas inside them', async () => {
  const { records, columns } = await readAll('id;amount\n1;1,5\n"2;x";"3"\n', "csv", {
    delimiter: ";",
  });
  assert.deepEqual(columns, ["id", "amount"]);
  assert.deepEqual(records.map((r) => r.values), [
    { id: "1", amount: "1,5" },
    { id: "2;x", amount: "3" },
  ]);
});

Deno.test("a tab delimiter reads TSV", async () => {
  const { records } = await readAll("a\tb\n1\t2 3\n", "csv", { delimiter: "\t" });
  assert.deepEqual(records[0]!.values, { a: "1", b: "2 3" });
});

Deno.test("a header-only file yields no records and still knows its columns", async () => {
  for (const text of ["a,b,c", "a,b,c\n", "a,b,c\r\n\r\n"]) {
    const { records, columns } = await readAll(text);
    assert.deepEqual(records, []);
    assert.deepEqual(columns, ["a", "b", "c"]);
  }
});

Deno.test("columns() is empty before reading and the header after the first batch", async () => {
  const path = await tempFile("x,y\n1,2\n");
  const source = openSource({ path, format: "csv", delimiter: "," });
  assert.deepEqual(source.columns(), []);
  for await (const _ of source.records()) {
    assert.deepEqual(source.columns(), ["x", "y"]);
  }
});

Deno.test("blank lines are skipped and the line numbers after them stay right", async () => {
  const { records, columns } = await readAll("\n\r\na,b\n\n1,2\r\n\r\n\r\n3,4\n\n");
  assert.deepEqual(columns, ["a", "b"]);
  assert.deepEqual(records.map((r) => r.line), [5, 8]);
});

Deno.test("values are neither trimmed nor converted", async () => {
  const { records } = await readAll('a,b,c,d\n 1 ,007,, "x" \n');
  assert.deepEqual(records[0]!.values, { a: " 1 ", b: "007", c: "", d: ' "x" ' });
});

Deno.test("a ragged row is yielded with an error and the fields it has", async () => {
  const { records } = await readAll("a,b,c\n1,2,3,4,5\n6\n7,8,9\n");
  assert.deepEqual(records, [
    { line: 2, values: { a: "1", b: "2", c: "3" }, error: "Row has 5 fields, the header has 3" },
    { line: 3, values: { a: "6" }, error: "Row has 1 fields, the header has 3" },
    { line: 4, values: { a: "7", b: "8", c: "9" } },
  ]);
});

Deno.test("a line without quotes reads like the same line quoted, whatever the column names", async () => {
  // Lines without quotes take a compiled reader; quoted ones the field-by-field scanner.
  const header = '"__proto__","a\\b","x""y","line\nbreak",constructor,"é ü"\n';
  const rows = ["1,2,3,4,5,6", "1,2,3,4,5", "1,2,3,4,5,6,7", ",,,,,", "a;b,c\td,e,f,g,h"];
  const plain = await readAll(header + rows.join("\n") + "\n");
  const quoted = await readAll(
    header + rows.map((r) => r.split(",").map((f) => `"${f}"`).join(",")).join("\n") + "\n",
  );
  assert.deepEqual(plain.records, quoted.records);
  assert.deepEqual(plain.records.map((r) => r.error), [
    undefined,
    "Row has 5 fields, the header has 6",
    "Row has 7 fields, the header has 6",
    undefined,
    undefined,
  ]);
  assert.deepEqual(Object.keys(plain.records[0]!.values), [
    "__proto__",
    "a\\b",
    'x"y',
    "line\nbreak",
    "constructor",
    "é ü",
  ]);
});

Deno.test("text after a closing quote rejects only that row", async () => {
  const { records } = await readAll('a,b\n1,"x"y\n2,3\n');
  assert.deepEqual(records, [
    { line: 2, values: { a: "1", b: "xy" }, error: "Field 2 has text after its closing quote" },
    { line: 3, values: { a: "2", b: "3" } },
  ]);
});

Deno.test('a column named "__proto__" is kept as an ordinary value', async () => {
  const { records } = await readAll("__proto__,b\nx,y\n");
  assert.deepEqual(Object.keys(records[0]!.values), ["__proto__", "b"]);
  assert.equal(Object.getOwnPropertyDescriptor(records[0]!.values, "__proto__")?.value, "x");
  assert.equal(Object.getPrototypeOf(records[0]!.values), Object.prototype);
});

Deno.test("records() can be iterated twice with the same result", async () => {
  const path = await tempFile("a\n1\n2\n");
  const source = openSource({ path, format: "csv", delimiter: "," });
  const once = [];
  for await (const r of source.records()) once.push(r);
  const twice = [];
  for await (const r of source.records()) twice.push(r);
  assert.equal(once.length, 2);
  assert.deepEqual(twice, once);
});

Deno.test("an empty file is an error on line 1", async () => {
  await assertSourceError("", "FILE:1: File is empty: expected a header row");
  await assertSourceError("\uFEFF\n\r\n", "FILE:1: File is empty: expected a header row");
});

Deno.test("an empty column name is an error naming the column", async () => {
  await assertSourceError("\na,b,,d\n1,2,3,4\n", "FILE:2: Column 3 has an empty name");
});

Deno.test("a header without a required column is an error at the header, with a hint", async () => {
  await assertSourceError(
    "\nId,close date,Amount\n1,2,3\n",
    'FILE:2: Column "Close Date" mapped in the pipeline is not in the header: did you mean "close date"?',
    "csv",
    { requiredColumns: ["Id", "Close Date"] },
  );
  await assertSourceError(
    "Id,Close,Amount\n",
    'FILE:1: Columns "Stage", "Owner" mapped in the pipeline are not in the header: it has "Id", "Close", "Amount"',
    "csv",
    { requiredColumns: ["Id", "Stage", "Owner"] },
  );
  const { records } = await readAll("Id,Amount\n1,2\n", "csv", { requiredColumns: ["Amount"] });
  assert.equal(records.length, 1);
});

Deno.test("a repeated column name is an error naming both columns", async () => {
  await assertSourceError(
    "Id,Name,Amount,Name\n",
    'FILE:1: Column 4 repeats the name "Name": column 2 has it too',
  );
});

Deno.test("an unclosed quote is an error on the line where the quote opens", async () => {
  const before = await assertSourceError(
    'a,b\n1,2\n3,"four\n5,6\n7,8\n',
    "FILE:3: Unclosed quote: the quoted field starting here never ends",
  );
  assert.deepEqual(before.map((r) => r.line), [2]);
  await assertSourceError(
    'a,b\n1,"multi\nline",3,"open\n',
    "FILE:3: Unclosed quote: the quoted field starting here never ends",
  );
});

Deno.test("a NUL byte is an error on its line, after the records before it", async () => {
  const before = await assertSourceError(
    'a,b\n1,2\n3,"x\ny"\n5,6\u0000\n7,8\n',
    "FILE:5: File contains a NUL byte: it is not a text file (UTF-16 or binary?)",
  );
  assert.deepEqual(before.map((r) => r.line), [2, 3]);
});

Deno.test("a UTF-16 file is refused as invalid UTF-8 on line 1", async () => {
  const utf16 = new Uint8Array([0xff, 0xfe, 0x61, 0x00, 0x2c, 0x00, 0x62, 0x00, 0x0a, 0x00]);
  await assertSourceError(utf16, "FILE:1: Invalid UTF-8: the file must be saved as UTF-8");
});

Deno.test("invalid UTF-8 is an error naming its line", async () => {
  const message = "FILE:3: Invalid UTF-8: the file must be saved as UTF-8";
  // A Latin-1 "é", an overlong "/", a surrogate, a byte that never starts a sequence.
  for (const bad of [[0xe9], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xff]]) {
    const before = await assertSourceError(bytes("a,b\nJosé,1\nRen", bad, "e,2\n3,4\n"), message);
    assert.deepEqual(before.map((r) => r.values.a), ["José"]);
  }
  // A sequence cut off by the end of the file.
  await assertSourceError(
    bytes("a,b\nx,y\n\n€", [0xe2, 0x82]),
    "FILE:4: Invalid UTF-8: the file must be saved as UTF-8",
  );
});

Deno.test("a BOM is stripped even when invalid UTF-8 follows in the same read", async () => {
  const before = await assertSourceError(
    bytes("\uFEFFa,b\n1,2\n", [0xff]),
    "FILE:3: Invalid UTF-8: the file must be saved as UTF-8",
  );
  assert.deepEqual(before.map((r) => r.values), [{ a: "1", b: "2" }]);
});

Deno.test("a U+FEFF after the start of the file is kept as text", async () => {
  // Eight blank lines fill the first read, so the second read starts with U+FEFF.
  const before = await assertSourceError(
    bytes("\n".repeat(8), "\uFEFFa\n1\n", [0xff]),
    "FILE:11: Invalid UTF-8: the file must be saved as UTF-8",
    "csv",
    { readBytes: 8 },
  );
  assert.deepEqual(before.map((r) => r.values), [{ "\uFEFFa": "1" }]);
});

Deno.test("a record longer than maxRecordBytes is an error on its first line", async () => {
  const long = "x".repeat(5000);
  await assertSourceError(
    `a,b\n1,2\n3,${long}\n`,
    "FILE:3: Record is longer than the limit of 1 KiB: it starts here and does not end within it",
    "csv",
    { maxRecordBytes: 1024 },
  );
  await assertSourceError(
    `a,b\n1,2\n3,"${long}"\n`,
    "FILE:3: Record is longer than the limit of 1 KiB: the quoted field opened on line 3 does not close within it (an unclosed quote?)",
    "csv",
    { maxRecordBytes: 1024 },
  );
});

Deno.test("an unclosed quote in a big file fails at maxRecordBytes and says where the quote opened", async () => {
  const rows = Array.from({ length: 200 }, (_, i) => `${i},x`).join("\n");
  await assertSourceError(
    `a,b\n1,2\n3,"open\n${rows}\n`,
    "FILE:3: Record is longer than the limit of 1000 bytes: the quoted field opened on line 3 does not close within it (an unclosed quote?)",
    "csv",
    { maxRecordBytes: 1000, readBytes: 64 },
  );
});

Deno.test("a delimiter that is not one usable character is refused by openSource()", () => {
  for (const delimiter of ["", ",,", '"', "\n", "\r"]) {
    assert.throws(
      () => openSource({ path: "x.csv", format: "csv", delimiter }),
      (e: unknown) =>
        e instanceof RunnerError && e.code === "invalid_source" &&
        e.message.startsWith(`Invalid CSV delimiter ${JSON.stringify(delimiter)}:`),
    );
  }
});

Deno.test("a missing file is an invalid_source error naming it", async () => {
  const source = openSource({ path: "no/such/file.csv", format: "csv", delimiter: "," });
  await assert.rejects(
    async () => {
      for await (const _ of source.records());
    },
    (e: unknown) =>
      e instanceof RunnerError && e.code === "invalid_source" &&
      e.message === 'Cannot open "no/such/file.csv": no such file',
  );
});

Deno.test("CsvParser.parse() consumes only complete records and keeps the rest", () => {
  const rows: [string[], number][] = [];
  const parser = new CsvParser({ path: "x.csv", delimiter: "," }, (f, l) => rows.push([f, l]));
  assert.equal(parser.parse('a,b\n1,"x\n', false), 4);
  assert.deepEqual(rows, [[["a", "b"], 1]]);
  assert.equal(parser.line, 2);
  assert.equal(parser.parse('1,"x\ny"\r', false), 0); // a CR at the end may be half a CRLF
  assert.equal(parser.parse('1,"x\ny"\r\n2,3', true), 13);
  assert.deepEqual(rows.slice(1), [[["1", "x\ny"], 2], [["2", "3"], 4]]);
});

// ---------------------------------------------------------------------------------------

/**
 * Writes one CSV field the way a careful writer would: quoted only when it must be (an
 * empty value too when it is alone on its row, or the row would be a blank line).
 */
function writeField(value: string, delimiter: string, alone: boolean): string {
  return /["\r\n]/.test(value) || value.includes(delimiter) || (alone && value === "")
    ? `"${value.replaceAll('"', '""')}"`
    : value;
}

Deno.test("any table written with proper quoting reads back with the same values, count and lines", async () => {
  const cell = fc.string({
    unit: fc.constantFrom("a", "b", " ", ",", ";", "\t", '"', "\n", "\r", "é", "😀"),
    maxLength: 8,
  });
  const table = fc.integer({ min: 1, max: 5 }).chain((width) =>
    fc.record({
      header: fc.uniqueArray(fc.string({ minLength: 1, maxLength: 6 }), {
        minLength: width,
        maxLength: width,
      }),
      rows: fc.array(fc.array(cell, { minLength: width, maxLength: width }), { maxLength: 12 }),
      delimiter: fc.constantFrom(",", ";", "\t", "|"),
      eol: fc.constantFrom("\n", "\r\n", "\r"),
      bom: fc.boolean(),
      finalEol: fc.boolean(),
      readBytes: fc.constantFrom(1, 2, 5, 16, 4096),
    })
  );
  await fc.assert(
    fc.asyncProperty(table, async (t) => {
      const lines: string[] = [t.header, ...t.rows].map((r) =>
        r.map((v) => writeField(v, t.delimiter, r.length === 1)).join(t.delimiter)
      );
      const text = (t.bom ? "\uFEFF" : "") + lines.join(t.eol) + (t.finalEol ? t.eol : "");
      // Each record starts one line after the previous one, plus the breaks inside its cells.
      const expectedLines: number[] = [];
      let line = 1 + breaks(t.header);
      for (const row of t.rows) {
        expectedLines.push(++line);
        line += breaks(row);
      }
      const path = await tempFile(text);
      const { records, columns } = await readOnce({
        path,
        format: "csv",
        delimiter: t.delimiter,
        readBytes: t.readBytes,
      });
      assert.deepEqual(columns, t.header);
      assert.equal(records.length, t.rows.length);
      assert.deepEqual(records.map((r) => t.header.map((h) => r.values[h])), t.rows);
      assert.deepEqual(records.map((r) => r.line), expectedLines);
      assert.ok(records.every((r) => r.error === undefined));
    }),
    { numRuns: 300 },
  );
});

/** Line breaks inside cells: LF, CRLF and a lone CR each count once. */
function breaks(cells: string[]): number {
  return cells.reduce((n, cell) => n + (cell.match(/\r\n|\r|\n/g)?.length ?? 0), 0);
}
