/**
 * The Zoho Bigin Bulk Write API target. Per batch: the rows as one CSV in a ZIP, uploaded to
 * `{content}/bigin/v2/upload`; a job created at `{api}/bigin/bulk/v2/write`; then
 * `GET {api}/bigin/bulk/v2/write/{job_id}` until the job completes, and the result ZIP
 * (the uploaded rows plus `STATUS`, `RECORD_ID`, `ERRORS`) downloaded and joined back to the
 * batch's rows by position.
 *
 * @module
 */
import { HttpError, RunnerError, TransportError } from "../../errors.ts";
import type {
  Batch,
  BatchResults,
  Finished,
  RequestInfo,
  RowShape,
  StatusResult,
  Submission,
  Target,
  TargetContext,
  TargetDefinition,
} from "../types.ts";
import { biginClient } from "./_client.ts";
import { type BiginJobCounts, biginJobs, withFileId } from "./_job.ts";
import { BIGIN_STANDARD_FIELDS } from "./_modules.ts";
import { biginRequests, biginUrls } from "./_requests.ts";
import { failedJobResult, readResultCsv } from "./_results.ts";
import {
  BIGIN_MAX_COLUMNS,
  BIGIN_MAX_ROWS,
  BIGIN_MAX_ZIP_BYTES,
  type BiginConfig,
  biginDomains,
  biginSchema,
} from "./_schema.ts";

export { BIGIN_DATA_CENTERS, type BiginConfig, biginDomains, biginSchema } from "./_schema.ts";
export { readJobDetails } from "./_job.ts";
export { formatRowErrors, parseRowErrors, readResultCsv } from "./_results.ts";
export { fieldMappings } from "./_wire.ts";

/** What a finished job's status leaves for `results` (journaled with the finished status). */
interface FinishedJob {
  downloadUrl?: string;
  counts?: BiginJobCounts;
  message?: string;
}

/**
 * A failed upload loaded nothing, whatever became of it (a file writes nothing until a job is
 * created from it): its error says so, so the batch counts as not sent, never `unknown`.
 */
function nothingLoaded(err: unknown): unknown {
  if (err instanceof TransportError && !err.maybeDelivered) return err;
  if (err instanceof HttpError && err.status < 500 && err.code !== "transport") return err;
  // Raised before anything was sent (a batch too large to pack): already a refusal.
  if (err instanceof RunnerError && !(err instanceof HttpError || err instanceof TransportError)) {
    return err;
  }
  const message = err instanceof Error ? err.message : String(err);
  return new TransportError(`${message} (no job was created: nothing was loaded)`, false, {
    cause: err,
  });
}

/** Builds the Bigin target for a validated config. */
export function createBiginTarget(config: BiginConfig, shape: RowShape): Target {
  const domains = biginDomains(config.data_center, config.base_url);
  const batchSize = Math.min(config.batch_size, BIGIN_MAX_ROWS);
  const urls = biginUrls(domains);
  const requests = biginRequests(config, domains, batchSize);
  const client = biginClient(config, domains, urls, requests);
  const jobs = biginJobs(config, shape, { domains, urls, requests, client, batchSize });

  return {
    api: "bigin",
    batchSize,
    concurrency: config.concurrency,
    duplicatesOnResend: config.operation === "insert",
    limits: {
      maxRowsPerBatch: BIGIN_MAX_ROWS,
      maxBytesPerBatch: BIGIN_MAX_ZIP_BYTES,
      maxColumns: BIGIN_MAX_COLUMNS,
    },

    knownFields() {
      const m = BIGIN_STANDARD_FIELDS[config.module];
      return m ? { known: m.fields, required: m.required } : undefined;
    },

    requests(): RequestInfo[] {
      return [
        requests.token,
        requests.upload,
        requests.createJob,
        requests.status,
        requests.download,
      ];
    },

    pack: (batch) => jobs.pack(batch),

    async submit(batch: Batch, ctx: TargetContext): Promise<Submission> {
      const fileId = await jobs.upload(batch, ctx).catch((err) => {
        throw nothingLoaded(err);
      });
      try {
        return { id: await jobs.createJob(batch, fileId, ctx) };
      } catch (err) {
        throw withFileId(err, fileId);
      }
    },

    async status(sub: Submission, _batch: Batch, ctx: TargetContext): Promise<StatusResult> {
      const job = await jobs.details(sub.id, ctx);
      if (job.state === "pending") {
        if (job.unknown) {
          ctx.log(
            `Bigin job "${sub.id}" has undocumented status "${job.remoteStatus}": still waiting`,
          );
        }
        return { done: false, remoteStatus: job.remoteStatus };
      }
      const data: FinishedJob = {
        ...(job.downloadUrl ? { downloadUrl: job.downloadUrl } : {}),
        ...(job.counts ? { counts: job.counts } : {}),
        ...(job.message ? { message: job.message } : {}),
      };
      return {
        done: true,
        status: job.state,
        remoteStatus: job.remoteStatus,
        ...(job.state === "failed"
          ? { message: `Bigin job failed${job.message ? `: ${job.message}` : ""}` }
          : {}),
        data: { ...data },
      };
    },

    async results(
      sub: Submission,
      done: Finished,
      batch: Batch,
      ctx: TargetContext,
    ): Promise<BatchResults> {
      const job = (done.data ?? {}) as FinishedJob;
      if (done.status === "failed") {
        return failedJobResult({ state: "failed", remoteStatus: done.remoteStatus, ...job }, batch);
      }
      if (!job.downloadUrl) {
        const c = job.counts ?? {};
        const succeeded = (c.added ?? 0) + (c.updated ?? 0);
        const skipped = c.skipped ?? 0;
        return {
          counts: {
            succeeded,
            skipped,
            failed: Math.max(0, batch.rows.length - succeeded - skipped),
          },
          failures: [],
          problems: [
            `Job "${sub.id}" completed without a result.download_url: counts come from the job and failed rows are not known`,
          ],
        };
      }
      const text = await jobs.download(job.downloadUrl, sub.id, ctx);
      return readResultCsv(text, batch, job.counts);
    },
  };
}

/** The Zoho Bigin Bulk Write API, as the registry lists it. */
export const bigin: TargetDefinition<typeof biginSchema> = {
  api: "bigin",
  title: "Zoho Bigin Bulk Write",
  schema: biginSchema,
  create: (config, shape) => createBiginTarget(config, shape),
};
