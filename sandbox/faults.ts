/**
 * Switchable faults for the sandbox, so a client's retries can be tested end to end: slow
 * answers, error statuses before or after the request was processed, dropped connections,
 * truncated bodies, and executions or jobs that never finish or fail as a whole.
 *
 * A fault names an endpoint and a kind. `after` skips the first N requests to that endpoint,
 * `times` (default 1, `Infinity` allowed) caps how often it fires. The sandbox keeps a log of
 * every fault that fired, and the simulators' own records (`loadCount`, executions, records,
 * jobs) stay truthful under every fault: a request a fault answered "before" was never seen by a
 * simulator; one it answered "after" was processed in full.
 *
 * @example
 * ```ts
 * import { startSandbox } from "./server.ts";
 * const sandbox = await startSandbox({
 *   faults: [{ endpoint: "ws.upload", kind: "reset_after" }],
 * });
 * try {
 *   // The first upload is processed, but the client's fetch rejects: it cannot know.
 * } finally {
 *   await sandbox.close();
 * }
 * ```
 *
 * @module
 */
import type { BiginJobFault, BiginJobInfo } from "./bigin.ts";
import { discard, expiredAnswer, faultAnswer } from "./_fault_answers.ts";
import { BODY_FAULT_KINDS, type BodyFault, bodyFaultAnswer, endStalls } from "./_fault_bodies.ts";
import { FAULT_PARAMS, hint, isCount, NUMERIC, REQUIRED } from "./_fault_params.ts";
import { endpointOf, FAULT_ENDPOINTS, type FaultEndpoint } from "./_fault_endpoints.ts";
import type { SalesforceJobFault, SalesforceJobInfo } from "./salesforce.ts";
import type { WorkspanExecutionFault, WorkspanExecutionInfo } from "./workspan.ts";

export { endpointOf, FAULT_ENDPOINTS, type FaultEndpoint };

/** Every kind of fault; see {@linkcode Fault}. */
export const FAULT_KINDS = [
  "latency",
  "status",
  "status_after",
  "too_many_requests",
  "reset_before",
  "reset_after",
  "malformed_json",
  "token_expired",
  "stuck",
  "execution_failed",
  "job_failed",
  "job_failed_partway",
  "result_missing_rows",
  ...BODY_FAULT_KINDS,
] as const;

/** A kind of fault; see {@linkcode Fault}. */
export type FaultKind = typeof FAULT_KINDS[number];

/** What every fault has. */
export interface FaultCommon {
  endpoint: FaultEndpoint;
  /** How many times it fires (default 1; `Infinity` for always). */
  times?: number;
  /** Matching requests (or executions, jobs) to let through before it fires (default 0). */
  after?: number;
}

/**
 * One switchable fault. Request faults act on the named endpoint's requests:
 *
 * - `latency`: wait `ms`, then handle the request as usual. The request is processed even if the
 *   client gave up meanwhile, as a real server would. Latency adds up with one other fault.
 * - `status`: answer `status` (with `Retry-After` and `body` when given) without processing.
 * - `status_after`: process the request, then answer `status` instead of the real answer.
 * - `too_many_requests`: answer 429 with `Retry-After` (default `"1"`) without processing.
 * - `reset_before`: drop the connection without processing; the client's fetch rejects.
 * - `reset_after`: process the request, then drop the connection; the client's fetch rejects.
 * - `malformed_json`: process, then answer with the real status and the body cut in half.
 * - `token_expired`: answer 401 in the API's expired-token shape without processing; on a
 *   Salesforce endpoint the access token the request carried stops working too. Not on a token
 *   endpoint.
 *
 * Execution faults act on the executions or jobs created while they are active (their `after`
 * and `times` count executions or jobs, not requests) and name the endpoint that shows them:
 *
 * - `stuck` (`ws.status`, `sf.job`): the execution stays `running` (the Salesforce job
 *   `InProgress`) forever and loads nothing.
 * - `execution_failed` (`ws.status`): the execution completes with `status_msg` = `message`
 *   (default `"Integration is disabled"`), `success_count` 0, `error_count` = `input_count`,
 *   and loads nothing.
 * - `job_failed` (`bigin.details`, `sf.job`): the job ends `FAILED` (`Failed`), writes nothing,
 *   has no result (Salesforce: every row unprocessed).
 * - `job_failed_partway` (`sf.job`): the job processes its first `processed` rows (default half),
 *   then ends `Failed` with `errorMessage` = `message`; the rest are unprocessed.
 * - `result_missing_rows` (`bigin.download`, `sf.results`): the job writes every row, but its
 *   result CSV (Salesforce: the successful results) leaves out the last `rows` rows.
 */
