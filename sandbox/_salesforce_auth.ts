/**
 * OAuth 2.0 for the Salesforce sandbox: the token endpoint (client credentials and refresh token
 * grants) and the check of each API call's `Authorization` header.
 *
 * @module
 */
import { ORG_ID, SfError, USER_ID } from "./_salesforce_http.ts";

/** What the token endpoint and the session check need to know. */
export interface SalesforceAuthOptions {
  clientId: string;
  clientSecret: string;
  refreshToken: string;
  /** A static access token also accepted. */
  token: string | undefined;
  tokenTtlMs: number;
  expireTokensAfterUses: number | undefined;
  now: () => number;
}

/** Issued tokens and the checks on them. */
export interface SalesforceAuth {
  /** Throws 401 `INVALID_SESSION_ID` unless the request carries a live token. */
  authenticate(req: Request): void;
  /** Answers `POST /services/oauth2/token`. */
  grant(req: Request, origin: string): Promise<Response>;
  /** Tokens granted so far. */
  readonly grants: number;
  /** Expires one token, given as is or as an `Authorization` header value. */
  expire(tokenOrHeader: string): void;
  /** Expires every token granted so far. */
  expireAll(): void;
}

function randomHex(bytes: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(bytes)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

function tokenOf(text: string): string {
  return /^(?:Bearer|OAuth)\s+(\S+)$/i.exec(text.trim())?.[1] ?? text.trim();
}

/** Creates the token store. */
export function createSalesforceAuth(options: SalesforceAuthOptions): SalesforceAuth {
  const { now, tokenTtlMs } = options;
  const tokens = new Map<string, { expiresAt: number; usesLeft?: number; revoked: boolean }>();
  let tokenGrants = 0;
  function authenticate(req: Request): void {
    const m = /^(?:Bearer|OAuth)\s+(\S+)$/i.exec((req.headers.get("authorization") ?? "").trim());
    const token = m?.[1];
    if (token !== undefined && options.token !== undefined && token === options.token) return;
    const t = token === undefined ? undefined : tokens.get(token);
    if (!t || t.revoked || now() >= t.expiresAt || (t.usesLeft !== undefined && t.usesLeft <= 0)) {
      throw new SfError(401, "INVALID_SESSION_ID", "Session expired or invalid");
    }
    if (t.usesLeft !== undefined) t.usesLeft--;
  }

  async function grantToken(req: Request, origin: string): Promise<Response> {
    const oauthError = (error: string, description: string) =>
      Response.json({ error, error_description: description }, { status: 400 });
    const params = new URLSearchParams(await req.text());
    const grant = params.get("grant_type");
    if (grant !== "client_credentials" && grant !== "refresh_token") {
      return oauthError("unsupported_grant_type", "grant type not supported");
    }
    const { clientId, clientSecret } = options;
    if (
      params.get("client_id") !== clientId ||
      (grant === "client_credentials" && params.get("client_secret") !== clientSecret) ||
      (params.has("client_secret") && params.get("client_secret") !== clientSecret)
    ) {
      return oauthError("invalid_client", "invalid client credentials");
    }
    if (
      grant === "refresh_token" &&
      params.get("refresh_token") !== options.refreshToken
    ) {
      return oauthError("invalid_grant", "expired access/refresh token");
    }
    tokenGrants++;
    const accessToken = `${ORG_ID}!${randomHex(24)}`;
    const issuedAt = now();
    tokens.set(accessToken, {
      expiresAt: issuedAt + tokenTtlMs,
      usesLeft: options.expireTokensAfterUses,
      revoked: false,
    });
    return Response.json({
      access_token: accessToken,
      signature: btoa(randomHex(16)),
      scope: "api",
      instance_url: origin,
      id: `${origin}/id/${ORG_ID}/${USER_ID}`,
      token_type: "Bearer",
      issued_at: String(issuedAt),
    });
  }

  return {
    authenticate,
    grant: grantToken,
    get grants() {
      return tokenGrants;
    },
    expire(tokenOrHeader) {
      const t = tokens.get(tokenOf(tokenOrHeader));
      if (t) t.revoked = true;
    },
    expireAll() {
      for (const t of tokens.values()) t.revoked = true;
    },
  };
}
