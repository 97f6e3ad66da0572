/**
 * The `plan` command: what a run would do, from the compiled steps to a preview of mapped rows
 * and a request count. Reads the source but sends nothing.
 *
 * @module
 */
import { type Io, loadPlan, warningLines } from "./commands.ts";
import type { Plan } from "./compile.ts";
import { EXIT } from "./exit.ts";
import { planChanges } from "./execute/changes.ts";
import { duplicateFinder } from "./execute/batcher.ts";
import { lastLines } from "./preflight.ts";
import { TARGETS } from "./registry.ts";
import { openSource } from "./sources/mod.ts";
import type { RequestInfo, TargetDefinition } from "./targets/mod.ts";
import { count } from "./util/format.ts";
import { redact } from "./util/redact.ts";

/** `plan`: compiled steps, a preview of mapped rows, and what a run would send. No network. */
export async function planCommand(
  file: string,
  io: Io,
  previewRows: number,
  targets: readonly TargetDefinition[] = TARGETS,
  allowMissingEnv = false,
  stateDir = ".state",
): Promise<number> {
  // Plan sends nothing, so a missing secret is only a placeholder here.
  const plan = await loadPlan(file, io, targets, allowMissingEnv);
  const out = (l: string) => io.out(redact(l, plan.secrets));
  for (const w of warningLines(plan)) io.err(w);
  out(`pipeline ${plan.name} (${file})`);
  out(`  source  ${plan.source.path} (${plan.source.format})`);
  out(
    `  target  ${plan.target.api}, batches of ${plan.target.batchSize}, ${plan.target.concurrency} in flight`,
  );
  out(`  key     ${plan.key}`);
  out(`  fields  ${plan.mapper.fields.join(", ")}`);
  out("steps:");
  out("  1. read    stream the source, map and check each row (rejects stay local)");
  const requests = plan.target.requests();
  requests.forEach((r, i) =>
    out(
      `  ${i + 2}. ${r.name.padEnd(7)} ${r.detail}${
        r.safeToRepeat ? "" : " (never resent blindly)"
      }`,
    )
  );
  const p = plan.polling;
  out(
    `  polling every ${p.interval} ms, x${p.backoff} up to ${p.max_interval} ms, give up after ${p.timeout} ms`,
  );
  const scan = await previewScan(plan, previewRows);
  out(
    `preview (first ${
      count(scan.shown, "mapped row")
    }, source -> sent; rejected rows are skipped here and listed below):`,
  );
  for (const l of scan.preview) out(l);
  const { read, rejected, mapped } = scan;
  const batches = Math.ceil(mapped / plan.target.batchSize);
  out(
    `a run would read ${count(read, "row")}, reject ${rejected} locally and send ${mapped} in ${
      count(batches, "batch", "batches")
    }: ${
      count(requestCount(requests, batches), "request")
    }, plus one status check per poll (the first ${p.interval} ms after each upload)`,
  );
  if (plan.send === "changed") out(await planChanges(plan, stateDir));
  if (scan.rejects.length > 0) {
    out(
      `rows that would be rejected${
        rejected > scan.rejects.length ? ` (first ${scan.rejects.length})` : ""
      }:`,
    );
    for (const l of scan.rejects) out(l);
  }
  const rate = read === 0 ? 0 : rejected / read;
  if (rate > plan.maxErrorRate) {
    io.err(
      `${file}: warning ${rejected} of ${count(read, "row")} (${
        pct(rate)
      }) would be rejected locally, above limits.max_error_rate ${
        pct(plan.maxErrorRate)
      }: a run would fail (exit 1)${
        plan.stopBeforeSend
          ? " before sending anything (limits.stop_before_send_on_error_rate)"
          : " after sending the other rows; set limits.stop_before_send_on_error_rate: true to send nothing in that case"
      }`,
    );
  }
  return EXIT.ok;
}

function pct(x: number): string {
  return `${Math.round(x * 10000) / 100}%`;
}

/** Reads the whole source as a run would: the first `rows` mapped rows and the first rejects. */
async function previewScan(plan: Plan, rows: number) {
  let read = 0, rejected = 0, mapped = 0, shown = 0;
  const preview: string[] = [];
  const rejects: string[] = [];
  const dupes = duplicateFinder(plan.duplicates, await lastLines(plan));
  for await (const rec of openSource(plan.source).records()) {
    read++;
    const r = rec.error === undefined ? plan.mapper.map(rec.values) : undefined;
    const dup = r?.ok ? dupes(plan.keyOf(rec.values), rec.line) : undefined;
    if (!r || !r.ok || dup?.reject) {
      rejected++;
      if (rejects.length < 20) {
        const why = rec.error ?? (r && !r.ok ? r.errors.map((e) => e.message).join("; ") : "") ??
          "";
        rejects.push(`  line ${rec.line}: ${why || dup?.message}`);
      }
      continue;
    }
    mapped++;
    if (shown < rows) {
      shown++;
      preview.push(`  line ${rec.line}: ${JSON.stringify(rec.values)}`);
      preview.push(`       -> ${JSON.stringify(r.row)}`);
    }
  }
  return { read, rejected, mapped, shown, preview, rejects };
}

/**
 * How many requests a run of `batches` batches makes, status checks aside (their number depends
 * on how long the API takes): once-a-run requests once, per-batch and on-finish ones per batch.
 */
export function requestCount(requests: readonly RequestInfo[], batches: number): number {
  if (batches === 0) return 0;
  let n = 0;
  for (const r of requests) {
    if (r.when === "per_run") n += 1;
    else if (r.when === "per_batch" || r.when === "on_finish") n += batches;
  }
  return n;
}
