/**
 * Microbenchmark of `compileMapper(...).map`: one mapper of six fields (a key, a number, a date
 * in `dd-MMM-yyyy`, a datetime with offsets, a lookup table and a template) over a few thousand
 * varied rows; divide the time by the row count for the cost of one row.
 *
 * Run: `deno bench runner/mapping/mapping_bench.ts`
 *
 * @module
 */
import { compileMapper, type MappingSpec } from "./mod.ts";

const base = { required: false, unmatched: "keep" } as const;
const mappings: Record<string, string | MappingSpec> = {
  deal_id: "Deal ID",
  amount: { ...base, from: "Amount", type: "number", required: true },
  close_date: { ...base, from: "Close Date", type: "date", format: "dd-MMM-yyyy" },
  updated_at: { ...base, from: "Updated", type: "datetime" },
  stage: {
    ...base,
    from: "Stage",
    type: "string",
    values: { Open: "open", Won: "closed_won", Lost: "closed_lost" },
  },
  name: { ...base, template: "{First} {Last}", type: "string" },
};
const mapper = compileMapper(mappings, "deal_id");
const looped = compileMapper(mappings, "deal_id", { generate: false });

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const STAGES = ["Open", "won", "LOST"];
const ROWS = 4096;
const records: Record<string, string>[] = Array.from({ length: ROWS }, (_, i) => ({
  "Deal ID": `D-${i}`,
  Amount: i % 3 === 0 ? `${1 + (i % 999)},250.50` : `${i * 7}.25`,
  "Close Date": `${String(1 + (i % 28)).padStart(2, "0")}-${MONTHS[i % 12]}-20${10 + (i % 15)}`,
  Updated: `2024-0${1 + (i % 9)}-1${i % 10}T12:34:56${i % 2 ? "Z" : "+02:00"}`,
  Stage: STAGES[i % 3]!,
  First: "Ada",
  Last: " Lovelace ",
}));

Deno.bench(`map ${ROWS} rows of 6 fields`, { baseline: true }, () => {
  let ok = 0;
  for (let i = 0; i < ROWS; i++) if (mapper.map(records[i]!).ok) ok++;
  if (ok !== ROWS) throw new Error(`Expected every row to map, ${ROWS - ok} did not`);
});

const invalid = records.map((r) => ({ ...r, Amount: "-", "Close Date": "31-Feb-2020" }));
Deno.bench(`map ${ROWS} rows with 2 failing fields each`, () => {
  for (let i = 0; i < ROWS; i++) {
    if (invalid[i] && mapper.map(invalid[i]!).ok) throw new Error("Expected an error");
  }
});

Deno.bench(`map ${ROWS} rows of 6 fields with the plain loop instead of generated code`, () => {
  let ok = 0;
  for (let i = 0; i < ROWS; i++) if (looped.map(records[i]!).ok) ok++;
  if (ok !== ROWS) throw new Error(`Expected every row to map, ${ROWS - ok} did not`);
});
