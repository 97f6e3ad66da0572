import assert from "node:assert/strict";
import { RunnerError } from "../errors.ts";
import {
  checkDateFormat,
  checkMapping,
  compileMapper,
  type FieldError,
  type MappedRow,
  type MappingSpec,
  type MapResult,
} from "./mod.ts";

type Mappings = Record<string, string | MappingSpec>;
type Spec = Partial<MappingSpec>;

/** A long-form mapping with the schema's defaults filled in. */
function spec(s: Spec): MappingSpec {
  return { type: "string", required: false, unmatched: "keep", ...s };
}

/**
 * Maps one record with generated code and with the plain loop, asserts both agree, and returns
 * the result: every test below thereby covers both ways of mapping.
 */
function map(mappings: Mappings, record: Record<string, unknown>, key?: string): MapResult {
  const k = key ?? Object.keys(mappings)[0]!;
  const generated = compileMapper(mappings, k).map(record);
  const looped = compileMapper(mappings, k, { generate: false }).map(record);
  assert.deepEqual(looped, generated, "the loop and the generated code disagree");
  return generated;
}

/** The row of a record that must map; fails the test with the errors otherwise. */
function row(mappings: Mappings, record: Record<string, unknown>, key?: string): MappedRow {
  const r = map(mappings, record, key);
  if (!r.ok) assert.fail(`Expected the row to map, got ${JSON.stringify(r.errors)}`);
  return r.row;
}

/** The errors of a record that must fail. */
function errors(mappings: Mappings, record: Record<string, unknown>, key?: string): FieldError[] {
  const r = map(mappings, record, key);
  if (r.ok) assert.fail(`Expected the row to fail, got ${JSON.stringify(r.row)}`);
  return r.errors;
}

/** Maps `value` through one non-key field `f` of the given mapping; the key is `id`. */
function one(s: Spec, value: unknown): MapResult {
  return map({ id: "id", f: spec({ from: "v", ...s }) }, { id: "1", v: value }, "id");
}

/** The value field `f` gets, or the test fails. */
function value(s: Spec, v: unknown): unknown {
  const r = one(s, v);
  if (!r.ok) assert.fail(`Expected ${JSON.stringify(v)} to map, got ${r.errors[0]!.message}`);
  return r.row.f;
}

/** The one error field `f` gets, or the test fails. */
function error(s: Spec, v: unknown): FieldError {
  const r = one(s, v);
  if (r.ok) assert.fail(`Expected ${JSON.stringify(v)} to fail, got ${JSON.stringify(r.row.f)}`);
  assert.equal(r.errors.length, 1);
  return r.errors[0]!;
}

// --- shape ---------------------------------------------------------------------------------------

Deno.test("compileMapper() lists the fields in declaration order", () => {
  const m = compileMapper({ b: "B", a: "A", c: spec({ value: 1, type: "number" }) }, "a");
  assert.deepEqual(m.fields, ["b", "a", "c"]);
  const r = m.map({ A: "1", B: "2" });
  assert.ok(r.ok);
  assert.deepEqual(Object.keys(r.row), ["b", "a", "c"]);
});

Deno.test("compileMapper() lists each source column once, in first-use order", () => {
  const m = compileMapper({
    id: "ID",
    name: spec({ template: "{First} {Last} ({ID})" }),
    last: "Last",
    c: spec({ value: "x" }),
    city: spec({ from: "City" }),
  }, "id");
  assert.deepEqual(m.sourceColumns, ["ID", "First", "Last", "City"]);
});

Deno.test("a string mapping reads its column as a trimmed string", () => {
  assert.deepEqual(row({ id: "ID", name: "Name" }, { ID: " 7 ", Name: "\tAda Lovelace \r\n" }), {
    id: "7",
    name: "Ada Lovelace",
  });
});

Deno.test("a field that is empty, blank, null or missing is null", () => {
  const m = { id: "ID", a: "A", b: "B", c: "C", d: "D" };
  assert.deepEqual(row(m, { ID: "1", A: "", B: "   ", C: null }), {
    id: "1",
    a: null,
    b: null,
    c: null,
    d: null,
  });
});

Deno.test("a mapped row holds only the mapped fields", () => {
  assert.deepEqual(row({ id: "ID" }, { ID: "1", Other: "x" }), { id: "1" });
});

// --- key, required, default ------------------------------------------------------------------------

