/**
 * The checks of a description that span keys: every `{params.x}` names a param, every `{job.x}`
 * a taken value, `{token}` stays in headers, the submit steps and result files exist. Each
 * problem is a zod issue with its path, so the loader gives it a line and column.
 *
 * @module
 */
import type { z } from "zod";
import { closest } from "../../util/suggest.ts";
import { placeholders } from "./_template.ts";

type Path = (string | number)[];
type Obj = Record<string, unknown>;

/** The parts of a description these checks read (structural, so schema.ts has no cycle). */
interface Shape {
  params: Record<
    string,
    { type: string; values?: string[]; default?: unknown; required_when?: Obj }
  >;
  duplicates_on_resend: boolean | Obj;
  auth?: { value: string; ways: { type: string; when: string[] }[] };
  submit: string[];
  requests: Record<string, unknown> & { results?: Obj };
  status_map: { states: Record<string, string>; open: string[] };
  results: {
    inline?: Obj;
    files?: Record<string, Obj>;
    counts?: Record<string, string | undefined>;
  };
}

const RESERVED = new Set([
  "api",
  "batch_size",
  "concurrency",
  "headers",
  "request_timeout",
  "retries",
  "resend_uncertain",
  "allow_http",
]);
const BATCH_VARS = ["index", "number", "size", "key"];

/** Every string in a tree with its path. */
function* strings(value: unknown, path: Path): Generator<[string, Path]> {
  if (typeof value === "string") yield [value, path];
  else if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) yield* strings(value[i], [...path, i]);
  } else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) yield* strings(v, [...path, k]);
  }
}

function requestEntries(s: Shape): [Path, Obj][] {
  const out: [Path, Obj][] = [];
  for (const [k, v] of Object.entries(s.requests)) {
    if (v === undefined) continue;
    if (k === "results") {
      for (const [n, r] of Object.entries(v as Obj)) out.push([["requests", k, n], r as Obj]);
    } else out.push([["requests", k], v as Obj]);
  }
  return out;
}

function hintFor(word: string, names: readonly string[]): string {
  const c = closest(word, names);
  return c ? `: did you mean "${c}"?` : names.length > 0 ? `: known are ${names.join(", ")}` : "";
}

/** Checks the cross-references of a parsed description (a zod superRefine). */
export function checkReferences(s: Shape, ctx: z.RefinementCtx): void {
  const issue = (path: Path, message: string) => ctx.addIssue({ code: "custom", path, message });
  const params = Object.keys(s.params);
  const taken = new Set<string>();
  for (const [, r] of requestEntries(s)) for (const k of Object.keys(r.take ?? {})) taken.add(k);
  const takenList = [...taken];

  for (const [p, decl] of Object.entries(s.params)) {
    if (RESERVED.has(p)) issue(["params", p], `Param name "${p}" is a setting of every target`);
    if (decl.type === "enum" && !decl.values) {
      issue(["params", p, "type"], 'An enum needs "values"');
    }
    if (
      decl.type === "enum" && decl.default !== undefined &&
      !decl.values?.includes(String(decl.default))
    ) {
      issue(["params", p, "default"], `Default "${decl.default}" is not one of its values`);
    }
    for (const other of Object.keys(decl.required_when ?? {})) {
      if (!s.params[other]) {
        issue(
          ["params", p, "required_when", other],
          `Unknown param "${other}"${hintFor(other, params)}`,
        );
      }
    }
  }
  if (typeof s.duplicates_on_resend === "object") {
    for (const other of Object.keys(s.duplicates_on_resend)) {
      if (!s.params[other]) {
        issue(["duplicates_on_resend", other], `Unknown param "${other}"${hintFor(other, params)}`);
      }
    }
  }

  const checkTemplate = (text: string, path: Path, tokenOk: boolean) => {
    for (const [scope, n] of placeholders(text)) {
      if (scope === "token" && !tokenOk) {
        issue(path, "{token} may only appear in headers (never in URLs, bodies or logs)");
      } else if (scope === "params" && !s.params[n]) {
        issue(path, `Unknown param "${n}" in {params.${n}}${hintFor(n, params)}`);
      } else if (scope === "job" && !taken.has(n)) {
        issue(path, `No request takes "${n}" for {job.${n}}${hintFor(n, takenList)}`);
      } else if (scope === "batch" && !BATCH_VARS.includes(n)) {
        issue(path, `Unknown batch value "${n}" in {batch.${n}}${hintFor(n, BATCH_VARS)}`);
      }
    }
  };
  for (const [path, r] of requestEntries(s)) {
    for (const [text, p] of strings(r, path)) {
      const inTake = p[path.length] === "take" || p[path.length] === "success";
      if (!inTake) checkTemplate(text, p, p[path.length] === "headers");
    }
  }
  if (s.auth) {
    checkTemplate(s.auth.value, ["auth", "value"], true);
    s.auth.ways.forEach((w, i) => {
      for (const [text, p] of strings(w, ["auth", "ways", i])) {
        if (p[3] === "when") {
          if (!s.params[text]) issue(p, `Unknown param "${text}"${hintFor(text, params)}`);
        } else if (p[3] !== "type" && p[3] !== "token_at" && p[3] !== "expires_in_at") {
          checkTemplate(text, p, false);
        }
      }
    });
  }
  checkSteps(s, issue);
  checkResults(s, issue, takenList);
}

