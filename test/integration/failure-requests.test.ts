/**
 * Failure suite, the request side (issue 14 items 1, 2 and 9), through the built CLI: the exact
 * bytes a client sends, what Flusso or uWebSockets.js answers, whether the connection is closed,
 * and the exact bytes the backend received. nginx 1.22's answer to the same bytes is noted on
 * each case (measured with `proxy_pass` to a raw backend, default `large_client_header_buffers
 * 4 8k`). What remains is in the README's security section and docs/runtime.md.
 */
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRawUpstream, type RawUpstream } from '../helpers/echo.js';
import { startFlusso, type FlussoProcess } from '../helpers/flusso.js';
import { countResponses, rawRequest, statusOf } from '../helpers/http.js';
import { endpointSlice, ingress, ingressClass, manifestDir, service, type ManifestDir } from '../helpers/manifests.js';
import { RawConnection, header } from '../helpers/raw-http.js';

const NS = 'guard';
const HOST = 'guard.test';

/** Backend is a raw upstream that records every request it receives, byte for byte. */
interface Backend {
  readonly upstream: RawUpstream;
  /** Each request received (head and body) as latin1 text, in arrival order. */
  readonly received: string[];
}

/**
 * startBackend answers every request with a 3-byte 200 and `Connection: close`, so each upstream
 * connection carries exactly one request, recorded whole (Content-Length or chunked body). A
 * target under /cached is answered cacheable (the test Flusso runs with `--cache-default on`).
 */
async function startBackend(): Promise<Backend> {
  const received: string[] = [];
  const upstream = await startRawUpstream((socket: Socket) => {
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.subarray(0, end).toString('latin1');
      const length = /\r\ncontent-length: *(\d+)/i.exec(head);
      const chunked = /\r\ntransfer-encoding: *chunked/i.test(head);
      const complete = length ? buf.length >= end + 4 + Number(length[1]) : chunked ? buf.subarray(end + 4).includes('0\r\n\r\n') : true;
      if (!complete) return;
      received.push(buf.toString('latin1'));
      const cacheable = head.startsWith('GET /cached') ? 'Cache-Control: max-age=600\r\n' : '';
      socket.end(`HTTP/1.1 200 OK\r\n${cacheable}Content-Length: 3\r\nConnection: close\r\n\r\nok\n`);
    });
  });
  return { upstream, received };
}

/** latin1 turns a string whose code points are bytes into those bytes (for 0x80–0xFF on the wire). */
const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');

/** answeredBy says who wrote a raw response: Flusso adds `Server: flusso`, uWS's own answers carry no Server. */
function answeredBy(raw: string): 'flusso' | 'uws' {
  return /\r\nServer: flusso/i.test(raw.slice(0, raw.indexOf('\r\n\r\n') + 2)) ? 'flusso' : 'uws';
}

function fields(n: number): string {
  return Array.from({ length: n }, (_, i) => `X-F${i}: v\r\n`).join('');
}

