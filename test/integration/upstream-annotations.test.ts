/**
 * The timeout, size and retry annotations through the built CLI (issue 15 group 3,
 * docs/annotations.md "Timeouts, sizes and retries"), against raw-socket backends that stall,
 * stop reading, or fail: proxy-read-timeout and proxy-send-timeout answer 504 long before the
 * global timeouts (60 s here), proxy-body-size answers 413 and `0` lifts the global limit,
 * proxy-request-buffering off streams the body at once, and proxy-next-upstream sends a request
 * on from an endpoint that answers 502 or refuses connections, as nginx does, never repeating a
 * POST without non_idempotent. Every wait ends on an event (a response, a latch), none on a delay.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRawUpstream, type RawUpstream } from '../helpers/echo.js';
import { startFlusso, type FlussoProcess } from '../helpers/flusso.js';
import { rawRequest, statusOf } from '../helpers/http.js';
import { endpointSlice, ingress, ingressClass, manifestDir, service, type K8sObject } from '../helpers/manifests.js';

const NS = 'up';
const N = 'nginx.ingress.kubernetes.io/';

/** annotated builds Ingress up/`name` for host `name`.test → `svc`, with `annotations`. */
function annotated(name: string, svc: string, annotations: Record<string, string>): K8sObject {
  const ing = ingress(NS, name, { host: `${name}.test`, paths: [{ path: '/', service: svc, port: 'http' }] });
  return { ...ing, metadata: { ...(ing.metadata as object), annotations } };
}

let flusso: FlussoProcess;
let stall: RawUpstream;
let deaf: RawUpstream;
let echo: RawUpstream;
let good: net.Server;
let bad: net.Server;
let pairPort = 0;
/** What the good endpoint of the pair received: request line and body, per request. */
const goodGot: string[] = [];
let sink: RawUpstream;
/** A listener that never accepts, with a backlog of 0 and its queue filled: a connect to it hangs (the kernel drops the SYN). */
let blackhole: ChildProcess;
let blackholePort = 0;
const fillers: net.Socket[] = [];
/** Latches on the sink backend: each resolved with the first bytes of the next connection. */
const sinkFirst: ((data: string) => void)[] = [];
/** sinkGot waits for the sink's next connection and returns its first bytes. */
const sinkGot = (): Promise<string> => new Promise((resolve) => sinkFirst.push(resolve));

