/**
 * Time zones for datetimes written without a UTC offset: the wall-clock time is read in an IANA
 * zone (`timezone: Europe/Paris`) with the runtime's Intl data. A time that does not exist there
 * (the gap when clocks go forward) or exists twice (the overlap when they go back) is refused
 * with a message rather than guessed.
 *
 * @module
 */
import { INVALID, type Typer } from "./_types.ts";

const HOUR = 3_600_000;

/** The zone's offset from UTC, in milliseconds, at an instant. */
export function zoneOffset(fmt: Intl.DateTimeFormat, instant: number): number {
  let y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  for (const p of fmt.formatToParts(instant)) {
    const n = Number(p.value);
    if (p.type === "year") y = n;
    else if (p.type === "month") mo = n;
    else if (p.type === "day") d = n;
    else if (p.type === "hour") h = n % 24;
    else if (p.type === "minute") mi = n;
    else if (p.type === "second") s = n;
  }
  const wall = Date.UTC(y, mo - 1, d, h, mi, s);
  return wall - (instant - (((instant % 1000) + 1000) % 1000));
}

/** A formatter that gives a zone's wall-clock parts. */
export function zoneFormat(timeZone: string): Intl.DateTimeFormat {
  return new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "numeric",
    day: "numeric",
    hour: "numeric",
    minute: "numeric",
    second: "numeric",
  });
}

/** The instants a wall-clock time (as UTC milliseconds) names in a zone: none, one or two. */
export function wallToInstants(fmt: Intl.DateTimeFormat, wall: number): number[] {
  // Offsets change at most once within a day around any instant that matters here.
  const offsets = new Set([zoneOffset(fmt, wall - 24 * HOUR), zoneOffset(fmt, wall + 24 * HOUR)]);
  const out: number[] = [];
  for (const o of offsets) {
    const instant = wall - o;
    if (zoneOffset(fmt, instant) === o && !out.includes(instant)) out.push(instant);
  }
  return out.sort((a, b) => a - b);
}

function iso(ms: number, keepMillis: boolean): string {
  const t = new Date(ms).toISOString();
  return keepMillis ? t : t.replace(/\.\d{3}Z$/, "Z");
}

/**
 * Wraps a datetime type so that values without an offset are read in `timeZone`. Whether a value
 * had an offset is told by the base type itself: a value without one still parses with `Z`
 * appended, one with an offset does not.
 */
export function zonedDateTime(base: Typer, timeZone: string): Typer {
  const fmt = zoneFormat(timeZone);
  const why = new Map<string, string>();
  const read = (v: unknown): ReturnType<Typer["coerce"]> => {
    const r = base.coerce(v);
    if (r === INVALID || typeof r !== "string") return r;
    const text = typeof v === "number" ? String(v) : String(v).trim();
    if (base.coerce(text + "Z") === INVALID) return r; // it carried its own offset
    const wall = Date.parse(r);
    if (Number.isNaN(wall)) return r;
    const at = wallToInstants(fmt, wall);
    if (at.length === 1) return iso(at[0]!, r.includes("."));
    why.clear(); // keeps only the latest explanation: errors are explained right after
    why.set(
      text,
      at.length === 0
        ? `${
          JSON.stringify(text)
        } does not exist in time zone "${timeZone}" (the clocks skip it when daylight saving time starts): give the time with its UTC offset`
        : `${
          JSON.stringify(text)
        } happens twice in time zone "${timeZone}" (daylight saving time ends): give the time with its UTC offset, ${
          at.map((ms) => offsetText(fmt, ms)).join(" or ")
        }`,
    );
    return INVALID;
  };
  return {
    coerce: read,
    explain(v) {
      const text = typeof v === "number" ? String(v) : String(v ?? "").trim();
      return why.get(text) ?? base.explain(v);
    },
  };
}

function offsetText(fmt: Intl.DateTimeFormat, instant: number): string {
  const m = Math.round(zoneOffset(fmt, instant) / 60000);
  const a = Math.abs(m);
  return `${m < 0 ? "-" : "+"}${String(Math.floor(a / 60)).padStart(2, "0")}:${
    String(a % 60).padStart(2, "0")
  }`;
}