Deno.test("the key field is required even when not marked so", () => {
  for (const missing of [{}, { ID: "" }, { ID: "  " }, { ID: null }]) {
    assert.deepEqual(errors({ id: "ID", name: "Name" }, { ...missing, Name: "x" }), [
      { field: "id", code: "key_missing", message: "Missing value of key field 'id'" },
    ]);
  }
});

Deno.test("the key field can be any field, not only the first", () => {
  assert.deepEqual(errors({ name: "Name", id: "ID" }, { Name: "" }, "id"), [
    { field: "id", code: "key_missing", message: "Missing value of key field 'id'" },
  ]);
});

Deno.test("a required field that is empty fails with code required", () => {
  assert.deepEqual(error({ required: true }, " "), {
    field: "f",
    code: "required",
    message: "Missing value of required field 'f'",
  });
  assert.equal(value({ required: true }, "x"), "x");
});

Deno.test("an empty field takes its default, typed", () => {
  assert.equal(value({ default: "n/a" }, ""), "n/a");
  assert.equal(value({ default: "0", type: "number" }, undefined), 0);
  assert.equal(value({ default: " 2020-01-20 ", type: "date" }, null), "2020-01-20");
  assert.equal(value({ default: "no", type: "boolean" }, "  "), false);
});

Deno.test("a default keeps a required field from failing", () => {
  assert.equal(value({ default: 5, type: "integer", required: true }, ""), 5);
  assert.deepEqual(row({ id: spec({ from: "ID", default: "new" }) }, {}), { id: "new" });
});

Deno.test("a default does not replace a value that is there", () => {
  assert.equal(value({ default: "n/a" }, "x"), "x");
});

Deno.test("a null or empty default is no default", () => {
  assert.equal(value({ default: null }, ""), null);
  assert.equal(error({ default: " ", required: true }, "").code, "required");
});

Deno.test("every failing field of a row is reported, in field order", () => {
  const mappings = {
    id: "ID",
    amount: spec({ from: "Amount", type: "number" }),
    ok: "OK",
    close_date: spec({ from: "Close", type: "date" }),
    owner: spec({ from: "Owner", required: true }),
  };
  const errs = errors(mappings, { ID: "", Amount: "-", OK: "fine", Close: "20-jan-2020" });
  assert.deepEqual(errs.map((e) => [e.field, e.code]), [
    ["id", "key_missing"],
    ["amount", "invalid_number"],
    ["close_date", "invalid_date"],
    ["owner", "required"],
  ]);
});

// --- string ---------------------------------------------------------------------------------------

Deno.test("a string field takes numbers and booleans from JSON as their text", () => {
  assert.equal(value({}, 42), "42");
  assert.equal(value({}, -1.5), "-1.5");
  assert.equal(value({}, true), "true");
  assert.equal(value({}, false), "false");
});

Deno.test("a string field refuses a JSON object or array", () => {
  assert.deepEqual(error({}, { a: 1 }), {
    field: "f",
    code: "invalid_string",
    message: `invalid value in field 'f': {"a":1} is not a string`,
  });
  assert.equal(error({}, [1, 2]).message, "invalid value in field 'f': [1,2] is not a string");
});

// --- number and integer ---------------------------------------------------------------------------

Deno.test("a number field reads decimal numbers with optional thousands separators", () => {
  const cases: [unknown, number][] = [
    ["250000", 250000],
    ["-12.5", -12.5],
    ["+3", 3],
    ["1e3", 1000],
    ["2.5E-3", 0.0025],
    ["1,234.50", 1234.5],
    ["-1,234,567", -1234567],
    ["0.1", 0.1],
    [".5", 0.5],
    ["5.", 5],
    ["007", 7],
    [" 42 ", 42],
    ["12345678901234567890", 12345678901234567000],
    [3.25, 3.25],
    [-0.5, -0.5],
  ];
  for (const [input, expected] of cases) assert.equal(value({ type: "number" }, input), expected);
});

Deno.test("a number field refuses what is not a decimal number", () => {
  for (
    const input of [
      "-",
      "abc",
      "1,23",
      "1,2345",
      "1234,567",
      ",123",
      "1,",
      "1.2.3",
      "1e",
      "e5",
      "0x1F",
      "0b101",
      "NaN",
      "Infinity",
      "-Infinity",
      "1 000",
      "12abc",
      ".",
      "+",
      "1_000",
      true,
      { n: 1 },
      NaN,
      Infinity,
    ]
  ) {
    const e = error({ type: "number" }, input);
    assert.equal(e.code, "invalid_number", String(input));
    assert.match(e.message, /^invalid value in field 'f': .* is not a number$/, String(input));
  }
});

