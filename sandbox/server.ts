/**
 * The local sandbox: simulators of the WorkSpan Bulk API, the Zoho Bigin Bulk Write API and
 * Salesforce Bulk API 2.0 ingest on one loopback port, with switchable faults (`./faults.ts`). A product feature (`deno task sandbox`,
 * `deno task demo`); the runner never imports it.
 *
 * Each simulator exposes `handle(req, url, origin)`, answering the requests that are its own and
 * returning `undefined` for the rest, and `state()`, a JSON-safe view of what it received.
 *
 * The public port is a small TCP relay in front of `Deno.serve` (which listens on another
 * loopback port). The relay exists for one reason: `Deno.serve` always sends response headers,
 * so a handler alone cannot make a client's `fetch` reject; cutting the client's connection
 * can. Every fault that drops a connection does it here.
 *
 * @module
 */
import { type BiginSandbox, type BiginSandboxOptions, createBiginSandbox } from "./bigin.ts";
import {
  createFaultInjector,
  endpointOf,
  type Fault,
  type FaultLogEntry,
  type FaultStatus,
} from "./faults.ts";
import {
  createSalesforceSandbox,
  type SalesforceSandbox,
  type SalesforceSandboxOptions,
} from "./salesforce.ts";
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
  salesforce?: SalesforceSandboxOptions;
  /** Faults active from the start (see `./faults.ts`); replace them with `setFaults`. */
  faults?: readonly Fault[];
  /** Called with one line per request, for `deno task sandbox --verbose`. */
  log?: (line: string) => void;
}

export interface Sandbox {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  workspan: WorkspanSandbox;
  bigin: BiginSandbox;
  salesforce: SalesforceSandbox;
  /**
   * Replaces the active faults; each counts its `after` and `times` afresh. The log is kept.
   *
   * @throws {InvalidFaultError} when a fault is not usable (the active faults stay as they were)
   */
  setFaults(faults: readonly Fault[]): void;
  /** Every fault that fired, oldest first: what, when, on which request or execution. */
  readonly faultLog: readonly FaultLogEntry[];
  /** The active faults and how often each has fired. */
  faults(): FaultStatus[];
  /**
   * Resolves once no request is being handled, e.g. after a client gave up on a delayed
   * request that the sandbox still processes.
   */
  idle(): Promise<void>;
  /**
   * Stops the sandbox: stops accepting, cuts every open connection (requests still in flight
   * are abandoned; delayed ones are not processed), then stops the HTTP server.
   */
  close(): Promise<void>;
}

/** Starts the simulators on 127.0.0.1. Always `close()` it. */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const faults = createFaultInjector(options.faults);
  const ownExecutionFault = options.workspan?.executionFault;
  const workspan = createWorkspanSandbox({
    ...options.workspan,
    executionFault: (info) => ownExecutionFault?.(info) ?? faults.forExecution(info),
  });
  const ownJobFault = options.bigin?.jobFault;
  const bigin = createBiginSandbox({
    ...options.bigin,
    jobFault: (info) => ownJobFault?.(info) ?? faults.forJob(info),
  });
  const ownSfFault = options.salesforce?.jobFault;
  const salesforce = createSalesforceSandbox({
    ...options.salesforce,
    jobFault: (info) => ownSfFault?.(info) ?? faults.forSalesforceJob(info),
  });

  let inFlight = 0;
  let idleWaiters: (() => void)[] = [];
  let origin = "";
  let relay: Relay | undefined;

  async function dispatch(req: Request): Promise<Response> {
    const url = new URL(req.url);
    if (url.pathname === "/_sandbox/state") {
      return Response.json({
        workspan: workspan.state(),
        bigin: bigin.state(),
        salesforce: salesforce.state(),
        faults: { active: faults.active(), log: faults.log },
      });
    }
    const res = (await workspan.handle(req, url, origin)) ??
      (await bigin.handle(req, url, origin)) ?? (await salesforce.handle(req, url, origin));
    return res ?? Response.json({ message: `No sandbox route for ${req.method} ${url.pathname}` }, {
      status: 404,
    });
  }

  const { promise: listening, resolve } = Promise.withResolvers<void>();
  const server: Deno.HttpServer<Deno.NetAddr> = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => resolve() },
    async (req, info) => {
      inFlight++;
      const link = relay?.link(info.remoteAddr.port);
      try {
        const url = new URL(req.url);
        const endpoint = endpointOf(req.method, url.pathname);
        const auth = req.headers.get("authorization");
        const out = await faults.handle(req, endpoint, dispatch, () => link?.close());
        // An expired session stays expired: the client must get a new token, as with Salesforce.
        if (out.fault === "token_expired" && endpoint?.startsWith("sf.") && auth) {
          salesforce.expireToken(auth);
        }
        const fault = out.fault ? ` [fault ${out.fault}]` : "";
        const delay = out.delayedMs > 0 ? ` [latency ${out.delayedMs}ms]` : "";
        const answer = out.dropped ? "connection dropped" : String(out.response.status);
        options.log?.(`${req.method} ${url.pathname}${url.search} -> ${answer}${fault}${delay}`);
        return out.response;
      } catch (e) {
        // Reading the body of a request whose connection is gone fails; nobody is left to tell.
        if (link?.closed) return new Response(null, { status: 500 });
        throw e;
      } finally {
        if (--inFlight === 0) {
          for (const wake of idleWaiters) wake();
          idleWaiters = [];
        }
      }
    },
  );
  await listening;
  try {
    relay = startRelay(options.port ?? 0, server.addr.port);
  } catch (e) {
    // E.g. the port is taken: leave nothing running behind.
    await server.shutdown();
    throw e;
  }
  origin = `http://127.0.0.1:${relay.port}`;

  let closing: Promise<void> | undefined;
  return {
    url: origin,
    port: relay.port,
    workspan,
    bigin,
    salesforce,
    setFaults: (list) => faults.set(list),
    faultLog: faults.log,
    faults: () => faults.active(),
    idle: () => inFlight === 0 ? Promise.resolve() : new Promise((wake) => idleWaiters.push(wake)),
    close() {
      closing ??= (async () => {
        faults.close();
        await relay!.close();
        await server.shutdown();
      })();
      return closing;
    },
  };
}

