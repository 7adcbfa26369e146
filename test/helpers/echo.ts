/**
 * Echo backends for integration tests: the conformance echo server (src/demo/echo-server.ts),
 * started as one "pod" per loopback address, plus small misbehaving upstreams for fault tests.
 * Every server started here is closed after the test file (or earlier through its own close()).
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterAll } from 'vitest';
import { startEchoServer, type EchoServer } from '../../src/demo/echo-server.js';

const open = new Set<{ close(): Promise<void> }>();

afterAll(async () => {
  await Promise.all([...open].map((s) => s.close()));
  open.clear();
});

function track<T extends { close(): Promise<void> }>(server: T): T {
  const close = server.close.bind(server);
  const tracked = Object.assign(server, {
    close: async () => {
      open.delete(tracked);
      await close();
    },
  });
  open.add(tracked);
  return tracked;
}

/** EchoPod is one running echo server and the address it listens on. */
export interface EchoPod {
  readonly address: string;
  readonly port: number;
  readonly pod: string;
  close(): Promise<void>;
}

/** EchoPods is a set of echo servers standing for the pods of one Service. */
export interface EchoPods {
  readonly service: string;
  readonly pods: readonly EchoPod[];
  /** The port every pod listens on (the EndpointSlice port). */
  readonly port: number;
  readonly addresses: readonly string[];
  /** Requests received so far by all pods (counted when the request head arrives). */
  requests(): number;
  close(): Promise<void>;
}

/** StartEchoPodsOptions names the identity fields the harness would set through env. */
export interface StartEchoPodsOptions {
  readonly namespace?: string;
  readonly ingress?: string;
  /** Pod names; defaults to `<service>-<n>` (n from 1). */
  readonly podNames?: readonly string[];
  readonly responseDelayMs?: number;
}

/**
 * startEchoPods starts one echo server per address, all on the same port (`port` 0 picks a free
 * one on the first address and reuses it for the rest, like the pods of one Deployment).
 */
export async function startEchoPods(
  service: string,
  addresses: readonly string[],
  port = 0,
  opts: StartEchoPodsOptions = {},
): Promise<EchoPods> {
  const pods: EchoPod[] = [];
  let chosen = port;
  let received = 0;
  try {
    for (const [i, address] of addresses.entries()) {
      const pod = opts.podNames?.[i] ?? `${service}-${i + 1}`;
      const server: EchoServer = await startEchoServer({
        host: address,
        port: chosen,
        identity: { namespace: opts.namespace ?? 'default', ingress: opts.ingress ?? '', service, pod },
        ...(opts.responseDelayMs === undefined ? {} : { responseDelayMs: opts.responseDelayMs }),
        onRequest: () => {
          received++;
        },
      });
      chosen = server.port;
      pods.push(track({ address, port: server.port, pod, close: () => server.close() }));
    }
  } catch (err) {
    await Promise.all(pods.map((p) => p.close()));
    throw err;
  }
  return track({
    service,
    pods,
    port: chosen,
    addresses: [...addresses],
    requests: () => received,
    close: async () => {
      await Promise.all(pods.map((p) => p.close()));
    },
  });
}

/** RawUpstream is a TCP server with scripted behaviour, for upstream fault tests. */
export interface RawUpstream {
  readonly port: number;
  /** Connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

/**
 * startRawUpstream starts a TCP server on 127.0.0.1 that hands every accepted socket to
 * `onConnection` (e.g. destroy on first data, or never answer).
 */
export function startRawUpstream(onConnection: (socket: Socket) => void, host = '127.0.0.1'): Promise<RawUpstream> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    onConnection(socket);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: 0 }, () => {
      const { port } = server.address() as AddressInfo;
      resolve(
        track({
          port,
          connections: () => accepted,
          close: () =>
            new Promise<void>((done) => {
              for (const s of sockets) s.destroy();
              server.close(() => done());
            }),
        }),
      );
    });
  });
}

/**
 * answerFirstHead is a startRawUpstream handler's part: it reads the connection's first request
 * head (body bytes after it are not another request), gives its lines (the request line first)
 * to `onHead`, and answers 200 `ok` with Connection: close.
 */
export function answerFirstHead(socket: Socket, onHead: (lines: string[]) => void): void {
  let buf = '';
  let seen = false;
  socket.on('data', (d: Buffer) => {
    buf += d.toString('latin1');
    if (seen || !buf.includes('\r\n\r\n')) return;
    seen = true;
    onHead(buf.slice(0, buf.indexOf('\r\n\r\n')).split('\r\n'));
    socket.end('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n');
  });
}