Deno.test("a number field's error quotes the value the API's way", () => {
  assert.deepEqual(
    map({ id: "id", amount: spec({ from: "Amount", type: "number" }) }, { id: "1", Amount: "-" }),
    {
      ok: false,
      errors: [{
        field: "amount",
        code: "invalid_number",
        message: `invalid value in field 'amount': "-" is not a number`,
      }],
    },
  );
});

Deno.test("a number too large for a double is out of range", () => {
  assert.equal(
    error({ type: "number" }, "1e999").message,
    `invalid value in field 'f': "1e999" is out of range for a number`,
  );
});

Deno.test("an integer field takes whole numbers only", () => {
  assert.equal(value({ type: "integer" }, "42"), 42);
  assert.equal(value({ type: "integer" }, "-1,000"), -1000);
  assert.equal(value({ type: "integer" }, "1e3"), 1000);
  assert.equal(value({ type: "integer" }, "2.0"), 2);
  assert.equal(value({ type: "integer" }, 7), 7);
  assert.deepEqual(error({ type: "integer" }, "1.5"), {
    field: "f",
    code: "invalid_integer",
    message: `invalid value in field 'f': "1.5" is not an integer`,
  });
  assert.equal(error({ type: "integer" }, "abc").code, "invalid_integer");
  assert.equal(error({ type: "integer" }, 2.5).code, "invalid_integer");
});

Deno.test("an integer beyond 2^53 is refused rather than sent rounded", () => {
  assert.equal(value({ type: "integer" }, "9007199254740991"), 9007199254740991);
  assert.equal(
    error({ type: "integer" }, "12345678901234567890").message,
    `invalid value in field 'f': "12345678901234567890" is too large for an exact integer (at most 9007199254740991)`,
  );
});

// --- boolean --------------------------------------------------------------------------------------

Deno.test("a boolean field reads true/false, yes/no, y/n and 1/0 in any case", () => {
  const cases: [unknown, boolean][] = [
    ["true", true],
    ["FALSE", false],
    ["True", true],
    ["tRuE", true],
    ["yes", true],
    ["No", false],
    ["Y", true],
    ["n", false],
    ["1", true],
    ["0", false],
    [" yes ", true],
    [true, true],
    [false, false],
    [1, true],
    [0, false],
  ];
  for (const [input, expected] of cases) assert.equal(value({ type: "boolean" }, input), expected);
});

Deno.test("a boolean field refuses other words and numbers", () => {
  assert.deepEqual(error({ type: "boolean" }, "maybe"), {
    field: "f",
    code: "invalid_boolean",
    message:
      `invalid value in field 'f': "maybe" is not a boolean: use true/false, yes/no, y/n or 1/0`,
  });
  for (const input of ["2", "on", "t", "yess", 2, -1]) {
    assert.equal(error({ type: "boolean" }, input).code, "invalid_boolean", String(input));
  }
});

// --- date and datetime ----------------------------------------------------------------------------

Deno.test("a date field reads yyyy-MM-dd by default", () => {
  assert.equal(value({ type: "date" }, "2020-01-20"), "2020-01-20");
  assert.equal(value({ type: "date" }, " 2020-01-20 "), "2020-01-20");
});

Deno.test("a date field's error names the field, the value and the format", () => {
  assert.deepEqual(
    map({ id: "id", close_date: spec({ from: "Close", type: "date" }) }, {
      id: "1",
      Close: "20-jan-2020",
    }),
    {
      ok: false,
      errors: [{
        field: "close_date",
        code: "invalid_date",
        message:
          `invalid value in field 'close_date': cannot read "20-jan-2020" as a date in format "yyyy-MM-dd"`,
      }],
    },
  );
});

Deno.test("a date field reads its format", () => {
  assert.equal(value({ type: "date", format: "dd-MMM-yyyy" }, "20-Jan-2020"), "2020-01-20");
  assert.equal(value({ type: "date", format: "dd/MM/yyyy" }, "05/01/2020"), "2020-01-05");
  assert.equal(value({ type: "date", format: "M/d/yy" }, "1/5/20"), "2020-01-05");
  assert.equal(value({ type: "date", format: "yyyyMMdd" }, 20200120), "2020-01-20");
});

