/**
 * Faults in the answer rather than the status line: a request processed in full, then answered
 * 2xx with a body the client cannot use (cut short, HTML, without its id, stalled, too large);
 * and faults that answer without processing: a redirect elsewhere, a refusal that echoes the
 * access token, a job whose `download_url` points to another host.
 *
 * @module
 */
import { discard, faultAnswer } from "./_fault_answers.ts";
import type { FaultEndpoint } from "./_fault_endpoints.ts";

/** The kinds this file answers. */
export const BODY_FAULT_KINDS = [
  "body_cut",
  "body_html",
  "body_no_id",
  "body_stall",
  "body_oversized",
  "redirect",
  "echo_token",
  "download_elsewhere",
] as const;

/** One of {@linkcode BODY_FAULT_KINDS}. */
export type BodyFaultKind = typeof BODY_FAULT_KINDS[number];

/**
 * The answer faults:
 *
 * - `body_cut`: process, answer the real status and the first half of the body, then drop the
 *   connection.
 * - `body_html`: process, answer the real status with an HTML page (a proxy's, say).
 * - `body_no_id`: process, answer the real status and body without its ids (`execution_id`,
 *   `id`, `file_id`, `job_id`, at any depth).
 * - `body_stall`: process, answer the real status and the first half of the body, then send
 *   nothing more (until the sandbox closes).
 * - `body_oversized`: process, answer the real body followed by `bytes` spaces (default 9 MiB):
 *   still valid JSON, only too large.
 * - `redirect`: answer `status` (default 307) with `Location: location`, without processing.
 * - `echo_token`: answer `status` (default 400) in the API's error shape, its message quoting the
 *   access token the request carried, without processing.
 * - `download_elsewhere` (`bigin.details`): process, and point the answer's
 *   `result.download_url` to `location`.
 */
export type BodyFault =
  | { kind: "body_cut" | "body_html" | "body_no_id" | "body_stall" }
  | { kind: "body_oversized"; bytes?: number }
  | { kind: "redirect"; location: string; status?: number }
  | { kind: "echo_token"; status?: number }
  | { kind: "download_elsewhere"; location: string };

/** Parameters of each kind; the first is the one `--fault` syntax gives by position. */
export const BODY_PARAMS: Record<BodyFaultKind, readonly string[]> = {
  body_cut: [],
  body_html: [],
  body_no_id: [],
  body_stall: [],
  body_oversized: ["bytes"],
  redirect: ["location", "status"],
  echo_token: ["status"],
  download_elsewhere: ["location"],
};

/** Body streams held open by `body_stall`, ended when the sandbox closes. */
export type Stalls = Set<ReadableStreamDefaultController<Uint8Array>>;

const ID_KEYS = new Set(["execution_id", "id", "file_id", "job_id"]);

function withoutIds(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutIds);
  if (v === null || typeof v !== "object") return v;
  return Object.fromEntries(
    Object.entries(v).filter(([k]) => !ID_KEYS.has(k)).map(([k, x]) => [k, withoutIds(x)]),
  );
}

/** The real answer's status and headers around another body. */
function reanswer(real: Response, body: BodyInit, contentType?: string): Response {
  const headers = new Headers(real.headers);
  headers.delete("content-length");
  if (contentType) headers.set("content-type", contentType);
  return new Response(body, { status: real.status, headers });
}

/** A stream of `head`, then (unless it stalls) the connection dropped. */
function partial(head: Uint8Array, end: "drop" | "stall", drop: () => void, stalls: Stalls) {
  let held: ReadableStreamDefaultController<Uint8Array> | undefined;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(head);
      if (end === "stall") {
        held = controller;
        stalls.add(controller);
      } else {
        // Give the head time to reach the client before the connection goes.
        setTimeout(drop, 50);
      }
    },
    cancel() {
      if (held) stalls.delete(held);
    },
  });
}

/** The access token a request carried (`Bearer x`, `Zoho-oauthtoken x`). */
function tokenOf(req: Request): string {
  const auth = req.headers.get("authorization") ?? "";
  return auth.replace(/^\S+\s+/, "");
}

/**
 * Answers a request with a body fault.
 *
 * @param drop cuts the request's connection
 */
export async function bodyFaultAnswer(
  fault: BodyFault,
  endpoint: FaultEndpoint,
  request: Request,
  dispatch: (req: Request) => Promise<Response>,
  o: { drop: () => void; stalls: Stalls },
): Promise<Response> {
  if (fault.kind === "redirect") {
    await discard(request);
    return new Response(null, {
      status: fault.status ?? 307,
      headers: { location: fault.location },
    });
  }
  if (fault.kind === "echo_token") {
    await discard(request);
    const message = `Token "${tokenOf(request)}" is not allowed to do this`;
    return faultAnswer(
      endpoint,
      fault.status ?? 400,
      undefined,
      JSON.stringify(
        endpoint.startsWith("ws.")
          ? { message }
          : { status: "error", code: "NO_PERMISSION", message, details: {} },
      ),
    );
  }
  const real = await dispatch(request);
  const bytes = new Uint8Array(await real.arrayBuffer());
  const half = bytes.slice(0, Math.floor(bytes.length / 2));
  switch (fault.kind) {
    case "body_cut":
      return reanswer(real, partial(half, "drop", o.drop, o.stalls));
    case "body_stall":
      return reanswer(real, partial(half, "stall", o.drop, o.stalls));
    case "body_html":
      return reanswer(
        real,
        "<!DOCTYPE html><html><body><h1>Request accepted</h1></body></html>",
        "text/html; charset=utf-8",
      );
    case "body_oversized": {
      const pad = new Uint8Array(fault.bytes ?? 9 * 1024 * 1024).fill(0x20);
      const out = new Uint8Array(bytes.length + pad.length);
      out.set(bytes);
      out.set(pad, bytes.length);
      return reanswer(real, out);
    }
    case "body_no_id":
    case "download_elsewhere": {
      let json: unknown;
      try {
        json = JSON.parse(new TextDecoder().decode(bytes));
      } catch {
        return reanswer(real, bytes);
      }
      if (fault.kind !== "download_elsewhere") {
        return reanswer(real, JSON.stringify(withoutIds(json)));
      }
      const result = (json as { result?: { download_url?: string } } | null)?.result;
      if (result && typeof result === "object") result.download_url = fault.location;
      return reanswer(real, JSON.stringify(json));
    }
  }
}

/** Ends every stalled body (the sandbox is closing). */
export function endStalls(stalls: Stalls): void {
  for (const c of stalls) {
    try {
      c.error(new Error("Sandbox closed"));
    } catch {
      // Already ended.
    }
  }
  stalls.clear();
}
