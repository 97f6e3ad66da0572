import assert from "node:assert/strict";
import fc from "fast-check";
import { checkDateFormat, compileDateFormat, daysInMonth, isLeapYear } from "./_date.ts";

const date = (format?: string) => compileDateFormat(format, "date");
const datetime = (format?: string) => compileDateFormat(format, "datetime");

Deno.test("checkDateFormat() accepts formats made of the documented tokens", () => {
  for (
    const f of [
      "yyyy-MM-dd",
      "dd-MMM-yyyy",
      "dd/MM/yyyy",
      "M/d/yy",
      "yyyyMMdd",
      "d.M.yyyy",
      "MMM d, yyyy",
      "dd/MM/yyyy HH:mm",
      "yyyy-MM-ddTHH:mm:ssZ",
      "yyyy-MM-dd HH:mm:ss",
    ]
  ) {
    assert.equal(checkDateFormat(f), undefined, f);
  }
});

Deno.test("checkDateFormat() suggests yyyy-MM-dd for YYYY-mm-DD", () => {
  assert.equal(
    checkDateFormat("YYYY-mm-DD"),
    'Unknown letters "Y", "D" in date format "YYYY-mm-DD": did you mean "yyyy-MM-dd"?',
  );
});

Deno.test("checkDateFormat() reads mm in a format without hours as a mistaken month", () => {
  assert.equal(
    checkDateFormat("yyyy-mm-dd"),
    'Date format "yyyy-mm-dd" has no month: did you mean "yyyy-MM-dd"?',
  );
});

Deno.test("checkDateFormat() suggests HH for a 12-hour hh", () => {
  assert.equal(
    checkDateFormat("dd/MM/yyyy hh:mm"),
    'Unknown letter "h" in date format "dd/MM/yyyy hh:mm": did you mean "dd/MM/yyyy HH:mm"?',
  );
});

Deno.test("checkDateFormat() names the tokens when it has no suggestion", () => {
  assert.equal(
    checkDateFormat("abc"),
    'Unknown letters "a", "b", "c" in date format "abc": use tokens yyyy yy MM M MMM dd d HH mm ss, e.g. "yyyy-MM-dd"',
  );
  assert.equal(
    checkDateFormat("--"),
    'Date format "--" has no year, month or day: use tokens yyyy yy MM M MMM dd d HH mm ss, e.g. "yyyy-MM-dd"',
  );
});

Deno.test("checkDateFormat() refuses letter runs that are no token", () => {
  assert.equal(
    checkDateFormat("yyy-MM-dd"),
    '"yyy" in date format "yyy-MM-dd" is not a token: use yyyy or yy',
  );
  assert.equal(
    checkDateFormat("dd MMMM yyyy"),
    '"MMMM" in date format "dd MMMM yyyy" is not a token: use MMM, MM or M',
  );
  assert.equal(
    checkDateFormat("yyyy-MM-dd H:mm"),
    '"H" in date format "yyyy-MM-dd H:mm" is not a token: use HH',
  );
});

Deno.test("checkDateFormat() refuses a format with a part twice or a part missing", () => {
  assert.equal(
    checkDateFormat("yyyy-MM-dd yyyy"),
    'Date format "yyyy-MM-dd yyyy" has the year more than once: use tokens yyyy yy MM M MMM dd d HH mm ss, e.g. "yyyy-MM-dd"',
  );
  assert.match(checkDateFormat("MM-dd")!, /^Date format "MM-dd" has no year: /);
  assert.match(checkDateFormat("yyyy-dd")!, /^Date format "yyyy-dd" has no month: /);
  assert.match(checkDateFormat("yyyy-MM-dd ss")!, /has seconds \(ss\) but no minutes \(mm\)/);
  assert.match(checkDateFormat("yyyy-MM-dd HH mm ss mm")!, /has the minute more than once/);
});

