import assert from "node:assert/strict";
import { RejectsWriter } from "./rejects.ts";

Deno.test("writeLater rows get their values from the source on fill, in their place; a line the source lost says so", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/rejects.csv`;
    const w = new RejectsWriter(path, () => ["ID", "Name"], { keyOf: (v) => String(v.ID) });
    w.write({ ID: "1", Name: "local" }, 2, "bad date");
    w.writeLater(3, "refused by the API", "2");
    w.writeLater(9, "refused too", "9");
    w.write({ ID: "4", Name: "dup" }, 5, "duplicate");
    const asked: number[][] = [];
    await w.fill((lines) => {
      asked.push([...lines]);
      return Promise.resolve(new Map([[3, { ID: "2", Name: "from source" }]]));
    });
    w.close();
    assert.deepEqual(asked, [[3, 9]]);
    assert.equal(
      await Deno.readTextFile(path),
      [
        "ID,Name,source_line,key,error",
        "1,local,2,1,bad date",
        "2,from source,3,2,refused by the API",
        ",,9,9,refused too (values not shown: the source no longer has this line)",
        "4,dup,5,4,duplicate",
        "",
      ].join("\r\n"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
