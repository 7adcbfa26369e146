/**
 * The upstream client's share for streaming bodies (issue 14 item 3, README.md "Request
 * bodies"): requests whose body is still arriving hold at most `maxStreamingConnections` of an
 * endpoint's connections; more of them wait while bodiless requests still get connections; a
 * body that ends lets the next waiting one go. Real sockets to a loopback backend.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BodyFraming, UpstreamClient, type UpstreamConnection, type UpstreamError, type UpstreamHandler } from '../../src/worker/upstream/client.js';
import type { ResponseHead } from '../../src/worker/upstream/parser.js';

/** Upload is a request whose body the test sends piece by piece. */
class Upload implements UpstreamHandler {
  readonly requestHead: string;
  readonly headRequest = false;
  readonly retryable = false;
  readonly bodyFraming: BodyFraming;
  streamingBody: boolean;
  conn: UpstreamConnection | null = null;
  status = 0;
  error: UpstreamError | null = null;
  readonly done: Promise<void>;
  #done!: () => void;
  #started!: () => void;
  readonly started: Promise<void>;

  constructor(method: 'POST' | 'GET') {
    this.bodyFraming = method === 'POST' ? BodyFraming.Length : BodyFraming.None;
    this.streamingBody = method === 'POST';
    this.requestHead = `${method} /x HTTP/1.1\r\nhost: up.test\r\n${method === 'POST' ? 'content-length: 4\r\n' : ''}\r\n`;
    this.done = new Promise((r) => (this.#done = r));
    this.started = new Promise((r) => (this.#started = r));
  }

  /** finish sends the whole body and ends it. */
  finish(): void {
    this.streamingBody = false;
    const conn = this.conn as UpstreamConnection;
    conn.writeBody(Buffer.from('body'));
    conn.endBody();
  }

  onUpstreamStart(conn: UpstreamConnection): void {
    this.conn = conn;
    this.#started();
  }
  upstreamRead(run: () => void): void {
    run();
  }
  onUpstreamHead(head: ResponseHead): void {
    this.status = head.status;
  }
  onUpstreamBody(): boolean {
    return true;
  }
  onUpstreamEnd(): void {
    this.#done();
  }
  onUpstreamError(err: UpstreamError): void {
    this.error = err;
    this.#done();
  }
  onUpstreamDrain(): void {}
}

const servers: net.Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** backend answers each request once its head (and 4-byte body, when announced) arrived. */
async function backend(): Promise<{ port: number; connections: () => number }> {
  let n = 0;
  const server = net.createServer((s) => {
    n++;
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const need = buf.includes('content-length: 4') ? 4 : 0;
      if (buf.length - end - 4 < need) return;
      buf = '';
      s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    });
    s.on('error', () => undefined);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, connections: () => n };
}

describe('upstream client: the share for streaming bodies', () => {
  it('holds streaming requests beyond the share while bodiless ones go; an ended body lets the next one go', async () => {
    const b = await backend();
    const client = new UpstreamClient({ connectTimeoutMs: 2000, responseTimeoutMs: 5000, idleTimeoutMs: 5000, keepAliveTimeoutMs: 5000, maxConnections: 4 });
    expect(client.settings.maxStreamingConnections).toBe(2);
    const pool = client.pool('127.0.0.1', b.port);
    const uploads = [new Upload('POST'), new Upload('POST'), new Upload('POST')];
    for (const u of uploads) pool.request(u);
    await Promise.all([uploads[0]!.started, uploads[1]!.started]);
    expect(uploads[2]!.conn).toBeNull();
    expect(pool.stats()).toEqual({ connections: 2, idle: 0, queued: 1 });

    const get = new Upload('GET');
    pool.request(get);
    await get.done;
    expect([get.status, get.error]).toEqual([200, null]);
    expect(uploads[2]!.conn).toBeNull(); // the GET's connection went back idle; the share is still full

    uploads[0]!.finish();
    await uploads[2]!.started; // the ended body gave its share to the waiting upload
    for (const u of uploads.slice(1)) u.finish();
    await Promise.all(uploads.map((u) => u.done));
    expect(uploads.map((u) => [u.status, u.error])).toEqual([[200, null], [200, null], [200, null]]);
    expect(pool.stats().queued).toBe(0);
    await pool.close();
  });

  it('a waiting streaming request withdrawn by its client leaves the queue', async () => {
    const b = await backend();
    const client = new UpstreamClient({ connectTimeoutMs: 2000, responseTimeoutMs: 5000, idleTimeoutMs: 5000, keepAliveTimeoutMs: 5000, maxConnections: 2, maxStreamingConnections: 1 });
    const pool = client.pool('127.0.0.1', b.port);
    const [first, second] = [new Upload('POST'), new Upload('POST')];
    pool.request(first);
    pool.request(second);
    await first.started;
    expect(pool.stats().queued).toBe(1);
    pool.cancel(second);
    expect(pool.stats().queued).toBe(0);
    first.finish();
    await first.done;
    expect(second.conn).toBeNull();
    expect(b.connections()).toBe(1);
    await pool.close();
  });
});