/** A client connection joined to its own connection to the HTTP server. */
interface Link {
  /** True once either side is closed. */
  readonly closed: boolean;
  /** Closes both sides at once; the client sees its connection end with no (further) answer. */
  close(): void;
}

interface Relay {
  port: number;
  /** The link whose connection to the HTTP server has this local port. */
  link(serverSidePort: number): Link | undefined;
  /** Stops accepting and closes every link. */
  close(): Promise<void>;
}

/**
 * Listens on `port` and relays every connection, byte for byte, to the HTTP server on
 * `innerPort`. The HTTP server sees each link's server-side socket as the remote address, so a
 * request handler can find (and cut) the client connection it came from.
 */
function startRelay(port: number, innerPort: number): Relay {
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  const links = new Map<number, Link>();
  const running = new Set<Promise<void>>();
  let stopping = false;

  async function serveLink(client: Deno.TcpConn): Promise<void> {
    let server: Deno.TcpConn;
    try {
      server = await Deno.connect({ hostname: "127.0.0.1", port: innerPort });
    } catch {
      client.close();
      return;
    }
    const key = server.localAddr.port;
    let closed = false;
    const link: Link = {
      get closed() {
        return closed;
      },
      close() {
        if (closed) return;
        closed = true;
        links.delete(key);
        for (const conn of [client, server]) {
          try {
            conn.close();
          } catch {
            // Already closed.
          }
        }
      },
    };
    if (stopping) return link.close();
    links.set(key, link);
    await Promise.all([pump(client, server, link), pump(server, client, link)]);
    link.close();
  }

  const accepting = (async () => {
    for (;;) {
      let client: Deno.TcpConn;
      try {
        client = await listener.accept();
      } catch {
        return; // The listener was closed.
      }
      const done = serveLink(client);
      running.add(done);
      done.finally(() => running.delete(done));
    }
  })();

  return {
    port: listener.addr.port,
    link: (serverSidePort) => links.get(serverSidePort),
    async close() {
      stopping = true;
      listener.close();
      await accepting;
      for (const link of [...links.values()]) link.close();
      await Promise.all(running);
    },
  };
}

/**
 * Copies bytes one way until end of stream, then half-closes the other side, as TCP would.
 * Any error (including the link being closed under it) closes the whole link.
 */
async function pump(from: Deno.TcpConn, to: Deno.TcpConn, link: Link): Promise<void> {
  const buf = new Uint8Array(64 * 1024);
  try {
    for (;;) {
      const n = await from.read(buf);
      if (n === null) break;
      for (let at = 0; at < n;) at += await to.write(buf.subarray(at, n));
    }
    await to.closeWrite();
  } catch {
    link.close();
  }
}
