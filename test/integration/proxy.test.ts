/**
 * The worker's proxy in-process: a WorkerState built from encoded snapshot bytes, the uWS
 * front on 127.0.0.1:0, and real node:http (or raw node:net) upstreams on loopback.
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { request } from 'undici';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { encodeSnapshot } from '../../src/shared/codec.js';
import type { WorkerConfig } from '../../src/shared/messages.js';
import { NO_OVERRIDES, SNAPSHOT_VERSION, type Backend, type RoutingTable, type VirtualHost } from '../../src/shared/snapshot.js';
import { Exchange } from '../../src/worker/proxy/exchange.js';
import { ResponseWriter } from '../../src/worker/proxy/response-writer.js';
import { createProxyServer, type ProxyServer } from '../../src/worker/proxy/server.js';
import { UpstreamConnection } from '../../src/worker/upstream/client.js';
import { WorkerState } from '../../src/worker/state.js';
import { RawConnection, header, headerAll } from '../helpers/raw-http.js';
import { collectingLogger, testWorkerConfig, type LogLine } from '../helpers/worker-config.js';

const SERVER = 'flusso-test';

const baseConfig: WorkerConfig = testWorkerConfig({ serverHeader: SERVER });

const cleanups: (() => Promise<void> | void)[] = [];
let logLines: LogLine[] = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  // No request may have thrown inside the proxy (ING_ERR_PROXY_INTERNAL) during a test.
  expect(logLines.filter((l) => l.code === 'ING_ERR_PROXY_INTERNAL')).toEqual([]);
  logLines = [];
});

// --- upstreams -------------------------------------------------------------------------------

interface Upstream {
  readonly port: number;
  readonly server: net.Server;
  requests: number;
}

interface Echo {
  name: string;
  method: string;
  url: string;
  headers: string[];
  bodyLength: number;
  body: string;
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function track<T extends net.Server>(server: T): T {
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        if ('closeAllConnections' in server) (server as unknown as http.Server).closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return server;
}

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
}

/** An HTTP upstream whose behaviour depends on the request path. */
async function httpUpstream(name: string, onRequest?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean): Promise<Upstream> {
  const up = { port: 0, server: null as unknown as net.Server, requests: 0 };
  const server = track(
    http.createServer((req, res) => {
      up.requests++;
      if (onRequest?.(req, res)) return;
      const url = new URL(req.url ?? '/', 'http://x');
      switch (url.pathname) {
        case '/pipe':
          req.pipe(res);
          return;
        case '/big': {
          const body = deterministic(Number(url.searchParams.get('n')));
          res.setHeader('content-length', body.length);
          res.end(body);
          return;
        }
        case '/chunks':
          res.write('alpha-');
          setImmediate(() => {
            res.write('beta-');
            setImmediate(() => res.end('gamma'));
          });
          return;
        case '/head':
          res.setHeader('content-length', '1234');
          res.setHeader('x-head', 'yes');
          res.end(req.method === 'HEAD' ? undefined : 'x'.repeat(1234));
          return;
        case '/204':
          res.statusCode = 204;
          res.end();
          return;
        case '/304':
          res.statusCode = 304;
          res.setHeader('etag', '"v1"');
          res.end();
          return;
        case '/cookies':
          res.setHeader('set-cookie', ['a=1; Path=/', 'b=2; Path=/']);
          res.end('cookies');
          return;
      }
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const echo: Echo = { name, method: req.method ?? '', url: req.url ?? '', headers: req.rawHeaders, bodyLength: body.length, body: body.toString('latin1') };
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(echo));
      });
    }),
  );
  up.server = server;
  up.port = await listen(server);
  return up;
}

/** A raw TCP upstream: `onData` sees the first bytes of each connection. */
async function rawUpstream(onData: (socket: net.Socket, data: Buffer) => void): Promise<Upstream> {
  const sockets = new Set<net.Socket>();
  const up = { port: 0, server: null as unknown as net.Server, requests: 0 };
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.once('data', (d: Buffer) => {
      up.requests++;
      onData(socket, d);
    });
  });
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
  });
  track(server);
  up.server = server;
  up.port = await listen(server);
  return up;
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  const port = await listen(s);
  await new Promise((r) => s.close(r));
  return port;
}

function deterministic(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >> 8)) & 0xff;
  return b;
}

const echoHeader = (e: Echo, name: string): string[] => {
  const out: string[] = [];
  for (let i = 0; i < e.headers.length; i += 2) if ((e.headers[i] as string).toLowerCase() === name) out.push(e.headers[i + 1] as string);
  return out;
};

// --- proxy -----------------------------------------------------------------------------------

interface Proxy {
  readonly port: number;
  readonly server: ProxyServer;
  readonly state: WorkerState;
}

