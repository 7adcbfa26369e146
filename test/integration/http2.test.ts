/**
 * HTTP/2 on the HTTPS port through the built CLI (issue 12 items 2, 4, 5; docs/http2.md): curl
 * --http2 and a node:http2 client (many concurrent streams, large bodies both ways, reset
 * streams), the ALPN fallback to HTTP/1.1, HTTP/1.0 and `_` in header names on this port, the
 * metrics, a client that opens many streams and reads none (the worker's memory stays bounded),
 * `--http2 off`, and the clean refusal of the HTTP/2 preface on the plain port.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect as h2connect, constants as h2, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { testPki, tlsSecret } from '../helpers/certs.js';
import { pollUntil, startFlusso, type FlussoProcess } from '../helpers/flusso.js';
import { endpointSlice, ingressClass, manifestDir, service, type K8sObject } from '../helpers/manifests.js';

const run = promisify(execFile);
const NS = 'h2';
const HOST = 'h2.test';
const TOKEN = 'h2-test-token-0123456789';
const HSTS = 'max-age=31536000; includeSubDomains';
const pki = testPki();

/** Backend is the HTTP/1.1 upstream: it reports what it received, and can hold or stream. */
interface Backend {
  readonly port: number;
  server: Server;
  /** Bytes written to /big responses so far. */
  bigWritten: number;
  /** Requests to /hold whose client (Flusso) went away before the answer. */
  aborted: number;
  held: ServerResponse[];
  onHeld: (() => void) | null;
}

const BLOCK = randomBytes(1024 * 1024);

async function startBackend(): Promise<Backend> {
  const b: Backend = { port: 0, server: undefined as unknown as Server, bigWritten: 0, aborted: 0, held: [], onHeld: null };
  // Heads up to 64 KiB: node's default (16 KiB) would answer 431 before Flusso's limits are tested.
  b.server = createServer({ maxHeaderSize: 64 * 1024 }, (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/upload') {
      const hash = createHash('sha256');
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        hash.update(c);
      });
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ size, sha: hash.digest('hex'), te: req.headers['transfer-encoding'] ?? null, cl: req.headers['content-length'] ?? null }));
      });
      return;
    }
    if (url.pathname === '/big') {
      const total = Number(url.searchParams.get('n'));
      res.writeHead(200, { 'content-length': String(total), 'content-type': 'application/octet-stream' });
      let sent = 0;
      const pump = (): void => {
        while (sent < total) {
          const n = Math.min(BLOCK.length, total - sent);
          sent += n;
          b.bigWritten += n;
          if (!res.write(n === BLOCK.length ? BLOCK : BLOCK.subarray(0, n))) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
      req.on('close', () => res.destroy());
      return;
    }
    if (url.pathname === '/hold') {
      b.held.push(res);
      res.on('close', () => {
        if (!res.writableEnded) b.aborted++;
      });
      b.onHeld?.();
      return;
    }
    req.resume();
    res.setHeader('content-type', 'application/json');
    res.setHeader('connection', 'keep-alive');
    res.setHeader('set-cookie', ['a=1', 'b=2']);
    res.end(JSON.stringify({ url: req.url, method: req.method, version: req.httpVersion, headers: req.headers }));
  });
  await new Promise<void>((r) => b.server.listen(0, '127.0.0.1', r));
  (b as { port: number }).port = (b.server.address() as AddressInfo).port;
  return b;
}

function objects(port: number): K8sObject[] {
  return [
    ingressClass('flusso'),
    service(NS, 'web', [{ port: 80, targetPort: port }]),
    endpointSlice(NS, 'web', ['127.0.0.1'], port),
    tlsSecret(NS, 'h2-cert', pki.valid([HOST])),
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: 'web', namespace: NS },
      spec: {
        ingressClassName: 'flusso',
        tls: [{ hosts: [HOST], secretName: 'h2-cert' }],
        rules: [{ host: HOST, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }],
      },
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: 'plain', namespace: NS },
      spec: { ingressClassName: 'flusso', rules: [{ host: 'plain.test', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }] },
    },
  ];
}