describe('request heads, smuggling through uWS and header bytes (built CLI, 1 worker)', () => {
  let dir: ManifestDir;
  let backend: Backend;
  let flusso: FlussoProcess;

  /** refused sends `bytes` and expects `status` from `by`, a closed connection, and nothing forwarded. */
  async function refused(bytes: string | Buffer, status: number, by: 'flusso' | 'uws'): Promise<void> {
    const before = backend.received.length;
    const { raw, closed } = await rawRequest(flusso.httpPort, bytes);
    expect({ status: statusOf(raw), by: answeredBy(raw), responses: countResponses(raw), closed }, raw.slice(0, 300)).toEqual({ status, by, responses: 1, closed: true });
    expect(backend.received.slice(before)).toEqual([]);
  }

  /** forwarded sends `bytes` (with Connection: close) and returns what the backend received for it. */
  async function forwarded(bytes: string | Buffer): Promise<string> {
    const before = backend.received.length;
    const { raw } = await rawRequest(flusso.httpPort, bytes);
    expect(statusOf(raw), raw.slice(0, 300)).toBe(200);
    expect(backend.received.length).toBe(before + 1);
    return backend.received[before] as string;
  }

  beforeAll(async () => {
    backend = await startBackend();
    dir = await manifestDir();
    await dir.write('00-guard.yaml', [
      ingressClass('flusso'),
      ingress(NS, 'guard', { host: HOST, paths: [{ path: '/', service: 'backend', port: 'http' }] }),
      service(NS, 'backend', [{ name: 'http', port: 80, targetPort: backend.upstream.port }]),
      endpointSlice(NS, 'backend', ['127.0.0.1'], backend.upstream.port, { portName: 'http' }),
    ]);
    flusso = await startFlusso({ manifestsDir: dir.dir, workers: 1, args: ['--cache-default', 'on'] });
    await flusso.waitForGeneration(1);
  });
  afterAll(async () => {
    await flusso?.stop();
  });

  describe('item 1: size limits (defaults: target 8Ki, field line 8Ki, 98 fields, head 32Ki)', () => {
    const get = (target: string, extra = ''): string => `GET ${target} HTTP/1.1\r\nHost: ${HOST}\r\n${extra}Connection: close\r\n\r\n`;

    it('a request target of exactly 8 KiB reaches the backend as sent (nginx: 200)', async () => {
      const target = `/${'a'.repeat(8189)}?q`;
      expect(await forwarded(get(target))).toMatch(new RegExp(`^GET ${target.replace('?', '\\?')} HTTP/1\\.1\\r\\n`));
    });

    it('a target one byte over 8 KiB gets 414 from Flusso and a closed connection (nginx: 414 for a request line over 8k)', async () => {
      await refused(get(`/${'a'.repeat(8192)}`), 414, 'flusso');
    });

    it('32 KiB and 64 KiB targets make the head larger than --max-request-head-bytes: 431 from uWS (nginx: 414)', async () => {
      await refused(get(`/${'a'.repeat(32 * 1024)}`), 431, 'uws');
      await refused(get(`/${'a'.repeat(64 * 1024)}`), 431, 'uws');
    });

    it('a field line of exactly 8 KiB reaches the backend intact (nginx: 200)', async () => {
      const value = 'v'.repeat(8192 - 'X-Big: '.length);
      expect(await forwarded(get('/', `X-Big: ${value}\r\n`))).toContain(`\r\nx-big: ${value}\r\n`);
    });

    it('field lines over 8 KiB get 431 from Flusso, up to the head limit; beyond it 431 from uWS (nginx: 400 for a line over 8k)', async () => {
      await refused(get('/', `X-Big: ${'v'.repeat(8192 - 6)}\r\n`), 431, 'flusso');
      await refused(get('/', `X-Big: ${'v'.repeat(16 * 1024)}\r\n`), 431, 'flusso');
      await refused(get('/', `X-Big: ${'v'.repeat(48 * 1024)}\r\n`), 431, 'uws');
    });

    it('a 32 KiB head of several fields under 8 KiB each gets 431 from uWS (nginx: 400 past 4 x 8k)', async () => {
      await refused(get('/', Array.from({ length: 5 }, (_, i) => `X-F${i}: ${'v'.repeat(7000)}\r\n`).join('')), 431, 'uws');
    });

    it('98 fields reach the backend; a 99th gets 431 from uWS (nginx: 200 up to its buffers)', async () => {
      // Host and Connection plus 96 more: 98.
      const sent = await forwarded(get('/', fields(96)));
      expect(sent).toContain('\r\nx-f95: v\r\n');
      await refused(get('/', fields(97)), 431, 'uws');
    });
  });

  describe('item 1: the limits are settings (FLUSSO_MAX_REQUEST_* here)', () => {
    let small: FlussoProcess;
    beforeAll(async () => {
      small = await startFlusso({
        manifestsDir: dir.dir,
        workers: 1,
        env: { FLUSSO_MAX_REQUEST_TARGET_BYTES: '1Ki', FLUSSO_MAX_REQUEST_FIELD_BYTES: '512', FLUSSO_MAX_REQUEST_FIELDS: '20' },
      });
      await small.waitForGeneration(1);
    });
    afterAll(async () => {
      await small?.stop();
    });

    it('answers 414, 431 and 431 at the configured bounds and forwards what fits', async () => {
      const ask = async (bytes: string) => {
        const before = backend.received.length;
        const { raw, closed } = await rawRequest(small.httpPort, bytes);
        return { status: statusOf(raw), by: answeredBy(raw), closed, forwarded: backend.received.length - before };
      };
      const get = (target: string, extra = '') => `GET ${target} HTTP/1.1\r\nHost: ${HOST}\r\n${extra}Connection: close\r\n\r\n`;
      expect(await ask(get(`/${'a'.repeat(1023)}`))).toEqual({ status: 200, by: 'flusso', closed: true, forwarded: 1 });
      expect(await ask(get(`/${'a'.repeat(1024)}`))).toEqual({ status: 414, by: 'flusso', closed: true, forwarded: 0 });
      expect(await ask(get('/', `X-V: ${'v'.repeat(512 - 5)}\r\n`))).toEqual({ status: 200, by: 'flusso', closed: true, forwarded: 1 });
      expect(await ask(get('/', `X-V: ${'v'.repeat(512 - 4)}\r\n`))).toEqual({ status: 431, by: 'flusso', closed: true, forwarded: 0 });
      // Host and Connection plus 18: 20 fields; plus 19: 21.
      expect(await ask(get('/', fields(18)))).toEqual({ status: 200, by: 'flusso', closed: true, forwarded: 1 });
      expect(await ask(get('/', fields(19)))).toEqual({ status: 431, by: 'flusso', closed: true, forwarded: 0 });
    });
  });

  describe('item 2: a field with an empty name hides the framing after it', () => {
    // uWS parses `: x` and every field after it, but shows none of them: Content-Length: 41 is
    // thrown away, the request looks bodiless, and its 41 body bytes are read as a second request.
    const SMUGGLED = `GET /smuggled HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`;
    const carrier = (method: string, host = HOST): string => `${method} / HTTP/1.1\r\nHost: ${host}\r\n: x\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n`;
    const smuggledUpstream = (): string[] => backend.received.filter((r) => r.includes('/smuggled') || r.includes('/admin'));

    it('POST carrying a smuggled request in the same write: closed, nothing forwarded (nginx: 400 to `: x`)', async () => {
      const before = backend.received.length;
      const { raw, closed } = await rawRequest(flusso.httpPort, carrier('POST') + SMUGGLED);
      // Flusso refuses the POST (411, one loop turn later); uWS sees the pipelined head while that
      // answer is pending and closes first.
      expect(closed, raw).toBe(true);
      expect([0, 411]).toContain(statusOf(raw));
      expect(countResponses(raw)).toBeLessThanOrEqual(1);
      expect(backend.received.slice(before)).toEqual([]);
    });

    it('POST whose body is sent after the answer: 411 and closed first, so the body is never read as a request', async () => {
      const c = await RawConnection.open(flusso.httpPort);
      c.write(carrier('POST'));
      const r = await c.readResponse();
      expect({ status: r.status, server: header(r, 'server'), connection: header(r, 'connection') }).toEqual({ status: 411, server: 'flusso', connection: 'close' });
      await c.waitClose();
      expect(smuggledUpstream()).toEqual([]);
    });

    it('POST, PUT and PATCH without Content-Length or Transfer-Encoding get 411 even without `: x` (nginx: forwards them bodiless)', async () => {
      for (const m of ['POST', 'PUT', 'PATCH', 'post']) await refused(`${m} /api HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`, 411, 'flusso');
    });

    it('POST with Content-Length: 0 is forwarded with Content-Length: 0', async () => {
      expect(await forwarded(`POST /api HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`)).toMatch(/^POST \/api HTTP\/1\.1\r\n[^]*\r\ncontent-length: 0\r\n/);
    });

    it('GET carrying a smuggled request in the same write, proxied: uWS closes on the pipelined head, only the GET reaches the backend', async () => {
      const { closed } = await rawRequest(flusso.httpPort, carrier('GET') + SMUGGLED);
      expect(closed).toBe(true);
      expect(smuggledUpstream()).toEqual([]);
    });

    it('GET to a host without a route, carrying a smuggled request in the same write: the 404 waits one loop turn, uWS closes, nothing forwarded', async () => {
      const before = backend.received.length;
      const { raw, closed } = await rawRequest(flusso.httpPort, carrier('GET', 'nowhere.test') + SMUGGLED);
      expect(closed, raw).toBe(true);
      expect(raw).not.toContain('200 OK');
      expect(backend.received.slice(before)).toEqual([]);
    });

    it('GET whose body is an unfinished head completed by the next client request (header capture): the carrier is forwarded without its hidden fields, the captured request gets 400 and a close', async () => {
      const prefix = `GET /admin HTTP/1.1\r\nX-Ignore: `;
      const victim = `GET /home HTTP/1.1\r\nHost: ${HOST}\r\nCookie: victim=1\r\n\r\n`;
      const c = await RawConnection.open(flusso.httpPort);
      c.write(`GET / HTTP/1.1\r\nHost: ${HOST}\r\n: x\r\nContent-Length: ${prefix.length}\r\n\r\n${prefix}`);
      const first = await c.readResponse();
      expect(first.status).toBe(200);
      // What the backend got for the carrier: no `: x`, no Content-Length, no body.
      const carried = backend.received.at(-1) as string;
      expect(carried).toMatch(/^GET \/ HTTP\/1\.1\r\nhost: guard\.test\r\nconnection: keep-alive\r\nx-forwarded-for: /);
      expect(carried).not.toMatch(/content-length|X-Ignore/i);
      c.write(victim);
      const second = await c.readResponse();
      expect({ status: second.status, server: header(second, 'server') }).toEqual({ status: 400, server: 'flusso' });
      await c.waitClose();
      expect(smuggledUpstream()).toEqual([]);
    });

    it('residual (README, security): the same unfinished head ending in an empty-named field hides the next request, and is routed', async () => {
      // The victim's request line and fields land in the hidden part of the smuggled head: Flusso
      // sees `GET /admin` with Host only, and the next client gets its response. nginx and
      // HAProxy refuse `: x` with 400, so this needs a front proxy that forwards it.
      const prefix = `GET /admin HTTP/1.1\r\nHost: ${HOST}\r\n: `;
      const c = await RawConnection.open(flusso.httpPort);
      c.write(`GET / HTTP/1.1\r\nHost: ${HOST}\r\n: x\r\nContent-Length: ${prefix.length}\r\n\r\n${prefix}`);
      expect((await c.readResponse()).status).toBe(200);
      c.write(`GET /home HTTP/1.1\r\nHost: ${HOST}\r\nCookie: victim=1\r\n\r\n`);
      expect((await c.readResponse()).status).toBe(200);
      c.destroy();
      const admin = smuggledUpstream();
      expect(admin).toHaveLength(1);
      expect(admin[0]).toMatch(/^GET \/admin HTTP\/1\.1\r\nhost: guard\.test\r\nconnection: keep-alive\r\nx-forwarded-for: /);
      expect(admin[0]).not.toContain('victim');
      backend.received.splice(backend.received.indexOf(admin[0] as string), 1);
    });

    it('residual (README, security): a request smuggled in the same read behind a cache hit is routed (the hit is written at once)', async () => {
      expect(await forwarded(`GET /cached HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`)).toMatch(/^GET \/cached /);
      const { raw } = await rawRequest(flusso.httpPort, carrier('GET').replace('GET / ', 'GET /cached ') + SMUGGLED, { idleMs: 1000 });
      expect(raw).toContain('X-Cache-Status: HIT');
      expect(countResponses(raw)).toBe(2);
      const smuggled = smuggledUpstream();
      expect(smuggled).toHaveLength(1);
      backend.received.splice(backend.received.indexOf(smuggled[0] as string), 1);
    });
  });

  describe('item 2: header values with bytes of 0x80 and above', () => {
    const get = (field: string): Buffer => latin1(`GET /bytes HTTP/1.1\r\nHost: ${HOST}\r\n${field}\r\nConnection: close\r\n\r\n`);

    it('valid UTF-8 inside a value reaches the backend byte for byte (nginx: the same)', async () => {
      const sent = await forwarded(get('X-V: a\xc3\xa9b \xe2\x82\xac c'));
      expect(sent).toContain('\r\nx-v: a\xc3\xa9b \xe2\x82\xac c\r\n');
    });

    it('a byte that is not UTF-8 inside a value: 400 and a closed connection, never altered (nginx: forwards it intact)', async () => {
      await refused(get('Cookie: a=caf\xe9!'), 400, 'flusso');
      await refused(get('X-V: a\xffb'), 400, 'flusso');
    });

    it('residual (README, security): bytes of 0x80 and above at either end of a value are dropped by uWS before Flusso sees them (nginx: forwarded intact)', async () => {
      expect(await forwarded(get('Cookie: name=caf\xe9'))).toContain('\r\ncookie: name=caf\r\n');
      expect(await forwarded(get('X-V: \xc3\xa9t\xc3\xa9'))).toContain('\r\nx-v: t\r\n');
    });
  });

  describe('item 9: malformed requests are answered as the README says', () => {
    // README "Proxy behaviour" and docs/runtime.md "What the proxy port answers".
    const cases: { name: string; bytes: string | Buffer; status: number; by: 'flusso' | 'uws' }[] = [
      { name: 'HTTP/1.0', bytes: `GET / HTTP/1.0\r\nHost: ${HOST}\r\n\r\n`, status: 505, by: 'uws' },
      { name: 'bare LF line ends', bytes: `GET / HTTP/1.1\nHost: ${HOST}\n\n`, status: 505, by: 'uws' },
      { name: 'absolute-form target', bytes: `GET http://${HOST}/ HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`, status: 505, by: 'uws' },
      { name: 'CONNECT host:port', bytes: `CONNECT ${HOST}:443 HTTP/1.1\r\nHost: ${HOST}:443\r\n\r\n`, status: 505, by: 'uws' },
      { name: 'CONNECT with a path', bytes: `CONNECT / HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`, status: 405, by: 'flusso' },
      { name: 'TRACE', bytes: `TRACE / HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`, status: 405, by: 'flusso' },
      { name: 'duplicate Host', bytes: `GET / HTTP/1.1\r\nHost: ${HOST}\r\nHost: other.test\r\n\r\n`, status: 400, by: 'uws' },
      { name: 'missing Host', bytes: 'GET / HTTP/1.1\r\nX-A: 1\r\n\r\n', status: 400, by: 'uws' },
      { name: 'Content-Length with Transfer-Encoding', bytes: `POST / HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, status: 400, by: 'uws' },
      { name: 'malformed Content-Length', bytes: `POST / HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 5x\r\n\r\nhello`, status: 400, by: 'uws' },
      { name: 'obs-fold', bytes: `GET / HTTP/1.1\r\nHost: ${HOST}\r\nX-A: 1\r\n 2\r\n\r\n`, status: 400, by: 'uws' },
      { name: 'NUL in a value', bytes: `GET / HTTP/1.1\r\nHost: ${HOST}\r\nX-A: a\0b\r\n\r\n`, status: 400, by: 'uws' },
      { name: 'duplicate Content-Length', bytes: `POST / HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello`, status: 400, by: 'flusso' },
      { name: 'Transfer-Encoding: gzip', bytes: `POST / HTTP/1.1\r\nHost: ${HOST}\r\nTransfer-Encoding: gzip\r\n\r\n0\r\n\r\n`, status: 400, by: 'flusso' },
      { name: 'a fragment in the path', bytes: `GET /a#b HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`, status: 400, by: 'flusso' },
      { name: 'a Host with a slash', bytes: `GET / HTTP/1.1\r\nHost: ${HOST}/x\r\n\r\n`, status: 400, by: 'flusso' },
      {
        name: 'a client-sent PROXY v2 header',
        // Signature, PROXY over TCP4, 12 address bytes: 1.2.3.4:1111 → 5.6.7.8:80.
        bytes: Buffer.concat([Buffer.from('0d0a0d0a000d0a515549540a' + '21' + '11' + '000c' + '01020304' + '05060708' + '0457' + '0050', 'hex'), latin1(`GET / HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`)]),
        status: 400,
        by: 'flusso',
      },
    ];

    it.each(cases)('$name: $status from $by, connection closed, nothing forwarded', async ({ bytes, status, by }) => {
      await refused(bytes, status, by);
    });

    it('a header name with `_` and a lower-case method are forwarded as sent', async () => {
      expect(await forwarded(`get /m HTTP/1.1\r\nHost: ${HOST}\r\nX_Under: 1\r\nConnection: close\r\n\r\n`)).toMatch(/^get \/m HTTP\/1\.1\r\n[^]*\r\nx_under: 1\r\n/);
    });

    it("Flusso's own answers carry Server and Connection: close", async () => {
      const { raw } = await rawRequest(flusso.httpPort, `TRACE / HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`);
      expect(raw).toMatch(/^HTTP\/1\.1 405 Method Not Allowed\r\n/);
      expect(raw).toMatch(/\r\nAllow: GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS\r\n/);
      expect(raw).toMatch(/\r\nServer: flusso\r\nConnection: close\r\n/);
    });
  });
});
