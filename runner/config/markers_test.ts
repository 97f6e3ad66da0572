import assert from "node:assert/strict";
import { z } from "zod";
import {
  identityOf,
  isSecretPath,
  markedFields,
  secret,
  secretValues,
  volatile,
} from "./markers.ts";

const shared = z.string().min(1);

const schema = z.strictObject({
  api: z.literal("x"),
  name: shared,
  auth: volatile(z.discriminatedUnion("type", [
    z.strictObject({ type: z.literal("bearer"), token: secret(shared).meta({ description: "t" }) }),
    z.strictObject({ type: z.literal("basic"), user: shared, password: secret(shared) }),
  ])),
  headers: volatile(secret(z.record(z.string(), z.string()).optional())),
  timeout: volatile(z.number().default(5)),
  nested: z.strictObject({ key: secret(z.string()).optional(), keep: z.string() }).optional(),
});

const data = {
  api: "x",
  name: "n",
  auth: { type: "basic", user: "u", password: "pw" },
  headers: { "X-Key": "hk", "X-Other": "ho" },
  timeout: 5,
  nested: { key: "nk", keep: "k" },
};

Deno.test("secretValues() finds secrets in the chosen union branch, records and nested objects", () => {
  assert.deepEqual(secretValues(schema, data).sort(), ["hk", "ho", "nk", "pw"]);
  const bearer = { ...data, auth: { type: "bearer", token: "tok" } };
  assert.ok(secretValues(schema, bearer).includes("tok"));
  assert.ok(!secretValues(schema, bearer).includes("pw"));
});

Deno.test("secret() marks only its own use of a shared schema, and survives .meta()", () => {
  const found = secretValues(schema, data);
  assert.ok(!found.includes("n"), "name uses the same base schema and is no secret");
  assert.ok(!found.includes("u"));
  const fields = markedFields(schema, { ...data, auth: { type: "bearer", token: "t" } });
  assert.ok(isSecretPath(fields, ["auth", "token"]));
});

Deno.test("isSecretPath() covers everything inside a secret field, and nothing beside it", () => {
  const fields = markedFields(schema, data);
  assert.ok(isSecretPath(fields, ["headers", "X-Key"]));
  assert.ok(isSecretPath(fields, ["headers"]));
  assert.ok(isSecretPath(fields, ["auth", "password"]));
  assert.ok(!isSecretPath(fields, ["auth", "user"]));
  assert.ok(!isSecretPath(fields, ["nested", "keep"]));
});

Deno.test("markedFields() walks every branch of data no branch accepts, so no secret is missed", () => {
  const bad = { ...data, auth: { type: "unknown", token: "t9", password: "p9" } };
  const found = secretValues(schema, bad);
  assert.ok(found.includes("t9") && found.includes("p9"));
});

Deno.test("identityOf() drops volatile fields and keeps the rest in order", () => {
  const id = identityOf(schema, data);
  assert.deepEqual(id, { api: "x", name: "n", nested: { key: "nk", keep: "k" } });
  assert.deepEqual(Object.keys(id), ["api", "name", "nested"]);
  assert.equal((data as Record<string, unknown>).auth !== undefined, true, "input untouched");
});

Deno.test("markers stay out of the JSON Schema", () => {
  const json = JSON.stringify(z.toJSONSchema(schema, { io: "input" }));
  assert.ok(!json.includes("secret") && !json.includes("volatile"));
  assert.match(json, /"description":"t"/);
});