Deno.test("checkDateFormat() wants a separator after a one-or-two-digit token", () => {
  assert.equal(
    checkDateFormat("Mdyyyy"),
    'Date format "Mdyyyy" needs a separator after "M": it reads one or two digits',
  );
  assert.match(checkDateFormat("yyyyMMd1")!, /needs a separator after "d"/);
  assert.equal(checkDateFormat("yyyy-M-d"), undefined);
  assert.equal(checkDateFormat("dMMMyyyy"), undefined, "a month name is no digit");
});

Deno.test("compileDateFormat() refuses a format checkDateFormat refuses", () => {
  assert.throws(() => date("YYYY-MM-DD"), TypeError);
});

Deno.test("a date reads yyyy-MM-dd by default and returns it unchanged", () => {
  assert.equal(date().parse("2020-01-20"), "2020-01-20");
  assert.equal(date().parse("0001-12-31"), "0001-12-31");
  for (
    const bad of ["2020-1-20", "20-01-2020", "2020/01/20", "2020-01-20T00:00:00", " 2020-01-20", ""]
  ) {
    assert.equal(date().parse(bad), undefined, bad);
  }
});

Deno.test("a date in dd-MMM-yyyy reads month names case-insensitively", () => {
  const p = date("dd-MMM-yyyy");
  assert.equal(p.parse("20-Jan-2020"), "2020-01-20");
  assert.equal(p.parse("20-jan-2020"), "2020-01-20");
  assert.equal(p.parse("01-DEC-1999"), "1999-12-01");
  assert.equal(p.parse("20-Jun-2020"), "2020-06-20");
  assert.equal(p.parse("20-Jnu-2020"), undefined);
  assert.equal(p.parse("20-June-2020"), undefined);
  assert.equal(p.parse("20-Ja"), undefined);
});

Deno.test("a month name does not match non-ASCII letters that fold onto it", () => {
  // U+4A61 packed with shifts alone would collide with "an"; only ASCII may name a month.
  assert.equal(date("dd-MMM-yyyy").parse("20-\u0020\u4a61n-2020"), undefined);
  assert.equal(date("dd-MMM-yyyy").parse("20-J\u0101n-2020"), undefined);
});

Deno.test("a date in dd/MM/yyyy reads day before month", () => {
  assert.equal(date("dd/MM/yyyy").parse("05/01/2020"), "2020-01-05");
  assert.equal(date("dd/MM/yyyy").parse("5/1/2020"), undefined);
});

Deno.test("a date in M/d/yy takes one or two digits and the POSIX century", () => {
  const p = date("M/d/yy");
  assert.equal(p.parse("1/5/20"), "2020-01-05");
  assert.equal(p.parse("12/31/99"), "1999-12-31");
  assert.equal(p.parse("1/1/69"), "1969-01-01");
  assert.equal(p.parse("12/31/68"), "2068-12-31");
  assert.equal(p.parse("01/05/00"), "2000-01-05");
  assert.equal(p.parse("123/5/20"), undefined);
  assert.equal(p.parse("1/5/2020"), undefined);
  assert.equal(p.parse("/5/20"), undefined);
});

Deno.test("yy pivots at 69 as POSIX strptime does, for every two-digit year", () => {
  const p = date("yy-MM-dd");
  for (let v = 0; v < 100; v++) {
    const yy = String(v).padStart(2, "0");
    assert.equal(p.parse(`${yy}-06-15`), `${v >= 69 ? 19 : 20}${yy}-06-15`, yy);
  }
  assert.equal(datetime("dd/MM/yy HH:mm").parse("31/12/98 23:59"), "1998-12-31T23:59:00Z");
});

Deno.test("a date in yyyyMMdd reads fixed-width digits without separators", () => {
  assert.equal(date("yyyyMMdd").parse("20200120"), "2020-01-20");
  assert.equal(date("yyyyMMdd").parse("2020012"), undefined);
  assert.equal(date("yyyyMMdd").parse("202001201"), undefined);
});

