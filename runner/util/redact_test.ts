import assert from "node:assert/strict";
import fc from "fast-check";
import { redact, redactDeep } from "./redact.ts";

Deno.test("redact() hides a secret wherever it occurs", () => {
  assert.equal(redact("key abcd1234, again abcd1234", ["abcd1234"]), "key ***, again ***");
});

Deno.test("redact() leaves secrets shorter than four characters alone", () => {
  assert.equal(redact("page 42 of 420", ["42"]), "page 42 of 420");
});

Deno.test("redact() hides a secret with a quote or backslash in its JSON-escaped spelling", () => {
  const secret = 'pa"ss\\word';
  const body = JSON.stringify({ error: "bad token", token: secret });
  const hidden = redact(`API answered ${body}`, [secret]);
  assert.equal(hidden, 'API answered {"error":"bad token","token":"***"}');
  assert.deepEqual(JSON.parse(hidden.slice("API answered ".length)), {
    error: "bad token",
    token: "***",
  });
});

Deno.test("redact() replaces the longest spelling first, so a backslash secret leaves valid JSON", () => {
  const secret = "abc\\";
  const text = JSON.stringify({ m: `x ${secret} y` });
  const hidden = redact(text, [secret]);
  assert.deepEqual(JSON.parse(hidden), { m: "x *** y" });
});

Deno.test("redact() hides the URL-encoded spelling of a secret", () => {
  assert.equal(
    redact("GET /v1?key=a%2Bb%2Fc%3D failed", ["a+b/c="]),
    "GET /v1?key=*** failed",
  );
});

Deno.test("redact() hides the spellings of the escapes it is given", () => {
  const markdown = (s: string) => s.replace(/[\\`*_[\]|~]/g, "\\$&");
  const data = (s: string) => s.replaceAll("%", "%25").replaceAll("\n", "%0A");
  const secret = "tok_1%x\ny";
  const text = `md tok\\_1%x\ny, cmd tok_1%25x%0Ay`;
  assert.equal(redact(text, [secret], [markdown, data]), "md ***, cmd ***");
  // Without the Markdown escape its spelling is not recognised.
  assert.ok(redact(text, [secret]).startsWith("md tok\\_1%x\ny, "));
});

Deno.test("redactDeep() hides secrets in strings and keys but never in numbers", () => {
  const summary = {
    reason: "token 1000abcd was refused",
    counts: { read: 1000, sent: 10001000 },
    errors: [{ key: "1000", message: "id 1000 taken" }],
    flags: [true, null],
    "by 1000abcd": 1,
  };
  const hidden = redactDeep(summary, ["1000abcd", "1000"]);
  assert.deepEqual(hidden, {
    reason: "token *** was refused",
    counts: { read: 1000, sent: 10001000 },
    errors: [{ key: "***", message: "id *** taken" }],
    flags: [true, null],
    "by ***": 1,
  });
  assert.equal(JSON.stringify(hidden).includes('"read":1000'), true);
  // The input is not changed.
  assert.equal(summary.reason, "token 1000abcd was refused");
});

Deno.test("redactDeep() then JSON.stringify() hides a secret with a quote and stays valid JSON", () => {
  const secret = 'se"cr\\et';
  const text = JSON.stringify(redactDeep({ reason: `refused ${secret}`, read: 3 }, [secret]));
  assert.deepEqual(JSON.parse(text), { reason: "refused ***", read: 3 });
  assert.ok(!text.includes('se\\"cr'), text);
});

Deno.test("redactDeep() leaves valid JSON with a secret that is a number in the data", () => {
  const text = JSON.stringify(redactDeep({ counts: { read: 1000, failed: 1000 } }, ["1000"]));
  assert.equal(text, '{"counts":{"read":1000,"failed":1000}}');
});

Deno.test("redactDeep() without secrets returns the value itself", () => {
  const v = { a: "x" };
  assert.equal(redactDeep(v, []), v);
  assert.equal(redactDeep(v, ["ab"]), v);
});

Deno.test("redactDeep() copies only what holds a secret, and never changes the value it was given", () => {
  fc.assert(
    fc.property(
      fc.jsonValue({ maxDepth: 4 }),
      fc.constantFrom("tok3n", "s3cr3t-é", "abcd"),
      fc.boolean(),
      (data, secret, inject) => {
        // With `inject`, the secret is in a key and in strings, beside data that may not hold it.
        const value = inject
          ? { data, [`k-${secret}`]: [`${secret}!`, data, { m: secret }] }
          : data;
        const before = JSON.stringify(value);
        const hidden = redactDeep(value, [secret]);
        assert.equal(JSON.stringify(value), before, "the input is unchanged");
        // What a copy of everything, masked, would serialise to.
        const want = JSON.stringify(value, (_k, v) => {
          if (typeof v === "string") return v.replaceAll(secret, "***");
          if (v && typeof v === "object" && !Array.isArray(v)) {
            return Object.fromEntries(
              Object.entries(v).map(([p, x]) => [p.replaceAll(secret, "***"), x]),
            );
          }
          return v;
        });
        assert.equal(JSON.stringify(hidden), want);
        if (!before.includes(secret)) {
          assert.equal(hidden, value, "nothing to hide: the value itself");
        }
      },
    ),
    { numRuns: 500 },
  );
  const clean = { row: 3, message: "no secret here" };
  const dirty = { row: 4, message: "token tok3n refused" };
  const list = [clean, dirty];
  const out = redactDeep(list, ["tok3n"]);
  assert.notEqual(out, list);
  assert.equal(out[0], clean, "an element without a secret is shared");
  assert.deepEqual(out[1], { row: 4, message: "token *** refused" });
});
