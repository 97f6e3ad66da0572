/**
 * The layout rules of CONVENTIONS.md, enforced by a test rather than by memory: no import cycle
 * in `runner/` (type-only imports count), no import of another folder's `_private` file, no file
 * over 600 lines and no function over 120 lines outside the CSV/JSON parsers, and the target
 * registry as the only file that imports the target folders.
 *
 * @module
 */
import assert from "node:assert/strict";
import ts from "typescript";
import { ROOT } from "./_harness.ts";

/** Files allowed past the size limits: the hand-written streaming parsers' hot loops. */
const PARSERS = new Set(["runner/sources/csv.ts", "runner/sources/json.ts"]);
const MAX_FILE_LINES = 600;
const MAX_FUNCTION_LINES = 120;

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(`${ROOT}/${dir}`)) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory) {
      if (e.name !== "testdata") out.push(...await sourceFiles(rel));
    } else if (
      e.isFile && e.name.endsWith(".ts") && !e.name.endsWith("_test.ts") &&
      !e.name.endsWith("_bench.ts") && !e.name.startsWith("_testing")
    ) {
      out.push(rel);
    }
  }
  return out.sort();
}

function parse(file: string): ts.SourceFile {
  return ts.createSourceFile(
    file,
    Deno.readTextFileSync(`${ROOT}/${file}`),
    ts.ScriptTarget.Latest,
    true,
  );
}

/** Every relative module a file imports or re-exports, type-only ones included. */
function importsOf(sf: ts.SourceFile): string[] {
  const out: string[] = [];
  const dir = sf.fileName.slice(0, sf.fileName.lastIndexOf("/"));
  for (const st of sf.statements) {
    const spec = (ts.isImportDeclaration(st) || ts.isExportDeclaration(st)) && st.moduleSpecifier &&
        ts.isStringLiteral(st.moduleSpecifier)
      ? st.moduleSpecifier.text
      : undefined;
    if (spec?.startsWith(".")) out.push(normalize(`${dir}/${spec}`));
  }
  return out;
}

function normalize(path: string): string {
  const parts: string[] = [];
  for (const p of path.split("/")) {
    if (p === "..") parts.pop();
    else if (p !== ".") parts.push(p);
  }
  return parts.join("/");
}

/** Strongly connected components of more than one file (Tarjan), or a file importing itself. */
function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return found;
}

/** Functions, methods and arrow functions longer than the limit, as "file:line name (N lines)". */
function longFunctions(sf: ts.SourceFile): string[] {
  const out: string[] = [];
  const walk = (node: ts.Node) => {
    if (
      ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node) ||
      ts.isArrowFunction(node) || ts.isFunctionExpression(node) || ts.isConstructorDeclaration(node)
    ) {
      const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
      const end = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
      const lines = end - start + 1;
      if (lines > MAX_FUNCTION_LINES) {
        const name = "name" in node && node.name && ts.isIdentifier(node.name as ts.Node)
          ? (node.name as ts.Identifier).text
          : "(anonymous)";
        out.push(`${sf.fileName}:${start + 1} ${name} (${lines} lines)`);
      }
    }
    ts.forEachChild(node, walk);
  };
  walk(sf);
  return out;
}

const files = await sourceFiles("runner");
const parsed = new Map(files.map((f) => [f, parse(f)]));

Deno.test("runner/ has no import cycle, type-only imports included", () => {
  const graph = new Map([...parsed].map(([f, sf]) => [f, importsOf(sf)]));
  assert.deepEqual(cycles(graph), []);
});

Deno.test("no file imports another folder's _private file", () => {
  const bad: string[] = [];
  for (const [f, sf] of parsed) {
    const dir = f.slice(0, f.lastIndexOf("/"));
    for (const imp of importsOf(sf)) {
      const impDir = imp.slice(0, imp.lastIndexOf("/"));
      const base = imp.slice(imp.lastIndexOf("/") + 1);
      // A folder's private files may be used by the folder itself and by the folders inside it.
      if (base.startsWith("_") && dir !== impDir && !dir.startsWith(`${impDir}/`)) {
        bad.push(`${f} imports ${imp}`);
      }
    }
  }
  assert.deepEqual(bad, []);
});

Deno.test(`no runner file over ${MAX_FILE_LINES} lines outside the CSV/JSON parsers`, () => {
  const big = files.filter((f) => !PARSERS.has(f))
    .map((f) => [f, parsed.get(f)!.getLineAndCharacterOfPosition(parsed.get(f)!.getEnd()).line])
    .filter(([, n]) => (n as number) > MAX_FILE_LINES)
    .map(([f, n]) => `${f} (${n} lines)`);
  assert.deepEqual(big, []);
});

Deno.test(`no runner function over ${MAX_FUNCTION_LINES} lines outside the parsers`, () => {
  const long = files.filter((f) => !PARSERS.has(f)).flatMap((f) => longFunctions(parsed.get(f)!));
  assert.deepEqual(long, []);
});

Deno.test("the limits above can fail: a made-up cycle and a long function are found", () => {
  assert.deepEqual(
    cycles(new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]], ["d", ["a"]]])),
    [["a", "b", "c"]],
  );
  const body = Array.from({ length: MAX_FUNCTION_LINES + 1 }, (_, i) => `  x += ${i};`).join("\n");
  const sf = ts.createSourceFile(
    "x.ts",
    `function big() {\n  let x = 0;\n${body}\n}\n`,
    ts.ScriptTarget.Latest,
    true,
  );
  assert.equal(longFunctions(sf).length, 1);
});

Deno.test("only the registry imports the target folders; config never imports targets", () => {
  const bad: string[] = [];
  for (const [f, sf] of parsed) {
    for (const imp of importsOf(sf)) {
      if (f.startsWith("runner/config/") && imp.startsWith("runner/targets/")) {
        bad.push(`${f} imports ${imp}`);
      }
      if (f.startsWith("runner/mapping/") && imp.startsWith("runner/config/")) {
        bad.push(`${f} imports ${imp}`);
      }
      const targetFolder = /^runner\/targets\/([a-z0-9_-]+)\/mod\.ts$/.exec(imp);
      if (targetFolder && !f.startsWith("runner/targets/") && f !== "runner/registry.ts") {
        bad.push(`${f} imports ${imp}`);
      }
    }
  }
  assert.deepEqual(bad, []);
});