export type Fault =
  & FaultCommon
  & (
    | { kind: "latency"; ms: number }
    | { kind: "status"; status: number; retryAfter?: string; body?: string }
    | { kind: "status_after"; status: number; retryAfter?: string; body?: string }
    | { kind: "too_many_requests"; retryAfter?: string }
    | { kind: "reset_before" }
    | { kind: "reset_after" }
    | { kind: "malformed_json" }
    | { kind: "token_expired" }
    | { kind: "stuck" }
    | { kind: "execution_failed"; message?: string }
    | { kind: "job_failed" }
    | { kind: "job_failed_partway"; processed?: number; message?: string }
    | { kind: "result_missing_rows"; rows: number }
    | BodyFault
  );

/** One fault that fired. JSON-safe. */
export interface FaultLogEntry {
  /** When it fired (ISO 8601, wall clock). */
  at: string;
  endpoint: FaultEndpoint;
  kind: FaultKind;
  /** The fault in `--fault` syntax, e.g. `"ws.upload:status:503:times=2"`. */
  fault: string;
  /** Which matching request (or execution, job) this was for the fault, from 1. */
  nth: number;
  /** The request's method, for request faults. */
  method?: string;
  /** The request's path (no query), for request faults. */
  path?: string;
  /** The execution or job id, for execution faults. */
  target?: string;
}

/** An active fault and how far it got. JSON-safe. */
export interface FaultStatus {
  /** The fault in `--fault` syntax. */
  fault: string;
  /** Matching requests (or executions, jobs) seen since it was set. */
  seen: number;
  /** Times it fired. */
  fired: number;
}

/** A fault that cannot be used: unknown endpoint or kind, a bad parameter, bad syntax. */
export class InvalidFaultError extends Error {
  override name = "InvalidFaultError";
}

/** Default `status_msg` of an `execution_failed` fault. */
export const DEFAULT_FAILED_MESSAGE = "Integration is disabled";

/** Execution faults and the endpoints each may be named by (one per API). */
const EXECUTION_KINDS: Partial<Record<FaultKind, readonly FaultEndpoint[]>> = {
  stuck: ["ws.status", "sf.job"],
  execution_failed: ["ws.status"],
  job_failed: ["bigin.details", "sf.job"],
  job_failed_partway: ["sf.job"],
  result_missing_rows: ["bigin.download", "sf.results"],
};

/** Parameters each kind takes; the first is the one `--fault` syntax gives by position. */
const PARAMS: Record<FaultKind, readonly string[]> = FAULT_PARAMS;

/**
 * Checks a fault and returns a copy of it.
 *
 * @throws {InvalidFaultError} on an unknown endpoint or kind, a missing or bad parameter, or an
 *   execution fault named by the wrong endpoint
 */
