/**
 * The requests a Bigin run makes: their URLs, and which of them may be repeated.
 *
 * @module
 */
import type { RequestInfo } from "../types.ts";
import type { BiginConfig, BiginDomains } from "./_schema.ts";

/** Every request of a Bigin run, by role. */
export interface BiginRequests {
  token: RequestInfo;
  upload: RequestInfo;
  createJob: RequestInfo;
  status: RequestInfo;
  download: RequestInfo;
}

/** The URLs a run talks to. */
export interface BiginUrls {
  token: string;
  upload: string;
  jobs: string;
}

/** The URLs of a run against `domains`. */
export function biginUrls(domains: BiginDomains): BiginUrls {
  return {
    token: `${domains.accounts}/oauth/v2/token`,
    upload: `${domains.content}/bigin/v2/upload`,
    jobs: `${domains.api}/bigin/bulk/v2/write`,
  };
}

/** The requests of a run, with what `plan` prints of each (never a secret). */
export function biginRequests(
  config: BiginConfig,
  domains: BiginDomains,
  batchSize: number,
): BiginRequests {
  const urls = biginUrls(domains);
  return {
    token: {
      name: "token",
      method: "POST",
      when: "per_run",
      safeToRepeat: true,
      detail: `POST ${urls.token} (refresh-token grant, once, refreshed on expiry)`,
    },
    upload: {
      name: "upload",
      method: "POST",
      when: "per_batch",
      // An uploaded file writes nothing until a job is created from it.
      safeToRepeat: true,
      detail:
        `POST ${urls.upload} (one ZIP of one CSV per batch of ${batchSize} rows, org ${config.org_id})`,
    },
    createJob: {
      name: "create job",
      method: "POST",
      when: "per_batch",
      // Each job loads its file: a resend would load every row twice.
      safeToRepeat: false,
      detail: `POST ${urls.jobs} (${config.operation} into ${config.module}${
        config.find_by ? ` by ${config.find_by}` : ""
      })`,
    },
    status: {
      name: "status",
      method: "GET",
      when: "per_poll",
      safeToRepeat: true,
      detail: `GET ${urls.jobs}/<job_id> until COMPLETED or FAILED`,
    },
    download: {
      name: "download",
      method: "GET",
      when: "on_finish",
      safeToRepeat: true,
      detail:
        `GET ${domains.api}<result.download_url> (result ZIP: STATUS, RECORD_ID, ERRORS per row)`,
    },
  };
}
