/**
 * HTTP plumbing shared by the targets: timeouts, retries that cannot duplicate data, JSON
 * reading that never mistakes garbage for an answer, and cached access tokens.
 *
 * @module
 */
import { HttpError, TransportError } from "../errors.ts";
import type { RequestInfo, TargetContext } from "./types.ts";

/** How a request may be retried. */
export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
  /** First backoff; doubles each retry, with full jitter. */
  baseDelayMs: number;
  maxDelayMs: number;
}

/** The retry budget when the pipeline sets none. */
export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 500, maxDelayMs: 30_000 };

/** One request to send: which of the target's requests it is, and its URL, headers and body. */
export interface RequestSpec {
  /**
   * The request as the target lists it in `requests()`: its method, and whether it is safe to
   * repeat. Safe requests (reads, token grants) retry on connection errors, timeouts, 5xx and 429.
   * The others (uploads, job creation) retry only when the request provably did not reach the
   * server (connection refused) or the server said it did not process it (429, 503 with
   * Retry-After): a blind resend could load every row twice.
   */
  request: RequestInfo;
  url: string;
  headers?: Record<string, string>;
  /**
   * The body, or a function that builds it for each attempt: a stream body (a batch serialised
   * as the connection takes it) can be read once, so a retry needs a new one.
   */
  body?: BodyInit | (() => BodyInit);
  /** Label used in messages, e.g. `upload batch 3` (never the URL's query, which may hold ids). */
  what: string;
  timeoutMs: number;
}

/** Sleeps, unless the signal aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Parses `Retry-After` (seconds or an HTTP date) into milliseconds. */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const secs = Number(value);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function backoff(policy: RetryPolicy, attempt: number): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  return Math.random() * cap;
}

/** True when a fetch error shows the request never left (nothing can have been processed). */
function neverSent(err: unknown): boolean {
  const text = `${err instanceof Error ? `${err.name} ${err.message}` : String(err)} ${
    err instanceof Error && err.cause ? String(err.cause) : ""
  }`;
  return /ConnectionRefused|ECONNREFUSED|Connection refused|dns error|failed to lookup|Name or service not known|NotFound/i
    .test(text);
}

/**
 * Sends a request with a timeout and the retries its `request.safeToRepeat` allows.
 *
 * @returns the first response that is not retried (any status: callers decide what it means)
 * @throws {TransportError} when the server could not be reached or did not answer in time
 */
export async function send(
  ctx: TargetContext,
  spec: RequestSpec,
  policy: RetryPolicy = ctx.retry ?? DEFAULT_RETRY,
): Promise<Response> {
  const safe = spec.request.safeToRepeat;
  for (let attempt = 0;; attempt++) {
    const last = attempt + 1 >= policy.attempts;
    const timeout = AbortSignal.timeout(spec.timeoutMs);
    const signal = ctx.signal ? AbortSignal.any([ctx.signal, timeout]) : timeout;
    let res: Response;
    try {
      const doFetch = safe ? ctx.fetch : ctx.fetchOnce ?? ctx.fetch;
      res = await doFetch(spec.url, {
        method: spec.request.method,
        headers: spec.headers,
        body: typeof spec.body === "function" ? spec.body() : spec.body,
        signal,
      });
    } catch (err) {
      if (ctx.signal?.aborted) throw err;
      const timedOut = timeout.aborted;
      const retryable = safe || (!timedOut && neverSent(err));
      const why = timedOut
        ? `no answer within ${spec.timeoutMs} ms`
        : err instanceof Error
        ? err.message
        : String(err);
      if (!retryable || last) {
        throw new TransportError(
          `Cannot ${spec.what}: ${why}${retryable ? ` (after ${attempt + 1} attempts)` : ""}${
            !safe && !retryable ? "; not resent, since the server may have received it" : ""
          }`,
          !neverSent(err),
          { cause: err },
        );
      }
      const wait = backoff(policy, attempt);
      ctx.log(`Retrying ${spec.what} in ${Math.round(wait)} ms: ${why}`);
      await sleep(wait, ctx.signal);
      continue;
    }
    const after = retryAfterMs(res.headers.get("retry-after"));
    const retryable = res.status === 429 || (res.status === 503 && after !== undefined) ||
      (safe && res.status >= 500);
    if (!retryable || last) return res;
    await res.body?.cancel();
    const wait = Math.min(policy.maxDelayMs, after ?? backoff(policy, attempt));
    ctx.log(`Retrying ${spec.what} in ${Math.round(wait)} ms: HTTP ${res.status}`);
    await sleep(wait, ctx.signal);
  }
}

