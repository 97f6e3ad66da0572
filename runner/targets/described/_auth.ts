/**
 * Access tokens for a described API: a static token from a param, or an OAuth 2.0 grant whose
 * token is cached until it expires or the API says it expired.
 *
 * @module
 */
import { HttpError, RunnerError } from "../../errors.ts";
import { describeBody, readJson, send, TokenCache } from "../_http.ts";
import type { RequestInfo, TargetContext } from "../types.ts";
import {
  atPointer,
  bodyMatches,
  render,
  renderForDisplay,
  renderHeader,
  type Scope,
} from "./_template.ts";
import type { Description, TokenWay } from "./schema.ts";

/** The auth of one target. */
export interface Auth {
  /** The header to send, with the token it holds. */
  header(ctx: TargetContext): Promise<{ name: string; value: string; token: string }>;
  /** Whether an answer says the token expired. */
  expired(status: number, body: unknown): boolean;
  /** Forgets a refused token; false when it cannot be renewed (a static token). */
  renew(token: string): boolean;
  /** The token request, for `plan`. */
  info(): RequestInfo | undefined;
}

function isSet(v: unknown): boolean {
  return v !== undefined && v !== null && v !== "";
}

/**
 * The first way whose `when` params are all set.
 *
 * @returns the way, or `undefined` when none fits
 */
export function chooseWay(
  ways: readonly TokenWay[],
  params: Record<string, unknown>,
): TokenWay | undefined {
  return ways.find((w) => w.when.every((p) => isSet(params[p])));
}

/** Builds the auth of a description, or `undefined` when it has none. */
export function createAuth(
  desc: Description,
  params: Record<string, unknown>,
  secrets: ReadonlySet<string>,
  timeoutMs: number,
): Auth | undefined {
  const a = desc.auth;
  if (!a) return undefined;
  const way = chooseWay(a.ways, params);
  if (!way) {
    throw new RunnerError(
      "auth",
      `No way to authenticate: set ${a.ways.map((w) => w.when.join(" and ")).join(", or ")}`,
    );
  }
  const scope: Scope = { params, job: {} };
  let grantCtx: TargetContext | undefined;
  const tokens = way.type === "static" ? undefined : new TokenCache(async () => {
    const what = `get an access token (${way.type} grant)`;
    const form = new URLSearchParams({ grant_type: way.type });
    for (const [k, v] of Object.entries(way.form)) form.set(k, render(v, scope));
    const headers: Record<string, string> = {
      "content-type": "application/x-www-form-urlencoded",
    };
    for (const [k, v] of Object.entries(way.headers ?? {})) {
      const h = renderHeader(v, scope);
      if (h !== undefined) headers[k] = h;
    }
    const res = await send(grantCtx!, {
      request: { name: "token", method: "POST", when: "per_run", safeToRepeat: true, detail: "" },
      url: render(way.url, scope, true),
      headers,
      body: form,
      what,
      timeoutMs,
    });
    const body = await readJson(res, what).catch(() => undefined);
    const token = atPointer(body, way.token_at);
    if (!res.ok || typeof token !== "string" || token === "") {
      throw new HttpError(
        res.status >= 500 ? "transport" : "auth",
        res.status,
        `The API refused the ${way.type} grant: HTTP ${res.status} ${
          describeBody(body) || "no answer"
        }: check the target's credentials`,
      );
    }
    const ttl = Number(atPointer(body, way.expires_in_at));
    return { token, expiresInMs: Number.isFinite(ttl) && ttl > 0 ? ttl * 1000 : undefined };
  });
  const staticToken = way.type === "static" ? render(way.value, scope) : undefined;

  return {
    async header(ctx) {
      grantCtx = ctx;
      const token = staticToken ?? await tokens!.get();
      return { name: a.header, value: render(a.value, { ...scope, token }), token };
    },
    expired: (status, body) =>
      a.expired.some((m) => m.status === status && bodyMatches(body, m.body)),
    renew(token) {
      if (!tokens) return false;
      tokens.invalidate(token);
      return true;
    },
    info() {
      if (way.type === "static") return undefined;
      return {
        name: "token",
        method: "POST",
        when: "per_run",
        safeToRepeat: true,
        detail: `POST ${
          renderForDisplay(way.url, params, secrets)
        } (${way.type} grant; again when expired)`,
      };
    },
  };
}
