/**
 * One request of a described API: fill its templates, add the token, send it with the retries
 * its `safe_to_repeat` allows, repeat it once with a new token when the API says the token
 * expired, check its success rule and take the declared values from the answer.
 *
 * @module
 */
import { HttpError, RunnerError } from "../../errors.ts";
import { describeBody, readBytes, send } from "../_http.ts";
import type { Auth } from "./_auth.ts";
import { type BuiltBody } from "./_body.ts";
import type { TargetContext } from "../types.ts";
import { atPointer, bodyMatches, render, renderHeader, type Scope } from "./_template.ts";
import type { RequestDecl } from "./schema.ts";

/** Largest answer read (result files included). */
export const MAX_ANSWER_BYTES = 256 * 1024 * 1024;

/** An answer that passed the request's success rule. */
export interface Answer {
  status: number;
  bytes: Uint8Array;
  /** The body as JSON, or `undefined` when it is not JSON. */
  json: unknown;
  /** The declared `take` values. */
  taken: Record<string, unknown>;
}

/** What a call needs besides the request itself. */
export interface CallEnv {
  title: string;
  auth: Auth | undefined;
  headers: Record<string, string>;
  timeoutMs: number;
}

/**
 * The answer as JSON, when it is an object or an array (what `take`, `success.body` and errors
 * read). Other answers are not decoded here: a result file of megabytes of CSV made a string of
 * the whole file (a large object, kept until a full collection) and a failed parse, per file.
 */
function parse(bytes: Uint8Array): unknown {
  let i = 0;
  // JSON's whitespace, and a UTF-8 byte-order mark.
  while (
    i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x09 || bytes[i] === 0x0a ||
      bytes[i] === 0x0d || bytes[i] === 0xef || bytes[i] === 0xbb || bytes[i] === 0xbf)
  ) i++;
  if (bytes[i] !== 0x7b && bytes[i] !== 0x5b) return undefined;
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return undefined;
  }
}

function take(decl: RequestDecl, res: Response, json: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, src] of Object.entries(decl.take ?? {})) {
    const v = src === "status"
      ? res.status
      : src.startsWith("header:")
      ? res.headers.get(src.slice("header:".length)) ?? undefined
      : atPointer(json, src);
    // Only JSON-safe scalars: taken values are journaled.
    if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") out[name] = v;
  }
  return out;
}

/**
 * Sends one declared request.
 *
 * @param what label for messages, e.g. `create the job of batch 2`
 * @throws {HttpError} when the answer fails the success rule (`auth` for 401/403)
 * @throws {TransportError} as `send` does
 */
export async function call(
  env: CallEnv,
  ctx: TargetContext,
  decl: RequestDecl,
  scope: Scope,
  what: string,
  body?: BuiltBody,
): Promise<Answer> {
  const url = render(decl.url, scope, true);
  for (let attempt = 0;; attempt++) {
    const headers: Record<string, string> = { ...env.headers };
    let token: string | undefined;
    if (env.auth) {
      const h = await env.auth.header(ctx);
      headers[h.name] = h.value;
      token = h.token;
    }
    if (body?.contentType) headers["content-type"] = body.contentType;
    for (const [k, v] of Object.entries(decl.headers ?? {})) {
      const h = renderHeader(v, { ...scope, ...(token !== undefined ? { token } : {}) });
      if (h !== undefined) headers[k] = h;
    }
    const res = await send(ctx, {
      request: {
        name: what,
        method: decl.method,
        when: "per_batch",
        safeToRepeat: decl.safe_to_repeat,
        detail: "",
      },
      url,
      headers,
      ...(body ? { body: body.body } : {}),
      what,
      timeoutMs: env.timeoutMs,
    });
    const bytes = await readBytes(res, MAX_ANSWER_BYTES, what);
    const json = parse(bytes);
    if (env.auth && token !== undefined && env.auth.expired(res.status, json) && attempt === 0) {
      // An expired-token answer means the request was refused unprocessed: repeating it is safe.
      if (env.auth.renew(token)) {
        ctx.log(`${env.title} says the access token expired; getting a new one`);
        continue;
      }
    }
    const okStatus = decl.success?.status
      ? decl.success.status.includes(res.status)
      : res.status >= 200 && res.status < 300;
    if (!okStatus || !bodyMatches(json, decl.success?.body)) {
      const detail = json !== undefined
        ? describeBody(json)
        : new TextDecoder().decode(bytes.subarray(0, 200));
      throw new HttpError(
        res.status === 401 || res.status === 403 ? "auth" : res.status >= 500 ? "transport" : "api",
        res.status,
        `${env.title} refused to ${what}: HTTP ${res.status}${detail ? ` ${detail}` : ""}`,
      );
    }
    return { status: res.status, bytes, json, taken: take(decl, res, json) };
  }
}

/** A taken value that must be there (the job id). */
export function required(taken: Record<string, unknown>, name: string, what: string): string {
  const v = taken[name];
  if (v === undefined || v === "") {
    throw new RunnerError("transport", `The answer to ${what} has no "${name}"`);
  }
  return String(v);
}
