/**
 * WebSocket proxying through the built CLI (issue #12): a `ws` backend behind an Ingress, `ws`
 * clients in front, on the HTTP and HTTPS ports. Messages of both types in order, fragments,
 * subprotocols, a backend's refusal, close codes and pings both ways, a slow reader on each side,
 * config changes that keep the route, and metrics. The idle timeout and the drain are in
 * websocket-shutdown.test.ts.
 */
import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { pollUntil, startFlusso, type FlussoProcess } from '../helpers/flusso.js';
import { endpointSlice, ingressClass, manifestDir, service } from '../helpers/manifests.js';
import { testPki, tlsSecret } from '../helpers/certs.js';
import { NS, PUSHED, TOKEN, closed, connect, nextMessage, startBackend, wsIngress, type Backend } from '../helpers/websocket.js';

const pki = testPki();

describe('WebSocket through Flusso', () => {
  let backend: Backend;
  let flusso: FlussoProcess;
  let dir: Awaited<ReturnType<typeof manifestDir>>;
  let url: string;
  const host = 'chat.ws.test';

  beforeAll(async () => {
    backend = await startBackend();
    dir = await manifestDir();
    await dir.write('base.yaml', [
      ingressClass('flusso'),
      service(NS, 'echo', [{ name: 'http', port: 80, targetPort: backend.port }]),
      endpointSlice(NS, 'echo', ['127.0.0.1'], backend.port, { portName: 'http' }),
      service(NS, 'empty', [{ name: 'http', port: 80, targetPort: 1 }]),
      tlsSecret(NS, 'ws-cert', pki.valid(['secure.ws.test'])),
      wsIngress('chat', host),
      // The Gateway API conformance case HTTPRouteBackendProtocolWebSocket, on an Ingress: the
      // Service port says `appProtocol: kubernetes.io/ws`.
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'ws-app', namespace: NS },
        spec: { selector: { app: 'ws-app' }, ports: [{ name: 'ws', protocol: 'TCP', port: 8082, targetPort: backend.port, appProtocol: 'kubernetes.io/ws' }] },
      },
      endpointSlice(NS, 'ws-app', ['127.0.0.1'], backend.port, { portName: 'ws' }),
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'Ingress',
        metadata: { name: 'backend-protocol-ws', namespace: NS },
        spec: { ingressClassName: 'flusso', rules: [{ host: 'proto.ws.test', http: { paths: [{ path: '/ws', pathType: 'Prefix', backend: { service: { name: 'ws-app', port: { number: 8082 } } } }] } }] },
      },
      wsIngress('secure', 'secure.ws.test', '/', true),
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'Ingress',
        metadata: { name: 'nobody', namespace: NS },
        spec: { ingressClassName: 'flusso', rules: [{ host: 'nobody.ws.test', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'empty', port: { number: 80 } } } }] } }] },
      },
    ]);
    flusso = await startFlusso({ manifestsDir: dir.dir, workers: 2, args: ['--admin-token', TOKEN, '--websocket-max-buffered-bytes', '256Ki', '--drain-timeout', '1s'] });
    await flusso.waitForGeneration(1);
    url = `ws://127.0.0.1:${flusso.httpPort}`;
  });

  afterAll(async () => {
    await flusso?.stop();
    for (const s of backend?.sockets ?? []) s.terminate();
    backend?.wss.close();
    backend?.server.close();
  });

  it('echoes text and binary messages in order, and a fragmented message whole', async () => {
    const ws = await connect(`${url}/echo`, host);
    const got: string[] = [];
    ws.on('message', (data: Buffer, isBinary: boolean) => got.push(`${isBinary ? 'b' : 't'}:${data.toString('hex')}`));
    const want: string[] = [];
    for (let i = 0; i < 100; i++) {
      const binary = i % 2 === 1;
      const data = binary ? Buffer.from([i, 255 - i, 0]) : Buffer.from(`message ${i} ✓`);
      ws.send(data, { binary });
      want.push(`${binary ? 'b' : 't'}:${data.toString('hex')}`);
    }
    ws.send('frag-', { fin: false });
    ws.send('ment-', { fin: false });
    ws.send('ed', { fin: true });
    want.push(`t:${Buffer.from('frag-ment-ed').toString('hex')}`);
    await pollUntil('every echo', async () => (got.length >= want.length ? true : undefined));
    expect(got).toEqual(want);
    ws.close();
  });

  it('negotiates the subprotocol end to end and forwards the client head with X-Forwarded-*', async () => {
    const ws = await connect(`${url}/proto?x=1`, host, { protocols: ['chat.v1', 'chat.v2'] });
    expect(ws.protocol).toBe('chat.v2');
    const req = backend.lastRequest as IncomingMessage;
    expect({ url: req.url, host: req.headers.host, proto: req.headers['x-forwarded-proto'], xff: req.headers['x-forwarded-for'], offered: req.headers['sec-websocket-protocol'] }).toEqual({
      url: '/proto?x=1', host, proto: 'http', xff: '127.0.0.1', offered: 'chat.v1,chat.v2',
    });
    ws.close();
    const none = await connect(`${url}/proto`, host, { protocols: ['other'] }).catch((err: unknown) => err as Error);
    // The backend chose no protocol among those offered: ws (the client) refuses such a 101.
    expect(none).toBeInstanceOf(Error);
  });

  it('gives the client the backend\'s refusal: its status, fields and body', async () => {
    const err = (await connect(`${url}/refuse`, host).catch((e: unknown) => e)) as { status: number; headers: Record<string, string>; body: string };
    expect({ status: err.status, reason: err.headers['x-reason'], body: err.body, server: err.headers.server }).toEqual({ status: 403, reason: 'no entry', body: 'forbidden', server: 'flusso' });
  });

  it('answers 404 for no route and 503 for no endpoint, as for HTTP', async () => {
    const noRoute = (await connect(`${url}/`, 'unknown.ws.test').catch((e: unknown) => e)) as { status: number };
    const noEndpoint = (await connect(`${url}/`, 'nobody.ws.test').catch((e: unknown) => e)) as { status: number };
    expect([noRoute.status, noEndpoint.status]).toEqual([404, 503]);
  });

  it('forwards close codes and reasons both ways', async () => {
    const a = await connect(`${url}/echo`, host);
    const closing = closed(a);
    a.send('close:4001:server bye');
    expect(await closing).toEqual({ code: 4001, reason: 'server bye' });

    const b = await connect(`${url}/echo`, host);
    b.close(4000, 'client bye');
    await closed(b);
    await pollUntil('the backend to see the close', async () => (backend.lastClose?.code === 4000 ? true : undefined));
    expect(backend.lastClose).toEqual({ code: 4000, reason: 'client bye' });
  });

  it('answers pings and passes the backend\'s pings to the client', async () => {
    const ws = await connect(`${url}/echo`, host);
    const pong = new Promise<string>((resolve) => ws.once('pong', (d: Buffer) => resolve(d.toString())));
    ws.ping('from-client');
    expect(await pong).toBe('from-client');
    const ping = new Promise<string>((resolve) => ws.once('ping', (d: Buffer) => resolve(d.toString())));
    ws.send('ping-me');
    expect(await ping).toBe('from-backend');
    ws.close();
  });

  it('stops reading the backend while the client does not read, then delivers everything in order', async () => {
    const before = backend.sockets.length;
    const ws = await connect(`${url}/push`, host, { maxPayload: 1 << 20 });
    const socket = (ws as unknown as { _socket: import('node:net').Socket })._socket;
    socket.pause();
    await pollUntil('the backend socket', async () => (backend.sockets.length > before ? true : undefined));
    const server = backend.sockets[backend.sockets.length - 1] as WebSocket;
    // 25 MiB sent; with the client paused, Flusso must pause its upstream read, so most of it
    // stays buffered in the backend: what is not there is in the two loopback connections'
    // kernel buffers (a few MiB each) or in Flusso, which holds at most its 256 KiB bound.
    // Were Flusso reading on, the backend would hold next to nothing.
    await pollUntil('backpressure to reach the backend', async () => (server.bufferedAmount > 10 * 1024 * 1024 ? true : undefined), 15_000);
    const seen: number[] = [];
    ws.on('message', (data: Buffer) => seen.push(data.readUInt16BE(0)));
    socket.resume();
    await pollUntil(`all ${PUSHED} messages`, async () => (seen.length === PUSHED ? true : undefined), 30_000);
    expect(seen).toEqual(Array.from({ length: PUSHED }, (_, i) => i));
    ws.close();
  });

  it('closes a client with 1013 when the backend does not read and the bound is passed', async () => {
    const ws = await connect(`${url}/deaf`, host);
    const end = closed(ws);
    const chunk = Buffer.alloc(64 * 1024, 1);
    for (let i = 0; i < 400 && ws.readyState === WebSocket.OPEN; i++) {
      ws.send(chunk);
      if (i % 16 === 15) await new Promise((r) => setTimeout(r, 5));
    }
    expect(await end).toEqual({ code: 1013, reason: 'backend is not reading' });
  });

  it('keeps open WebSockets through config changes that keep their route', async () => {
    const sockets = await Promise.all(Array.from({ length: 20 }, () => connect(`${url}/echo`, host)));
    let closes = 0;
    for (const s of sockets) s.on('close', () => closes++);
    const generation = (await flusso.readyz()).body.generation;
    for (let i = 1; i <= 5; i++) {
      await dir.write('extra.yaml', [wsIngress(`extra-${i}`, `extra${i}.ws.test`)]);
      await flusso.waitForGeneration(generation + i);
    }
    const echoes = await Promise.all(
      sockets.map(async (s, i) => {
        const m = nextMessage(s);
        s.send(`after ${i}`);
        return (await m).data.toString();
      }),
    );
    expect(echoes).toEqual(sockets.map((_, i) => `after ${i}`));
    expect(closes).toBe(0);
    for (const s of sockets) s.close();
  });

  it('keeps counting a WebSocket whose Ingress was removed while it was open', async () => {
    const metric = async (re: RegExp): Promise<number> => {
      const res = await fetch(`http://127.0.0.1:${flusso.adminPort}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
      return Number(re.exec(await res.text())?.[1] ?? 0);
    };
    const inOf = /flusso_websocket_messages_total\{namespace="ws",ingress="gone",service="echo",direction="in"\} (\d+)/;
    const closedOf = /flusso_websocket_closed_total\{namespace="ws",ingress="gone",service="echo"\} (\d+)/;
    let generation = (await flusso.readyz()).body.generation;
    await dir.write('gone.yaml', [wsIngress('gone', 'gone.ws.test')]);
    generation = (await flusso.waitForGeneration(generation + 1)).generation;
    const ws = await connect(`${url}/echo`, 'gone.ws.test');
    await dir.remove('gone.yaml');
    await flusso.waitForGeneration(generation + 1);
    // Latch: every worker has flushed its statistics since the route left (a flush prunes the
    // counters of routes gone). flusso_open_websockets{process} changes only on a flush, so a
    // value that differs from one read after the removal proves one; probe WebSockets on the chat
    // route (one more each round) make the values change.
    const gauges = async (): Promise<Map<string, number>> => {
      const res = await fetch(`http://127.0.0.1:${flusso.adminPort}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
      return new Map([...(await res.text()).matchAll(/^flusso_open_websockets\{process="(worker-\d+)"\} (\d+)$/gm)].map((m) => [m[1] as string, Number(m[2])]));
    };
    const afterRemoval = await gauges();
    expect([...afterRemoval.keys()].sort()).toEqual(['worker-1', 'worker-2']);
    const probes: WebSocket[] = [];
    try {
      await pollUntil('a statistics flush of every worker after the route left', async () => {
        const now = await gauges();
        if ([...afterRemoval].every(([w, n]) => now.get(w) !== n)) return true;
        if (probes.length < 40) probes.push(await connect(`${url}/echo`, host));
        return undefined;
      }, 20_000);
    } finally {
      for (const p of probes) p.close();
    }
    for (let i = 0; i < 3; i++) {
      const m = nextMessage(ws);
      ws.send(`still ${i}`);
      expect((await m).data.toString()).toBe(`still ${i}`);
    }
    ws.close();
    await closed(ws);
    // The messages and the close after the route left reach /metrics (the counters were not dropped).
    await pollUntil('the messages and close of a route that left', async () => ((await metric(inOf)) === 3 && (await metric(closedOf)) === 1 ? true : undefined), 10_000);
  });

  it('proxies wss:// on the HTTPS port with the host\'s certificate', async () => {
    const ws = await connect(`wss://127.0.0.1:${flusso.httpsPort}/echo`, 'secure.ws.test', { ca: pki.caPem, servername: 'secure.ws.test' } as WebSocket.ClientOptions);
    const m = nextMessage(ws);
    ws.send('over tls');
    expect((await m).data.toString()).toBe('over tls');
    const req = backend.lastRequest as IncomingMessage;
    expect(req.headers['x-forwarded-proto']).toBe('https');
    ws.close();
  });

  it('passes the Gateway API conformance case HTTPRouteBackendProtocolWebSocket (appProtocol kubernetes.io/ws), on an Ingress', async () => {
    const ws = await connect(`${url}/ws`, 'proto.ws.test', { origin: 'ws://gateway/HTTPRouteBackendProtocolWebSocket' });
    expect(backend.lastRequest?.headers.origin).toBe('ws://gateway/HTTPRouteBackendProtocolWebSocket');
    ws.send('Websocket Support!');
    const text = await nextMessage(ws);
    expect(text).toEqual({ data: Buffer.from('Websocket Support!'), isBinary: false });
    ws.send(Buffer.from([1, 2, 3, 4, 5, 6, 7]));
    expect(await nextMessage(ws)).toEqual({ data: Buffer.from([1, 2, 3, 4, 5, 6, 7]), isBinary: true });
    ws.close(1000);
    expect(await closed(ws)).toEqual({ code: 1000, reason: '' });
    // Nothing about the Service port or its appProtocol is reported as unsupported.
    const res = await fetch(`http://127.0.0.1:${flusso.adminPort}/api/v1/diagnostics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    expect(JSON.stringify(await res.json())).not.toContain('ws-app');
  });

  it('counts WebSockets and messages per route in /metrics', async () => {
    await pollUntil('websocket metrics', async () => {
      const res = await fetch(`http://127.0.0.1:${flusso.adminPort}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
      const text = await res.text();
      return /flusso_websocket_messages_total\{namespace="ws",ingress="chat",service="echo",direction="in"\} [1-9]/.test(text) &&
        /flusso_websocket_connections_total\{namespace="ws",ingress="chat",service="echo"\} [1-9]/.test(text) &&
        /flusso_open_websockets\{process="worker-\d+"\} \d+/.test(text)
        ? true
        : undefined;
    });
  });

  it('keeps uWS\'s warning about the uncorked 101 out of Flusso\'s stderr (docs/websocket.md)', async () => {
    // Upgrade here too (not only in the tests above, so the case stands alone): a worker writes
    // the 101 outside a cork; uWS warns on the worker's stderr and the primary drops the line.
    const ws = await connect(`${url}/echo`, host);
    const echoed = nextMessage(ws);
    ws.send('stderr probe');
    expect((await echoed).data.toString()).toBe('stderr probe');
    ws.close();
    await closed(ws);
    expect(flusso.output()).toContain('--- stderr:');
    expect(flusso.output()).not.toContain('must be made from within a corked callback');
  });
});
