import assert from "node:assert/strict";
import { HttpError, TransportError } from "../errors.ts";
import { readJson, retryAfterMs, send, TokenCache } from "./_http.ts";
import type { RequestInfo, TargetContext } from "./types.ts";

const SAFE: RequestInfo = {
  name: "status",
  method: "GET",
  when: "per_poll",
  safeToRepeat: true,
  detail: "GET /status",
};
const UNSAFE: RequestInfo = {
  name: "upload",
  method: "POST",
  when: "per_batch",
  safeToRepeat: false,
  detail: "POST /upload",
};

/** A context whose fetch answers from `answers` in turn (a function throws instead). */
function ctx(answers: (() => Response)[]) {
  let calls = 0;
  const logs: string[] = [];
  const c: TargetContext = {
    fetch: () => {
      const a = answers[Math.min(calls++, answers.length - 1)]!;
      try {
        return Promise.resolve(a());
      } catch (err) {
        return Promise.reject(err);
      }
    },
    retry: { attempts: 3, baseDelayMs: 0, maxDelayMs: 0 },
    log: (m) => logs.push(m),
  };
  return { c, calls: () => calls, logs };
}

const spec = (request: RequestInfo) => ({
  request,
  url: "http://127.0.0.1:1/x",
  what: `send ${request.name}`,
  timeoutMs: 1000,
});
const status = (code: number, headers: Record<string, string> = {}) => () =>
  new Response("{}", { status: code, headers });
const reset = () => {
  throw new TypeError("error sending request: connection reset by peer");
};
const refused = () => {
  throw new TypeError("error trying to connect: Connection refused (os error 111)");
};

Deno.test("send() retries a safe request on 5xx until it succeeds", async () => {
  const f = ctx([status(500), status(502), status(200)]);
  const res = await send(f.c, spec(SAFE));
  assert.equal(res.status, 200);
  assert.equal(f.calls(), 3);
});

Deno.test("send() never resends an unsafe request answered 5xx", async () => {
  const f = ctx([status(500), status(200)]);
  const res = await send(f.c, spec(UNSAFE));
  assert.equal(res.status, 500);
  assert.equal(f.calls(), 1);
});

Deno.test("send() resends any request refused with 429, and 503 with Retry-After", async () => {
  for (const request of [SAFE, UNSAFE]) {
    const f = ctx([status(429), status(503, { "retry-after": "0" }), status(200)]);
    assert.equal((await send(f.c, spec(request))).status, 200);
    assert.equal(f.calls(), 3, request.name);
  }
});

Deno.test("send() does not resend an unsafe request answered 503 without Retry-After", async () => {
  const f = ctx([status(503), status(200)]);
  assert.equal((await send(f.c, spec(UNSAFE))).status, 503);
  assert.equal(f.calls(), 1);
});

Deno.test("send() gives up after the configured attempts and returns the last answer", async () => {
  const f = ctx([status(500)]);
  assert.equal((await send(f.c, spec(SAFE))).status, 500);
  assert.equal(f.calls(), 3);
});

Deno.test("send() retries a safe request after a reset connection", async () => {
  const f = ctx([reset, status(200)]);
  assert.equal((await send(f.c, spec(SAFE))).status, 200);
  assert.equal(f.calls(), 2);
});

Deno.test("send() reports an unsafe request whose connection reset as possibly delivered", async () => {
  const f = ctx([reset, status(200)]);
  await assert.rejects(
    () => send(f.c, spec(UNSAFE)),
    (err) =>
      err instanceof TransportError && err.maybeDelivered &&
      /not resent, since the server may have received it/.test(err.message),
  );
  assert.equal(f.calls(), 1);
});

Deno.test("send() resends an unsafe request whose connection was refused (it never left)", async () => {
  const f = ctx([refused, status(200)]);
  assert.equal((await send(f.c, spec(UNSAFE))).status, 200);
  assert.equal(f.calls(), 2);
});