/** request sends one request on `session` and collects the answer. */
function request(session: ClientHttp2Session, headers: Record<string, string>, body?: Buffer | null): Promise<{ headers: IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':authority': HOST, ...headers }, { endStream: body === undefined || body === null });
    const chunks: Buffer[] = [];
    let head: IncomingHttpHeaders = {};
    stream.on('response', (h) => {
      head = h;
    });
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve({ headers: head, body: Buffer.concat(chunks) }));
    stream.on('error', reject);
    if (body !== undefined && body !== null) stream.end(body);
  });
}

function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

async function workerPids(primary: number): Promise<number[]> {
  const { stdout } = await run('ps', ['-o', 'pid=', '--ppid', String(primary)]);
  return stdout.split('\n').map((s) => Number(s.trim())).filter((n) => n > 0);
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
}

describe('HTTP/2 on the HTTPS port (--http2 on, the default)', () => {
  let backend: Backend;
  let flusso: FlussoProcess;
  let caFile: string;
  let session: ClientHttp2Session;

  beforeAll(async () => {
    backend = await startBackend();
    const dir = await manifestDir();
    await dir.write('all.yaml', objects(backend.port));
    flusso = await startFlusso({ manifestsDir: dir.dir, workers: 1, args: ['--admin-token', TOKEN, '--max-request-body-bytes', '0'] });
    await flusso.waitForGeneration(1);
    caFile = join(await mkdtemp(join(tmpdir(), 'flusso-h2-')), 'ca.pem');
    await writeFile(caFile, pki.caPem);
    session = h2connect(`https://127.0.0.1:${flusso.httpsPort}`, { ca: pki.caPem, servername: HOST });
  }, 60_000);

  afterAll(async () => {
    session?.close();
    await flusso?.stop();
    backend?.server.closeAllConnections();
    backend?.server.close();
  });

  const curl = async (...args: string[]): Promise<string> =>
    (
      await run('curl', ['-sS', '--cacert', caFile, '--resolve', `${HOST}:${flusso.httpsPort}:127.0.0.1`, ...args], { maxBuffer: 64 * 1024 * 1024 }).catch((e: Error & { stderr?: string; stdout?: string }) => {
        throw new Error(`${e.message}: ${e.stderr ?? ''} ${e.stdout ?? ''}`);
      })
    ).stdout;

  it('answers curl --http2 over HTTP/2, with HSTS and the forwarded fields', async () => {
    const out = await curl('--http2', '-D', '-', '-w', '\n%{http_version}', `https://${HOST}:${flusso.httpsPort}/hello?x=1`);
    const [head = '', body = '', version] = out.split(/\r\n\r\n|\n(?=[^\n]*$)/);
    expect(version).toBe('2');
    expect(head).toMatch(/^HTTP\/2 200/);
    expect(head).toContain(`strict-transport-security: ${HSTS}`);
    expect(head).toMatch(/set-cookie: a=1\r\nset-cookie: b=2/);
    expect(head).not.toMatch(/^connection:/im);
    const seen = JSON.parse(body) as { url: string; version: string; headers: Record<string, string> };
    expect(seen).toMatchObject({ url: '/hello?x=1', version: '1.1' });
    expect(seen.headers).toMatchObject({ host: `${HOST}:${flusso.httpsPort}`, 'x-forwarded-proto': 'https', 'x-forwarded-for': '127.0.0.1', 'x-forwarded-port': String(flusso.httpsPort) });
  });

  it('falls back to HTTP/1.1 for a client that offers only http/1.1 by ALPN, or no ALPN', async () => {
    expect(await curl('--http1.1', '-o', '/dev/null', '-w', '%{http_version} %{http_code}', `https://${HOST}:${flusso.httpsPort}/hello`)).toBe('1.1 200');
    const negotiated = (protocols: string[] | undefined): Promise<string | false | null> =>
      new Promise((resolve, reject) => {
        const s = tlsConnect({ host: '127.0.0.1', port: flusso.httpsPort, servername: HOST, ca: pki.caPem, ...(protocols === undefined ? {} : { ALPNProtocols: protocols }) }, () => {
          const p = s.alpnProtocol;
          s.write(`GET /hello HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`);
          let text = '';
          s.on('data', (c: Buffer) => (text += c.toString('latin1')));
          s.on('end', () => resolve(text.startsWith('HTTP/1.1 200') ? p : null));
        });
        s.on('error', reject);
      });
    expect(await negotiated(['http/1.1'])).toBe('http/1.1');
    expect(await negotiated(undefined)).toBe(false);
  });

  it('serves HTTP/1.0 and passes header names with "_" on this port (issue 12 item 5)', async () => {
    const out = await curl('--http1.0', '-H', 'my_field: yes', `https://${HOST}:${flusso.httpsPort}/ten`);
    const seen = JSON.parse(out) as { version: string; headers: Record<string, string> };
    expect(seen.headers.my_field).toBe('yes');
    expect(seen.version).toBe('1.1'); // upstream requests are HTTP/1.1
  });

  it('takes an HTTP/1.1 head up to --max-request-head-bytes (32 KiB), as the uWS front does, beyond node\'s 16 KiB', async () => {
    const fields = ['a', 'b', 'c'].flatMap((n) => ['-H', `x-${n}: ${n.repeat(7000)}`]);
    const out = await curl('--http1.1', ...fields, `https://${HOST}:${flusso.httpsPort}/big-head`);
    expect((JSON.parse(out) as { headers: Record<string, string> }).headers['x-c']).toBe('c'.repeat(7000));
  });

  it('serves 300 concurrent streams on one connection, each its own answer', async () => {
    const answers = await Promise.all(Array.from({ length: 300 }, (_, i) => request(session, { ':path': `/n/${i}` })));
    answers.forEach((a, i) => {
      expect(a.headers[':status']).toBe(200);
      expect((JSON.parse(a.body.toString()) as { url: string }).url).toBe(`/n/${i}`);
    });
  });

  it('carries large bodies both ways: an 8 MiB upload with and without Content-Length, a 16 MiB download', async () => {
    const body = randomBytes(8 * 1024 * 1024);
    const withLength = await request(session, { ':method': 'POST', ':path': '/upload', 'content-length': String(body.length) }, body);
    expect(JSON.parse(withLength.body.toString())).toEqual({ size: body.length, sha: sha(body), te: null, cl: String(body.length) });
    const streamed = await request(session, { ':method': 'POST', ':path': '/upload' }, body);
    expect(JSON.parse(streamed.body.toString())).toEqual({ size: body.length, sha: sha(body), te: 'chunked', cl: null });
    const n = 16 * 1024 * 1024;
    const down = await request(session, { ':path': `/big?n=${n}` });
    expect(down.headers['content-length']).toBe(String(n));
    expect(down.body.length).toBe(n);
    const want = Buffer.concat(Array.from({ length: 16 }, () => BLOCK));
    expect(sha(down.body)).toBe(sha(want));
  });

  it('passes a reset stream on as an aborted upstream request, and the connection goes on', async () => {
    const before = backend.aborted;
    const held = new Promise<void>((r) => (backend.onHeld = r));
    const stream: ClientHttp2Stream = session.request({ ':authority': HOST, ':path': '/hold' });
    stream.on('error', () => undefined);
    await held;
    backend.onHeld = null;
    stream.close(h2.NGHTTP2_CANCEL);
    await pollUntil('the backend to see the request aborted', async () => (backend.aborted > before ? true : undefined), 10_000, 20);
    // A download reset half-way, then more requests on the same connection.
    const big: ClientHttp2Stream = session.request({ ':authority': HOST, ':path': `/big?n=${64 * 1024 * 1024}` });
    big.on('error', () => undefined);
    await new Promise<void>((r) => big.once('data', () => r()));
    big.close(h2.NGHTTP2_CANCEL);
    const after = await request(session, { ':path': '/after-reset' });
    expect(after.headers[':status']).toBe(200);
  });

  it('tunnels a wss:// upgrade to uWS with the client\'s address (not the tunnel\'s loopback source)', async () => {
    const wss = new WebSocketServer({ server: backend.server, path: '/ws' });
    let seen: IncomingMessage | null = null;
    wss.on('connection', (sock, req) => {
      seen = req;
      sock.on('message', (m, binary) => sock.send(m, { binary }));
    });
    try {
      const ws = new WebSocket(`wss://127.0.0.1:${flusso.httpsPort}/ws`, { ca: pki.caPem, servername: HOST, headers: { host: HOST } } as WebSocket.ClientOptions);
      await new Promise<void>((resolve, reject) => ws.once('open', () => resolve()).once('error', reject));
      const echoed = new Promise<string>((r) => ws.once('message', (m: Buffer) => r(m.toString())));
      ws.send('through the tunnel');
      expect(await echoed).toBe('through the tunnel');
      const h = (seen as IncomingMessage | null)?.headers ?? {};
      expect({ xff: h['x-forwarded-for'], realIp: h['x-real-ip'], proto: h['x-forwarded-proto'] }).toEqual({ xff: '127.0.0.1', realIp: '127.0.0.1', proto: 'https' });
      ws.close();
    } finally {
      wss.close();
    }
  });

  it('counts HTTP/2 requests in the same metrics as the others', async () => {
    const count = async (): Promise<number> => {
      const text = await (await fetch(`http://127.0.0.1:${flusso.adminPort}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
      const m = /^flusso_requests_total\{namespace="h2",ingress="web",service="web",method="GET",status_class="2xx",status="200"\} (\d+)$/m.exec(text);
      return Number(m?.[1] ?? 0);
    };
    const before = await count();
    await Promise.all(Array.from({ length: 20 }, (_, i) => request(session, { ':path': `/m/${i}` })));
    await pollUntil('20 more requests counted', async () => ((await count()) >= before + 20 ? true : undefined), 10_000);
  });

  it('bounds the worker\'s memory for a client that opens many streams and reads none', async () => {
    const [worker] = await workerPids(flusso.pid);
    expect(worker).toBeGreaterThan(0);
    const baseline = rssBytes(worker as number);
    const greedy = h2connect(`https://127.0.0.1:${flusso.httpsPort}`, { ca: pki.caPem, servername: HOST, settings: { initialWindowSize: 65_535 } });
    const streams: ClientHttp2Stream[] = [];
    const perStream = 32 * 1024 * 1024;
    for (let i = 0; i < 100; i++) {
      const s = greedy.request({ ':authority': HOST, ':path': `/big?n=${perStream}` });
      s.on('error', () => undefined);
      s.pause(); // read nothing
      streams.push(s);
    }
    // Wait until the backend can write no more: Flusso stopped reading every upstream.
    let last = -1;
    await pollUntil('the backend to stall', async () => {
      const now = backend.bigWritten;
      const stalled = now === last && now > 0;
      last = now;
      return stalled ? true : undefined;
    }, 60_000, 1000);
    const grown = rssBytes(worker as number) - baseline;
    const requested = 100 * perStream;
    // 128 streams at most, each holding node's 64 KiB write buffer and one 64 KiB upstream read
    // past it: docs/http2.md states 16 MiB per connection; 64 MiB leaves room for the rest.
    expect(grown).toBeLessThan(64 * 1024 * 1024);
    expect(backend.bigWritten).toBeLessThan(requested / 2);
    greedy.destroy();
    // The worker serves on.
    expect((await request(session, { ':path': '/after-greedy' })).headers[':status']).toBe(200);
  }, 90_000);
});

describe('--http2 off, and the plain port', () => {
  let backend: Backend;
  let flusso: FlussoProcess;
  let caFile: string;

  beforeAll(async () => {
    backend = await startBackend();
    const dir = await manifestDir();
    await dir.write('all.yaml', objects(backend.port));
    flusso = await startFlusso({ manifestsDir: dir.dir, workers: 1, args: ['--http2', 'off'] });
    await flusso.waitForGeneration(1);
    caFile = join(await mkdtemp(join(tmpdir(), 'flusso-h2-')), 'ca.pem');
    await writeFile(caFile, pki.caPem);
  }, 60_000);

  afterAll(async () => {
    await flusso?.stop();
    backend?.server.closeAllConnections();
    backend?.server.close();
  });

  it('offers no h2 with --http2 off: curl --http2 speaks HTTP/1.1', async () => {
    const { stdout } = await run('curl', ['-sS', '--http2', '--cacert', caFile, '--resolve', `${HOST}:${flusso.httpsPort}:127.0.0.1`, '-o', '/dev/null', '-w', '%{http_version} %{http_code}', `https://${HOST}:${flusso.httpsPort}/x`]);
    expect(stdout).toBe('1.1 200');
  });

  it('refuses the HTTP/2 preface (h2c with prior knowledge) on the plain port at once, with a status and a close', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const s = netConnect({ host: '127.0.0.1', port: flusso.httpPort }, () => s.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'));
      let text = '';
      s.on('data', (c: Buffer) => (text += c.toString('latin1')));
      s.on('close', () => resolve(text));
      s.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 505 /);
  });

  it('answers HTTP/1.0 with 505 on the plain (uWS) port, a limit the HTTPS port with --http2 on does not have', async () => {
    const { stdout } = await run('curl', ['-sS', '--http1.0', '-o', '/dev/null', '-w', '%{http_code}', '-H', `Host: ${HOST}`, `http://127.0.0.1:${flusso.httpPort}/ten`]);
    expect(stdout).toBe('505');
  });

  it('passes header names with "_" on the plain port too (this uWS build parses them)', async () => {
    const { stdout } = await run('curl', ['-sS', '-H', 'Host: plain.test', '-H', 'my_field: yes', `http://127.0.0.1:${flusso.httpPort}/underscore`]);
    expect((JSON.parse(stdout) as { headers: Record<string, string> }).headers.my_field).toBe('yes');
  });

  it('serves an HTTP/1.1 request that offers Upgrade: h2c over HTTP/1.1 on the plain port (curl --http2 http://)', async () => {
    const { stdout } = await run('curl', ['-sS', '--http2', '-H', 'Host: plain.test', '-o', '/dev/null', '-w', '%{http_version} %{http_code}', `http://127.0.0.1:${flusso.httpPort}/offer`]);
    expect(stdout).toBe('1.1 200');
  });

  it('answers curl --http2-prior-knowledge on the plain port with an error, not a hang', async () => {
    const r = await run('curl', ['-sS', '--http2-prior-knowledge', '--max-time', '10', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${flusso.httpPort}/`]).then(
      (x) => ({ code: 0, out: x.stdout, err: '' }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout, err: e.stderr }),
    );
    expect(r.code).not.toBe(0);
    expect(r.code).not.toBe(28); // 28: curl's time-out
  });
});

describe('draining the HTTP/2 front (SIGTERM)', () => {
  it('finishes a request in flight on an HTTP/2 connection, tells the client to go away, and exits 0', async () => {
    const backend = await startBackend();
    const dir = await manifestDir();
    await dir.write('all.yaml', objects(backend.port));
    const flusso = await startFlusso({ manifestsDir: dir.dir, workers: 1 });
    await flusso.waitForGeneration(1);
    const session = h2connect(`https://127.0.0.1:${flusso.httpsPort}`, { ca: pki.caPem, servername: HOST });
    try {
      const goaway = new Promise<void>((r) => session.once('goaway', () => r()));
      const held = new Promise<void>((r) => (backend.onHeld = r));
      const answer = request(session, { ':path': '/hold' });
      await held;
      const exited = flusso.stop('SIGTERM');
      await goaway; // the drain began: new streams go elsewhere, this one goes on
      (backend.held[0] as ServerResponse).end('held answer');
      const got = await answer;
      expect({ status: got.headers[':status'], body: got.body.toString() }).toEqual({ status: 200, body: 'held answer' });
      expect(await exited).toEqual({ code: 0, signal: null });
    } finally {
      session.destroy();
      backend.server.closeAllConnections();
      backend.server.close();
    }
  }, 60_000);
});
