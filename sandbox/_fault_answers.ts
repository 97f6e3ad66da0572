/**
 * The answers a fault gives in each API's own error shape.
 *
 * @module
 */
import type { FaultEndpoint } from "./_fault_endpoints.ts";

/** Reads and drops a request body, so the client can finish sending before it gets the answer. */
export async function discard(req: Request): Promise<void> {
  try {
    await req.body?.pipeTo(new WritableStream());
  } catch {
    // The client went away: nothing left to answer anyway.
  }
}

const REASONS: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  408: "Request Timeout",
  409: "Conflict",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/** Salesforce's `errorCode` for a status a fault answers with. */
const SF_CODES: Record<number, string> = {
  401: "INVALID_SESSION_ID",
  403: "REQUEST_LIMIT_EXCEEDED",
  404: "NOT_FOUND",
  429: "REQUEST_LIMIT_EXCEEDED",
  500: "UNKNOWN_EXCEPTION",
  503: "SERVER_UNAVAILABLE",
};

/** The 401 each API gives an expired access token. */
export function expiredAnswer(endpoint: FaultEndpoint): Response {
  if (endpoint.startsWith("sf.")) {
    return Response.json([{
      message: "Session expired or invalid",
      errorCode: "INVALID_SESSION_ID",
    }], {
      status: 401,
    });
  }
  if (endpoint.startsWith("ws.")) {
    return Response.json({ message: "Authorization Error" }, {
      status: 401,
      headers: { "www-authenticate": "Bearer" },
    });
  }
  return Response.json(
    { status: "error", code: "INVALID_TOKEN", message: "invalid oauth token", details: {} },
    { status: 401 },
  );
}

/**
 * An error answer in the API's own shape: WorkSpan's `{"message"}`, Zoho's
 * `{"status":"error","code","message","details"}`, Salesforce's `[{"errorCode","message"}]` (OAuth's
 * `{"error","error_description"}` on its token endpoint); or `body` as given.
 */
export function faultAnswer(
  endpoint: FaultEndpoint,
  status: number,
  retryAfter: string | undefined,
  body: string | undefined,
): Response {
  const headers = new Headers();
  if (retryAfter !== undefined) headers.set("retry-after", retryAfter);
  if (body !== undefined) {
    let json = true;
    try {
      JSON.parse(body);
    } catch {
      json = false;
    }
    headers.set("content-type", json ? "application/json" : "text/plain; charset=utf-8");
    return new Response(body, { status, headers });
  }
  const reason = REASONS[status] ?? "Error";
  if (endpoint === "sf.token") {
    const error = status >= 500 ? "server_error" : "invalid_request";
    return Response.json({ error, error_description: reason }, { status, headers });
  }
  if (endpoint.startsWith("sf.")) {
    const errorCode = SF_CODES[status] ?? reason.toUpperCase().replaceAll(" ", "_");
    return Response.json([{ errorCode, message: reason }], { status, headers });
  }
  const answer = endpoint.startsWith("ws.") ? { message: reason } : {
    status: "error",
    code: reason.toUpperCase().replaceAll(" ", "_"),
    message: reason,
    details: {},
  };
  return Response.json(answer, { status, headers });
}
