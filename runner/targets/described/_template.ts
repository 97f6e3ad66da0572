/**
 * Templates (`{params.x}`, `{job.x}`, `{batch.x}`, `{token}`) and JSON pointers, the two small
 * languages inside a description file.
 *
 * @module
 */
import { RunnerError } from "../../errors.ts";

/** A placeholder in a template: `{params.instance_url}` is scope `params`, name `instance_url`. */
export const PLACEHOLDER = /\{(?:(params|job|batch)\.([A-Za-z_][A-Za-z0-9_]*)|(token))\}/g;

/** The values a template may use. */
export interface Scope {
  params: Record<string, unknown>;
  job: Record<string, unknown>;
  batch?: { index: number; number: number; size: number; key: string };
  token?: string;
}

/** Every placeholder of a template, as `[scope, name]` (`["token", ""]` for `{token}`). */
export function placeholders(text: string): [string, string][] {
  return [...text.matchAll(PLACEHOLDER)].map((m) => m[3] ? ["token", ""] : [m[1]!, m[2]!]);
}

function lookup(scope: Scope, kind: string, name: string): unknown {
  if (kind === "token") return scope.token;
  if (kind === "batch") return scope.batch?.[name as keyof NonNullable<Scope["batch"]>];
  return (kind === "params" ? scope.params : scope.job)[name];
}

/**
 * Fills a template. Unset values are an error, except where `missing` is given.
 *
 * @param encode percent-encodes values (URLs), except one at the very start (a base URL) and a
 *   `{job.x}` path (starting with `/`) taken from an answer
 * @throws {RunnerError} `internal` naming the placeholder when a value is unset
 */
export function render(text: string, scope: Scope, encode = false): string {
  return text.replace(PLACEHOLDER, (whole, kind, name, token, at: number) => {
    const v = lookup(scope, token ? "token" : kind, name);
    if (v === undefined || v === null) {
      throw new RunnerError("api", `Cannot fill ${whole}: no value is known for it`);
    }
    const s = String(v);
    // A path the API gave (a download URL's path) is inserted as it is.
    const path = kind === "job" && s.startsWith("/");
    return encode && at > 0 && !path ? encodeURIComponent(s) : s;
  });
}

/**
 * Fills a template for display: secret params and unknown job values show as `<name>`.
 *
 * @param secrets names of secret params
 */
export function renderForDisplay(
  text: string,
  params: Record<string, unknown>,
  secrets: ReadonlySet<string>,
): string {
  return text.replace(PLACEHOLDER, (_whole, kind, name, token) => {
    if (token) return "<token>";
    if (kind === "params" && !secrets.has(name) && params[name] !== undefined) {
      return String(params[name]);
    }
    return kind === "params" ? (secrets.has(name) ? "<secret>" : "") : `<${kind}.${name}>`;
  });
}

const EXACT = new RegExp(`^${PLACEHOLDER.source}$`);

/** A marker for "leave this key out" (a JSON template value that is an unset param). */
const OMIT = Symbol("omit");

function fillJson(value: unknown, scope: Scope): unknown {
  if (typeof value === "string") {
    const m = EXACT.exec(value);
    if (m) {
      const v = lookup(scope, m[3] ? "token" : m[1]!, m[2] ?? "");
      // An optional param left unset drops its key, so one template fits every operation.
      if (v === undefined && m[1] === "params") return OMIT;
      if (v === undefined) return render(value, scope);
      return v;
    }
    return render(value, scope);
  }
  if (Array.isArray(value)) return value.map((v) => fillJson(v, scope)).filter((v) => v !== OMIT);
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const f = fillJson(v, scope);
      if (f !== OMIT) out[k] = f;
    }
    return out;
  }
  return value;
}

/** Fills a header template; a header that is exactly one unset param is left out. */
export function renderHeader(text: string, scope: Scope): string | undefined {
  const m = EXACT.exec(text);
  if (m && m[1] === "params" && scope.params[m[2]!] === undefined) return undefined;
  return render(text, scope);
}

/** Fills a JSON body template; a string that is exactly one placeholder keeps the value's type. */
export function renderJson(value: unknown, scope: Scope): unknown {
  const out = fillJson(value, scope);
  return out === OMIT ? null : out;
}

/**
 * Reads the value at a JSON pointer (RFC 6901); `""` is the whole document.
 *
 * @returns the value, or `undefined` when the path is not there
 */
export function atPointer(doc: unknown, pointer: string): unknown {
  if (pointer === "") return doc;
  let node = doc;
  for (const raw of pointer.slice(1).split("/")) {
    const key = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    if (Array.isArray(node)) node = /^\d+$/.test(key) ? node[Number(key)] : undefined;
    else if (node && typeof node === "object") node = (node as Record<string, unknown>)[key];
    else return undefined;
  }
  return node;
}

/** Whether a body holds every `pointer -> value` of `expected` (compared as text). */
export function bodyMatches(body: unknown, expected: Record<string, unknown> | undefined): boolean {
  if (!expected) return true;
  return Object.entries(expected).every(([p, v]) => {
    const got = atPointer(body, p);
    return got !== undefined && got !== null && String(got) === String(v);
  });
}