Deno.test("send() waits as Retry-After says, capped at the longest backoff", async () => {
  const f = ctx([status(429, { "retry-after": "120" }), status(200)]);
  f.c.retry = { attempts: 2, baseDelayMs: 0, maxDelayMs: 3 };
  await send(f.c, spec(UNSAFE));
  assert.deepEqual(f.logs, ["Retrying send upload in 3 ms: HTTP 429"]);
});

Deno.test("retryAfterMs() reads seconds and HTTP dates, and ignores garbage", () => {
  assert.equal(retryAfterMs("2"), 2000);
  assert.equal(retryAfterMs("Thu, 01 Jan 1970 00:00:10 GMT", 4000), 6000);
  assert.equal(retryAfterMs("soon"), undefined);
  assert.equal(retryAfterMs(null), undefined);
});

Deno.test("TokenCache grants once for concurrent callers and again after invalidate()", async () => {
  let grants = 0;
  const cache = new TokenCache(() => Promise.resolve({ token: `t${++grants}` }));
  const [a, b] = await Promise.all([cache.get(), cache.get()]);
  assert.deepEqual([a, b, grants], ["t1", "t1", 1]);
  cache.invalidate("some other token");
  assert.equal(await cache.get(), "t1", "a stale refusal does not drop the current token");
  cache.invalidate("t1");
  assert.equal(await cache.get(), "t2");
  assert.equal(grants, 2);
});

Deno.test("TokenCache refreshes a token that expires within a minute", async () => {
  let grants = 0;
  const cache = new TokenCache(() =>
    Promise.resolve({ token: `t${++grants}`, expiresInMs: 30_000 })
  );
  assert.equal(await cache.get(), "t1");
  assert.equal(await cache.get(), "t2");
});

Deno.test("TokenCache lets the next caller try again after a failed grant", async () => {
  let grants = 0;
  const cache = new TokenCache(() =>
    ++grants === 1 ? Promise.reject(new Error("down")) : Promise.resolve({ token: "ok" })
  );
  await assert.rejects(() => cache.get(), /down/);
  assert.equal(await cache.get(), "ok");
});

Deno.test("send() never follows a redirect: it refuses the answer, naming the Location", async () => {
  let redirect: RequestRedirect | undefined;
  const c: TargetContext = {
    fetch: (_input, init) => {
      redirect = init?.redirect;
      return Promise.resolve(
        new Response(null, { status: 307, headers: { location: "https://elsewhere.test/x" } }),
      );
    },
    log: () => {},
  };
  await assert.rejects(send(c, spec(UNSAFE)), (err: unknown) => {
    assert(err instanceof HttpError);
    assert.equal(err.code, "api");
    assert.match(err.message, /redirected it \(HTTP 307\) to "https:\/\/elsewhere\.test\/x"/);
    return true;
  });
  assert.equal(redirect, "manual");
});

Deno.test("readJson() refuses an answer over its cap, naming the request and the cap", async () => {
  const { c } = ctx([() => new Response("x".repeat(2048))]);
  const res = await send(c, spec(SAFE));
  await assert.rejects(
    readJson(res, "check execution e1", 1024),
    /^HttpError: Cannot check execution e1: the HTTP 200 answer is over the limit of 1 KiB$/,
  );
});

Deno.test("send() turns a body that breaks off into a TransportError naming the request", async () => {
  let pulls = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulls++ === 0) controller.enqueue(new TextEncoder().encode('{"execution'));
      else controller.error(new Error("connection reset"));
    },
  });
  const { c } = ctx([() => new Response(body)]);
  const res = await send(c, spec(UNSAFE));
  await assert.rejects(readJson(res, "upload batch 1"), (err: unknown) => {
    assert(err instanceof TransportError);
    assert.equal(err.maybeDelivered, true);
    assert.match(err.message, /answer broke off after 11 bytes: connection reset/);
    return true;
  });
});