function checkSteps(s: Shape, issue: (path: Path, message: string) => void): void {
  let rowsBodies = 0;
  let takesId = false;
  s.submit.forEach((step, i) => {
    const r = s.requests[step] as Obj | undefined;
    if (!r) return issue(["submit", i], `Step "${step}" has no request in requests.${step}`);
    const body = r.body as Obj | undefined;
    if (body?.csv || body?.json_rows) rowsBodies++;
    if ((r.take as Obj | undefined)?.id !== undefined) takesId = true;
  });
  if (rowsBodies !== 1) {
    issue(
      ["submit"],
      `Exactly one submit step must send the rows (body csv or json_rows), not ${rowsBodies}`,
    );
  }
  if (!takesId) issue(["submit"], 'A submit step must take the job\'s "id" (take: { id: /id })');
  const status = s.requests.status as Obj;
  if (status.safe_to_repeat !== true) {
    issue(["requests", "status", "safe_to_repeat"], "The status request must be safe to repeat");
  }
  s.status_map.open.forEach((st, i) => {
    if (s.status_map.states[st] === undefined) {
      issue(["status_map", "open", i], `Open state "${st}" is not in status_map.states`);
    }
  });
}

function checkResults(
  s: Shape,
  issue: (path: Path, message: string) => void,
  taken: string[],
): void {
  const files = Object.keys(s.results.files ?? {});
  const requests = Object.keys(s.requests.results ?? {});
  for (const f of files) {
    if (!requests.includes(f)) {
      issue(
        ["results", "files", f],
        `No request requests.results.${f} downloads this file${hintFor(f, requests)}`,
      );
    }
  }
  for (const r of requests) {
    if (!files.includes(r)) {
      issue(
        ["requests", "results", r],
        `No results.files.${r} says how to read this file${hintFor(r, files)}`,
      );
    }
  }
  if (!s.results.inline && files.length === 0) {
    issue(["results"], 'Results need "inline" or "files"');
  }
  const rules: [Path, Obj][] = Object.entries(s.results.files ?? {}).map((
    [n, f],
  ) => [["results", "files", n], f]);
  if (s.results.inline) rules.push([["results", "inline"], s.results.inline]);
  for (const [path, r] of rules) {
    const pattern = (r.error as Obj | undefined)?.pattern;
    if (typeof pattern !== "string") continue;
    try {
      new RegExp(pattern);
      const named = [...pattern.matchAll(/\(\?<([A-Za-z_]\w*)>/g)].map((m) => m[1]!);
      for (const g of named) {
        if (!["code", "message", "field"].includes(g)) {
          issue([...path, "error", "pattern"], `Unknown group "${g}": use code, message, field`);
        }
      }
    } catch (err) {
      issue([...path, "error", "pattern"], `Not a regular expression: ${(err as Error).message}`);
    }
  }
  for (const [k, v] of Object.entries(s.results.counts ?? {})) {
    if (v !== undefined && !taken.includes(v)) {
      issue(["results", "counts", k], `No request takes "${v}"${hintFor(v, taken)}`);
    }
  }
}
