/**
 * The local sandbox: simulators of the WorkSpan Bulk API and the Zoho Bigin Bulk Write API on one
 * loopback port. A product feature (`deno task sandbox`, `deno task demo`); the runner never
 * imports it.
 *
 * Each simulator exposes `handle(req, url, origin)`, answering the requests that are its own and
 * returning `undefined` for the rest, and `state()`, a JSON-safe view of what it received.
 *
 * @module
 */
import { type BiginSandbox, type BiginSandboxOptions, createBiginSandbox } from "./bigin.ts";
import {
  createWorkspanSandbox,
  type WorkspanSandbox,
  type WorkspanSandboxOptions,
} from "./workspan.ts";

export interface SandboxOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  workspan?: WorkspanSandboxOptions;
  bigin?: BiginSandboxOptions;
  /** Called with one line per request, for `deno task sandbox --verbose`. */
  log?: (line: string) => void;
}

export interface Sandbox {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  workspan: WorkspanSandbox;
  bigin: BiginSandbox;
  close(): Promise<void>;
}

/** Starts both simulators on 127.0.0.1. Always `close()` it. */
export function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const workspan = createWorkspanSandbox(options.workspan);
  const bigin = createBiginSandbox(options.bigin);
  const { promise, resolve } = Promise.withResolvers<number>();
  const server: Deno.HttpServer<Deno.NetAddr> = Deno.serve(
    { hostname: "127.0.0.1", port: options.port ?? 0, onListen: (a) => resolve(a.port) },
    async (req) => {
      const url = new URL(req.url);
      const origin = `http://127.0.0.1:${server.addr.port}`;
      let res: Response | undefined;
      if (url.pathname === "/_sandbox/state") {
        res = Response.json({ workspan: workspan.state(), bigin: bigin.state() });
      } else {
        res = (await workspan.handle(req, url, origin)) ?? (await bigin.handle(req, url, origin));
      }
      res ??= Response.json({ message: `No sandbox route for ${req.method} ${url.pathname}` }, {
        status: 404,
      });
      options.log?.(`${req.method} ${url.pathname}${url.search} -> ${res.status}`);
      return res;
    },
  );
  return promise.then((port) => ({
    url: `http://127.0.0.1:${port}`,
    port,
    workspan,
    bigin,
    close: () => server.shutdown(),
  }));
}