function backendOf(id: string, ports: readonly number[]): Backend {
  return {
    id,
    service: id.split(':')[0] as string,
    servicePort: 80,
    endpoints: ports.map((port) => ({ address: '127.0.0.1', port, weight: 1, ready: true, terminating: false })),
    loadBalancer: 'round-robin',
  };
}

/** hostsTable routes each host (Prefix `/`) to a backend of the given upstream ports. */
function hostsTable(hosts: Record<string, readonly number[]>): RoutingTable {
  const vhosts: VirtualHost[] = [];
  const backends: Backend[] = [];
  for (const [host, ports] of Object.entries(hosts)) {
    const id = `default/${host}:80`;
    vhosts.push({ host, routes: [{ match: 'Prefix', path: '/', backend: id, source: 'default/test' }] });
    backends.push(backendOf(id, ports));
  }
  return { hosts: vhosts, defaultBackend: null, backends };
}

async function startProxy(table: RoutingTable, config: Partial<WorkerConfig> = {}): Promise<Proxy> {
  const cfg = { ...baseConfig, ...config };
  const log = collectingLogger(logLines);
  const state = new WorkerState({ config: cfg });
  const applied = state.apply(encodeSnapshot({ version: SNAPSHOT_VERSION, generation: 1, table, overrides: NO_OVERRIDES, tls: null }));
  expect(applied).toEqual({ ok: true, generation: 1 });
  const server = createProxyServer({ state, config: cfg, log });
  const port = (await server.listen()).http;
  cleanups.push(async () => {
    server.close();
    await state.close();
  });
  return { port, server, state };
}

async function get(p: Proxy, host: string, path: string, headers: Record<string, string> = {}) {
  const res = await request(`http://127.0.0.1:${p.port}${path}`, { headers: { host, ...headers } });
  const body = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, body, text: body.toString() };
}

async function getEcho(p: Proxy, host: string, path: string, headers: Record<string, string> = {}): Promise<Echo> {
  const r = await get(p, host, path, headers);
  expect(r.status).toBe(200);
  return JSON.parse(r.text) as Echo;
}

async function raw(p: Proxy): Promise<RawConnection> {
  const c = await RawConnection.open(p.port);
  cleanups.push(() => c.destroy());
  return c;
}

// --- tests -----------------------------------------------------------------------------------