Deno.test("a date's literal text must match exactly", () => {
  const p = date("MMM d, yyyy");
  assert.equal(p.parse("Jan 5, 2020"), "2020-01-05");
  assert.equal(p.parse("Jan 5 2020"), undefined);
  assert.equal(p.parse("Jan 5,  2020"), undefined);
});

Deno.test("a date with a time in its format checks the time and drops it", () => {
  const p = date("dd/MM/yyyy HH:mm");
  assert.equal(p.parse("20/01/2020 23:59"), "2020-01-20");
  assert.equal(p.parse("20/01/2020 24:00"), undefined);
  assert.equal(p.parse("20/01/2020 12:60"), undefined);
});

Deno.test("a date must exist in the calendar", () => {
  const p = date();
  assert.equal(p.parse("2020-02-29"), "2020-02-29");
  assert.equal(p.parse("2000-02-29"), "2000-02-29");
  for (
    const bad of [
      "2021-02-29",
      "1900-02-29",
      "2020-13-01",
      "2020-00-10",
      "2020-04-31",
      "2020-01-00",
      "2020-01-32",
      "0000-01-01",
    ]
  ) {
    assert.equal(p.parse(bad), undefined, bad);
  }
});

Deno.test("explain() says why a date was refused", () => {
  assert.equal(
    date().explain("20-jan-2020"),
    'cannot read "20-jan-2020" as a date in format "yyyy-MM-dd"',
  );
  assert.equal(
    date().explain("2021-02-29"),
    'cannot read "2021-02-29" as a date in format "yyyy-MM-dd": February 2021 has 28 days',
  );
  assert.equal(
    date("dd/MM/yyyy").explain("01/13/2020"),
    'cannot read "01/13/2020" as a date in format "dd/MM/yyyy": there is no month 13',
  );
  assert.equal(
    date().explain("0000-00-00"),
    'cannot read "0000-00-00" as a date in format "yyyy-MM-dd": there is no year 0',
  );
  assert.equal(
    date("yyyy-MM-dd HH:mm:ss").explain("2020-01-01 10:00:61"),
    'cannot read "2020-01-01 10:00:61" as a date in format "yyyy-MM-dd HH:mm:ss": there is no second 61',
  );
  assert.equal(
    datetime().explain("2020-01-20T24:00:00Z"),
    'cannot read "2020-01-20T24:00:00Z" as a datetime in ISO 8601 format: there is no hour 24',
  );
  assert.equal(
    datetime().explain("2020-01-20T10:00:00+25:00"),
    'cannot read "2020-01-20T10:00:00+25:00" as a datetime in ISO 8601 format: the UTC offset is out of range',
  );
  assert.match(date().explain("x".repeat(300)), /^cannot read "x{100}…" as a date/);
});

Deno.test("a datetime reads ISO 8601 and returns UTC without fraction", () => {
  const p = datetime();
  assert.equal(p.parse("2020-01-20T10:11:12Z"), "2020-01-20T10:11:12Z");
  assert.equal(p.parse("2020-01-20T10:11:12"), "2020-01-20T10:11:12Z");
  assert.equal(p.parse("2020-01-20t10:11:12z"), "2020-01-20T10:11:12Z");
  assert.equal(p.parse("2020-01-20 10:11:12"), "2020-01-20T10:11:12Z");
  assert.equal(p.parse("2020-01-20T10:11"), "2020-01-20T10:11:00Z");
  assert.equal(p.parse("2020-01-20T10:11:12.999Z"), "2020-01-20T10:11:12Z");
  assert.equal(p.parse("2020-01-20T10:11:12,5"), "2020-01-20T10:11:12Z");
  assert.equal(p.parse("2020-01-20"), "2020-01-20T00:00:00Z");
});