export function checkFault(fault: Fault): Fault {
  if (typeof fault !== "object" || fault === null) {
    throw new InvalidFaultError("Cannot use fault: expected an object");
  }
  const f = fault as unknown as Record<string, unknown>;
  const name = `${String(f.endpoint)}:${String(f.kind)}`;
  const fail = (why: string) => new InvalidFaultError(`Cannot use fault "${name}": ${why}`);
  if (!(FAULT_ENDPOINTS as readonly unknown[]).includes(f.endpoint)) {
    throw fail(`unknown endpoint, expected one of ${FAULT_ENDPOINTS.join(", ")}`);
  }
  if (!(FAULT_KINDS as readonly unknown[]).includes(f.kind)) {
    throw fail(`unknown kind, expected one of ${FAULT_KINDS.join(", ")}`);
  }
  const kind = f.kind as FaultKind;
  const only = EXECUTION_KINDS[kind];
  if (only !== undefined && !only.includes(f.endpoint as FaultEndpoint)) {
    const names = only.map((e) => `"${e}"`).join(", ");
    throw fail(`kind "${kind}" applies to endpoint${only.length > 1 ? "s" : ""} ${names} only`);
  }
  if (kind === "token_expired" && String(f.endpoint).endsWith(".token")) {
    throw fail(`kind "token_expired" does not apply to a token endpoint`);
  }
  const params = PARAMS[kind];
  for (const key of Object.keys(f)) {
    if (key === "endpoint" || key === "kind" || key === "times" || key === "after") continue;
    if (!params.includes(key)) {
      throw fail(`"${kind}" takes no "${key}"${hint(params)}`);
    }
  }
  if (f.times !== undefined && !(f.times === Infinity || isCount(f.times, 1))) {
    throw fail(`times must be a whole number from 1, or Infinity, got ${String(f.times)}`);
  }
  if (f.after !== undefined && !isCount(f.after, 0)) {
    throw fail(`after must be a whole number from 0, got ${String(f.after)}`);
  }
  for (const key of params) {
    const value = f[key];
    if (value === undefined) {
      const optional = key === "status" && (kind === "redirect" || kind === "echo_token");
      if (REQUIRED.has(key) && !optional) throw fail(`"${kind}" needs "${key}"`);
      continue;
    }
    if (key === "ms" && !(typeof value === "number" && Number.isFinite(value) && value >= 0)) {
      throw fail(`ms must be a number from 0, got ${String(value)}`);
    }
    // 200 is allowed too: Zoho refuses some uploads with HTTP 200 and `"status": "error"`.
    const v = value as number;
    if (kind === "redirect" && key === "status" && !(isCount(v, 300) && v <= 399)) {
      throw fail(`status must be a whole number from 300 to 399, got ${String(value)}`);
    }
    if (
      key === "status" && kind !== "redirect" &&
      !(isCount(v, 200) && v <= 599 && (v === 200 || v >= 400))
    ) {
      throw fail(`status must be 200 or a whole number from 400 to 599, got ${String(value)}`);
    }
    if (key === "rows" && !isCount(value, 1)) {
      throw fail(`rows must be a whole number from 1, got ${String(value)}`);
    }
    if (key === "processed" && !isCount(value, 0)) {
      throw fail(`processed must be a whole number from 0, got ${String(value)}`);
    }
    if (!NUMERIC.has(key) && typeof value !== "string") {
      throw fail(`${key} must be a string`);
    }
    if (key === "retryAfter" && !/^[^\r\n]+$/.test(value as string)) {
      throw fail("retryAfter must be a non-empty single line");
    }
  }
  return { ...fault };
}

/**
 * Reads a fault in `--fault` syntax: `endpoint:kind[:value][:key=value]...`.
 *
 * `value` is the kind's main parameter: `latency` its delay (`2000`, `2000ms`, `2s`), `status`
 * and `status_after` the status, `too_many_requests` the `Retry-After` value,
 * `execution_failed` the message, `result_missing_rows` the number of rows,
 * `job_failed_partway` the rows processed. `key=value` sets any parameter by name: `times` (a
 * number or `inf`), `after`, `ms`, `status`, `retryAfter`, `body`, `message`, `rows`,
 * `processed`, `bytes`, `location`; `redirect` and `download_elsewhere` take `location` first. Values may hold `:` (an HTTP date does); only `:` followed by a known key
 * and `=` starts a new part.
 *
 * @throws {InvalidFaultError} on bad syntax or a fault {@linkcode checkFault} refuses
 * @example
 * ```ts
 * parseFault("ws.upload:status:503:retryAfter=2:times=3");
 * // { endpoint: "ws.upload", kind: "status", status: 503, retryAfter: "2", times: 3 }
 * ```
 */
