/**
 * Where the run is: whether inside a GitHub Actions job, the files it reports to, the checkout
 * that paths are shown relative to, and links to repository files and to the run's page.
 *
 * @module
 */

/** What the process knows about the GitHub Actions job it may be running in. */
export interface GithubEnvironment {
  /** True inside a GitHub Actions job (`GITHUB_ACTIONS=true`). */
  actions: boolean;
  /** `$GITHUB_STEP_SUMMARY`: the file whose Markdown becomes the job summary. */
  stepSummary?: string;
  /** `$GITHUB_OUTPUT`: the file of the step's outputs. */
  output?: string;
  /** `$GITHUB_WORKSPACE`: the checkout, against which annotation paths are made relative. */
  workspace?: string;
  /** `<server>/<owner>/<repo>/blob/<sha>`: links to files at the commit being run. */
  blobUrl?: string;
  /** `<server>/<owner>/<repo>/actions/runs/<id>`: this run's page (its artifacts). */
  runUrl?: string;
}

/**
 * Reads the GitHub Actions variables. Outside Actions `actions` is false and the rest is absent,
 * so callers write nothing extra.
 *
 * @param env how to read an environment variable, e.g. `(n) => Deno.env.get(n)`
 * @example
 * const gh = githubEnvironment((n) => Deno.env.get(n));
 * if (gh.actions) await writeGithubReport(summary, { env: (n) => Deno.env.get(n), appendFile });
 */
export function githubEnvironment(env: (name: string) => string | undefined): GithubEnvironment {
  if (env("GITHUB_ACTIONS") !== "true") return { actions: false };
  const out: GithubEnvironment = { actions: true };
  const set = (name: string) => {
    const v = env(name);
    return v !== undefined && v !== "" ? v : undefined;
  };
  const stepSummary = set("GITHUB_STEP_SUMMARY");
  const output = set("GITHUB_OUTPUT");
  const workspace = set("GITHUB_WORKSPACE");
  const server = set("GITHUB_SERVER_URL") ?? "https://github.com";
  const repo = set("GITHUB_REPOSITORY");
  const sha = set("GITHUB_SHA");
  const runId = set("GITHUB_RUN_ID");
  if (stepSummary) out.stepSummary = stepSummary;
  if (output) out.output = output;
  if (workspace) out.workspace = workspace;
  if (repo && sha) out.blobUrl = `${server}/${repo}/blob/${sha}`;
  if (repo && runId) out.runUrl = `${server}/${repo}/actions/runs/${runId}`;
  return out;
}

/** Options shared by the job summary and the annotations. */
export interface GithubReportOptions {
  /** The pipeline file as given on the command line (`pipelines/x.yaml`). */
  pipelineFile?: string;
  /** The checkout: absolute paths inside it are shown relative to it. */
  workspace?: string;
  /** `<server>/<owner>/<repo>/blob/<sha>`, to link the pipeline file and source lines. */
  blobUrl?: string;
  /** This run's page, to point at its artifacts. */
  runUrl?: string;
  /** Batches listed in the job summary (default 20). */
  maxBatches?: number;
  /** Failed rows listed in the job summary (default 20). */
  maxRows?: number;
  /** Failed rows annotated (default 10: GitHub shows 10 per kind and step). */
  maxAnnotations?: number;
}

/** `options` completed with where the job is: its checkout and links. */
export function withEnvironment(
  options: GithubReportOptions,
  gh: GithubEnvironment,
): GithubReportOptions {
  return {
    ...options,
    ...(gh.workspace ? { workspace: gh.workspace } : {}),
    ...(gh.blobUrl ? { blobUrl: gh.blobUrl } : {}),
    ...(gh.runUrl ? { runUrl: gh.runUrl } : {}),
  };
}

/**
 * `path` relative to `workspace` when it is inside it; otherwise `path` unchanged.
 *
 * @example
 * relativeToWorkspace("/home/runner/work/r/r/pipelines/data/a.csv", "/home/runner/work/r/r") // "pipelines/data/a.csv"
 */
export function relativeToWorkspace(path: string, workspace: string | undefined): string {
  if (!workspace) return path;
  const root = workspace.replace(/\/+$/, "");
  if (path.startsWith(root + "/")) return path.slice(root.length + 1);
  if (path.startsWith("./")) return path.slice(2);
  return path;
}

/** Whether a path (after {@linkcode relativeToWorkspace}) names a file of the repository. */
export function inRepository(path: string): boolean {
  return !path.startsWith("/") && !path.split("/").includes("..") && !/^[a-z]+:/i.test(path);
}

/** Replaces the workspace prefix everywhere in a sentence (hints carry absolute paths). */
export function shortenPaths(text: string, workspace: string | undefined): string {
  if (!workspace) return text;
  return text.replaceAll(workspace.replace(/\/+$/, "") + "/", "");
}

/** The link to a repository file, optionally at a line (plain view, so CSV lines have anchors). */
export function fileLink(path: string, o: GithubReportOptions, line?: number): string | undefined {
  if (!o.blobUrl || !inRepository(path)) return undefined;
  const encoded = path.split("/").map(encodeURIComponent).join("/");
  return `${o.blobUrl}/${encoded}${line !== undefined ? `?plain=1#L${line}` : ""}`;
}

/** Where the run's artifacts are, as Markdown: a link when the run's page is known. */
export function artifacts(o: GithubReportOptions): string {
  return o.runUrl ? `[this run's artifacts](${o.runUrl}#artifacts)` : "this run's artifacts";
}
