import assert from "node:assert/strict";
import fc from "fast-check";
import { csvRows, parseCsv, textPieces } from "./_csv.ts";

/**
 * The reader `parseCsv` was before it sliced runs of plain characters (a character at a time),
 * kept as the oracle of what it reads.
 */
function oracle(text: string, delimiter = ","): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let cell = "";
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const n = text.length;
  let line = 1;
  const endRecord = () => {
    record.push(cell);
    cell = "";
    if (!(record.length === 1 && record[0] === "")) records.push(record);
    record = [];
  };
  while (i < n) {
    const ch = text[i]!;
    if (ch === '"' && cell === "") {
      const start = line;
      i++;
      for (;;) {
        if (i >= n) throw new Error(`never closed, opened on line ${start}`);
        const c = text[i]!;
        if (c === '"') {
          if (text[i + 1] === '"') {
            cell += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (c === "\n") line++;
        cell += c;
        i++;
      }
      continue;
    }
    if (ch === delimiter) {
      record.push(cell);
      cell = "";
      i++;
    } else if (ch === "\r" || ch === "\n") {
      endRecord();
      i += ch === "\r" && text[i + 1] === "\n" ? 2 : 1;
      line++;
    } else {
      cell += ch;
      i++;
    }
  }
  if (cell !== "" || record.length > 0) endRecord();
  return records;
}

Deno.test("parseCsv reads any text as the character-at-a-time reader did, errors and lines included", () => {
  const pieces = ["a", "bc", ",", ";", '"', '""', "\r", "\n", "\r\n", " ", "é", "\ufeff", "x\ny"];
  fc.assert(
    fc.property(
      fc.array(fc.constantFrom(...pieces), { maxLength: 60 }),
      fc.constantFrom(",", ";"),
      (parts, delimiter) => {
        const text = parts.join("");
        let want: string[][] | string;
        try {
          want = oracle(text, delimiter);
        } catch (e) {
          want = (e as Error).message;
        }
        let got: string[][] | string;
        try {
          got = parseCsv(text, delimiter);
        } catch (e) {
          const line = /opened on line (\d+)/.exec((e as Error).message)?.[1];
          got = `never closed, opened on line ${line}`;
        }
        assert.deepEqual(got, want, JSON.stringify(text));
      },
    ),
    { numRuns: 3000 },
  );
});

Deno.test("csvRows gives the records one at a time, and stops where the caller stops", () => {
  const rows = csvRows('h1,h2\r\n1,"a\r\nb"\r\n2,c\r\n"open');
  assert.deepEqual(rows.next().value, ["h1", "h2"]);
  assert.deepEqual(rows.next().value, ["1", "a\r\nb"]);
  assert.deepEqual(rows.next().value, ["2", "c"]);
  assert.throws(() => rows.next(), /quoted field opened on line 5 is never closed/);
});

Deno.test("csvRows reads text cut into pieces anywhere as it reads it whole, errors and lines included", () => {
  const pieces = ["a", "bc", ",", '"', '""', "\r", "\n", "\r\n", "é", "\ufeff", "x\ny", '"q,\r\n"'];
  fc.assert(
    fc.property(
      fc.array(fc.constantFrom(...pieces), { maxLength: 60 }),
      fc.array(fc.nat(), { maxLength: 8 }),
      (parts, cuts) => {
        const text = parts.join("");
        const at = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
        const cut = [0, ...at, text.length].slice(1).map((end, k, ends) =>
          text.slice(k === 0 ? 0 : ends[k - 1], end)
        );
        const read = (input: string | string[]) => {
          try {
            return Array.from(csvRows(input));
          } catch (e) {
            return (e as Error).message;
          }
        };
        assert.deepEqual(read(cut), read(text), JSON.stringify(cut));
      },
    ),
    { numRuns: 3000 },
  );
});

Deno.test("textPieces decodes UTF-8 cut inside a character, in pieces of the given size", () => {
  const text = "é,ü\r\n€𝄞,x\r\n".repeat(50);
  for (const size of [1, 2, 3, 7, 64]) {
    const bytes = new TextEncoder().encode(text);
    const pieces = [...textPieces(bytes, size)];
    // Read to the end, the bytes are given back.
    assert.equal(bytes.byteLength, 0);
    assert.equal(pieces.join(""), text);
    // A piece may end a character the one before began (at most 3 bytes of it).
    assert.ok(pieces.every((p) => p.length <= size + 3), String(size));
    assert.deepEqual(Array.from(csvRows(pieces)), parseCsv(text));
  }
});
