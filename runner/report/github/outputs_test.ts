import assert from "node:assert/strict";
import { formatOutputs, outputValues } from "./outputs.ts";
import { summary, WS } from "./_testing.ts";

Deno.test("formatOutputs() writes name=value lines, and a delimited block for multi-line values", () => {
  const values = outputValues(summary(), WS);
  const text = formatOutputs(values, () => "EOF_1");
  const lines = text.trimEnd().split("\n");
  assert.deepEqual(lines.slice(0, 4), [
    "pipeline=workspan-opportunities",
    "status=completed_with_errors",
    "exit_code=0",
    "reason=1 rejected, 2 failed, 0 skipped, within max_error_rate 2%",
  ]);
  for (
    const l of [
      "read=200",
      "rejected=1",
      "sent=199",
      "succeeded=197",
      "failed=2",
      "skipped=0",
      "pending=0",
      "unknown=0",
      "unsent=0",
      "rejects_file=out/workspan-opportunities.rejects.csv",
    ]
  ) assert.ok(lines.includes(l), `missing ${l} in\n${text}`);

  let n = 0;
  const multi = formatOutputs(
    { reason: "one\nEOF_1\nthree", status: "failed" },
    () => `EOF_${++n}`,
  );
  assert.equal(multi, "reason<<EOF_2\none\nEOF_1\nthree\nEOF_2\nstatus=failed\n");
});