Deno.test("a datetime refuses what is not ISO 8601", () => {
  const p = datetime();
  for (
    const bad of [
      "2020-01-20T",
      "2020-01-20T10",
      "2020-01-20T10:1",
      "2020-01-20T10:11:1",
      "2020-01-20T10:11:12.",
      "2020-01-20T10:11:12+",
      "2020-01-20T10:11:12+1",
      "2020-01-20T10:11:12+01:",
      "2020-01-20T10:11:12 Z",
      "2020-01-20T10:11:12ZZ",
      "2020-01-20X10:11:12",
      "2020-01-20Z",
      "20/01/2020 10:11",
    ]
  ) {
    assert.equal(p.parse(bad), undefined, bad);
  }
});

Deno.test("a datetime with an offset is moved to UTC", () => {
  const p = datetime();
  assert.equal(p.parse("2020-01-20T10:00:00+02:00"), "2020-01-20T08:00:00Z");
  assert.equal(p.parse("2020-01-20T10:00:00-05:30"), "2020-01-20T15:30:00Z");
  assert.equal(p.parse("2020-01-20T10:00:00+0530"), "2020-01-20T04:30:00Z");
  assert.equal(p.parse("2020-01-20T10:00:00+05"), "2020-01-20T05:00:00Z");
  assert.equal(p.parse("2020-01-20T10:00:00+00:00"), "2020-01-20T10:00:00Z");
});

Deno.test("an offset can move a datetime across a day, month, year and leap day", () => {
  const p = datetime();
  assert.equal(p.parse("2020-01-01T01:00:00+02:00"), "2019-12-31T23:00:00Z");
  assert.equal(p.parse("2019-12-31T22:00:00-03:00"), "2020-01-01T01:00:00Z");
  assert.equal(p.parse("2020-03-01T00:30:00+01:00"), "2020-02-29T23:30:00Z");
  assert.equal(p.parse("2021-03-01T00:30:00+01:00"), "2021-02-28T23:30:00Z");
  assert.equal(p.parse("2020-02-28T23:30:00-01:00"), "2020-02-29T00:30:00Z");
  assert.equal(p.parse("2020-04-30T23:00:00-02:00"), "2020-05-01T01:00:00Z");
});

Deno.test("a datetime in a custom format may carry an offset after it", () => {
  const p = datetime("dd/MM/yyyy HH:mm");
  assert.equal(p.parse("20/01/2020 10:30"), "2020-01-20T10:30:00Z");
  assert.equal(p.parse("20/01/2020 10:30+01:00"), "2020-01-20T09:30:00Z");
  assert.equal(p.parse("20/01/2020 10:30 -0100"), "2020-01-20T11:30:00Z");
  assert.equal(p.parse("20/01/2020 10:30 Z"), "2020-01-20T10:30:00Z");
  assert.equal(p.parse("20/01/2020 10:30  Z"), undefined);
  assert.equal(p.parse("20/01/2020 10:30 UTC"), undefined);
  assert.equal(date("dd/MM/yyyy HH:mm").parse("20/01/2020 10:30Z"), undefined, "not for a date");
});

Deno.test("a datetime format without a time is midnight UTC", () => {
  assert.equal(datetime("dd-MMM-yyyy").parse("20-Jan-2020"), "2020-01-20T00:00:00Z");
});

Deno.test("isLeapYear() and daysInMonth() follow the Gregorian calendar", () => {
  assert.deepEqual([1900, 2000, 2020, 2021, 2400].map(isLeapYear), [
    false,
    true,
    true,
    false,
    true,
  ]);
  assert.deepEqual(
    Array.from({ length: 12 }, (_, i) => daysInMonth(2021, i + 1)),
    [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31],
  );
  assert.equal(daysInMonth(2024, 2), 29);
});

// --- properties --------------------------------------------------------------------------------

const MONTH_ABBR = [
  "Jan",
  "Feb",
  "Mar",
  "Apr",
  "May",
  "Jun",
  "Jul",
  "Aug",
  "Sep",
  "Oct",
  "Nov",
  "Dec",
];
const pad = (n: number, w: number) => String(n).padStart(w, "0");

