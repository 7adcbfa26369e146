/**
 * The upstream client against raw TCP upstreams on loopback: keep-alive reuse and its limits,
 * the one retry on a reused connection closed under a request, timeouts, the pool's limit and
 * queue, backpressure both ways, 1xx, and refusals that close the connection.
 */
import { createHash } from 'node:crypto';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BodyFraming, UpstreamClient, UpstreamError, type UpstreamConnection, type UpstreamHandler, type UpstreamSettings } from '../../src/worker/upstream/client.js';
import type { ResponseHead } from '../../src/worker/upstream/parser.js';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Raw {
  readonly port: number;
  /** Connections accepted so far. */
  connections: number;
  /** Request heads received, in order. */
  readonly requests: string[];
  readonly closed: Promise<void>[];
}

/**
 * rawUpstream answers each request head it reads with `answer(head, socket, index)` (the
 * index counts requests on that connection); bodies are read by the test's own answer.
 */
async function rawUpstream(answer: (head: string, socket: net.Socket, index: number, rest: Buffer) => void): Promise<Raw> {
  const sockets = new Set<net.Socket>();
  const raw: Raw = { port: 0, connections: 0, requests: [], closed: [] };
  const server = net.createServer((socket) => {
    raw.connections++;
    sockets.add(socket);
    raw.closed.push(new Promise((r) => socket.on('close', () => r())));
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    let index = 0;
    let inBody = false;
    socket.on('data', (d: Buffer) => {
      if (inBody) return;
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        const rest = buf.subarray(end + 4);
        buf = Buffer.alloc(0);
        raw.requests.push(head);
        if (/content-length|transfer-encoding/i.test(head)) inBody = true;
        answer(head, socket, index++, rest);
        if (inBody || rest.length === 0) return;
        buf = rest;
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  (raw as { port: number }).port = (server.address() as net.AddressInfo).port;
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return raw;
}

const SETTINGS: UpstreamSettings = { connectTimeoutMs: 2000, responseTimeoutMs: 2000, idleTimeoutMs: 2000, keepAliveTimeoutMs: 5000, maxConnections: 8 };

function client(settings: Partial<UpstreamSettings> = {}): UpstreamClient {
  return new UpstreamClient({ ...SETTINGS, ...settings });
}

interface Result {
  status: number;
  fields: [string, string][];
  body: Buffer;
  error: UpstreamError | null;
}

/** TestRequest is a handler that collects the response. */
class TestRequest implements UpstreamHandler {
  readonly requestHead: string;
  readonly headRequest: boolean;
  readonly retryable: boolean;
  readonly bodyFraming: BodyFraming;
  conn: UpstreamConnection | null = null;
  readonly result: Promise<Result>;
  #resolve!: (r: Result) => void;
  #status = 0;
  #fields: [string, string][] = [];
  #chunks: Buffer[] = [];
  /** Return false from onUpstreamBody this many times (and resume later). */
  blockReads = 0;
  drains = 0;
  started = 0;

  constructor(method: string, path: string, opts: { fields?: string[]; retryable?: boolean; framing?: BodyFraming } = {}) {
    this.headRequest = method === 'HEAD';
    this.retryable = opts.retryable ?? true;
    this.bodyFraming = opts.framing ?? BodyFraming.None;
    const fields = ['Host: up.test', ...(opts.fields ?? [])];
    if (this.bodyFraming === BodyFraming.Chunked) fields.push('Transfer-Encoding: chunked');
    this.requestHead = `${method} ${path} HTTP/1.1\r\n${fields.map((f) => `${f}\r\n`).join('')}\r\n`;
    this.result = new Promise((r) => (this.#resolve = r));
  }

  onUpstreamStart(conn: UpstreamConnection): void {
    this.conn = conn;
    this.started++;
  }
  upstreamRead(run: () => void): void {
    run();
  }
  onUpstreamHead(head: ResponseHead): void {
    this.#status = head.status;
    this.#fields = head.pairs();
  }
  onUpstreamBody(buf: Buffer, start: number, end: number): boolean {
    this.#chunks.push(Buffer.from(buf.subarray(start, end)));
    if (this.blockReads > 0) {
      this.blockReads--;
      const conn = this.conn as UpstreamConnection;
      setTimeout(() => conn.resume(), 5);
      return false;
    }
    return true;
  }
  onUpstreamEnd(): void {
    this.#resolve({ status: this.#status, fields: this.#fields, body: Buffer.concat(this.#chunks), error: null });
  }
  onUpstreamError(err: UpstreamError): void {
    this.#resolve({ status: this.#status, fields: this.#fields, body: Buffer.concat(this.#chunks), error: err });
  }
  onUpstreamDrain(): void {
    this.drains++;
  }
}

function send(c: UpstreamClient, port: number, req: TestRequest): Promise<Result> {
  c.pool('127.0.0.1', port).request(req);
  return req.result;
}

const ok = (body: string, extra = ''): string => `HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;

describe('keep-alive', () => {
  it('reuses one connection for requests one after another', async () => {
    const up = await rawUpstream((_h, s) => s.write(ok('hi')));
    const c = client();
    const pool = c.pool('127.0.0.1', up.port);
    for (let i = 0; i < 3; i++) {
      const r = new TestRequest('GET', `/${i}`);
      pool.request(r);
      const res = await r.result;
      expect([res.error, res.status, res.body.toString()]).toEqual([null, 200, 'hi']);
    }
    expect(up.connections).toBe(1);
    expect(pool.stats()).toEqual({ connections: 1, idle: 1, queued: 0 });
    await pool.close();
  });

  it.each([
    ['Connection: close', ok('x', 'Connection: close\r\n')],
    ['HTTP/1.0', 'HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx'],
    ['a read-until-close body', 'HTTP/1.1 200 OK\r\n\r\nx'],
    ['bytes after the response', `${ok('x')}GARBAGE`],
    ['a 204 announcing a body', 'HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n'],
  ])('does not reuse after %s', async (_name, response) => {
    const up = await rawUpstream((_h, s) => {
      s.write(response);
      if (response.includes('\r\n\r\nx') && !response.includes('Length')) s.end();
    });
    const c = client();
    const pool = c.pool('127.0.0.1', up.port);
    for (let i = 0; i < 2; i++) {
      const r = new TestRequest('GET', '/');
      pool.request(r);
      expect((await r.result).error).toBeNull();
    }
    expect(up.connections).toBe(2);
  });

  it('an idle connection expires after the keep-alive timeout', async () => {
    const up = await rawUpstream((_h, s) => s.write(ok('hi')));
    const c = client({ keepAliveTimeoutMs: 50 });
    expect((await send(c, up.port, new TestRequest('GET', '/'))).error).toBeNull();
    await up.closed[0];
    expect(c.pool('127.0.0.1', up.port).stats().connections).toBe(0);
  });

  it('sends a request again, once, when the upstream closed a reused connection before answering', async () => {
    // Each connection answers its first request and drops the connection on the second.
    const up = await rawUpstream((_h, s, index) => (index === 0 ? s.write(ok('fresh')) : s.destroy()));
    const c = client();
    const pool = c.pool('127.0.0.1', up.port);
    const first = new TestRequest('GET', '/a');
    pool.request(first);
    expect((await first.result).body.toString()).toBe('fresh');
    const second = new TestRequest('GET', '/b');
    pool.request(second);
    const res = await second.result;
    expect([res.error, res.body.toString(), second.started, up.connections]).toEqual([null, 'fresh', 2, 2]);
    // Not for a request that may not be repeated.
    const third = new TestRequest('POST', '/c', { retryable: false });
    pool.request(third);
    const failed = await third.result;
    expect([failed.error?.failure, failed.error?.afterHead]).toEqual(['closed', false]);
  });
});

describe('failures', () => {
  it('connection refused: connect', async () => {
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    const port = (s.address() as net.AddressInfo).port;
    await new Promise((r) => s.close(r));
    const res = await send(client(), port, new TestRequest('GET', '/'));
    expect([res.error?.failure, res.error?.code]).toEqual(['connect', 'ECONNREFUSED']);
  });

  it('no response head in time: response-timeout', async () => {
    const up = await rawUpstream(() => undefined);
    const res = await send(client({ responseTimeoutMs: 100 }), up.port, new TestRequest('GET', '/'));
    expect(res.error?.failure).toBe('response-timeout');
    await up.closed[0];
  });

  it('a body that stalls: idle-timeout after the head', async () => {
    const up = await rawUpstream((_h, s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'));
    const res = await send(client({ idleTimeoutMs: 100 }), up.port, new TestRequest('GET', '/'));
    expect([res.error?.failure, res.error?.afterHead, res.status, res.body.toString()]).toEqual(['idle-timeout', true, 200, 'abc']);
  });

  it('a body cut short by a close: closed, after the head', async () => {
    const up = await rawUpstream((_h, s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'));
    const res = await send(client(), up.port, new TestRequest('GET', '/'));
    expect([res.error?.failure, res.error?.afterHead, res.body.toString()]).toEqual(['closed', true, 'abc']);
  });

  it('a malformed response: protocol, and the connection is closed', async () => {
    const up = await rawUpstream((_h, s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx'));
    const res = await send(client(), up.port, new TestRequest('GET', '/'));
    expect([res.error?.failure, res.error?.message]).toEqual(['protocol', 'invalid upstream response: duplicate Content-Length']);
    await up.closed[0];
  });

  it('a full pool queues, then fails what waited past the connect timeout: saturated', async () => {
    const up = await rawUpstream(() => undefined);
    const c = client({ maxConnections: 1, connectTimeoutMs: 100, responseTimeoutMs: 5000 });
    const pool = c.pool('127.0.0.1', up.port);
    const a = new TestRequest('GET', '/a');
    const b = new TestRequest('GET', '/b');
    pool.request(a);
    pool.request(b);
    expect(pool.stats()).toMatchObject({ connections: 1, queued: 1 });
    expect((await b.result).error?.failure).toBe('saturated');
    a.conn?.abort();
    expect(up.connections).toBe(1);
  });

  it('a closed pool refuses new requests: pool-closed', async () => {
    const pool = client().pool('127.0.0.1', 9);
    await pool.close();
    const r = new TestRequest('GET', '/');
    pool.request(r);
    expect((await r.result).error?.failure).toBe('pool-closed');
  });
});

describe('flow', () => {
  it('a queued request gets the connection the one before released', async () => {
    const up = await rawUpstream((h, s) => setTimeout(() => s.write(ok(h.split(' ')[1] as string)), 20));
    const c = client({ maxConnections: 1 });
    const pool = c.pool('127.0.0.1', up.port);
    const reqs = ['/1', '/2', '/3'].map((p) => new TestRequest('GET', p));
    for (const r of reqs) pool.request(r);
    const bodies = await Promise.all(reqs.map(async (r) => (await r.result).body.toString()));
    expect([bodies, up.connections]).toEqual([['/1', '/2', '/3'], 1]);
  });

  it('absorbs 100 Continue and 103 Early Hints before the final response', async () => {
    const up = await rawUpstream((_h, s) => s.write(`HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n${ok('final')}`));
    const res = await send(client(), up.port, new TestRequest('GET', '/'));
    expect([res.error, res.status, res.body.toString()]).toEqual([null, 200, 'final']);
  });

  it('HEAD: no body read, and the connection is reused', async () => {
    const up = await rawUpstream((_h, s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n'));
    const pool = client().pool('127.0.0.1', up.port);
    for (let i = 0; i < 2; i++) {
      const r = new TestRequest('HEAD', '/');
      pool.request(r);
      const res = await r.result;
      expect([res.error, res.body.length]).toEqual([null, 0]);
    }
    expect(up.connections).toBe(1);
  });

  it('a large chunked response read with pauses arrives whole', async () => {
    const body = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = (i * 7 + (i >> 10)) & 0xff;
    const up = await rawUpstream((_h, s) => {
      s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
      for (let at = 0; at < body.length; at += 50_000) {
        const piece = body.subarray(at, at + 50_000);
        s.write(`${piece.length.toString(16)}\r\n`);
        s.write(piece);
        s.write('\r\n');
      }
      s.write('0\r\n\r\n');
    });
    const r = new TestRequest('GET', '/');
    r.blockReads = 20;
    const res = await send(client(), up.port, r);
    expect(res.error).toBeNull();
    expect(createHash('sha256').update(res.body).digest('hex')).toBe(createHash('sha256').update(body).digest('hex'));
  });

  it('streams a chunked request body and reads the answer', async () => {
    const up = await rawUpstream((_h, s, _i, rest) => {
      let got = rest.toString('latin1');
      const done = (): void => {
        if (got.endsWith('0\r\n\r\n')) s.write(ok(got.replace(/\r\n/g, '|')));
      };
      s.on('data', (d: Buffer) => {
        got += d.toString('latin1');
        done();
      });
      done();
    });
    const r = new TestRequest('POST', '/', { framing: BodyFraming.Chunked, retryable: false });
    client().pool('127.0.0.1', up.port).request(r);
    const conn = r.conn as UpstreamConnection;
    conn.writeBody(Buffer.from('hello'));
    conn.writeBody(Buffer.from(' world'));
    conn.endBody();
    const res = await r.result;
    expect(res.body.toString()).toBe('5|hello|6| world|0||');
  });

  it('a request body the upstream does not read: write backpressure, then drain', async () => {
    let received = 0;
    let arrived!: (s: net.Socket) => void;
    const upstreamSocket = new Promise<net.Socket>((resolve) => (arrived = resolve));
    const up = await rawUpstream((_h, s, _i, rest) => {
      received += rest.length;
      s.pause();
      arrived(s);
    });
    const r = new TestRequest('POST', '/', { fields: ['Content-Length: 33554432'], framing: BodyFraming.Length, retryable: false });
    client().pool('127.0.0.1', up.port).request(r);
    const conn = r.conn as UpstreamConnection;
    const chunk = Buffer.alloc(1024 * 1024, 1);
    let writes = 0;
    while (conn.writeBody(chunk) && writes < 32) writes++;
    expect(writes).toBeLessThan(32); // backpressure came before everything was buffered
    const socket = await upstreamSocket; // latch: the upstream has the head and stopped reading
    socket.on('data', (d: Buffer) => {
      received += d.length;
      if (received >= 32 * 1024 * 1024) socket.write(ok('all'));
    });
    socket.resume();
    await new Promise<void>((res) => {
      const poll = (): void => {
        if (r.drains > 0) res();
        else setTimeout(poll, 5);
      };
      poll();
    });
    for (let i = writes + 1; i < 32; i++) conn.writeBody(chunk);
    conn.endBody();
    expect((await r.result).body.toString()).toBe('all');
  });
});