Deno.test("a date field refuses dates that are not in the calendar", () => {
  assert.deepEqual(error({ type: "date", format: "dd/MM/yyyy" }, "29/02/2021"), {
    field: "f",
    code: "invalid_date",
    message:
      `invalid value in field 'f': cannot read "29/02/2021" as a date in format "dd/MM/yyyy": February 2021 has 28 days`,
  });
  assert.equal(value({ type: "date", format: "dd/MM/yyyy" }, "29/02/2020"), "2020-02-29");
  assert.match(error({ type: "date" }, "2020-13-01").message, /there is no month 13$/);
});

Deno.test("a date field refuses a JSON boolean or object", () => {
  assert.equal(
    error({ type: "date" }, true).message,
    `invalid value in field 'f': "true" is not a date`,
  );
  assert.equal(
    error({ type: "date" }, { d: 1 }).message,
    `invalid value in field 'f': {"d":1} is not a date`,
  );
});

Deno.test("a datetime field returns UTC, applying an offset the value carries", () => {
  assert.equal(value({ type: "datetime" }, "2020-01-20T10:00:00Z"), "2020-01-20T10:00:00Z");
  assert.equal(value({ type: "datetime" }, "2020-01-20 10:00"), "2020-01-20T10:00:00Z");
  assert.equal(value({ type: "datetime" }, "2020-01-20T01:00:00+02:00"), "2020-01-19T23:00:00Z");
  assert.equal(value({ type: "datetime" }, "2020-01-20"), "2020-01-20T00:00:00Z");
  assert.equal(
    value({ type: "datetime", format: "dd/MM/yyyy HH:mm" }, "20/01/2020 10:30 -01:00"),
    "2020-01-20T11:30:00Z",
  );
});

Deno.test("a datetime field's error says it wanted ISO 8601", () => {
  assert.deepEqual(error({ type: "datetime" }, "20/01/2020"), {
    field: "f",
    code: "invalid_datetime",
    message:
      `invalid value in field 'f': cannot read "20/01/2020" as a datetime in ISO 8601 format`,
  });
});

Deno.test("checkDateFormat() is the one the config compiler uses", () => {
  assert.match(checkDateFormat("YYYY-mm-DD")!, /did you mean "yyyy-MM-dd"\?$/);
  assert.equal(checkDateFormat("dd-MMM-yyyy"), undefined);
});

// --- values tables ---------------------------------------------------------------------------------

const stages = { Open: "open", Won: "closed_won", "Closed Lost": "closed_lost" };

Deno.test("a values table maps exact matches", () => {
  assert.equal(value({ values: stages }, "Won"), "closed_won");
  assert.equal(value({ values: stages }, " Closed Lost "), "closed_lost");
});

Deno.test("a values table matches case-insensitively when nothing matches exactly", () => {
  assert.equal(value({ values: stages }, "WON"), "closed_won");
  assert.equal(value({ values: stages }, "closed lost"), "closed_lost");
});

Deno.test("a values table prefers the exact match to a case-insensitive one", () => {
  const table = { a: "lower", A: "upper" };
  assert.equal(value({ values: table }, "a"), "lower");
  assert.equal(value({ values: table }, "A"), "upper");
});

Deno.test("a value missing from the table is kept by default and then typed", () => {
  assert.equal(value({ values: stages }, "Pending"), "Pending");
  assert.equal(value({ values: { High: 3 }, type: "integer" }, "2"), 2);
  assert.equal(error({ values: { High: 3 }, type: "integer" }, "Low").code, "invalid_integer");
});

Deno.test("a value missing from the table fails with unmatched: reject", () => {
  assert.deepEqual(error({ values: stages, unmatched: "reject" }, "Pending"), {
    field: "f",
    code: "unmatched_value",
    message: `invalid value in field 'f': "Pending" is not one of "Open", "Won", "Closed Lost"`,
  });
  assert.equal(value({ values: stages, unmatched: "reject" }, "open"), "open");
});

Deno.test("an unmatched_value message lists at most ten of the table's values", () => {
  const table = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`k${i}`, i]));
  const e = error({ values: table, unmatched: "reject", type: "integer" }, "x");
  assert.equal(
    e.message,
    `invalid value in field 'f': "x" is not one of "k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9" (and 2 more)`,
  );
});

