/**
 * The README's field table, generated from the same zod schema as the validation and the JSON
 * Schema, so the manual cannot drift from the format.
 *
 * @module
 */

type Json = Record<string, unknown>;

function typeOf(s: Json): string {
  if (Array.isArray(s.enum)) return s.enum.map((v) => JSON.stringify(v)).join(" | ");
  if (s.const !== undefined) return JSON.stringify(s.const);
  const alts = (s.anyOf ?? s.oneOf) as Json[] | undefined;
  if (alts) return alts.map(typeOf).join(" | ");
  if (s.type === "object" && s.additionalProperties && typeof s.additionalProperties === "object") {
    return `map of ${typeOf(s.additionalProperties as Json)}`;
  }
  if (Array.isArray(s.type)) return s.type.join(" | ");
  return String(s.type ?? "any");
}

function cell(text: string): string {
  return text.replaceAll("|", "\\|").replaceAll("\n", " ");
}

/**
 * Renders one Markdown row per field of the pipeline format, depth first.
 *
 * @param schema the JSON Schema (input side) of the pipeline format
 */
export function fieldTable(schema: Json): string {
  const rows: string[] = [
    "| field | type | default | required | description |",
    "|---|---|---|---|---|",
  ];
  const walk = (s: Json, path: string) => {
    const props = s.properties as Record<string, Json> | undefined;
    const alts = (s.anyOf ?? s.oneOf) as Json[] | undefined;
    if (props) {
      const required = new Set((s.required as string[] | undefined) ?? []);
      for (const [k, v] of Object.entries(props)) {
        const p = path ? `${path}.${k}` : k;
        const nested = v.properties || (v.anyOf as Json[] | undefined)?.some((a) => a.properties);
        const desc = String(v.description ?? "");
        const type = nested ? "object" : typeOf(v);
        rows.push(
          `| \`${p}\` | ${cell(type)} | ${
            v.default === undefined ? "" : `\`${cell(JSON.stringify(v.default))}\``
          } | ${required.has(k) ? "yes" : ""} | ${cell(desc)} |`,
        );
        walk(v, p);
      }
    } else if (alts) {
      for (const a of alts) {
        const tag = Object.entries((a.properties ?? {}) as Record<string, Json>).find(([, v]) =>
          v.const !== undefined
        );
        walk(a, tag ? `${path}[${tag[0]}=${String(tag[1].const)}]` : path);
      }
    } else if (s.additionalProperties && typeof s.additionalProperties === "object") {
      walk(s.additionalProperties as Json, `${path}.<name>`);
    }
  };
  walk(schema, "");
  return rows.join("\n");
}

/** Replaces the text between `<!-- fields:start -->` and `<!-- fields:end -->`. */
export function replaceFieldTable(readme: string, table: string): string {
  const start = "<!-- fields:start -->";
  const end = "<!-- fields:end -->";
  const a = readme.indexOf(start);
  const b = readme.indexOf(end);
  if (a < 0 || b < a) return readme;
  return `${readme.slice(0, a + start.length)}\n\n${table}\n\n${readme.slice(b)}`;
}
