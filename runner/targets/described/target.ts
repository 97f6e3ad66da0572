/**
 * The generic target: runs any bulk API a description file in `apis/` describes. Submit is the
 * description's `submit` steps (create → upload → close), with the job checkpointed as soon as
 * its id is known; status reads the state through `status_map`; results joins the result files
 * (or the status answer's list) back to the sent rows.
 *
 * @module
 */
import { basename } from "node:path";
import type { z } from "zod";
import { RunnerError, TransportError } from "../../errors.ts";
import { unzipOne } from "../_zip.ts";
import { type Auth, createAuth } from "./_auth.ts";
import { buildBody, type RowsData, type RowsState, rowsSteps } from "./_body.ts";
import { packAll, Packs } from "../_wire.ts";
import { type Answer, call, type CallEnv, MAX_ANSWER_BYTES, required } from "./_call.ts";
import type {
  Batch,
  BatchResults,
  Finished,
  RequestInfo,
  RowPacker,
  RowShape,
  Spool,
  StatusResult,
  Submission,
  Target,
  TargetContext,
  TargetDefinition,
} from "../types.ts";
import { targetSchemaFor } from "./_params.ts";
import { csvRecords, joinResults, jsonRecords, type ResultSource } from "./_results.ts";
import { textPieces } from "../_csv.ts";
import { atPointer, renderForDisplay, type Scope } from "./_template.ts";
import { loadDescription, type LoadedDescription } from "./load.ts";
import type { Description, RequestDecl } from "./schema.ts";

/** The target section of a described API, as validated. */
export type DescribedConfig = Record<string, unknown> & {
  api: string;
  batch_size: number;
  concurrency: number;
  headers?: Record<string, string>;
  request_timeout: number;
};

type JobState = "pending" | "succeeded" | "failed" | "aborted";

function bodyKind(decl: RequestDecl): string {
  const b = decl.body;
  if (!b) return "";
  const kind = b.csv ? "CSV rows" : b.json_rows ? "JSON rows" : "JSON";
  return ` (${kind}${b.zip ? " in a ZIP" : ""}${b.multipart ? " as multipart form" : ""})`;
}

/** The runnable target of one description and one pipeline's settings. */
class DescribedTarget implements Target {
  readonly api: string;
  readonly batchSize: number;
  readonly concurrency: number;
  readonly duplicatesOnResend: boolean;
  readonly loadsNothingBeforeCheckpoint: boolean;
  readonly limits: Target["limits"];
  readonly #loaded: LoadedDescription;
  readonly #desc: Description;
  readonly #params: Record<string, unknown>;
  readonly #secrets: ReadonlySet<string>;
  readonly #auth: Auth | undefined;
  readonly #env: CallEnv;
  /** The submit step that sends the rows, and its body packed as batches fill. */
  readonly #rowsStep: string | undefined;
  readonly #packs: Packs<RowsState, RowsData> | undefined;