Deno.test("a values table gives its values the field's type", () => {
  const yesNo = { Ja: true, Nein: false, Vielleicht: "yes" };
  assert.equal(value({ values: yesNo, type: "boolean" }, "ja"), true);
  assert.equal(value({ values: yesNo, type: "boolean" }, "Vielleicht"), true);
  // A table value is read like a source value: in the field's format.
  const quarters = { Q1: "31/03/2020" };
  assert.equal(value({ values: quarters, type: "date", format: "dd/MM/yyyy" }, "q1"), "2020-03-31");
});

Deno.test("a values table matches numbers and booleans from JSON by their text", () => {
  assert.equal(value({ values: { "1": "one", true: "yes" } }, 1), "one");
  assert.equal(value({ values: { "1": "one", true: "yes" } }, true), "yes");
});

Deno.test("a table value of null or blank makes the field empty", () => {
  const table = { "N/A": null, "-": " " };
  assert.equal(value({ values: table }, "n/a"), null);
  assert.equal(value({ values: table, default: "unknown" }, "-"), "unknown");
  assert.equal(error({ values: table, required: true }, "N/A").code, "required");
});

Deno.test("an empty value is not looked up in the table", () => {
  assert.equal(value({ values: stages, unmatched: "reject" }, ""), null);
});

// --- templates ------------------------------------------------------------------------------------

Deno.test("a template fills its placeholders with the record's values", () => {
  const m = { id: "ID", name: spec({ template: "{First} {Last} <{Email}>" }) };
  assert.deepEqual(row(m, { ID: "1", First: " Ada", Last: "Lovelace ", Email: "ada@x.org" }), {
    id: "1",
    name: "Ada Lovelace <ada@x.org>",
  });
});

Deno.test("a template writes {{ and }} as literal braces", () => {
  const m = { id: "ID", t: spec({ template: "{{{ID}}} {{x}} }}{{" }) };
  assert.equal(row(m, { ID: "7" }).t, "{7} {x} }{");
});

Deno.test("a template fills missing or null columns with nothing and trims the result", () => {
  const m = { id: "ID", name: spec({ template: "{First} {Last}" }) };
  assert.equal(row(m, { ID: "1", Last: "Lovelace" }).name, "Lovelace");
  assert.equal(row(m, { ID: "1", First: null, Last: "Lovelace" }).name, "Lovelace");
  assert.equal(row(m, { ID: "1" }).name, null);
});

Deno.test("a template with every placeholder empty leaves a required field missing", () => {
  const m = { id: "ID", name: spec({ template: "{First} {Last}", required: true }) };
  assert.deepEqual(errors(m, { ID: "1", First: " " }), [
    { field: "name", code: "required", message: "Missing value of required field 'name'" },
  ]);
});

Deno.test("a template writes JSON numbers, booleans and objects as text", () => {
  const m = { id: "ID", t: spec({ template: "{n}/{b}/{o}" }) };
  assert.equal(row(m, { ID: "1", n: 2.5, b: false, o: { a: [1] } }).t, '2.5/false/{"a":[1]}');
});

Deno.test("a template's text is typed like any value", () => {
  const m = { id: "ID", d: spec({ template: "{Y}-{M}-{D}", type: "date" }) };
  assert.equal(row(m, { ID: "1", Y: "2020", M: "01", D: "20" }).d, "2020-01-20");
  assert.equal(errors(m, { ID: "1", Y: "2020", M: "13", D: "20" })[0]!.code, "invalid_date");
});

Deno.test("a template can be a key field", () => {
  const m = { id: spec({ template: "{A}-{B}" }) };
  assert.deepEqual(row(m, { A: "x", B: "1" }), { id: "x-1" });
  assert.equal(row(m, { B: "1" }).id, "-1");
});

// --- constants ------------------------------------------------------------------------------------

Deno.test("a constant is sent for every row, typed", () => {
  const m = {
    id: "ID",
    source: spec({ value: "csv-import" }),
    weight: spec({ value: "1,000", type: "number" }),
    active: spec({ value: "yes", type: "boolean" }),
    since: spec({ value: "20-Jan-2020", type: "date", format: "dd-MMM-yyyy" }),
    nothing: spec({ value: null }),
    n: spec({ value: 3 }),
  };
  const expected = {
    id: "1",
    source: "csv-import",
    weight: 1000,
    active: true,
    since: "2020-01-20",
    nothing: null,
    n: "3",
  };
  assert.deepEqual(row(m, { ID: "1" }), expected);
  assert.deepEqual(row(m, { ID: "2", source: "ignored" }), { ...expected, id: "2" });
});

