/**
 * The endpoints a fault can name, and which endpoint a request is.
 *
 * @module
 */

/** The endpoints a fault can name, in the order a client meets them. */
export const FAULT_ENDPOINTS = [
  "ws.token",
  "ws.upload",
  "ws.status",
  "bigin.token",
  "bigin.upload",
  "bigin.job",
  "bigin.details",
  "bigin.download",
  "sf.token",
  "sf.create",
  "sf.upload",
  "sf.close",
  "sf.job",
  "sf.results",
] as const;

/**
 * An endpoint by name: `ws.token` (`POST /oauth/token`), `ws.upload`
 * (`POST /bulk/v1/bulkload_opportunity`), `ws.status` (`GET /bulk/v1/status/…`), `bigin.token`
 * (`POST /oauth/v2/token`), `bigin.upload` (`POST /bigin/v2/upload`), `bigin.job`
 * (`POST /bigin/bulk/v2/write`), `bigin.details` (`GET /bigin/bulk/v2/write/{id}`),
 * `bigin.download` (`GET /v2/bigin/…/bulk-write/{id}/{id}.zip`), `sf.token`
 * (`POST /services/oauth2/token`), `sf.create` (`POST /services/data/vXX.X/jobs/ingest`),
 * `sf.upload` (`PUT …/jobs/ingest/{id}/batches`), `sf.close` (`PATCH …/jobs/ingest/{id}`, closing
 * or aborting), `sf.job` (`GET …/jobs/ingest/{id}`), `sf.results` (`GET …/jobs/ingest/{id}/
 * successfulResults|failedResults|unprocessedrecords`).
 */
export type FaultEndpoint = typeof FAULT_ENDPOINTS[number];

const SF_PATH =
  /^\/services\/data\/v\d+\.\d\/jobs\/ingest(?:\/([^/]+)(?:\/(batches|successfulResults|failedResults|unprocessedrecords))?)?\/?$/;

/**
 * Which endpoint a request is, by method and path; `undefined` when no fault can name it.
 *
 * @example
 * ```ts
 * endpointOf("GET", "/bulk/v1/status/WS-Integration_demo"); // "ws.status"
 * ```
 */
export function endpointOf(method: string, path: string): FaultEndpoint | undefined {
  if (method === "POST") {
    switch (path) {
      case "/oauth/token":
        return "ws.token";
      case "/bulk/v1/bulkload_opportunity":
        return "ws.upload";
      case "/oauth/v2/token":
        return "bigin.token";
      case "/bigin/v2/upload":
        return "bigin.upload";
      case "/bigin/bulk/v2/write":
        return "bigin.job";
      case "/services/oauth2/token":
        return "sf.token";
    }
  }
  const sf = SF_PATH.exec(path);
  if (sf) {
    const [, id, sub] = sf;
    if (method === "POST" && id === undefined) return "sf.create";
    if (method === "PUT" && sub === "batches") return "sf.upload";
    if (method === "PATCH" && id !== undefined && sub === undefined) return "sf.close";
    if (method === "GET" && id !== undefined && sub === undefined) return "sf.job";
    if (method === "GET" && sub !== undefined && sub !== "batches") return "sf.results";
    return undefined;
  }
  if (method === "GET") {
    if (path.startsWith("/bulk/v1/status/")) return "ws.status";
    if (/^\/bigin\/bulk\/v2\/write\/[^/]+$/.test(path)) return "bigin.details";
    if (/^\/v2\/bigin\/[^/]+\/bulk-write\/[^/]+\/[^/]+\.zip$/.test(path)) return "bigin.download";
  }
  return undefined;
}
