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
    w.writeLater(11, "refused as well", "11");
    w.write({ ID: "4", Name: "dup" }, 5, "duplicate");
    const asked: number[][] = [];
    await w.fill((lines) => {
      asked.push([...lines]);
      // Line 11 now holds another key: its values are not the row that was sent.
      return Promise.resolve(
        new Map([[3, { ID: "2", Name: "from source" }], [11, { ID: "12", Name: "other" }]]),
      );
    });
    w.close();
    assert.deepEqual(asked, [[3, 9, 11]]);
    assert.equal(
      await Deno.readTextFile(path),
      [
        "ID,Name,source_line,key,error",
        "1,local,2,1,bad date",
        "2,from source,3,2,refused by the API",
        ",,9,9,refused too (values not shown: the source no longer has this line)",
        ",,11,11,refused as well (values not shown: line 11 of the source changed during the run)",
        "4,dup,5,4,duplicate",
        "",
      ].join("\r\n"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a source that cannot be read again at the end still leaves every rejected row, saying why its values are missing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/rejects.csv`;
    const w = new RejectsWriter(path, () => ["ID"], { keyOf: (v) => String(v.ID) });
    w.writeLater(3, "refused by the API", "k3");
    await w.fill(() => Promise.reject(new Error("data.csv: No such file")));
    w.close();
    assert.equal(
      await Deno.readTextFile(path),
      "ID,source_line,key,error\r\n" +
        ",3,k3,refused by the API (values not shown: the source could not be read again: data.csv: No such file)\r\n",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a rejects file that cannot be written keeps the failure for the run to report, and throws nothing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/rejects.csv`;
    // What is in the way of the temporary file: a folder of that name.
    await Deno.mkdir(`${path}.part`);
    const w = new RejectsWriter(path, () => ["ID"]);
    w.write({ ID: "1" }, 2, "bad");
    w.flush();
    assert.match(w.failure ?? "", /directory/i);
    w.write({ ID: "2" }, 3, "bad too");
    w.close();
    assert.equal(w.rows, 2, "rows are still counted");
    await assert.rejects(() => Deno.stat(path), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