export function parseFault(text: string): Fault {
  const fail = (why: string) => new InvalidFaultError(`Cannot read fault "${text}": ${why}`);
  const m = /^([^:]+):([^:]+)(?::([\s\S]*))?$/.exec(text);
  if (!m) throw fail("expected endpoint:kind[:value][:key=value]..., e.g. ws.upload:status:503");
  const [, endpoint, kind, rest] = m;
  if (!(FAULT_KINDS as readonly string[]).includes(kind!)) {
    throw fail(`unknown kind "${kind}", expected one of ${FAULT_KINDS.join(", ")}`);
  }
  const params = PARAMS[kind as FaultKind];
  const keys = ["times", "after", ...new Set(Object.values(PARAMS).flat())];
  const keyed = new RegExp(`^(${keys.join("|")})=([\\s\\S]*)$`);
  const parts = rest === undefined ? [] : rest.split(new RegExp(`:(?=(?:${keys.join("|")})=)`));
  const fault: Record<string, unknown> = { endpoint, kind };
  parts.forEach((part, i) => {
    const kv = keyed.exec(part);
    let key: string;
    let value: string;
    if (kv) [, key, value] = kv as unknown as [string, string, string];
    else if (i === 0 && params[0] !== undefined) [key, value] = [params[0], part];
    else if (i === 0) throw fail(`"${kind}" takes no value${hint(params)}`);
    else throw fail(`cannot read "${part}"`);
    if (key in fault) throw fail(`"${key}" is given twice`);
    fault[key] = readParam(key, value, fail);
  });
  try {
    return checkFault(fault as unknown as Fault);
  } catch (e) {
    if (e instanceof InvalidFaultError) {
      throw fail(e.message.replace(/^Cannot use fault "[^"]*": /, ""));
    }
    throw e;
  }
}

function readParam(key: string, value: string, fail: (why: string) => Error): unknown {
  if (key === "times" && /^(inf|infinity)$/i.test(value)) return Infinity;
  if (key === "ms") {
    const d = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value);
    if (!d) throw fail(`cannot read duration "${value}": expected e.g. 2000, 500ms, 2s`);
    const factor = d[2] === "m" ? 60_000 : d[2] === "s" ? 1000 : 1;
    return Math.round(Number(d[1]) * factor);
  }
  if (key === "times" || key === "after" || NUMERIC.has(key)) {
    if (!/^\d+$/.test(value)) throw fail(`${key} must be a whole number, got "${value}"`);
    return Number(value);
  }
  return value;
}

/**
 * Writes a fault in `--fault` syntax, the inverse of {@linkcode parseFault}.
 *
 * @example
 * ```ts
 * formatFault({ endpoint: "ws.status", kind: "latency", ms: 2000, times: Infinity });
 * // "ws.status:latency:2000ms:times=inf"
 * ```
 */
export function formatFault(fault: Fault): string {
  const f = fault as unknown as Record<string, unknown>;
  const params = PARAMS[fault.kind];
  let text = `${fault.endpoint}:${fault.kind}`;
  params.forEach((key, i) => {
    const value = f[key];
    if (value === undefined) return;
    // A later parameter's value may be read as one more part; it never holds a key, so is safe.
    const shown = key === "ms" ? `${value}ms` : String(value);
    text += i === 0 ? `:${shown}` : `:${key}=${shown}`;
  });
  if (fault.times !== undefined && fault.times !== 1) {
    text += `:times=${fault.times === Infinity ? "inf" : fault.times}`;
  }
  if (fault.after !== undefined && fault.after !== 0) text += `:after=${fault.after}`;
  return text;
}

/** How the injector's caller delivers a request to the simulators. */
export type Dispatch = (req: Request) => Promise<Response>;

/** What became of a request the injector handled. */
export interface FaultedResponse {
  /** The answer to send; meaningless when `dropped` (the connection is gone). */
  response: Response;
  /** The fault that decided the answer, if one fired (latency excluded). */
  fault?: FaultKind;
  /** The connection was dropped: the client gets no answer at all. */
  dropped: boolean;
  /** Milliseconds of latency the request was held for. */
  delayedMs: number;
}