describe('routing', () => {
  it('routes by host and path, Exact before Prefix, 404 elsewhere', async () => {
    const a = await httpUpstream('a');
    const b = await httpUpstream('b');
    const table: RoutingTable = {
      hosts: [
        { host: 'a.test', routes: [{ match: 'Prefix', path: '/', backend: 'ns/a:80', source: 'ns/i' }] },
        {
          host: 'b.test',
          routes: [
            { match: 'Exact', path: '/admin', backend: 'ns/b:80', source: 'ns/i' },
            { match: 'Prefix', path: '/public', backend: 'ns/a:80', source: 'ns/i' },
          ],
        },
        { host: '*.wild.test', routes: [{ match: 'Prefix', path: '/', backend: 'ns/b:80', source: 'ns/i' }] },
      ],
      defaultBackend: null,
      backends: [backendOf('ns/a:80', [a.port]), backendOf('ns/b:80', [b.port])],
    };
    const p = await startProxy(table);
    expect((await getEcho(p, 'a.test', '/x?q=1')).name).toBe('a');
    expect((await getEcho(p, 'A.TEST:8080', '/x')).name).toBe('a');
    expect((await getEcho(p, 'b.test', '/admin')).name).toBe('b');
    expect((await getEcho(p, 'b.test', '/public/x')).name).toBe('a');
    expect((await getEcho(p, 'one.wild.test', '/')).name).toBe('b');
    // The path used for matching is the path forwarded (docs/bad-input.md §H rows 130, 131).
    const e = await getEcho(p, 'b.test', '/public/%2e%2e/admin');
    expect(e).toMatchObject({ name: 'b', url: '/admin' });
    const notFound = await get(p, 'b.test', '/publicity');
    expect(notFound.status).toBe(404);
    expect(notFound.text).toBe('404 Not Found\n');
    expect(notFound.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(notFound.headers.server).toBe(SERVER);
    expect((await get(p, 'two.levels.wild.test', '/')).status).toBe(404);
    expect((await get(p, 'nothing.test', '/')).status).toBe(404);
  });

  it('answers 503 with no endpoint and keeps the connection usable after 404, 502 and 503', async () => {
    const a = await httpUpstream('a');
    const dead = await closedPort();
    const p = await startProxy(hostsTable({ 'a.test': [a.port], 'empty.test': [], 'dead.test': [dead] }));
    const c = await raw(p);
    for (const [host, want] of [
      ['nothing.test', 404],
      ['empty.test', 503],
      ['dead.test', 502],
      ['a.test', 200],
    ] as const) {
      c.request('GET', '/', [`Host: ${host}`]);
      const r = await c.readResponse();
      expect(r.status).toBe(want);
      expect(header(r, 'server')).toBe(SERVER);
      expect(header(r, 'connection')).toBeUndefined();
    }
    expect(c.isClosed).toBe(false);
  });

  // RFC 9112 §9.6: the response to a request with `Connection: close` says close too, for
  // proxied, error and stored answers alike (uWS closes but writes no such field itself).
  it('answers a request with Connection: close with Connection: close, then closes', async () => {
    const a = await httpUpstream('a');
    const p = await startProxy(hostsTable({ 'a.test': [a.port], 'empty.test': [] }));
    for (const [host, token, want] of [
      ['a.test', 'close', 200],
      ['a.test', 'Close', 200],
      ['nothing.test', 'close', 404],
      ['empty.test', 'close', 503],
    ] as const) {
      const c = await raw(p);
      c.request('GET', '/', [`Host: ${host}`, `Connection: ${token}`]);
      const r = await c.readResponse();
      expect([r.status, headerAll(r, 'connection')]).toEqual([want, ['close']]);
      await c.closed;
    }
    // uWS keeps a connection open when close is one token of a list, so no close is announced.
    const c = await raw(p);
    c.request('GET', '/', ['Host: a.test', 'Connection: keep-alive, close']);
    const r = await c.readResponse();
    expect([r.status, headerAll(r, 'connection')]).toEqual([200, []]);
    expect(c.isClosed).toBe(false);
  });

  it('retries a refused GET on another endpoint', async () => {
    const a = await httpUpstream('a');
    const dead = await closedPort();
    const p = await startProxy(hostsTable({ 'a.test': [dead, a.port] }));
    for (let i = 0; i < 4; i++) expect((await getEcho(p, 'a.test', '/')).name).toBe('a');
  });
});

describe('request headers', () => {
  it('strips hop-by-hop fields and those Connection names, keeps Host and the rest in order', async () => {
    const a = await httpUpstream('a');
    const p = await startProxy(hostsTable({ 'a.test': [a.port] }));
    const c = await raw(p);
    c.request('GET', '/h', [
      'Host: a.test:8080',
      'User-Agent: Go-http-client/1.1',
      'Connection: keep-alive, X-Custom-Hop',
      'X-Custom-Hop: 1',
      'Keep-Alive: timeout=5',
      'TE: trailers',
      'Proxy-Connection: keep-alive',
      'Proxy-Authorization: Basic eDp5',
      'Trailer: X-T',
      'X-Keep-1: one',
      'X-Keep-2: two',
    ]);
    const e = JSON.parse((await c.readResponse()).body.toString()) as Echo;
    const names = e.headers.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    for (const dropped of ['x-custom-hop', 'keep-alive', 'te', 'proxy-connection', 'proxy-authorization', 'trailer', 'transfer-encoding'])
      expect(names).not.toContain(dropped);
    expect(echoHeader(e, 'host')).toEqual(['a.test:8080']);
    expect(echoHeader(e, 'user-agent')).toEqual(['Go-http-client/1.1']);
    expect(names.indexOf('x-keep-1')).toBeLessThan(names.indexOf('x-keep-2'));
    expect(names.indexOf('user-agent')).toBeLessThan(names.indexOf('x-keep-1'));
  });

  it('sets X-Forwarded-*, X-Real-IP and X-Request-ID, replacing what the client sent', async () => {
    const a = await httpUpstream('a');
    const p = await startProxy(hostsTable({ 'a.test': [a.port] }));
    const e = await getEcho(p, 'a.test', '/', {
      'x-forwarded-for': '6.6.6.6',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'evil.test',
      'x-real-ip': '6.6.6.6',
      forwarded: 'for=6.6.6.6',
    });
    expect(echoHeader(e, 'x-forwarded-for')).toEqual(['127.0.0.1']);
    expect(echoHeader(e, 'x-original-forwarded-for')).toEqual(['6.6.6.6']);
    expect(echoHeader(e, 'x-real-ip')).toEqual(['127.0.0.1']);
    expect(echoHeader(e, 'x-forwarded-host')).toEqual(['a.test']);
    expect(echoHeader(e, 'x-forwarded-port')).toEqual([String(p.port)]);
    expect(echoHeader(e, 'x-forwarded-proto')).toEqual(['http']);
    expect(echoHeader(e, 'forwarded')).toEqual([]);
    expect(echoHeader(e, 'x-request-id')[0]).toMatch(/^[0-9a-f]{32}$/);

    expect(echoHeader(await getEcho(p, 'a.test', '/', { 'x-request-id': 'abc.DEF-123_x' }), 'x-request-id')).toEqual(['abc.DEF-123_x']);
    const insane = echoHeader(await getEcho(p, 'a.test', '/', { 'x-request-id': 'a b<script>' }), 'x-request-id');
    expect(insane[0]).toMatch(/^[0-9a-f]{32}$/);
  });

  it('strips Expect: 100-continue and still forwards the body', async () => {
    const a = await httpUpstream('a');
    const p = await startProxy(hostsTable({ 'a.test': [a.port] }));
    const c = await raw(p);
    c.request('POST', '/', ['Host: a.test', 'Content-Length: 5', 'Expect: 100-continue']);
    const cont = await c.readResponse({ keepInformational: true });
    expect(cont.status).toBe(100);
    c.write('hello');
    const r = await c.readResponse();
    expect(r.status).toBe(200);
    const e = JSON.parse(r.body.toString()) as Echo;
    expect(echoHeader(e, 'expect')).toEqual([]);
    expect(echoHeader(e, 'content-length')).toEqual(['5']);
    expect(e.body).toBe('hello');
  });
});

describe('bodies', () => {
  it('streams a 5 MB POST body intact both ways', async () => {
    const a = await httpUpstream('a');
    const p = await startProxy(hostsTable({ 'a.test': [a.port] }));
    const sent = randomBytes(5 * 1024 * 1024);
    const res = await request(`http://127.0.0.1:${p.port}/pipe`, { method: 'POST', headers: { host: 'a.test' }, body: sent });
    expect(res.statusCode).toBe(200);
    const got = Buffer.from(await res.body.arrayBuffer());
    expect(got.length).toBe(sent.length);
    expect(sha256(got)).toBe(sha256(sent));
  });

  it('streams a 5 MB known-length download to a reader that stalls: tryEnd blocks, onWritable resumes the upstream read', async () => {
    // Observe the backpressure itself: the writer's body() says "blocked" (tryEnd could not take
    // everything, so the upstream read stops), and the exchange later hears the client is
    // writable again (onWritable) and resumes the upstream connection.
    const body = ResponseWriter.prototype.body;
    let onBlocked!: () => void;
    const blockedOnce = new Promise<void>((r) => (onBlocked = r));
    let blocks = 0;
    const bodySpy = vi.spyOn(ResponseWriter.prototype, 'body').mockImplementation(function (this: ResponseWriter, buf: Buffer, start: number, end: number) {
      const ok = body.call(this, buf, start, end);
      if (!ok) {
        blocks++;
        onBlocked();
      }
      return ok;
    });
    const writableSpy = vi.spyOn(Exchange.prototype, 'onResponseWritable');
    const resumeSpy = vi.spyOn(UpstreamConnection.prototype, 'resume');
    cleanups.push(() => {
      bodySpy.mockRestore();
      writableSpy.mockRestore();
      resumeSpy.mockRestore();
    });
    const a = await httpUpstream('a');
    const p = await startProxy(hostsTable({ 'a.test': [a.port] }));
    const n = 5 * 1024 * 1024;
    const c = await raw(p);
    c.socket.pause();
    c.request('GET', `/big?n=${n}`, ['Host: a.test']);
    await blockedOnce; // latch: the client's buffers are full and the proxy holds the rest
    expect(c.received.length).toBe(0);
    expect(writableSpy).not.toHaveBeenCalled();
    c.socket.resume();
    const r = await c.readResponse();
    expect(header(r, 'content-length')).toBe(String(n));
    expect(sha256(r.body)).toBe(sha256(deterministic(n)));
    expect(blocks).toBeGreaterThanOrEqual(1);
    // Every block but one that ended the response was lifted through onWritable.
    expect(writableSpy.mock.calls.length).toBeGreaterThanOrEqual(blocks - 1);
    expect(writableSpy.mock.calls.length).toBeGreaterThanOrEqual(1);
    expect(resumeSpy.mock.calls.length).toBe(writableSpy.mock.calls.length);
    // And the connection is still good for the next request.
    c.request('GET', '/big?n=10', ['Host: a.test']);
    expect((await c.readResponse()).body.length).toBe(10);
  });

  // Issue 14 item 3: a route's requestBody (set by Ingress annotations) overrides the global flags.
  it('a route-level body limit from the snapshot overrides --max-request-body-bytes (413 either way)', async () => {
    const a = await httpUpstream('a');
    const table = hostsTable({ 'limited.test': [a.port], 'open.test': [a.port] });
    const limited = { ...table, hosts: table.hosts.map((h) => (h.host === 'limited.test' ? { ...h, routes: h.routes.map((r) => ({ ...r, requestBody: { maxBytes: 8 } })) } : h)) };
    const p = await startProxy(limited, { maxRequestBodyBytes: 1024 });
    const post = async (host: string, bytes: number) =>
      (await request(`http://127.0.0.1:${p.port}/pipe`, { method: 'POST', headers: { host }, body: 'x'.repeat(bytes) })).statusCode;
    expect([await post('limited.test', 8), await post('limited.test', 9), await post('open.test', 9), await post('open.test', 1024), await post('open.test', 1025)]).toEqual([200, 413, 200, 200, 413]);
  });

  it('forwards a chunked request body as it arrives when request buffering is off (--client-body-buffer-bytes 0)', async () => {
    let arrived!: (headers: string[]) => void;
    const head = new Promise<string[]>((r) => (arrived = r));
    const a = await httpUpstream('a', (req, res) => {
      arrived(req.rawHeaders);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => res.end(Buffer.concat(chunks)));
      return true;
    });
    const p = await startProxy(hostsTable({ 'a.test': [a.port] }), { clientBodyBufferBytes: 0 });
    const c = await raw(p);
    c.request('POST', '/', ['Host: a.test', 'Transfer-Encoding: chunked'], '5\r\nhello\r\n');
    const headers = await head; // the upstream sees the request before the body is complete
    const names = headers.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    expect(headers[names.indexOf('transfer-encoding') * 2 + 1]).toBe('chunked');
    expect(names).not.toContain('content-length');
    c.write('6\r\n world\r\n0\r\n\r\n');
    expect((await c.readResponse()).body.toString()).toBe('hello world');
  });

  it('forwards a chunked request body that arrived whole with its length', async () => {
    const a = await httpUpstream('a');
    const p = await startProxy(hostsTable({ 'a.test': [a.port] }));
    const c = await raw(p);
    c.request('POST', '/', ['Host: a.test', 'Transfer-Encoding: chunked'], '5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n');
    const e = JSON.parse((await c.readResponse()).body.toString()) as Echo;
    expect(e.body).toBe('hello world');
    expect(echoHeader(e, 'transfer-encoding').length + echoHeader(e, 'content-length').length).toBe(1);
  });

  it('re-frames an unknown-length response as chunked', async () => {
    const a = await httpUpstream('a');
    const p = await startProxy(hostsTable({ 'a.test': [a.port] }));
    const c = await raw(p);
    c.request('GET', '/chunks', ['Host: a.test']);
    const r = await c.readResponse();
    expect(header(r, 'transfer-encoding')).toBe('chunked');
    expect(r.body.toString()).toBe('alpha-beta-gamma');
  });

  it('answers HEAD, 204 and 304 without a body and keeps the connection', async () => {
    const a = await httpUpstream('a');
    const p = await startProxy(hostsTable({ 'a.test': [a.port] }));
    const c = await raw(p);
    c.request('HEAD', '/head', ['Host: a.test']);
    const head = await c.readResponse({ head: true });
    expect(head.status).toBe(200);
    expect(headerAll(head, 'content-length')).toEqual(['1234']);
    expect(header(head, 'x-head')).toBe('yes');
    c.request('GET', '/204', ['Host: a.test']);
    const noContent = await c.readResponse();
    expect(noContent.status).toBe(204);
    expect(header(noContent, 'content-length')).toBeUndefined();
    c.request('GET', '/304', ['Host: a.test']);
    const notModified = await c.readResponse();
    expect(notModified.statusLine).toBe('HTTP/1.1 304 Not Modified');
    expect(header(notModified, 'etag')).toBe('"v1"');
    c.request('GET', '/cookies', ['Host: a.test']);
    const after = await c.readResponse();
    expect(after.body.toString()).toBe('cookies');
    expect(c.received.length).toBe(0); // no stray body bytes were sent after HEAD/204/304
  });

  it('keeps duplicate Set-Cookie fields', async () => {
    const a = await httpUpstream('a');
    const p = await startProxy(hostsTable({ 'a.test': [a.port] }));
    const c = await raw(p);
    c.request('GET', '/cookies', ['Host: a.test']);
    const r = await c.readResponse();
    expect(headerAll(r, 'set-cookie')).toEqual(['a=1; Path=/', 'b=2; Path=/']);
  });
});

