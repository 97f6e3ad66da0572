/**
 * Renders the job summary of a realistic failed run the way GitHub shows it, and screenshots it
 * to `docs/job-summary.png` with headless Chromium. The Markdown comes from the runner's own
 * `jobSummary()`; `marked` (GFM) turns it into HTML and a small stylesheet mimics github.com.
 *
 * ```sh
 * apt-get install -y chromium     # or set CHROMIUM=/path/to/chrome
 * deno run --allow-read --allow-write --allow-env --allow-run docs/render_job_summary.ts
 * ```
 *
 * @module
 */
import { marked } from "marked";
import { jobSummary } from "../runner/report/github/mod.ts";
import type { Summary } from "../runner/report/summary.ts";

const WORKSPACE = "/home/runner/work/crm-loads/crm-loads";

/** A scheduled WorkSpan load where more rows failed than `limits.max_error_rate` allows. */
export const EXAMPLE: Summary = {
  version: 1,
  pipeline: "workspan-opportunities",
  target: "workspan",
  status: "failed",
  reason: "85 of 12480 rows failed (0.68%), above max_error_rate 0.5%",
  started_at: "2026-11-25T19:17:04.518Z",
  finished_at: "2026-11-25T19:21:16.902Z",
  duration_ms: 252_384,
  source: `${WORKSPACE}/examples/data/opportunities.csv`,
  counts: {
    read: 12480,
    rejected: 31,
    sent: 12449,
    succeeded: 12395,
    failed: 54,
    skipped: 0,
    pending: 0,
    unknown: 0,
    unsent: 0,
  },
  error_rate: 0.00681,
  max_error_rate: 0.005,
  batches: [
    [5000, 2, 5001, "a64690c2450", 4981, 19, 6],
    [5000, 5002, 10001, "a64690c2457", 4978, 22, 7],
    [2449, 10002, 12481, "a64690c245e", 2436, 13, 4],
  ].map(([rows, first, last, id, ok, failed, polls], index) => ({
    index,
    execution_id: String(id),
    rows: Number(rows),
    first_line: Number(first),
    last_line: Number(last),
    status: "completed" as const,
    remote_status: "completed",
    polls: Number(polls),
    counts: { succeeded: Number(ok), failed: Number(failed), skipped: 0 },
  })),
  errors: [
    {
      source_line: 118,
      field: "close_date",
      code: "invalid_date",
      message:
        'Cannot parse "31-Feb-2026" in column "Close Date": expected date format "dd-MMM-yyyy"',
      stage: "local",
    },
    {
      source_line: 412,
      key: "aw00410",
      field: "stage",
      message: "invalid value in field 'stage'",
      stage: "remote",
    },
    {
      source_line: 977,
      field: "opportunity_id",
      code: "key_missing",
      message: "Missing value of key field",
      stage: "local",
    },
    {
      source_line: 1630,
      key: "aw01628",
      field: "amount",
      message: "amount must be >= 0 | got -1200",
      stage: "remote",
    },
    {
      source_line: 2204,
      key: "aw02202",
      field: "owner_email",
      message: "unknown user <j.doe@example.com>",
      stage: "remote",
    },
    {
      source_line: 3391,
      key: "aw03389",
      field: "stage",
      message: "invalid value in field 'stage'",
      stage: "remote",
    },
    ...Array.from({ length: 79 }, (_, i) => ({
      source_line: 3400 + i * 100,
      key: `aw0${3400 + i * 100}`,
      field: "stage",
      message: "invalid value in field 'stage'",
      stage: "remote" as const,
    })),
  ],
  errors_omitted: 0,
  problems: [],
  hints: [
    `85 rows that did not load are in ${WORKSPACE}/out/workspan-opportunities.rejects.csv, with their line and error`,
  ],
  exit_code: 1,
  outputs: {
    summary: `${WORKSPACE}/out/workspan-opportunities.summary.json`,
    rejects: `${WORKSPACE}/out/workspan-opportunities.rejects.csv`,
  },
};

/** The job summary's Markdown for {@linkcode EXAMPLE} (8 failed rows listed, so it fits). */
export function exampleMarkdown(): string {
  return jobSummary(EXAMPLE, {
    pipelineFile: "examples/workspan-opportunities.yaml",
    workspace: WORKSPACE,
    blobUrl: "https://github.com/acme/crm-loads/blob/4f1c2e9",
    runUrl: "https://github.com/acme/crm-loads/actions/runs/12893410023",
    maxRows: 8,
  });
}

const CSS = `
body { margin: 0; background: #f6f8fa; color: #1f2328;
  font: 14px/1.5 -apple-system, BlinkMacSystemFont, "Segoe UI", "Noto Sans", Helvetica, Arial,
    "DejaVu Sans", sans-serif; }
.frame { margin: 16px; background: #fff; border: 1px solid #d0d7de; border-radius: 6px; }
.frame > header { padding: 12px 16px; border-bottom: 1px solid #d0d7de; font-weight: 600; }
.frame > header span { color: #656d76; font-weight: 400; }
.markdown-body { padding: 8px 24px 16px; }
h3 { font-size: 1.25em; margin: 16px 0 12px; font-weight: 600; }
h4 { font-size: 1em; margin: 20px 0 8px; font-weight: 600; }
p { margin: 0 0 12px; }
a { color: #0969da; text-decoration: none; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace;
  background: rgba(175, 184, 193, 0.2); padding: 0.2em 0.4em; border-radius: 6px; }
blockquote { margin: 0 0 12px; padding: 0 1em; color: #656d76; border-left: 0.25em solid #d0d7de; }
table { border-collapse: collapse; margin: 0 0 12px; display: block; width: max-content;
  max-width: 100%; overflow: auto; }
th, td { border: 1px solid #d0d7de; padding: 4px 12px; }
th { font-weight: 600; }
tr:nth-child(2n) { background: #f6f8fa; }
ul { margin: 0 0 12px; padding-left: 2em; }
`;

/** The page: the rendered Markdown in a frame like the run page's summary box. */
export function examplePage(): string {
  const body = marked.parse(exampleMarkdown(), { gfm: true, async: false });
  return `<!doctype html><html><head><meta charset="utf-8"><style>${CSS}</style></head><body>
<div class="frame"><header>workspan-opportunities <span>summary</span></header>
<div class="markdown-body">${body}</div></div></body></html>`;
}

if (import.meta.main) {
  const chromium = Deno.env.get("CHROMIUM") ?? "/usr/bin/chromium";
  const out = new URL("./job-summary.png", import.meta.url).pathname;
  const dir = await Deno.makeTempDir({ prefix: "job-summary-" });
  try {
    await Deno.writeTextFile(`${dir}/page.html`, examplePage());
    const result = await new Deno.Command(chromium, {
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        `--user-data-dir=${dir}/profile`,
        `--screenshot=${out}`,
        "--window-size=1000,1090",
        `file://${dir}/page.html`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!result.success) {
      console.error(new TextDecoder().decode(result.stderr));
      Deno.exit(1);
    }
    console.log(`wrote ${out}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