/** A valid calendar date; years 1969..2068 (the `yy` window) so that every year token can print it. */
const validDate = fc
  .record({ y: fc.integer({ min: 1969, max: 2068 }), m: fc.integer({ min: 1, max: 12 }) })
  .chain(({ y, m }) =>
    fc.record({
      y: fc.constant(y),
      m: fc.constant(m),
      d: fc.integer({ min: 1, max: new Date(Date.UTC(y, m, 0)).getUTCDate() }),
    })
  );

/** A format: the three parts in some order, each in one of its tokens, with separators. */
const dateFormat = fc.record({
  order: fc.constantFrom(["y", "M", "d"], ["d", "M", "y"], ["M", "d", "y"], ["y", "d", "M"]),
  y: fc.constantFrom("yyyy", "yy"),
  M: fc.constantFrom("MM", "M", "MMM"),
  d: fc.constantFrom("dd", "d"),
  seps: fc.tuple(fc.constantFrom("-", "/", ".", " ", ", "), fc.constantFrom("-", "/", ".", " ")),
}).map(({ order, seps, ...tokens }) =>
  order.map((part) => tokens[part as "y" | "M" | "d"] as string).reduce((acc, t, i) =>
    acc + seps[i - 1] + t
  )
);

/** Prints a date in a format the way a spreadsheet would, independently of the parser. */
function print(format: string, y: number, m: number, d: number): string {
  return format.replace(/yyyy|yy|MMM|MM|M|dd|d/g, (t) =>
    ({
      yyyy: pad(y, 4),
      yy: pad(y % 100, 2),
      MMM: MONTH_ABBR[m - 1]!,
      MM: pad(m, 2),
      M: String(m),
      dd: pad(d, 2),
      d: String(d),
    })[t]!);
}

Deno.test("any valid date printed in any format reads back as the same ISO date", () => {
  fc.assert(
    fc.property(validDate, dateFormat, ({ y, m, d }, format) => {
      assert.equal(checkDateFormat(format), undefined, format);
      const text = print(format, y, m, d);
      assert.equal(date(format).parse(text), `${pad(y, 4)}-${pad(m, 2)}-${pad(d, 2)}`, text);
    }),
    { numRuns: 2000 },
  );
});

Deno.test("any date of years 1..9999 in yyyy-MM-dd is valid exactly when Date agrees", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 100, max: 9999 }),
      fc.integer({ min: 0, max: 13 }),
      fc.integer({ min: 0, max: 32 }),
      (y, m, d) => {
        const text = `${pad(y, 4)}-${pad(m, 2)}-${pad(d, 2)}`;
        const js = new Date(Date.UTC(y, m - 1, d));
        const real = m >= 1 && m <= 12 && d >= 1 && js.getUTCMonth() === m - 1 &&
          js.getUTCDate() === d;
        assert.equal(date().parse(text), real ? text : undefined, text);
      },
    ),
    { numRuns: 2000 },
  );
});

Deno.test("any datetime with an offset reads as the instant Date computes", () => {
  fc.assert(
    fc.property(
      fc.date({
        min: new Date("0100-01-02T00:00:00Z"),
        max: new Date("9999-12-30T00:00:00Z"),
        noInvalidDate: true,
      }),
      fc.integer({ min: -23 * 60 - 59, max: 23 * 60 + 59 }),
      (instant, offset) => {
        const t = Math.floor(instant.getTime() / 1000) * 1000;
        const local = new Date(t + offset * 60_000).toISOString().slice(0, 19);
        const sign = offset < 0 ? "-" : "+";
        const abs = Math.abs(offset);
        const text = `${local}${sign}${pad(Math.floor(abs / 60), 2)}:${pad(abs % 60, 2)}`;
        assert.equal(datetime().parse(text), new Date(t).toISOString().slice(0, 19) + "Z", text);
      },
    ),
    { numRuns: 2000 },
  );
});