describe('response headers', () => {
  it('drops hop-by-hop, Date, Server and framing from the upstream, adds its own once', async () => {
    const up = await rawUpstream((s) =>
      s.write(
        'HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Resp-Hop\r\nX-Resp-Hop: 1\r\nKeep-Alive: timeout=5\r\nProxy-Connection: x\r\n' +
          'Server: upstream/1.0\r\nDate: Mon, 01 Jan 2001 00:00:00 GMT\r\nX-Keep: yes\r\nContent-Length: 2\r\n\r\nok',
      ),
    );
    const p = await startProxy(hostsTable({ 'a.test': [up.port] }));
    const c = await raw(p);
    c.request('GET', '/', ['Host: a.test']);
    const r = await c.readResponse();
    expect(r.body.toString()).toBe('ok');
    expect(headerAll(r, 'server')).toEqual([SERVER]);
    expect(headerAll(r, 'date')).toHaveLength(1);
    expect(headerAll(r, 'date')[0]).not.toContain('2001');
    expect(headerAll(r, 'content-length')).toEqual(['2']);
    expect(header(r, 'x-keep')).toBe('yes');
    for (const dropped of ['x-resp-hop', 'keep-alive', 'proxy-connection', 'connection']) expect(header(r, dropped)).toBeUndefined();
  });

  // Issue 13: undici answered 100-then-200 with 502; the final response is what RFC 9110 §15.2 asks for.
  it('reads past 100 Continue and 103 Early Hints to the final response', async () => {
    const up = await rawUpstream((s) => s.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
    const p = await startProxy(hostsTable({ 'a.test': [up.port] }));
    const r = await get(p, 'a.test', '/');
    expect([r.status, r.text, r.headers.link]).toEqual([200, 'ok', undefined]);
  });

  it('answers 502 to a response with two Content-Length fields and never reuses its connection', async () => {
    let connections = 0;
    const up = await rawUpstream((s) => {
      connections++;
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nokk');
    });
    const p = await startProxy(hostsTable({ 'a.test': [up.port] }));
    expect((await get(p, 'a.test', '/')).status).toBe(502);
    expect((await get(p, 'a.test', '/')).status).toBe(502);
    expect(connections).toBe(2);
  });

  it('answers 502 to a status outside 100-599', async () => {
    const up = await rawUpstream((s) => s.write('HTTP/1.1 999 Weird\r\nContent-Length: 0\r\n\r\n'));
    const p = await startProxy(hostsTable({ 'a.test': [up.port] }));
    const r = await get(p, 'a.test', '/');
    expect(r.status).toBe(502);
    expect(r.text).toBe('502 Bad Gateway\n');
  });
});

/** A PROXY protocol v2 header (signature, PROXY over TCP4, 12 address bytes) claiming 1.2.3.4:1111 → 5.6.7.8:80. */
const PROXY_V2_FROM_1_2_3_4 = Buffer.from('0d0a0d0a000d0a515549540a' + '21' + '11' + '000c' + '01020304' + '05060708' + '0457' + '0050', 'hex');

describe('framing the parser lets through: 400 and close, upstream never contacted', () => {
  // What uWS 20.57 accepts but Flusso refuses (docs/runtime.md, "What the proxy port answers").
  const cases: [string, string | Buffer][] = [
    ['differing duplicate Content-Length', 'POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde'],
    ['identical duplicate Content-Length', 'POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc'],
    ['Transfer-Encoding: gzip', 'POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: gzip\r\n\r\n0\r\n\r\n'],
    ['Transfer-Encoding: chunked, chunked', 'POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n'],
    ['Transfer-Encoding: xchunked', 'POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n'],
    ['two Transfer-Encoding fields', 'POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n0\r\n\r\n'],
    ['a fragment in the target', 'GET /a#frag HTTP/1.1\r\nHost: a.test\r\n\r\n'],
    ['a malformed percent escape', 'GET /a%zz HTTP/1.1\r\nHost: a.test\r\n\r\n'],
    ['a Host with a slash', 'GET / HTTP/1.1\r\nHost: a.test/x\r\n\r\n'],
    ['a broken IPv6 Host', 'GET / HTTP/1.1\r\nHost: [::1\r\n\r\n'],
    // A PROXY protocol v2 header from a client (1.2.3.4 claimed): never trusted for the client address.
    ['a client-sent PROXY v2 header', Buffer.concat([PROXY_V2_FROM_1_2_3_4, Buffer.from('GET / HTTP/1.1\r\nHost: a.test\r\n\r\n')])],
  ];

  it.each(cases)('%s', async (_name, bytes) => {
    const a = await httpUpstream('a');
    const p = await startProxy(hostsTable({ 'a.test': [a.port], 'b.test': [a.port] }));
    const c = await raw(p);
    c.write(bytes);
    const r = await c.readResponse();
    expect(r.status).toBe(400);
    expect(header(r, 'connection')).toBe('close');
    expect(header(r, 'server')).toBe(SERVER);
    await c.waitClose();
    expect(a.requests).toBe(0);
  });

  it('TRACE: 405 and close', async () => {
    const a = await httpUpstream('a');
    const p = await startProxy(hostsTable({ 'a.test': [a.port] }));
    const c = await raw(p);
    c.request('TRACE', '/', ['Host: a.test']);
    const r = await c.readResponse();
    expect(r.status).toBe(405);
    expect(header(r, 'allow')).toContain('GET');
    await c.waitClose();
    expect(a.requests).toBe(0);
  });
});

describe('malformed requests uWS answers itself: a status and a closed connection, upstream never contacted', () => {
  // uWS 20.57's own answers (the old 20.30 build closed or hung on all of these): no body, no
  // Server field, Connection: close (docs/runtime.md, "What the proxy port answers").
  const cases: [string, string, number][] = [
    ['duplicate Host', 'GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n', 400],
    ['no Host', 'GET / HTTP/1.1\r\n\r\n', 400],
    ['Content-Length with Transfer-Encoding', 'POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
    ['a Content-Length that is not a number', 'POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 0x5\r\n\r\nhello', 400],
    ['a space before the colon', 'GET / HTTP/1.1\r\nHost: a.test\r\nX-Foo : 1\r\n\r\n', 400],
    ['an obs-fold continuation line', 'GET / HTTP/1.1\r\nHost: a.test\r\nX-Foo: 1\r\n 2\r\n\r\n', 400],
    ['a NUL in a header value', 'GET / HTTP/1.1\r\nHost: a.test\r\nX-Foo: a\0b\r\n\r\n', 400],
    ['a bad chunk size', 'POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n', 400],
    ['HTTP/1.0', 'GET / HTTP/1.0\r\nHost: a.test\r\n\r\n', 505],
    ['bare LF line ends', 'GET / HTTP/1.1\nHost: a.test\n\n', 505],
    ['an absolute-form target', 'GET http://a.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n', 505],
    ['an HTTP/2 preface on the HTTP/1.1 port', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 505],
    ['a PROXY v1 line', 'PROXY TCP4 1.2.3.4 5.6.7.8 1111 80\r\nGET / HTTP/1.1\r\nHost: a.test\r\n\r\n', 505],
    ['99 header fields (98 is the most)', `GET / HTTP/1.1\r\nHost: a.test\r\n${Array.from({ length: 98 }, (_, i) => `X-H${i}: ${i}\r\n`).join('')}\r\n`, 431],
  ];

  it.each(cases)('%s', async (_name, bytes, status) => {
    const a = await httpUpstream('a');
    const p = await startProxy(hostsTable({ 'a.test': [a.port], 'b.test': [a.port] }));
    const c = await raw(p);
    c.write(bytes);
    const r = await c.readResponse();
    expect(r.status).toBe(status);
    expect(header(r, 'connection')).toBe('close');
    await c.waitClose();
    expect(a.requests).toBe(0);
  });
});

describe('what the old uWS build dropped and this one passes on', () => {
  it('a header name with an underscore reaches the upstream', async () => {
    const a = await httpUpstream('a');
    const p = await startProxy(hostsTable({ 'a.test': [a.port] }));
    const c = await raw(p);
    c.request('GET', '/u', ['Host: a.test', 'X_Tenant: blue']);
    const r = await c.readResponse();
    expect(r.status).toBe(200);
    const echo = JSON.parse(r.body.toString()) as Echo;
    expect(echo.headers).toContain('x_tenant');
    expect(echo.headers[echo.headers.indexOf('x_tenant') + 1]).toBe('blue');
  });

  it('97 header fields besides Host reach the upstream', async () => {
    const a = await httpUpstream('a');
    const p = await startProxy(hostsTable({ 'a.test': [a.port] }));
    const c = await raw(p);
    c.request('GET', '/many', ['Host: a.test', ...Array.from({ length: 97 }, (_, i) => `X-H${i}: ${i}`)]);
    const r = await c.readResponse();
    expect(r.status).toBe(200);
    const echo = JSON.parse(r.body.toString()) as Echo;
    expect(echo.headers).toContain('x-h96');
  });

  it('the method goes upstream in the case the client sent it (uWS lower-cases getMethod)', async () => {
    // Content-Length: 0, as PATCH (in any case) without framing gets 411 (request-guard.ts).
    const lines: string[] = [];
    const up = await rawUpstream((socket, data) => {
      lines.push(data.toString('latin1').split('\r\n')[0] as string);
      socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    });
    const p = await startProxy(hostsTable({ 'a.test': [up.port] }));
    for (const method of ['PROPFIND', 'get', 'Patch']) {
      const c = await raw(p);
      c.request(method, '/m', ['Host: a.test', 'Content-Length: 0']);
      expect((await c.readResponse()).status).toBe(200);
    }
    expect(lines).toEqual(['PROPFIND /m HTTP/1.1', 'get /m HTTP/1.1', 'Patch /m HTTP/1.1']);
  });
});

describe('upstream faults', () => {
  it('connection refused → 502', async () => {
    const p = await startProxy(hostsTable({ 'a.test': [await closedPort()] }));
    const r = await get(p, 'a.test', '/');
    expect(r.status).toBe(502);
    expect(r.headers.server).toBe(SERVER);
    expect(r.text).toBe('502 Bad Gateway\n');
  });

  it('reset before the response head → 502', async () => {
    const up = await rawUpstream((s) => s.resetAndDestroy());
    const p = await startProxy(hostsTable({ 'a.test': [up.port] }));
    expect((await get(p, 'a.test', '/')).status).toBe(502);
  });

  it('silent upstream → 504 at the headers timeout', async () => {
    const up = await rawUpstream(() => undefined);
    const p = await startProxy(hostsTable({ 'a.test': [up.port] }), { upstreamResponseTimeoutMs: 200 });
    const r = await get(p, 'a.test', '/');
    expect(r.status).toBe(504);
    expect(r.text).toBe('504 Gateway Timeout\n');
  });

  it('reset mid-body → the client connection is cut (truncated body)', async () => {
    let upstream!: (s: net.Socket) => void;
    const upstreamSocket = new Promise<net.Socket>((resolve) => (upstream = resolve));
    const up = await rawUpstream((s) => {
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n0123456789');
      upstream(s);
    });
    const p = await startProxy(hostsTable({ 'a.test': [up.port] }));
    const c = await raw(p);
    c.request('GET', '/', ['Host: a.test']);
    // Latch: the client holds the head and the 10 body bytes (so the proxy read them) before
    // the upstream resets; a reset racing them could discard them unread.
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        const at = c.received.indexOf('\r\n\r\n');
        if (at >= 0 && c.received.length - at - 4 >= 10) resolve();
        else if (c.isClosed) reject(new Error(`closed early: ${c.received.toString('latin1')}`));
        else c.socket.once('data', check);
      };
      void c.closed.then(check);
      check();
    });
    (await upstreamSocket).resetAndDestroy();
    await c.waitClose();
    const text = c.received.toString('latin1');
    expect(text.startsWith('HTTP/1.1 200 OK\r\n')).toBe(true);
    expect(text).toContain('Content-Length: 100000');
    const body = text.slice(text.indexOf('\r\n\r\n') + 4);
    expect(body).toBe('0123456789');
  });

  it('client abort mid-download aborts the upstream request and leaks no socket', async () => {
    let upstreamClosed!: () => void;
    const closed = new Promise<void>((r) => (upstreamClosed = r));
    const a = await httpUpstream('a', (req, res) => {
      if (req.url !== '/endless') return false;
      res.setHeader('content-type', 'application/octet-stream');
      const chunk = Buffer.alloc(64 * 1024, 7);
      const pump = (): void => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once('drain', pump);
      };
      res.on('close', () => upstreamClosed());
      pump();
      return true;
    });
    // undici opens one spare connection after destroying the aborted one and closes it when
    // idle for keepAliveTimeout: keep that short so "no socket left" is reached quickly.
    const p = await startProxy(hostsTable({ 'a.test': [a.port] }), { upstreamKeepAliveTimeoutMs: 200 });
    const c = await raw(p);
    c.request('GET', '/endless', ['Host: a.test']);
    await vi.waitFor(() => expect(c.received.length).toBeGreaterThan(256 * 1024), { timeout: 10_000 });
    c.destroy();
    await closed;
    await vi.waitFor(
      async () => {
        const n = await new Promise<number>((r) => a.server.getConnections((_e, count) => r(count)));
        expect(n).toBe(0);
      },
      { timeout: 10_000 },
    );
    await vi.waitFor(() => expect(p.server.inFlight()).toBe(0));
  });
});

