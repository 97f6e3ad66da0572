import assert from "node:assert/strict";
import fc from "fast-check";
import { parseTemplate, trim } from "./_template.ts";
import { INVALID, parseNumber, quote, typerFor } from "./_types.ts";

Deno.test("parseNumber() reads what String() writes, for any finite double", () => {
  fc.assert(
    fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (x) => {
      // `===`, since String(-0) is "0".
      assert.ok(parseNumber(String(x)) === x, String(x));
    }),
    { numRuns: 5000 },
  );
});

Deno.test("parseNumber() agrees with Number() on plain decimals of up to 20 digits", () => {
  const decimal = fc
    .tuple(
      fc.constantFrom("", "-", "+"),
      fc.stringMatching(/^[0-9]{0,12}$/),
      fc.option(fc.stringMatching(/^[0-9]{0,8}$/), { nil: undefined }),
    )
    .map(([sign, int, frac]) => sign + int + (frac === undefined ? "" : "." + frac))
    .filter((s) => /[0-9]/.test(s));
  fc.assert(
    fc.property(decimal, (s) => {
      assert.ok(Object.is(parseNumber(s), Number(s)), s);
    }),
    { numRuns: 5000 },
  );
});

Deno.test("parseNumber() reads any integer grouped by thousands", () => {
  fc.assert(
    fc.property(fc.integer(), fc.integer({ min: 0, max: 99 }), (n, cents) => {
      const text = n.toLocaleString("en-US") + "." + String(cents).padStart(2, "0");
      const expected = Number(`${n}.${String(cents).padStart(2, "0")}`);
      assert.equal(parseNumber(text), expected, text);
    }),
    { numRuns: 2000 },
  );
});

Deno.test("parseNumber() accepts nothing that Number() would not read the same way", () => {
  const chars = fc.constantFrom(..."0123456789,.eE+-x _ \t");
  fc.assert(
    fc.property(fc.string({ unit: chars, maxLength: 12 }), (s) => {
      const x = parseNumber(s);
      if (!Number.isNaN(x)) {
        assert.ok(s.trim() === s && s !== "", JSON.stringify(s));
        assert.ok(Object.is(x, Number(s.replaceAll(",", ""))), JSON.stringify(s));
      }
    }),
    { numRuns: 10000 },
  );
});

Deno.test("trim() trims exactly what String.prototype.trim() trims", () => {
  const chars = fc.constantFrom(
    "a",
    " ",
    "\t",
    "\n",
    "\u00a0",
    "\ufeff",
    "\u2028",
    "~",
    "é",
    "\u3000",
  );
  fc.assert(
    fc.property(fc.string({ unit: chars, maxLength: 6 }), (s) => {
      assert.equal(trim(s), s.trim(), JSON.stringify(s));
    }),
    { numRuns: 5000 },
  );
});

Deno.test("quote() shows strings as JSON strings and objects as JSON", () => {
  assert.equal(quote('a"b'), '"a\\"b"');
  assert.equal(quote(12), '"12"');
  assert.equal(quote(null), '"null"');
  assert.equal(quote({ a: [1] }), '{"a":[1]}');
  assert.equal(quote("x".repeat(101)), `"${"x".repeat(100)}…"`);
});

Deno.test("typerFor() knows the six field types and no other", () => {
  for (const t of ["string", "number", "integer", "boolean", "date", "datetime"] as const) {
    assert.notEqual(typerFor(t), undefined, t);
  }
  assert.equal(typerFor("money" as "string"), undefined);
  assert.equal(typerFor("number")!.coerce("x"), INVALID);
});

Deno.test("parseTemplate() splits text into literals and columns", () => {
  assert.deepEqual(parseTemplate("{First} {{x}} {Last}!"), {
    literals: ["", " {x} ", "!"],
    columns: ["First", "Last"],
  });
  assert.deepEqual(parseTemplate("no placeholders"), {
    literals: ["no placeholders"],
    columns: [],
  });
  assert.deepEqual(parseTemplate("{Close Date}"), { literals: ["", ""], columns: ["Close Date"] });
});
