/**
 * Talking to WorkSpan as the integration: a static bearer token, or an access token from client
 * credentials (cached, renewed once when refused).
 *
 * @module
 */
import { HttpError } from "../../errors.ts";
import {
  describeBody,
  MAX_ANSWER_BYTES,
  readJson,
  type RequestSpec,
  send,
  TokenCache,
} from "../_http.ts";
import { num } from "../_json.ts";
import type { RequestInfo, TargetContext } from "../types.ts";
import type { WorkspanConfig } from "./_schema.ts";

/** Sends requests with the configured credentials. */
export interface WorkspanClient {
  /** Sends with auth; on a 401 with a refreshable token, refreshes once and resends. */
  authed(ctx: TargetContext, build: (h: Record<string, string>) => RequestSpec): Promise<Response>;
}

/** A client for the credentials `config` names. */
export function workspanClient(
  config: WorkspanConfig,
  requests: { token: RequestInfo },
): WorkspanClient {
  const base = config.base_url;
  const timeoutMs = config.request_timeout;
  const a = config.auth;
  let tokens: TokenCache | undefined;

  async function authHeaders(ctx: TargetContext): Promise<Record<string, string>> {
    const h: Record<string, string> = { ...config.headers };
    if (a.type === "bearer") h.authorization = `Bearer ${a.token}`;
    if (a.type === "client_credentials") {
      tokens ??= new TokenCache(async () => {
        const form = new URLSearchParams({
          client_id: a.client_id,
          client_secret: a.client_secret,
          grant_type: "client_credentials",
        });
        const th: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
        if (a.env_host) th["x-ws-env"] = a.env_host;
        const res = await send(ctx, {
          request: requests.token,
          url: a.token_url ?? `${base}/oauth/token`,
          headers: th,
          body: form,
          what: "get a WorkSpan access token",
          timeoutMs,
        });
        const body = await readJson(
          res,
          "get a WorkSpan access token",
          MAX_ANSWER_BYTES,
        ) as Record<string, unknown>;
        if (!res.ok || typeof body?.access_token !== "string") {
          throw new HttpError(
            "auth",
            res.status,
            `WorkSpan refused the client credentials: HTTP ${res.status} ${describeBody(body)}`,
          );
        }
        // An access token is a secret like the credentials it came from: hidden in every output.
        ctx.secret?.(body.access_token);
        const ttl = num(body, "expires_in");
        return {
          token: body.access_token,
          expiresInMs: ttl === undefined ? undefined : ttl * 1000,
        };
      });
      h.authorization = `Bearer ${await tokens.get()}`;
    }
    return h;
  }

  /** Sends with auth; on a 401 with a refreshable token, refreshes once and resends. */
  async function authed(
    ctx: TargetContext,
    build: (h: Record<string, string>) => RequestSpec,
  ): Promise<Response> {
    for (let attempt = 0;; attempt++) {
      const h = await authHeaders(ctx);
      const res = await send(ctx, build(h));
      if (res.status !== 401) return res;
      const body = await res.text().catch(() => "");
      if (tokens && attempt === 0) {
        // A 401 means the request was refused before processing, so resending cannot duplicate.
        tokens.invalidate(h.authorization!.slice("Bearer ".length));
        ctx.log("WorkSpan refused the access token; getting a new one");
        continue;
      }
      throw new HttpError(
        "auth",
        401,
        `WorkSpan refused the credentials (HTTP 401${
          body ? `: ${body.slice(0, 200)}` : ""
        }): check target.auth`,
      );
    }
  }

  return { authed };
}
