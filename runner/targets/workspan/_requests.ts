/**
 * The requests a WorkSpan run makes: their URLs, and which of them may be repeated.
 *
 * @module
 */
import type { RequestInfo } from "../types.ts";
import type { WorkspanConfig } from "./_schema.ts";

/** The requests a WorkSpan run makes, and which of them may be repeated. */
export function workspanRequests(config: WorkspanConfig) {
  const base = config.base_url;
  const a = config.auth;
  return {
    token: {
      name: "token",
      method: "POST",
      when: "per_run",
      safeToRepeat: true,
      detail: `POST ${
        a.type === "client_credentials" ? a.token_url ?? `${base}/oauth/token` : ""
      } (once, refreshed on expiry)`,
    },
    upload: {
      name: "upload",
      method: "POST",
      when: "per_batch",
      // Each upload starts an execution: a resend would load its rows twice.
      safeToRepeat: false,
      detail:
        `POST ${base}/bulk/v1/bulkload_opportunity?integration_id=${config.integration_id}&content_type=${config.content_type.toUpperCase()} (one per batch of ${config.batch_size} rows)`,
    },
    status: {
      name: "status",
      method: "GET",
      when: "per_poll",
      safeToRepeat: true,
      detail:
        `GET ${base}/bulk/v1/status/${config.integration_id}?execution_id=<id>&include_errors=true until completed`,
    },
  } satisfies Record<string, RequestInfo>;
}