Deno.test("a constant goes through the values table", () => {
  assert.equal(
    row({ id: "ID", s: spec({ value: "won", values: stages }) }, { ID: "1" }).s,
    "closed_won",
  );
});

// --- problems found when compiling -----------------------------------------------------------------

Deno.test("compileMapper() refuses a key that is not mapped", () => {
  assert.throws(
    () => compileMapper({ a: "A", b: "B" }, "id"),
    (e: unknown) =>
      e instanceof RunnerError && e.code === "invalid_pipeline" &&
      e.message === 'Invalid mappings: Key "id" is not one of the mapped fields: "a", "b"',
  );
});

Deno.test("compileMapper() refuses mappings with problems, naming each with its path", () => {
  assert.throws(
    () =>
      compileMapper({
        id: "ID",
        amount: spec({ value: "abc", type: "number" }),
        close: spec({ from: "Close", type: "date", format: "YYYY-mm-DD" }),
      }, "id"),
    (e: unknown) =>
      e instanceof RunnerError && e.code === "invalid_pipeline" &&
      e.message ===
        `Invalid mappings: mappings.amount.value: Constant "abc" cannot be sent: invalid value in field 'amount': "abc" is not a number; ` +
          `mappings.close.format: Unknown letters "Y", "D" in date format "YYYY-mm-DD": did you mean "yyyy-MM-dd"?`,
  );
});

Deno.test("checkMapping() accepts a valid mapping", () => {
  assert.deepEqual(checkMapping("name", "Name"), []);
  assert.deepEqual(
    checkMapping(
      "d",
      spec({ from: "D", type: "date", format: "dd/MM/yyyy", default: "01/01/2020" }),
    ),
    [],
  );
});

Deno.test("checkMapping() reports a bad format and nothing that depends on it", () => {
  assert.deepEqual(
    checkMapping("d", spec({ from: "D", type: "date", format: "YYYY", default: "x" })),
    [{
      path: ["format"],
      message:
        'Unknown letter "Y" in date format "YYYY": use tokens yyyy yy MM M MMM dd d HH mm ss, e.g. "yyyy-MM-dd"',
    }],
  );
});

Deno.test("checkMapping() reports a default that does not fit the type", () => {
  assert.deepEqual(checkMapping("n", spec({ from: "N", type: "number", default: "none" })), [{
    path: ["default"],
    message: `Default "none" does not fit type "number": "none" is not a number`,
  }]);
});

Deno.test("checkMapping() reports each table value that does not fit the type", () => {
  assert.deepEqual(
    checkMapping("b", spec({ from: "B", type: "boolean", values: { A: "yes", B: "maybe", C: 2 } })),
    [
      {
        path: ["values", "B"],
        message:
          `Value "maybe" for "B" does not fit type "boolean": "maybe" is not a boolean: use true/false, yes/no, y/n or 1/0`,
      },
      {
        path: ["values", "C"],
        message:
          `Value "2" for "C" does not fit type "boolean": "2" is not a boolean: use true/false, yes/no, y/n or 1/0`,
      },
    ],
  );
});

Deno.test("checkMapping() reports a constant that is refused or leaves a required field empty", () => {
  assert.deepEqual(checkMapping("d", spec({ value: "2020-02-30", type: "date" })), [{
    path: ["value"],
    message:
      `Constant "2020-02-30" cannot be sent: invalid value in field 'd': cannot read "2020-02-30" as a date in format "yyyy-MM-dd": February 2020 has 29 days`,
  }]);
  assert.deepEqual(checkMapping("k", spec({ value: " " }), true), [{
    path: ["value"],
    message: `Constant " " leaves the required field 'k' empty`,
  }]);
  assert.deepEqual(
    checkMapping("s", spec({ value: "x", values: { a: "b" }, unmatched: "reject" })),
    [{
      path: ["value"],
      message: `Constant "x" cannot be sent: invalid value in field 's': "x" is not one of "a"`,
    }],
  );
});

