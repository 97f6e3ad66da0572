/**
 * Talking to Bigin as the account: a Zoho access token from the refresh token (cached, renewed
 * once when refused), and reading Zoho's answers, which may refuse with HTTP 200.
 *
 * @module
 */
import { closest } from "../../util/suggest.ts";
import { ConfigRefusedError, HttpError } from "../../errors.ts";
import {
  describeBody,
  MAX_ANSWER_BYTES,
  readJson,
  type RequestSpec,
  send,
  TokenCache,
} from "../_http.ts";
import { num, obj, str } from "../_json.ts";
import type { TargetContext } from "../types.ts";
import type { BiginRequests, BiginUrls } from "./_requests.ts";
import type { BiginConfig, BiginDomains } from "./_schema.ts";

/** Sends requests with the account's access token. */
export interface BiginClient {
  /** Sends with the access token; on 401 `INVALID_TOKEN`, gets a new token once and resends. */
  authed(ctx: TargetContext, build: (h: Record<string, string>) => RequestSpec): Promise<Response>;
}

/** A client for the account `config` names. */
export function biginClient(
  config: BiginConfig,
  domains: BiginDomains,
  urls: BiginUrls,
  requests: BiginRequests,
): BiginClient {
  const a = config.auth;
  // The grant runs with the context of the request that needed a token.
  let grantCtx: TargetContext | undefined;
  const tokens = new TokenCache(async () => {
    const ctx = grantCtx!;
    const what = "get a Zoho access token";
    const res = await send(ctx, {
      request: requests.token,
      url: urls.token,
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        refresh_token: a.refresh_token,
        client_id: a.client_id,
        client_secret: a.client_secret,
        grant_type: "refresh_token",
      }),
      what,
      timeoutMs: config.request_timeout,
    });
    const body = obj(
      await readJson(res, what, MAX_ANSWER_BYTES).catch((err) => {
        if (res.ok) throw err;
        return undefined;
      }),
    );
    const token = body?.access_token;
    if (!res.ok || typeof token !== "string" || token === "") {
      throw new HttpError(
        res.status >= 500 ? "transport" : "auth",
        res.status,
        `Zoho refused the refresh token: HTTP ${res.status} ${
          describeBody(body) || "no answer"
        }: check target.auth and target.data_center`,
      );
    }
    // An access token is a secret like the refresh token it came from: hidden in every output.
    ctx.secret?.(token);
    const apiDomain = str(body?.api_domain);
    if (!config.base_url && apiDomain && apiDomain.replace(/\/+$/, "") !== domains.api) {
      ctx.log(
        `Zoho says the account's API domain is "${apiDomain}", but data_center "${config.data_center}" uses "${domains.api}": check target.data_center`,
      );
    }
    const ttl = num(body, "expires_in") ?? num(body, "expires_in_sec");
    return { token, expiresInMs: ttl === undefined ? undefined : ttl * 1000 };
  });

  return {
    async authed(ctx, build) {
      for (let attempt = 0;; attempt++) {
        grantCtx = ctx;
        const token = await tokens.get();
        const res = await send(
          ctx,
          build({ ...config.headers, authorization: `Zoho-oauthtoken ${token}` }),
        );
        if (res.status !== 401) return res;
        const body = await readJson(res, "read a refusal").catch(() => undefined);
        const code = str(obj(body)?.code)?.toUpperCase();
        if (code === "INVALID_TOKEN" && attempt === 0) {
          // A 401 means the request was refused before processing, so resending cannot duplicate.
          tokens.invalidate(token);
          ctx.log("Bigin refused the access token; getting a new one");
          continue;
        }
        const hint = code === "OAUTH_SCOPE_MISMATCH"
          ? ": the refresh token needs scopes ZohoBigin.bulk.ALL and ZohoBigin.modules.ALL"
          : ": check target.auth";
        throw new HttpError(
          "auth",
          401,
          `Bigin refused the credentials: HTTP 401${
            body === undefined ? "" : ` ${describeBody(body)}`
          }${hint}`,
        );
      }
    },
  };
}

/**
 * Zoho error codes that say the server failed, not the request: worth asking again where the
 * request is safe to repeat (and, on one that is not, a sign it may have been processed).
 */
const SERVER_SIDE_CODES = new Set([
  "INTERNAL_ERROR",
  "INTERNAL_SERVER_ERROR",
  "SERVER_ERROR",
  "SERVICE_UNAVAILABLE",
  "TOO_MANY_REQUESTS",
]);

/** Zoho error codes that mean the pipeline asked for something the account does not have. */
const CONFIG_CODES = new Set(["INVALID_FIELD", "MODULE_NOT_AVAILABLE", "INVALID_MODULE"]);

/**
 * An error for a refusal: 5xx, or Zoho's `"status": "error"` with a server-side code such as
 * `INTERNAL_ERROR` (which comes with HTTP 200 too), is a transport failure; a refusal of a field or module the pipeline
 * names is `config_refused` (naming the field Zoho gives in `details.api_name`, with a
 * did-you-mean from `known`), anything else the API's answer.
 */
export function answerError(
  what: string,
  status: number,
  body: unknown,
  known: readonly string[] = [],
): HttpError {
  const detail = body === undefined ? "" : ` ${describeBody(body)}`;
  const o = obj(body);
  const code = str(o?.code)?.toUpperCase();
  if (status < 500 && code !== undefined && CONFIG_CODES.has(code)) {
    const field = str(obj(o?.details)?.api_name);
    const named = field === undefined ? "" : `: field "${field}"${suggest(field, known)}`;
    return new ConfigRefusedError(status, `${what}${named} (HTTP ${status}${detail})`, field);
  }
  return new HttpError(
    status >= 500 || (code !== undefined && SERVER_SIDE_CODES.has(code)) ? "transport" : "api",
    status,
    `${what}: HTTP ${status}${detail}`,
  );
}

/** `, did you mean "Mobile"?` when a known field is close to `field`. */
function suggest(field: string, known: readonly string[]): string {
  // The field itself is not a suggestion: Bigin refused it under that very name.
  const best = closest(field, known.filter((k) => k !== field));
  if (best !== undefined) return ` is not in the module: did you mean "${best}"?`;
  return " is not in the module: check its API name in Bigin (Settings > Modules and Fields)";
}

/**
 * Reads a Zoho answer that must say `status: success` — in the body, not only the HTTP code,
 * since some refusals come with HTTP 200 — and returns `details[field]`.
 *
 * @throws {HttpError} `api`-like refusal via `answerError`, or `transport` when the id is missing
 */
export async function successDetail(
  res: Response,
  what: string,
  subject: string,
  field: string,
  label = field,
  known: readonly string[] = [],
): Promise<string> {
  const body = await readJson(res, what, MAX_ANSWER_BYTES).catch((err) => {
    if (res.ok) throw err;
    return undefined;
  });
  const o = obj(body);
  const status = typeof o?.status === "string" ? o.status.toLowerCase() : undefined;
  if (!res.ok || (status !== undefined && status !== "success")) {
    throw answerError(`Bigin refused ${subject}`, res.status, body, known);
  }
  const value = str(obj(o?.details)?.[field]);
  if (!value) {
    throw new HttpError(
      "transport",
      res.status,
      `Bigin accepted ${subject} but gave no ${label}: ${describeBody(body)}`,
    );
  }
  return value;
}
