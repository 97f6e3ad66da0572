/**
 * The docs table of the description language, generated from its zod schema so the page
 * `docs/api-descriptions.md` cannot drift from what the loader accepts.
 *
 * @module
 */
import { z } from "zod";
import { descriptionSchema } from "./schema.ts";

type Json = Record<string, unknown>;

/** The JSON Schema of an API description file (input side), for editors. */
export function descriptionJsonSchema(): Json {
  return z.toJSONSchema(descriptionSchema, { io: "input", unrepresentable: "any" }) as Json;
}

function typeOf(s: Json): string {
  if (Array.isArray(s.enum)) return s.enum.map((v) => JSON.stringify(v)).join(" | ");
  if (s.const !== undefined) return JSON.stringify(s.const);
  const alts = (s.anyOf ?? s.oneOf) as Json[] | undefined;
  if (alts) return alts.map(typeOf).join(" | ");
  if (Array.isArray(s.type)) return s.type.join(" | ");
  if (s.type === "array") return `list of ${typeOf((s.items ?? {}) as Json)}`;
  if (s.type === "object" && s.additionalProperties && typeof s.additionalProperties === "object") {
    return `map of ${typeOf(s.additionalProperties as Json)}`;
  }
  return String(s.type ?? "any");
}

function cell(text: string): string {
  return text.replaceAll("|", "\\|").replaceAll("\n", " ");
}

/** The object schemas below a schema (through lists, maps and alternatives), tagged by branch. */
function children(s: Json, path: string): [Json, string][] {
  if (s.properties) return [[s, path]];
  if (s.type === "array" && s.items) return children(s.items as Json, `${path}[]`);
  if (s.additionalProperties && typeof s.additionalProperties === "object") {
    return children(s.additionalProperties as Json, `${path}.<name>`);
  }
  const alts = (s.anyOf ?? s.oneOf) as Json[] | undefined;
  if (!alts) return [];
  return alts.flatMap((a) => {
    const props = (a.properties ?? {}) as Record<string, Json>;
    const tag = Object.entries(props).find(([, v]) =>
      v.const !== undefined || Array.isArray(v.enum)
    );
    const label = tag
      ? `[${tag[0]}=${typeOf(tag[1]).replaceAll('"', "").replaceAll(" | ", "/")}]`
      : "";
    return children(
      a,
      label && path.endsWith("[]") ? `${path.slice(0, -2)}${label}` : `${path}${label}`,
    );
  });
}

/**
 * One Markdown row per key of the description language, depth first. A part used in several
 * places (a request, a body) is detailed at its first place and referred to at the others.
 */
export function describedDocsTable(): string {
  const rows = ["| key | type | default | required | description |", "|---|---|---|---|---|"];
  const seen = new Map<string, string>();
  const walk = (obj: Json, path: string) => {
    const required = new Set((obj.required as string[] | undefined) ?? []);
    for (const [k, v] of Object.entries(obj.properties as Record<string, Json>)) {
      const p = path ? `${path}.${k}` : k;
      const nested = children(v, p);
      // A map of a part seen before (requests.results.<name>) refers to it as well.
      const part = nested.length === 1 && nested[0]![0] !== v ? nested[0]![0] : v;
      const sig = JSON.stringify({ ...part, description: undefined, default: undefined });
      const again = nested.length > 0 ? seen.get(sig) : undefined;
      const desc = `${String(v.description ?? "")}${again ? ` (keys as in \`${again}\`)` : ""}`;
      const def = v.default === undefined ? "" : `\`${cell(JSON.stringify(v.default))}\``;
      const type = nested.length > 0 && !Array.isArray(v.enum)
        ? typeOf(v).replace(/^(map of |list of )?object.*$/, "$1object")
        : typeOf(v);
      rows.push(
        `| \`${p}\` | ${cell(type)} | ${def} | ${required.has(k) ? "yes" : ""} | ${cell(desc)} |`,
      );
      if (again) continue;
      if (nested.length > 0) seen.set(sig, p);
      for (const [child, cp] of nested) walk(child, cp);
    }
  };
  walk(descriptionJsonSchema(), "");
  return rows.join("\n");
}

/** Replaces the text between `<!-- keys:start -->` and `<!-- keys:end -->` with the table. */
export function withDocsTable(page: string): string {
  const start = "<!-- keys:start -->";
  const end = "<!-- keys:end -->";
  const a = page.indexOf(start);
  const b = page.indexOf(end);
  if (a < 0 || b < a) return page;
  return `${page.slice(0, a + start.length)}\n\n${describedDocsTable()}\n\n${page.slice(b)}`;
}
