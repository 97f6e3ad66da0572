import { opportunitiesCsv, runCli, tempDir, withSandbox, workspanPipeline } from "./_harness.ts";
const cases: Record<string, Record<string, string | Uint8Array>> = JSON.parse("{}");
const yamlCases: Record<string, string> = {
  invalid_yaml: "version: 1\nsource:\n  path: data.csv\n   bad: [\n",
  wrong_types: workspanPipeline({ source: "data.csv" }).replace(
    "batch_size: 5000",
    "batch_size: lots",
  ).replace("version: 1", 'version: "1"'),
  alias_bomb: `version: 1
a: &a ["x","x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h,*h]
`,
  deep: "version: 1\nx: " + "[".repeat(5000) + "]".repeat(5000) + "\n",
  deepmap: "version: 1\nx:\n" +
    Array.from({ length: 60 }, (_, i) => " ".repeat(2 * (i + 1)) + `k${i}:`).join("\n") +
    " 1\n",
  dupkeys: workspanPipeline({ source: "data.csv" }) + "key: other\n",
  huge_scalar: workspanPipeline({ source: "data.csv" }).replace(
    "name: e2e",
    "name: " + "x".repeat(2_000_000),
  ),
  missing_env: workspanPipeline({ source: "data.csv" }).replace(
    "${WORKSPAN_TOKEN}",
    "${NOPE_TOKEN}",
  ),
  missing_src: workspanPipeline({ source: "nope.csv" }),
  dir_src: workspanPipeline({ source: "sub.csv" }),
};
await withSandbox({ workspan: { token: "t", processingMs: 5 } }, async (sb) => {
  for (const [name, y] of Object.entries(yamlCases)) {
    const dir = await tempDir({ "data.csv": opportunitiesCsv(3), "p.yaml": y });
    await Deno.mkdir(`${dir}/sub.csv`);
    const r = await runCli(["run", "--json", `${dir}/p.yaml`], {
      WORKSPAN_BASE_URL: sb.url,
      WORKSPAN_TOKEN: "t",
    });
    console.log(
      "==",
      name,
      r.code,
      sb.workspan.requests.length,
      JSON.stringify(r.stderr.replaceAll(dir, "D").slice(0, 800)),
    );
  }
});