Deno.test("checkMapping() reports template syntax errors", () => {
  const problem = (template: string) => checkMapping("t", spec({ template }))[0]?.message;
  assert.equal(
    problem("{First"),
    'Unclosed "{" at position 1 of template "{First": write "{{" for a literal brace',
  );
  assert.equal(
    problem("a {b{c}"),
    'Unclosed "{" at position 3 of template "a {b{c}": write "{{" for a literal brace',
  );
  assert.equal(
    problem("a } b"),
    'Single "}" at position 3 of template "a } b": write "}}" for a literal brace',
  );
  assert.equal(problem("x{}"), 'Empty placeholder "{}" at position 2 of template "x{}"');
  assert.equal(problem("{{a}} {b}"), undefined);
});

Deno.test("checkMapping() reports a mapping without exactly one source", () => {
  assert.deepEqual(checkMapping("x", spec({})), [{
    path: [],
    message: 'A mapping needs one of "from", "value" or "template"',
  }]);
  assert.deepEqual(checkMapping("x", spec({ from: "A", value: 1 })), [{
    path: [],
    message: 'A mapping takes only one of "from", "value" or "template", not "from" and "value"',
  }]);
});

Deno.test("checkMapping() reports unmatched: reject without a table, and an unknown type", () => {
  assert.deepEqual(checkMapping("x", spec({ from: "A", unmatched: "reject" })), [{
    path: ["unmatched"],
    message: '"unmatched: reject" needs a "values" table to check against',
  }]);
  assert.deepEqual(checkMapping("x", spec({ from: "A", type: "money" as "string" })), [{
    path: ["type"],
    message: 'Unknown type "money": use string, number, integer, boolean, date, datetime',
  }]);
});

// --- odd names and values --------------------------------------------------------------------------

Deno.test("a column named like an Object member reads as missing when the record lacks it", () => {
  const m = {
    id: "ID",
    c: "constructor",
    t: spec({ template: "[{toString}]" }),
    p: "__proto__",
  };
  assert.deepEqual(row(m, { ID: "1" }), { id: "1", c: null, t: "[]", p: null });
  const own = JSON.parse('{"ID":"1","constructor":"x","toString":"y","__proto__":"z"}');
  assert.deepEqual(row(m, own), { id: "1", c: "x", t: "[y]", p: "z" });
});

Deno.test("a field named __proto__ is an own field of the row, not its prototype", () => {
  // Parsed, as a YAML or JSON parser would: in a literal, `__proto__: "P"` is no key at all.
  const mappings: Mappings = JSON.parse('{"id":"ID","__proto__":"P"}');
  assert.deepEqual(Object.keys(mappings), ["id", "__proto__"]);
  const r = row(mappings, { ID: "1", P: "x" });
  assert.ok(Object.hasOwn(r, "__proto__"));
  assert.equal(Object.getPrototypeOf(r), Object.prototype);
  assert.equal(JSON.stringify(r), '{"id":"1","__proto__":"x"}');
});

Deno.test("field and column names with quotes, backslashes and line breaks are safe", () => {
  const name = 'a"b\\c\n${x}\u2028';
  const r = row(
    { [name]: name, id: spec({ from: "id" }) } as Mappings,
    { [name]: "v", id: "1" },
    "id",
  );
  assert.deepEqual(Object.entries(r), [[name, "v"], ["id", "1"]]);
});

Deno.test("a long value is cut in a message", () => {
  const e = error({ type: "number" }, "9".repeat(50) + "x".repeat(100));
  assert.equal(
    e.message,
    `invalid value in field 'f': "${"9".repeat(50)}${"x".repeat(50)}…" is not a number`,
  );
});

Deno.test("a mapper can be reused: no state carries over from one row to the next", () => {
  const m = compileMapper({
    id: "ID",
    d: spec({ from: "D", type: "datetime" }),
    n: spec({ from: "N", type: "number" }),
  }, "id");
  const first = m.map({ ID: "1", D: "2020-01-01T00:30:00+01:00", N: "1" });
  const second = m.map({ ID: "2", D: "2020-01-01T00:30:00Z", N: "x" });
  const third = m.map({ ID: "3", D: "2020-01-01T00:30:00", N: "2" });
  assert.deepEqual(first, { ok: true, row: { id: "1", d: "2019-12-31T23:30:00Z", n: 1 } });
  assert.equal(second.ok, false);
  assert.deepEqual(third, { ok: true, row: { id: "3", d: "2020-01-01T00:30:00Z", n: 2 } });
});
