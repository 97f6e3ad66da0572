import assert from "node:assert/strict";

const MAIN = new URL("./main.ts", import.meta.url).pathname;

Deno.test("serve on a busy port prints one line naming the port and exits 2", async () => {
  const held = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (held.addr as Deno.NetAddr).port;
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        "--allow-net=127.0.0.1",
        "--allow-env",
        MAIN,
        "serve",
        "--port",
        `${port}`,
      ],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 2, stderr);
    assert.equal(
      stderr,
      `error: port ${port} is busy: stop what uses it or pass --port 0 for any free port\n`,
    );
    assert.equal(new TextDecoder().decode(out.stdout), "", "nothing claims the sandbox started");
  } finally {
    held.close();
  }
});