/** Holds the active faults, decides which fire, applies them, and logs what fired. */
export interface FaultInjector {
  /** Replaces the active faults (checked first); counting starts afresh. The log is kept. */
  set(faults: readonly Fault[]): void;
  /** Every fault that fired, oldest first. */
  readonly log: readonly FaultLogEntry[];
  /** The active faults and how far each got. */
  active(): FaultStatus[];
  /**
   * Handles one request: applies the fault that fires on it, if any, around `dispatch`.
   *
   * @param drop cuts the request's connection so the client's fetch rejects
   */
  handle(
    req: Request,
    endpoint: FaultEndpoint | undefined,
    dispatch: Dispatch,
    drop: () => void,
  ): Promise<FaultedResponse>;
  /** For the WorkSpan simulator's `executionFault` option. */
  forExecution(info: WorkspanExecutionInfo): WorkspanExecutionFault | undefined;
  /** For the Bigin simulator's `jobFault` option. */
  forJob(info: BiginJobInfo): BiginJobFault | undefined;
  /** For the Salesforce simulator's `jobFault` option. */
  forSalesforceJob(info: SalesforceJobInfo): SalesforceJobFault | undefined;
  /** Cuts every pending latency short; those requests are answered 503 and not processed. */
  close(): void;
}

interface Slot {
  fault: Fault;
  text: string;
  seen: number;
  fired: number;
}

/**
 * Creates a fault injector. `startSandbox` makes one; use it directly to put faults in front of
 * another handler.
 *
 * @throws {InvalidFaultError} when a fault is refused by {@linkcode checkFault}
 */