  constructor(loaded: LoadedDescription, config: DescribedConfig) {
    const d = loaded.description;
    this.#loaded = loaded;
    this.#desc = d;
    this.api = config.api;
    this.#params = Object.fromEntries(Object.keys(d.params).map((k) => [k, config[k]]));
    this.#secrets = new Set(Object.entries(d.params).filter(([, p]) => p.secret).map(([k]) => k));
    this.batchSize = Math.min(config.batch_size, d.limits.rows_per_job ?? Infinity);
    this.concurrency = Math.min(config.concurrency, d.limits.jobs_in_flight ?? Infinity);
    const dup = d.duplicates_on_resend;
    this.duplicatesOnResend = typeof dup === "boolean"
      ? dup
      : Object.entries(dup).some(([p, values]) => values.includes(String(this.#params[p])));
    this.limits = {
      ...(d.limits.rows_per_job ? { maxRowsPerBatch: d.limits.rows_per_job } : {}),
      ...(d.limits.bytes_per_job ? { maxBytesPerBatch: d.limits.bytes_per_job } : {}),
      ...(d.limits.columns ? { maxColumns: d.limits.columns } : {}),
    };
    this.#auth = createAuth(d, this.#params, this.#secrets, config.request_timeout);
    this.#rowsStep = d.submit.find((step) => {
      const body = d.requests[step as "create"]?.body;
      return body?.csv !== undefined || body?.json_rows !== undefined;
    });
    // The job's id is journaled as soon as the step that takes it answers: when the rows go in a
    // later step, nothing sent before that can have loaded a row.
    const idStep = d.submit.findIndex((step) => d.requests[step as "create"]?.take?.id);
    this.loadsNothingBeforeCheckpoint = idStep >= 0 && this.#rowsStep !== undefined &&
      d.submit.findIndex((step) => step === this.#rowsStep) > idStep;
    const rowsBody = this.#rowsStep ? d.requests[this.#rowsStep as "create"]!.body : undefined;
    this.#packs = rowsBody
      ? new Packs(rowsSteps(rowsBody, (batch) => this.#scope({}, batch)))
      : undefined;
    this.#env = {
      title: d.title,
      auth: this.#auth,
      headers: { ...config.headers },
      timeoutMs: config.request_timeout,
    };
  }

  #scope(job: Record<string, unknown>, batch?: Batch): Scope {
    return {
      params: this.#params,
      job,
      ...(batch
        ? {
          batch: {
            index: batch.index,
            number: batch.index + 1,
            size: batch.rows.length,
            key: batch.key,
          },
        }
        : {}),
    };
  }

  requests(): RequestInfo[] {
    const r = this.#desc.requests;
    const info = (name: string, decl: RequestDecl, when: RequestInfo["when"], note = "") => ({
      name,
      method: decl.method,
      when,
      safeToRepeat: decl.safe_to_repeat,
      detail: `${decl.method} ${renderForDisplay(decl.url, this.#params, this.#secrets)}${
        bodyKind(decl)
      }${note}`,
    });
    const out: RequestInfo[] = [];
    const token = this.#auth?.info();
    if (token) out.push(token);
    for (const step of this.#desc.submit) out.push(info(step, r[step]!, "per_batch"));
    out.push(info("status", r.status, "per_poll"));
    for (const [n, decl] of Object.entries(r.results ?? {})) {
      out.push(info(`results: ${n}`, decl, "on_finish"));
    }
    if (r.abort) out.push(info("abort", r.abort, "per_batch", " (only for a job left open)"));
    return out;
  }

  /**
   * Builds the rows body of the submit step that sends the rows as the batch fills. A template
   * of that body that needs a job's value cannot be rendered before the job exists: such a batch
   * is not packed (undefined), and keeps its rows.
   */
  pack(batch: Batch, spool: Spool): RowPacker | undefined {
    return this.#packs?.packer(batch, spool);
  }

  async submit(batch: Batch, ctx: TargetContext): Promise<Submission> {
    const max = this.#desc.limits.columns;
    const n = batch.index + 1;
    if (max !== undefined && batch.fields.length > max) {
      throw new RunnerError(
        "api",
        `Cannot send batch ${n}: ${this.#desc.title} takes at most ${max} columns, but ${batch.fields.length} fields are mapped`,
      );
    }
    const job: Record<string, unknown> = {};
    // Packed as the batch filled; otherwise (its rows body needs a job's value) built below, in
    // its step, once the job's values are known.
    let rows = this.#packs?.taken(batch);
    let checkpointed = false;
    let step = "";
    try {
      for (step of this.#desc.submit) {
        const decl = this.#desc.requests[step as "create"]!;
        const scope = this.#scope(job, batch);
        if (step === this.#rowsStep) rows ??= packAll(rowsSteps(decl.body!, () => scope), batch);
        const body = buildBody(decl.body, batch, scope, step === this.#rowsStep ? rows : undefined);
        const limit = this.#desc.limits.bytes_per_job;
        if (
          body && limit !== undefined && body.bytes > limit &&
          (decl.body?.csv || decl.body?.json_rows)
        ) {
          throw new RunnerError(
            "api",
            `Cannot send batch ${n}: its ${body.bytes} bytes are over ${this.#desc.title}'s limit of ${limit}: lower target.batch_size (now ${this.batchSize})`,
          );
        }
        const answer = await call(this.#env, ctx, decl, scope, `${step} batch ${n}`, body);
        Object.assign(job, answer.taken);
        if (!checkpointed && "id" in answer.taken) {
          required(job, "id", `${step} batch ${n}`);
          checkpointed = true;
          ctx.checkpoint?.({ id: String(job.id), data: { ...job } });
        }
      }
    } catch (err) {
      throw await this.#abandon(err, step, checkpointed, job, batch, ctx);
    } finally {
      // Sent or not, no request reads the rows again: their memory goes back at once.
      rows?.data.free();
    }
    return { id: required(job, "id", `submit batch ${n}`), data: { ...job } };
  }

  /**
   * A submit step failed after the job was created. An open job processes nothing, so aborting
   * it makes the batch safe to resend; a close of unknown fate is left to `recover`.
   */
  async #abandon(
    err: unknown,
    step: string,
    created: boolean,
    job: Record<string, unknown>,
    batch: Batch,
    ctx: TargetContext,
  ): Promise<unknown> {
    const uncertainClose = step === "close" && err instanceof TransportError && err.maybeDelivered;
    if (!created || !this.#desc.requests.abort || uncertainClose) return err;
    try {
      await this.#abort(job, batch, ctx);
    } catch (abortErr) {
      ctx.log(`Cannot abort job "${job.id}": ${(abortErr as Error).message}`);
      return err;
    }
    const message = `${
      (err as Error).message
    } (job "${job.id}" aborted: none of its rows were loaded)`;
    return err instanceof TransportError
      ? new TransportError(message, false, { cause: err })
      : new RunnerError(err instanceof RunnerError ? err.code : "api", message, { cause: err });
  }

  async #abort(job: Record<string, unknown>, batch: Batch, ctx: TargetContext): Promise<void> {
    const decl = this.#desc.requests.abort!;
    const scope = this.#scope(job, batch);
    await call(
      this.#env,
      ctx,
      decl,
      scope,
      `abort job "${job.id}"`,
      buildBody(decl.body, batch, scope),
    );
  }

  /** Reads the job's state; unknown states are an error naming the description's line. */
  async #state(sub: Submission, batch: Batch, ctx: TargetContext): Promise<{
    answer: Answer;
    job: Record<string, unknown>;
    remote: string;
    state: JobState;
  }> {
    const job = { ...sub.data, id: sub.id };
    const decl = this.#desc.requests.status;
    const answer = await call(
      this.#env,
      ctx,
      decl,
      this.#scope(job, batch),
      `check job "${sub.id}"`,
    );
    const m = this.#desc.status_map;
    const raw = atPointer(answer.json, m.at);
    const remote = raw === undefined || raw === null ? "" : String(raw);
    const hit = Object.entries(m.states).find(([k]) =>
      m.ignore_case ? k.toLowerCase() === remote.toLowerCase() : k === remote
    );
    if (!hit) {
      throw new RunnerError(
        "api",
        `${this.#desc.title} gave job "${sub.id}" the unknown state "${remote}" (at "${m.at}"): ${
          this.#loaded.where(["status_map", "states"])
        } lists ${Object.keys(m.states).map((s) => `"${s}"`).join(", ")}`,
      );
    }
    return { answer, job: { ...job, ...answer.taken }, remote: hit[0], state: hit[1] };
  }

  async status(sub: Submission, batch: Batch, ctx: TargetContext): Promise<StatusResult> {
    const { answer, job, state } = await this.#state(sub, batch, ctx);
    const remote = String(atPointer(answer.json, this.#desc.status_map.at));
    if (state === "pending") return { done: false, remoteStatus: remote };
    const m = this.#desc.status_map;
    const said = (p: string | undefined) => {
      const v = p === undefined ? undefined : atPointer(answer.json, p);
      return typeof v === "string" && v.trim() !== "" ? v.trim() : undefined;
    };
    const flagged = state === "succeeded" ? said(m.failed_if_set) : undefined;
    const end: JobState = flagged ? "failed" : state;
    const message = flagged ?? said(m.message_at);
    return {
      done: true,
      status: end === "succeeded" ? "completed" : "failed",
      remoteStatus: remote,
      ...(message ? { message } : {}),
      data: { state: end, job },
    };
  }

  async results(
    sub: Submission,
    done: Finished,
    batch: Batch,
    ctx: TargetContext,
  ): Promise<BatchResults> {
    const data = done.data ?? {};
    const job = { ...sub.data, ...(data.job as Record<string, unknown> | undefined), id: sub.id };
    const state = (data.state as JobState | undefined) ??
      (done.status === "completed" ? "succeeded" : "failed");
    const r = this.#desc.results;
    const sources: ResultSource[] = [];
    if (r.inline) {
      // Re-read rather than journal the list: the status request is safe to repeat.
      const { answer } = await this.#state(sub, batch, ctx);
      sources.push({
        name: "The status answer",
        rules: r.inline,
        records: jsonRecords(answer.json, r.inline.at, "the status answer"),
      });
    }
    for (const [name, file] of Object.entries(r.files ?? {})) {
      const decl = this.#desc.requests.results![name]!;
      const what = `download the ${name} results of job "${sub.id}"`;
      const answer = await call(this.#env, ctx, decl, this.#scope(job, batch), what);
      const bytes = file.zip
        ? unzipOne(answer.bytes, MAX_ANSWER_BYTES, `the ${name} results`).data
        : answer.bytes;
      // A CSV file is read in pieces, a record at a time; JSON needs its whole text.
      const records = file.format === "csv"
        ? csvRecords(textPieces(bytes), file.delimiter)
        : jsonRecords(
          parseJsonText(new TextDecoder().decode(bytes)),
          file.rows_at,
          `the ${name} results`,
        );
      sources.push({ name: `The ${name} results`, rules: file, records });
    }
    return joinResults(this.#desc, sources, batch, {
      state: state === "pending" ? "failed" : state,
      ...(done.message ? { message: done.message } : {}),
      values: job,
    });
  }

  async recover(
    partial: Submission,
    batch: Batch,
    ctx: TargetContext,
  ): Promise<Submission | "resend"> {
    const { remote } = await this.#state(partial, batch, ctx);
    if (!this.#desc.status_map.open.includes(remote)) return partial;
    const job = { ...partial.data, id: partial.id };
    if (this.#desc.requests.abort) await this.#abort(job, batch, ctx);
    else {ctx.log(
        `Job "${partial.id}" is still open and cannot be aborted; its rows are sent again`,
      );}
    return "resend";
  }
}

/** Builds the generic target of a loaded description for a validated target section. */
export function createDescribedTarget(
  loaded: LoadedDescription,
  config: DescribedConfig,
  _shape?: RowShape,
): Target {
  return new DescribedTarget(loaded, config);
}

/**
 * The target definition of a description file.
 *
 * @param api the `target.api` that selects it; default the file's name without `.yaml` (pass
 *   another where that name is taken by a built-in target, e.g. `bigin`)
 * @throws {PipelineError} when the description is not valid, with every problem's line
 */
export function describedDefinition(
  descriptionPath: string,
  api = basename(descriptionPath).replace(/\.ya?ml$/, ""),
): TargetDefinition<ReturnType<typeof targetSchemaFor>> {
  const loaded = loadDescription(descriptionPath);
  const schema = targetSchemaFor(api, loaded.description);
  return {
    api,
    title: loaded.description.title,
    schema,
    create: (config: z.output<typeof schema>, shape: RowShape) =>
      createDescribedTarget(loaded, config as DescribedConfig, shape),
  };
}

/** A JSON result file's value; an empty file is no rows. */
function parseJsonText(text: string): unknown {
  return text.trim() === "" ? [] : JSON.parse(text);
}