/** The largest answer body the runner reads (status answers with many errors can be large). */
const MAX_BODY_BYTES = 256 * 1024 * 1024;

/** Reads a body, refusing more than `max` bytes whatever the headers say (or do not say). */
export async function readBytes(res: Response, max: number, what: string): Promise<Uint8Array> {
  const declared = Number(res.headers.get("content-length") ?? "0");
  if (declared > max) {
    await res.body?.cancel();
    throw new HttpError(
      "transport",
      res.status,
      `Cannot ${what}: ${declared} bytes is over the limit of ${max}`,
    );
  }
  if (!res.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of res.body) {
    total += chunk.length;
    if (total > max) {
      throw new HttpError("transport", res.status, `Cannot ${what}: more than ${max} bytes`);
    }
    chunks.push(chunk);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * Reads a response body as JSON, at most `MAX_BODY_BYTES` of it.
 *
 * @throws {HttpError} `transport` when the body is too large or not JSON
 */
export async function readJson(res: Response, what: string): Promise<unknown> {
  const text = new TextDecoder().decode(await readBytes(res, MAX_BODY_BYTES, what));
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(
      "transport",
      res.status,
      `Cannot ${what}: HTTP ${res.status} answer is not JSON: ${
        JSON.stringify(text.slice(0, 200))
      }`,
    );
  }
}

/** A short, safe description of an error answer body for messages. */
export function describeBody(body: unknown): string {
  if (body === null || body === undefined) return "";
  if (typeof body === "string") return body.slice(0, 300);
  const o = body as Record<string, unknown>;
  const parts = [o.code, o.error, o.message, o.status_msg].filter((x) => typeof x === "string");
  return parts.length > 0 ? parts.join(": ") : JSON.stringify(body).slice(0, 300);
}

/** Gets an access token and keeps it until it expires or is refused. */
export class TokenCache {
  #token: string | undefined;
  #expiresAt = 0;
  #pending: Promise<string> | undefined;
  readonly #grant: () => Promise<{ token: string; expiresInMs?: number }>;

  /** @param grant fetches a new token (called at most once at a time) */
  constructor(grant: () => Promise<{ token: string; expiresInMs?: number }>) {
    this.#grant = grant;
  }

  /** A valid token, fetched when there is none or it is about to expire. */
  get(): Promise<string> {
    if (this.#token !== undefined && Date.now() < this.#expiresAt) {
      return Promise.resolve(this.#token);
    }
    this.#pending ??= this.#grant().then(({ token, expiresInMs }) => {
      this.#token = token;
      // Refresh a minute early so a token never expires mid-request.
      this.#expiresAt = Date.now() + Math.max(0, (expiresInMs ?? 3_600_000) - 60_000);
      return token;
    }).finally(() => (this.#pending = undefined));
    return this.#pending;
  }

  /** Forgets the token the API refused, so the next `get()` fetches another. */
  invalidate(token: string): void {
    if (this.#token === token) {
      this.#token = undefined;
      this.#expiresAt = 0;
    }
  }
}

/**
 * A fetch that opens a new connection for every request, so the runtime never replays an
 * upload on a fresh connection after a reused one dropped (which would load its rows twice).
 * Close the returned client when the run ends.
 */
export function createFetchOnce(): { fetch: typeof fetch; close: () => void } {
  const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
  return {
    fetch: (input, init) => fetch(input, { ...init, client }),
    close: () => client.close(),
  };
}
