import assert from "node:assert/strict";
import type { MappedRow } from "../../mapping/mod.ts";
import { packAll } from "../_wire.ts";
import type { Batch } from "../types.ts";
import { rowsSteps } from "./_body.ts";
import type { RequestDecl } from "./schema.ts";

/** 3,000 rows of uneven width: the body is written in many pieces of different sizes. */
const ROWS: MappedRow[] = Array.from({ length: 3000 }, (_, i) => ({
  id: `k${i}`,
  note: i % 9 === 0 ? 'é,"x"\n'.repeat(300) : `n${i}`,
}));

function batchOf(rows: MappedRow[]): Batch {
  return { index: 0, fields: ["id", "note"], rows, lines: [], keys: [], key: "id" };
}

async function body(decl: NonNullable<RequestDecl["body"]>, rows: MappedRow[]): Promise<string> {
  const packed = packAll(rowsSteps(decl, () => ({ params: {}, job: {} })), batchOf(rows));
  assert.equal(packed.data.size > 0, true);
  return await new Response(packed.data.stream()).text();
}

Deno.test("a described JSON rows body is JSON.stringify's text, wrapped when it names a property, however it is cut", async () => {
  assert.equal(await body({ json_rows: {} }, ROWS), JSON.stringify(ROWS));
  assert.equal(
    await body({ json_rows: { property: "records" } }, ROWS),
    JSON.stringify({ records: ROWS }),
  );
  assert.equal(await body({ json_rows: { property: "records" } }, []), '{"records":[]}');
  assert.equal(await body({ json_rows: {} }, []), "[]");
});

Deno.test("a described CSV rows body writes every row once, in order, with the declared line ending", async () => {
  const csv = { delimiter: ";", line_ending: "LF", quoting: "always" as const, header: true };
  const text = await body({ csv }, ROWS);
  const q = (s: string) => `"${s.replaceAll('"', '""')}"`;
  assert.equal(
    text,
    [`"id";"note"`, ...ROWS.map((r) => `${q(String(r.id))};${q(String(r.note))}`)].join("\n") +
      "\n",
  );
});
