/**
 * HTTP plumbing shared by the targets: timeouts, retries that cannot duplicate data, JSON
 * reading that never mistakes garbage for an answer, and cached access tokens.
 *
 * @module
 */
import { HttpError, RunnerError, TransportError } from "../errors.ts";
import { formatDuration } from "../util/format.ts";
import type { RequestInfo, TargetContext } from "./types.ts";
import { sleep } from "../util/sleep.ts";
import { concatBytes, freeBytes } from "../util/bytes.ts";

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
        // Never follow a redirect: following one re-sends the body and its credentials to
        // whatever host the answer names.
        redirect: "manual",
      });
    } catch (err) {
      if (ctx.signal?.aborted) throw err;
      const timedOut = timeout.aborted;
      const retryable = safe || (!timedOut && neverSent(err));
      const why = timedOut
        ? `no answer within ${formatDuration(spec.timeoutMs)}`
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
    if (res.status >= 300 && res.status < 400) throw await redirected(res, spec);
    const after = retryAfterMs(res.headers.get("retry-after"));
    const retryable = res.status === 429 || (res.status === 503 && after !== undefined) ||
      (safe && res.status >= 500);
    if (!retryable || last) return guardBody(res, spec, timeout, ctx.signal);
    await res.body?.cancel();
    const wait = Math.min(policy.maxDelayMs, after ?? backoff(policy, attempt));
    ctx.log(`Retrying ${spec.what} in ${Math.round(wait)} ms: HTTP ${res.status}`);
    await sleep(wait, ctx.signal);
  }
}

/**
 * Runs a whole exchange (send, then read the answer) again while it fails with a `transport`
 * error, under the retry policy — only for a request safe to repeat. `send` retries what it sees
 * in the status line; this covers what only the body shows: an answer that stalls or breaks off,
 * a 2xx without the expected id, Zoho's HTTP 200 `INTERNAL_ERROR`.
 */
export async function repeatSafe<T>(
  ctx: TargetContext,
  request: RequestInfo,
  what: string,
  exchange: () => Promise<T>,
): Promise<T> {
  if (!request.safeToRepeat) return await exchange();
  const policy = ctx.retry ?? DEFAULT_RETRY;
  for (let attempt = 0;; attempt++) {
    try {
      return await exchange();
    } catch (err) {
      const again = err instanceof RunnerError && err.code === "transport" &&
        // A 5xx was already retried by `send`, with the whole budget.
        !(err instanceof HttpError && err.status >= 500);
      if (ctx.signal?.aborted || !again || attempt + 1 >= policy.attempts) throw err;
      const wait = backoff(policy, attempt);
      ctx.log(`Retrying ${what} in ${Math.round(wait)} ms: ${err.message}`);
      await sleep(wait, ctx.signal);
    }
  }
}

/**
 * The error for a 3xx answer. A redirect is the server's answer, not a lost one: the server
 * that sent it did not take the request in (it points elsewhere instead), so nothing was
 * processed — a refusal, even for a request that is not safe to repeat. It is never followed,
 * so the body and the credentials stay with the configured host.
 */
async function redirected(res: Response, spec: RequestSpec): Promise<HttpError> {
  await res.body?.cancel();
  const location = res.headers.get("location");
  return new HttpError(
    "api",
    res.status,
    `Cannot ${spec.what}: the server redirected it (HTTP ${res.status}) to ${
      location === null ? "no Location" : `"${location.slice(0, 300)}"`
    }; redirects are not followed, so check the target's base_url`,
  );
}

/**
 * The response with a body whose failures name the request: a body that stalls past the
 * request's timeout or breaks off becomes a `TransportError` that may have been delivered (the
 * server answered, so it had the request), rather than the runtime's anonymous abort.
 */
function guardBody(
  res: Response,
  spec: RequestSpec,
  timeout: AbortSignal,
  runSignal: AbortSignal | undefined,
): Response {
  if (!res.body || [101, 204, 205, 304].includes(res.status)) return res;
  const reader = res.body.getReader();
  let received = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) return controller.close();
        received += value.length;
        controller.enqueue(value);
      } catch (err) {
        if (runSignal?.aborted) return controller.error(err);
        const why = timeout.aborted
          ? `the HTTP ${res.status} answer did not finish within ${formatDuration(spec.timeoutMs)}`
          : `the HTTP ${res.status} answer broke off after ${received} bytes: ${
            err instanceof Error ? err.message : String(err)
          }`;
        controller.error(new TransportError(`Cannot ${spec.what}: ${why}`, true, { cause: err }));
      }
    },
    cancel: (reason) => reader.cancel(reason),
  });
  return new Response(body, {
    status: res.status,
    statusText: res.statusText,
    headers: res.headers,
  });
}

/** The largest answer body the runner reads by default (result files have their own caps). */
const MAX_BODY_BYTES = 256 * 1024 * 1024;

/**
 * The largest answer to a status check, an upload or a job creation: small JSON documents, read
 * on every poll, so a runaway answer must not hold hundreds of MB.
 */
export const MAX_ANSWER_BYTES = 8 * 1024 * 1024;

/** `8 MiB`, `512 KiB`, `100 bytes`. */
function size(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / 1024 / 1024} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}

/**
 * Reads a body, refusing more than `max` bytes whatever the headers say (or do not say).
 *
 * @throws {HttpError} `transport` when the body is over `max`, naming the request and the cap
 * @throws {TransportError} when the body stalls or breaks off (see `send`)
 */
export async function readBytes(res: Response, max: number, what: string): Promise<Uint8Array> {
  const over = () =>
    new HttpError(
      "transport",
      res.status,
      `Cannot ${what}: the HTTP ${res.status} answer is over the limit of ${size(max)}`,
    );
  const declared = Number(res.headers.get("content-length") ?? "0");
  if (declared > max) {
    await res.body?.cancel();
    throw over();
  }
  if (!res.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of res.body) {
    total += chunk.length;
    if (total > max) throw over();
    chunks.push(chunk);
  }
  const whole = concatBytes(chunks);
  // The pieces are copied: their memory goes back now, not at the next full collection.
  if (chunks.length > 1) { for (const c of chunks) freeBytes(c); }
  return whole;
}

/**
 * Reads a response body as JSON, at most `max` bytes of it.
 *
 * @param max the cap (default 256 MiB; status and submit answers use `MAX_ANSWER_BYTES`)
 * @throws {HttpError} `transport` when the body is too large or not JSON
 * @throws {TransportError} when the body stalls or breaks off (see `send`)
 */
export async function readJson(
  res: Response,
  what: string,
  max: number = MAX_BODY_BYTES,
): Promise<unknown> {
  const text = new TextDecoder().decode(await readBytes(res, max, what));
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