describe('robustness', () => {
  it('a handler that throws answers 502, logs ING_ERR_PROXY_INTERNAL and keeps serving', async () => {
    const throwing = {
      current: { generation: 1, backends: new Map(), router: { name: 'throwing', match: () => { throw new Error('boom'); } } },
    } as unknown as WorkerState;
    const server = createProxyServer({ state: throwing, config: baseConfig, log: collectingLogger(logLines) });
    const port = (await server.listen()).http;
    cleanups.push(() => server.close());
    for (let i = 0; i < 2; i++) {
      const c = await RawConnection.open(port);
      cleanups.push(() => c.destroy());
      c.request('GET', '/', ['Host: a.test']);
      const r = await c.readResponse();
      expect(r.status).toBe(502);
      expect(r.body.toString()).toBe('502 Bad Gateway\n');
      await c.waitClose();
    }
    expect(logLines.filter((l) => l.code === 'ING_ERR_PROXY_INTERNAL')).toHaveLength(2);
    logLines = logLines.filter((l) => l.code !== 'ING_ERR_PROXY_INTERNAL');
  });
});

describe('drain', () => {
  it('stops accepting, finishes in-flight with Connection: close, then resolves', async () => {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const a = await httpUpstream('a', (req, res) => {
      if (req.url !== '/wait') return false;
      void released.then(() => res.end('done'));
      return true;
    });
    const p = await startProxy(hostsTable({ 'a.test': [a.port] }));
    const c = await raw(p);
    c.request('GET', '/wait', ['Host: a.test']);
    await vi.waitFor(() => expect(p.server.inFlight()).toBe(1));
    const drained = p.server.drain(10_000);
    await expect(RawConnection.open(p.port)).rejects.toThrow(/ECONNREFUSED/);
    release();
    const r = await c.readResponse();
    expect(r.body.toString()).toBe('done');
    expect(header(r, 'connection')).toBe('close');
    await drained;
    expect(p.server.inFlight()).toBe(0);
    await c.waitClose();
  });
});