/** answerEach answers each whole request on `socket` with `status` and `body`, noting it in `log`. */
function answerEach(socket: net.Socket, status: string, body: string, log: string[] | null): void {
  let buf = '';
  socket.on('error', () => undefined);
  socket.on('data', (d: Buffer) => {
    buf += d.toString('latin1');
    for (;;) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(buf.slice(0, end))?.[1] ?? '0');
      if (buf.length < end + 4 + length) return;
      log?.push(`${buf.slice(0, buf.indexOf('\r\n'))} ${buf.slice(end + 4, end + 4 + length)}`.trimEnd());
      buf = buf.slice(end + 4 + length);
      socket.write(`HTTP/1.1 ${status}\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    }
  });
}

/** listenOn starts a server on `host`:`port` (0: any) whose sockets go to `onSocket`. */
function listenOn(host: string, port: number, onSocket: (s: net.Socket) => void): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer(onSocket);
    server.once('error', reject);
    server.listen({ host, port }, () => resolve(server));
  });
}

/** send writes `bytes` to Flusso and returns what came back (until close, or a 3 s gap). */
async function send(bytes: string | Buffer): Promise<string> {
  return (await rawRequest(flusso.httpPort, bytes)).raw;
}
const get = (host: string, method = 'GET'): Promise<string> => send(`${method} /x HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
const post = (host: string, body: string): Promise<string> => send(`POST /x HTTP/1.1\r\nHost: ${host}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);

beforeAll(async () => {
  stall = await startRawUpstream((s) => s.on('data', () => undefined)); // reads, never answers
  deaf = await startRawUpstream((s) => s.pause()); // never reads
  echo = await startRawUpstream((s) => answerEach(s, '200 OK', 'echo', null));
  sink = await startRawUpstream((s) => {
    s.once('data', (d: Buffer) => sinkFirst.shift()?.(d.toString('latin1')));
    answerEach(s, '200 OK', 'sink', null);
  });
  // The pair: a good endpoint on 127.0.0.2 and, on the same port, one that answers 502 on 127.0.0.1.
  good = await listenOn('127.0.0.2', 0, (s) => answerEach(s, '200 OK', 'good', goodGot));
  pairPort = (good.address() as net.AddressInfo).port;
  bad = await listenOn('127.0.0.1', pairPort, (s) => answerEach(s, '502 Bad Gateway', 'bad', null));
  blackhole = spawn('python3', ['-c', 'import socket,sys\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\nsys.stdin.read()'], { stdio: ['pipe', 'pipe', 'inherit'] });
  blackholePort = await new Promise<number>((resolve) => blackhole.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
  // The accept queue holds one connection: the first filler fills it, the second one's SYN is dropped already.
  for (let i = 0; i < 2; i++) {
    const f = net.connect(blackholePort, '127.0.0.1');
    f.on('error', () => undefined);
    fillers.push(f);
  }
  await new Promise((resolve) => fillers[0]!.once('connect', resolve));
  const dir = await manifestDir();
  const svc = (name: string, port: number, addresses = ['127.0.0.1']): K8sObject[] => [service(NS, name, [{ name: 'http', port: 80, targetPort: port }]), endpointSlice(NS, name, addresses, port, { portName: 'http' })];
  await dir.write('00.yaml', [
    ingressClass('flusso'),
    ...svc('stall', stall.port),
    ...svc('deaf', deaf.port),
    ...svc('echo', echo.port),
    ...svc('blackhole', blackholePort),
    ...svc('sink', sink.port),
    ...svc('pair', pairPort, ['127.0.0.1', '127.0.0.2']),
    // 127.0.0.3 listens on nothing: connections are refused.
    ...svc('refusing', pairPort, ['127.0.0.2', '127.0.0.3']),
    annotated('connect', 'blackhole', { [`${N}proxy-connect-timeout`]: '1' }),
    annotated('read', 'stall', { [`${N}proxy-read-timeout`]: '1' }),
    annotated('send', 'deaf', { [`${N}proxy-send-timeout`]: '1', [`${N}proxy-request-buffering`]: 'off', [`${N}proxy-body-size`]: '0' }),
    annotated('small', 'echo', { [`${N}proxy-body-size`]: '1k' }),
    annotated('unlimited', 'echo', { [`${N}proxy-body-size`]: '0' }),
    annotated('default', 'echo', {}),
    annotated('stream', 'sink', { [`${N}proxy-request-buffering`]: 'off' }),
    annotated('buffered', 'sink', { [`${N}client-body-buffer-size`]: '1m', [`${N}proxy-body-size`]: '1m' }),
    annotated('sink-default', 'sink', { [`${N}proxy-body-size`]: '0' }),
    annotated('retry', 'pair', { [`${N}proxy-next-upstream`]: 'error timeout http_502' }),
    annotated('retry-post', 'pair', { [`${N}proxy-next-upstream`]: 'http_502 non_idempotent' }),
    annotated('one-try', 'pair', { [`${N}proxy-next-upstream`]: 'http_502', [`${N}proxy-next-upstream-tries`]: '1' }),
    annotated('no-retry', 'pair', {}),
    annotated('refused', 'refusing', { [`${N}proxy-next-upstream`]: 'error' }),
    annotated('refused-off', 'refusing', { [`${N}proxy-next-upstream`]: 'off' }),
  ]);
  flusso = await startFlusso({ manifestsDir: dir.dir, workers: 1, args: ['--max-request-body-bytes', '4Ki', '--upstream-connect-timeout', '60s', '--upstream-response-timeout', '60s', '--upstream-idle-timeout', '60s'] });
  await flusso.waitForGeneration(1);
});

afterAll(async () => {
  await flusso?.stop();
  for (const f of fillers) f.destroy();
  blackhole?.kill();
  for (const b of [stall, deaf, echo, sink]) await b?.close();
  for (const s of [good, bad]) await new Promise((done) => (s ? s.close(done) : done(undefined)));
});

describe('proxy-connect-timeout, proxy-read-timeout and proxy-send-timeout (the global timeouts are 60 s)', () => {
  it('answers 504 when the connect does not finish within proxy-connect-timeout', async () => {
    expect(statusOf(await get('connect.test'))).toBe(504);
  });

  it('answers 504 when the backend sends no response head within proxy-read-timeout (the global timeout is 60 s)', async () => {
    expect(statusOf(await get('read.test'))).toBe(504);
  });

  it('answers 504 when the backend stops reading the body for proxy-send-timeout', async () => {
    const raw = await send(Buffer.concat([Buffer.from('POST /x HTTP/1.1\r\nHost: send.test\r\nContent-Length: 67108864\r\nConnection: close\r\n\r\n'), Buffer.alloc(64 * 1024 * 1024, 0x61)]));
    expect(statusOf(raw)).toBe(504);
  });

  it('reports no diagnostic for valid values', async () => {
    const body = await flusso.diagnostics();
    expect(body.diagnostics.filter((d) => d.code.startsWith('ING_ERR_INGRESS_'))).toEqual([]);
  });
});

describe('proxy-body-size, client-body-buffer-size, proxy-request-buffering', () => {
  it('answers 413 over the route limit, by Content-Length and for a chunked body', async () => {
    expect(statusOf(await post('small.test', 'a'.repeat(1024)))).toBe(200);
    expect(statusOf(await post('small.test', 'a'.repeat(1025)))).toBe(413);
    const chunk = 'a'.repeat(2000);
    expect(statusOf(await send(`POST /x HTTP/1.1\r\nHost: small.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunk.length.toString(16)}\r\n${chunk}\r\n0\r\n\r\n`))).toBe(413);
  });

  it('lets "0" lift the global limit (--max-request-body-bytes 4Ki), which other routes keep', async () => {
    expect(statusOf(await post('unlimited.test', 'a'.repeat(8192)))).toBe(200);
    expect(statusOf(await post('default.test', 'a'.repeat(8192)))).toBe(413);
  });

  /**
   * partly sends the head and the first `sent` bytes of a `total`-byte body to `host`, then a whole
   * request on another connection: once that is answered, the worker has read the first part.
   * It returns the socket (to send the rest) and how many connections the sink had then.
   */
  async function partly(host: string, sent: number, total: number): Promise<[net.Socket, number]> {
    const socket = net.connect(flusso.httpPort, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.write(`POST /x HTTP/1.1\r\nHost: ${host}\r\nContent-Length: ${total}\r\nConnection: close\r\n\r\n${'b'.repeat(sent)}`);
    expect(statusOf(await post('default.test', 'ping'))).toBe(200);
    return [socket, sink.connections()];
  }

  it('with proxy-request-buffering off, the backend gets the request before the body is whole', async () => {
    const first = sinkGot();
    const [socket] = await partly('stream.test', 4, 100);
    expect(await first).toMatch(/^POST \/x HTTP\/1\.1\r\n/);
    socket.destroy();
  });

  it('past the 16 KiB default buffer the body streams; under client-body-buffer-size (1m) it is read whole first', async () => {
    let first = sinkGot();
    const [streamed] = await partly('sink-default.test', 100_000, 200_000);
    expect(await first).toMatch(/^POST \/x HTTP\/1\.1\r\n/);
    streamed.destroy();

    first = sinkGot();
    const before = sink.connections();
    const [buffered, then] = await partly('buffered.test', 100_000, 200_000);
    expect(then).toBe(before); // the upstream request waits for the whole body
    buffered.write('b'.repeat(100_000));
    expect(await first).toMatch(/^POST \/x HTTP\/1\.1\r\n/);
    buffered.destroy();
  });
});

describe('proxy-next-upstream with one failing endpoint', () => {
  it('sends each request on from the endpoint answering 502 (error timeout http_502)', async () => {
    for (let i = 0; i < 4; i++) expect(await get('retry.test')).toMatch(/^HTTP\/1\.1 200 [^]*good$/);
  });

  it('without the annotation, the 502 is the answer for the requests that endpoint takes', async () => {
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push(statusOf(await get('no-retry.test')));
    expect(statuses.sort()).toEqual([200, 200, 502, 502]);
  });

  it('never repeats a POST that reached the backend without non_idempotent', async () => {
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push(statusOf(await post('retry.test', 'p')));
    expect(statuses.sort()).toEqual([200, 200, 502, 502]);
  });

  it('with non_idempotent, repeats a POST with its body', async () => {
    goodGot.length = 0;
    for (let i = 0; i < 4; i++) expect(statusOf(await post('retry-post.test', `body-${i}`))).toBe(200);
    expect(goodGot).toEqual(['POST /x HTTP/1.1 body-0', 'POST /x HTTP/1.1 body-1', 'POST /x HTTP/1.1 body-2', 'POST /x HTTP/1.1 body-3']);
  });

  it('proxy-next-upstream-tries 1 makes one try', async () => {
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push(statusOf(await get('one-try.test')));
    expect(statuses.sort()).toEqual([200, 200, 502, 502]);
  });

  it('error: a refused connection goes to the other endpoint, a POST too (nothing was sent)', async () => {
    for (let i = 0; i < 4; i++) expect(statusOf(await get('refused.test'))).toBe(200);
    for (let i = 0; i < 4; i++) expect(statusOf(await post('refused.test', 'x'))).toBe(200);
  });

  it('off: a refused connection is the answer, 502', async () => {
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push(statusOf(await get('refused-off.test')));
    expect(statuses.sort()).toEqual([200, 200, 502, 502]);
  });
});