export function createFaultInjector(faults: readonly Fault[] = []): FaultInjector {
  let slots: Slot[] = [];
  const log: FaultLogEntry[] = [];
  const pending = new Set<{
    timer: ReturnType<typeof setTimeout>;
    resolve: (done: boolean) => void;
  }>();
  let closed = false;
  const stalls = new Set<ReadableStreamDefaultController<Uint8Array>>();

  function set(list: readonly Fault[]): void {
    const checked = list.map(checkFault);
    slots = checked.map((fault) => ({ fault, text: formatFault(fault), seen: 0, fired: 0 }));
  }

  /** Counts a match; true when the slot fires on it. */
  function opens(slot: Slot): boolean {
    slot.seen++;
    return slot.seen > (slot.fault.after ?? 0) && slot.fired < (slot.fault.times ?? 1);
  }

  function fire(slot: Slot, extra: Partial<FaultLogEntry>): void {
    slot.fired++;
    log.push({
      at: new Date().toISOString(),
      endpoint: slot.fault.endpoint,
      kind: slot.fault.kind,
      fault: slot.text,
      nth: slot.seen,
      ...extra,
    });
  }

  /** The latency to add and the one other fault that fires on a request, if any. */
  function pick(endpoint: FaultEndpoint, method: string, path: string) {
    let delayMs = 0;
    let chosen: Fault | undefined;
    for (const slot of slots) {
      const { fault } = slot;
      if (fault.endpoint !== endpoint || EXECUTION_KINDS[fault.kind] !== undefined) continue;
      if (!opens(slot)) continue;
      if (fault.kind === "latency") delayMs += fault.ms;
      else if (chosen) continue; // shadowed by an earlier fault: neither fires nor uses a time
      else chosen = fault;
      fire(slot, { method, path });
    }
    return { delayMs, chosen };
  }

  /**
   * The first open execution fault of the given kinds on one API's endpoints (by name prefix),
   * counted against every one of them.
   */
  function pickExecution(
    kinds: readonly FaultKind[],
    api: string,
    target: string,
  ): Fault | undefined {
    let chosen: Fault | undefined;
    for (const slot of slots) {
      const { kind, endpoint } = slot.fault;
      if (!kinds.includes(kind) || !endpoint.startsWith(api) || !opens(slot) || chosen) continue;
      chosen = slot.fault;
      fire(slot, { target });
    }
    return chosen;
  }

  function sleep(ms: number): Promise<boolean> {
    if (closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          pending.delete(entry);
          resolve(true);
        }, ms),
        resolve,
      };
      pending.add(entry);
    });
  }

  set(faults);
  return {
    set,
    log,
    active: () => slots.map((s) => ({ fault: s.text, seen: s.seen, fired: s.fired })),
    async handle(req, endpoint, dispatch, drop) {
      if (!endpoint) return { response: await dispatch(req), dropped: false, delayedMs: 0 };
      const url = new URL(req.url);
      const { delayMs, chosen } = pick(endpoint, req.method, url.pathname);
      let request = req;
      if (delayMs > 0) {
        // Read the body first, so the request can be processed after the delay even when the
        // client has gone by then (its connection, and the body stream with it, may be closed).
        const body = req.body ? await req.arrayBuffer() : null;
        request = new Request(req.url, { method: req.method, headers: req.headers, body });
        if (!(await sleep(delayMs))) {
          return {
            response: faultAnswer(endpoint, 503, undefined, undefined),
            fault: "status",
            dropped: false,
            delayedMs: delayMs,
          };
        }
      }
      const done = (response: Response, dropped = false): FaultedResponse =>
        chosen
          ? { response, fault: chosen.kind, dropped, delayedMs: delayMs }
          : { response, dropped, delayedMs: delayMs };
      if (!chosen) return done(await dispatch(request));
      switch (chosen.kind) {
        case "status":
          await discard(request);
          return done(faultAnswer(endpoint, chosen.status, chosen.retryAfter, chosen.body));
        case "too_many_requests":
          await discard(request);
          return done(faultAnswer(endpoint, 429, chosen.retryAfter ?? "1", undefined));
        case "token_expired":
          await discard(request);
          return done(expiredAnswer(endpoint));
        case "reset_before":
          drop();
          return done(new Response(null, { status: 500 }), true);
        case "status_after": {
          const real = await dispatch(request);
          await real.body?.cancel();
          return done(faultAnswer(endpoint, chosen.status, chosen.retryAfter, chosen.body));
        }
        case "reset_after": {
          const real = await dispatch(request);
          await real.body?.cancel();
          drop();
          return done(new Response(null, { status: 500 }), true);
        }
        case "malformed_json": {
          const real = await dispatch(request);
          const bytes = new Uint8Array(await real.arrayBuffer());
          const headers = new Headers(real.headers);
          headers.delete("content-length");
          const cut = bytes.slice(0, Math.floor(bytes.length / 2));
          return done(new Response(cut, { status: real.status, headers }));
        }
        case "body_cut":
        case "body_html":
        case "body_no_id":
        case "body_stall":
        case "body_oversized":
        case "redirect":
        case "echo_token":
        case "download_elsewhere":
          return done(await bodyFaultAnswer(chosen, endpoint, request, dispatch, { drop, stalls }));
        default:
          // Execution faults never fire on a request (pick skips them).
          return done(await dispatch(request));
      }
    },
    forExecution(info) {
      const fault = pickExecution(["stuck", "execution_failed"], "ws.", info.executionId);
      if (fault?.kind === "stuck") return { kind: "stuck" };
      if (fault?.kind === "execution_failed") {
        return { kind: "failed", message: fault.message ?? DEFAULT_FAILED_MESSAGE };
      }
      return undefined;
    },
    forJob(info) {
      const fault = pickExecution(["job_failed", "result_missing_rows"], "bigin.", info.id);
      if (fault?.kind === "job_failed") return { kind: "failed" };
      if (fault?.kind === "result_missing_rows") return { kind: "missingRows", rows: fault.rows };
      return undefined;
    },
    forSalesforceJob(info) {
      const kinds: FaultKind[] = [
        "stuck",
        "job_failed",
        "job_failed_partway",
        "result_missing_rows",
      ];
      const fault = pickExecution(kinds, "sf.", info.id);
      switch (fault?.kind) {
        case "stuck":
          return { kind: "stuck" };
        case "job_failed":
          return { kind: "failed" };
        case "job_failed_partway":
          return { kind: "partway", processed: fault.processed, message: fault.message };
        case "result_missing_rows":
          return { kind: "missingRows", rows: fault.rows };
      }
      return undefined;
    },
    close() {
      closed = true;
      endStalls(stalls);
      for (const p of pending) {
        clearTimeout(p.timer);
        p.resolve(false);
      }
      pending.clear();
    },
  };
}
