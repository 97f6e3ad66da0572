import assert from "node:assert/strict";
import { compile } from "./compile.ts";
import { parsePipeline } from "./config/mod.ts";
import { PipelineError } from "./errors.ts";
import { PIPELINE_SCHEMA } from "./registry.ts";

const stat = () => Promise.resolve({ isFile: true, isDirectory: false });

async function plan(text: string, vars: Record<string, string> = {}) {
  const loaded = parsePipeline("p.yaml", text, (n) => vars[n], PIPELINE_SCHEMA);
  return await compile({ ...loaded, dir: "." }, { stat });
}

const WORKSPAN = (target: string) =>
  `version: 1
source: { path: data.csv }
target:
  api: workspan
  base_url: http://127.0.0.1:9
  integration_id: WS-1
${target}
key: opportunity_id
mappings:
  opportunity_id: ID
`;

const BEARER = `  auth: { type: bearer, token: "\${TOKEN}" }
  headers: { X-Api-Key: hdr-secret }`;

Deno.test("compile() leaves credentials, headers, timing and retries out of the plan identity", async () => {
  const a = await plan(WORKSPAN(BEARER), { TOKEN: "tok-1" });
  const b = await plan(
    WORKSPAN(`  auth: { type: client_credentials, client_id: cid, client_secret: cs }
  request_timeout: 5s
  retries: { attempts: 2 }
  concurrency: 3
  resend_uncertain: true
  allow_http: true`),
  );
  assert.deepEqual(a.identity, b.identity);
  assert.deepEqual(Object.keys(a.identity.target as object), [
    "api",
    "base_url",
    "integration_id",
    "content_type",
    "batch_size",
  ]);
  const c = await plan(WORKSPAN(BEARER).replace("WS-1", "WS-2"), { TOKEN: "tok-1" });
  assert.notDeepEqual(a.identity, c.identity, "where rows go is part of the identity");
});

Deno.test("compile() collects every secret: tokens, client credentials and header values", async () => {
  const a = await plan(WORKSPAN(BEARER), { TOKEN: "tok-1" });
  assert.deepEqual([...a.secrets].sort(), ["hdr-secret", "tok-1"]);
  const b = await plan(
    WORKSPAN("  auth: { type: client_credentials, client_id: cid-1, client_secret: cs-1 }"),
  );
  assert.deepEqual([...b.secrets].sort(), ["cid-1", "cs-1"]);
  const bigin = await plan(`version: 1
source: { path: data.csv }
target:
  api: bigin
  base_url: http://127.0.0.1:9
  module: Contacts
  operation: insert
  org_id: "42"
  auth: { type: zoho_refresh_token, client_id: z-id, client_secret: z-cs, refresh_token: z-rt }
key: Last_Name
mappings:
  Last_Name: Name
`);
  assert.deepEqual([...bigin.secrets].sort(), ["z-cs", "z-id", "z-rt"]);
});

Deno.test("compile() warns about fields a target does not list, with a hint", async () => {
  const p = await plan(`version: 1
source: { path: data.csv }
target:
  api: bigin
  base_url: http://127.0.0.1:9
  module: Contacts
  operation: insert
  org_id: "42"
  auth: { type: zoho_refresh_token, client_id: a, client_secret: b, refresh_token: c }
key: Email
mappings:
  Email: Mail
  Frist_Name: First
`);
  assert.deepEqual(p.warnings.map((w) => w.code), ["unknown_field", "required_field"]);
  assert.match(p.warnings[0]!.message, /"Frist_Name" is not a standard field of bigin.*First_Name/);
  assert.match(p.warnings[1]!.message, /bigin requires "Last_Name", which is not mapped/);
});

Deno.test("compile() refuses plain http to a remote host unless allowed", async () => {
  const text = WORKSPAN(BEARER).replace("http://127.0.0.1:9", "http://api.example.com");
  await assert.rejects(
    () => plan(text, { TOKEN: "t" }),
    (err) =>
      err instanceof PipelineError && err.diagnostics.length === 1 &&
      err.diagnostics[0]!.code === "insecure_url",
  );
  const ok = await plan(text.replace("  headers:", "  allow_http: true\n  headers:"), {
    TOKEN: "t",
  });
  assert.equal(ok.target.api, "workspan");
});
