import assert from "node:assert/strict";
import { typerFor } from "./_types.ts";
import { INVALID } from "./_types.ts";
import { zonedDateTime } from "./_zone.ts";

const paris = () => zonedDateTime(typerFor("datetime", "yyyy-MM-dd HH:mm")!, "Europe/Paris");

Deno.test("zonedDateTime() reads a time without an offset in the zone", () => {
  assert.equal(paris().coerce("2024-01-15 10:00"), "2024-01-15T09:00:00Z");
  assert.equal(paris().coerce("2024-07-15 10:00"), "2024-07-15T08:00:00Z");
});

Deno.test("zonedDateTime() keeps a value's own offset", () => {
  assert.equal(paris().coerce("2024-01-15 10:00+05:00"), "2024-01-15T05:00:00Z");
  assert.equal(paris().coerce("2024-01-15 10:00Z"), "2024-01-15T10:00:00Z");
});

Deno.test("zonedDateTime() refuses a time in the spring-forward gap, saying why", () => {
  const t = paris();
  assert.equal(t.coerce("2024-03-31 02:30"), INVALID);
  assert.match(t.explain("2024-03-31 02:30"), /does not exist in time zone "Europe\/Paris"/);
});

Deno.test("zonedDateTime() refuses a time in the fall-back overlap, naming both offsets", () => {
  const t = paris();
  assert.equal(t.coerce("2024-10-27 02:30"), INVALID);
  assert.match(t.explain("2024-10-27 02:30"), /happens twice .* \+02:00 or \+01:00/);
});

Deno.test("zonedDateTime() reads ISO 8601 without an offset in a zone west of UTC", () => {
  const t = zonedDateTime(typerFor("datetime")!, "America/New_York");
  assert.equal(t.coerce("2024-01-15T10:00:00"), "2024-01-15T15:00:00Z");
});
