/**
 * The user's manual holds together: every relative link in README.md, docs/*.md and
 * pipelines/README.md points at a file that exists (and at a heading that exists, for a `#anchor`
 * into Markdown), the README stays short, and the field table has a home `deno task schema` finds.
 *
 * @module
 */
import assert from "node:assert/strict";
import { dirname, join, relative } from "node:path";
import { marked, type Token } from "marked";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** The Markdown files of the manual, relative to the repository root. */
async function manualFiles(): Promise<string[]> {
  const files = ["README.md", "pipelines/README.md"];
  for await (const e of Deno.readDir(`${ROOT}/docs`)) {
    if (e.isFile && e.name.endsWith(".md")) files.push(`docs/${e.name}`);
  }
  return files.sort();
}

/** Every link and image target in a Markdown text; code spans and code blocks hold none. */
function linkTargets(markdown: string): string[] {
  const found: string[] = [];
  marked.walkTokens(marked.lexer(markdown), (t: Token) => {
    if (t.type === "link" || t.type === "image") found.push(t.href);
  });
  return found;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
}

/** The anchors of a Markdown text's headings. */
function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  marked.walkTokens(marked.lexer(markdown), (t: Token) => {
    if (t.type === "heading") out.add(slug(t.text));
  });
  return out;
}

/**
 * The relative links of `file` (relative to `root`) that point at nothing.
 *
 * @returns one line per broken link: `file: target (why)`
 */
async function brokenLinks(root: string, file: string): Promise<string[]> {
  const text = await Deno.readTextFile(join(root, file));
  const broken: string[] = [];
  for (const href of linkTargets(text)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(href)) continue; // https:, mailto:: not ours to check
    const [path = "", anchor] = decodeURI(href).split("#", 2);
    const target = path === "" ? join(root, file) : join(root, dirname(file), path);
    if (relative(root, target).startsWith("..")) {
      broken.push(`${file}: ${href} (outside the repository)`);
      continue;
    }
    const info = await Deno.stat(target).catch(() => undefined);
    if (!info) {
      broken.push(`${file}: ${href} (no such file)`);
      continue;
    }
    if (anchor && info.isFile && target.endsWith(".md")) {
      if (!anchors(await Deno.readTextFile(target)).has(anchor)) {
        broken.push(`${file}: ${href} (no heading #${anchor})`);
      }
    }
  }
  return broken;
}

Deno.test("every relative link in README.md and docs/*.md points at an existing file", async () => {
  const files = await manualFiles();
  for (
    const page of [
      "docs/failures.md",
      "docs/github-actions.md",
      "docs/performance.md",
      "docs/pipeline-reference.md",
      "docs/security.md",
      "docs/summary-format.md",
    ]
  ) assert.ok(files.includes(page), `${page} is missing`);
  const broken: string[] = [];
  for (const file of files) broken.push(...await brokenLinks(ROOT, file));
  assert.deepEqual(broken, []);
});

Deno.test("the README links every page in docs/", async () => {
  const readme = linkTargets(await Deno.readTextFile(`${ROOT}/README.md`));
  for (const file of await manualFiles()) {
    if (file.startsWith("docs/")) {
      assert.ok(readme.includes(file), `README.md does not link ${file}`);
    }
  }
});

Deno.test("the link check reports a missing file, a missing heading and a link out of the tree", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bulkrun-docs-" });
  try {
    await Deno.mkdir(`${dir}/docs`);
    await Deno.writeTextFile(`${dir}/docs/a.md`, "# A page\n\n## Exit codes: all of them\n");
    await Deno.writeTextFile(
      `${dir}/README.md`,
      [
        "[ok](docs/a.md) [ok](docs/a.md#exit-codes-all-of-them) [web](https://example.com/x)",
        "[gone](docs/b.md) [no heading](docs/a.md#summary) [out](../etc/passwd) [self](#top)",
        "`[in code](docs/c.md)`",
        "",
        "## Top",
      ].join("\n"),
    );
    assert.deepEqual(await brokenLinks(dir, "README.md"), [
      "README.md: docs/b.md (no such file)",
      "README.md: docs/a.md#summary (no heading #summary)",
      "README.md: ../etc/passwd (outside the repository)",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the README is at most 15 KB", async () => {
  const size = (await Deno.stat(`${ROOT}/README.md`)).size;
  assert.ok(size <= 15 * 1024, `README.md is ${size} bytes; move reference material to docs/`);
});

Deno.test("the field table lives in docs/pipeline-reference.md, between the markers deno task schema fills", async () => {
  const text = await Deno.readTextFile(`${ROOT}/docs/pipeline-reference.md`);
  const start = text.indexOf("<!-- fields:start -->");
  const end = text.indexOf("<!-- fields:end -->");
  assert.ok(start >= 0 && end > start, "the fields markers are missing");
  assert.match(text.slice(start, end), /\| `target\[api=workspan\]\.integration_id` +\|/);
  assert.doesNotMatch(await Deno.readTextFile(`${ROOT}/README.md`), /<!-- fields:start -->/);
});
