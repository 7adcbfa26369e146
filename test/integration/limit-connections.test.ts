/**
 * ingress-nginx `limit-connections` through the built CLI (issue 15 item 7, docs/rate-limits.md):
 * while a client has as many requests in progress on an Ingress as the limit, its next one gets
 * 503 without reaching the backend; the place comes back when a request ends, when the client
 * leaves, and when a WebSocket (which holds its place while open) closes; a whitelisted address
 * is exempt; a bad value is a diagnostic and the Ingress keeps working. One worker: the count
 * is per worker (docs/rate-limits.md says why), and one worker makes which one certain.
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { pollUntil, startFlusso, type FlussoProcess } from '../helpers/flusso.js';
import { httpRequest } from '../helpers/http.js';
import { endpointSlice, ingress, ingressClass, manifestDir, service, type K8sObject } from '../helpers/manifests.js';

const NS = 'lc';
const N = 'nginx.ingress.kubernetes.io/';

function limited(name: string, annotations: Record<string, string>): K8sObject {
  const ing = ingress(NS, name, { host: `${name}.test`, paths: [{ path: '/', service: 'web', port: 'http' }] });
  (ing.metadata as { annotations?: Record<string, string> }).annotations = annotations;
  return ing;
}

/** A backend that holds each `/hold…` request until the test lets it go, and answers the others at once. */
let backend: http.Server;
let wss: WebSocketServer;
const held: { path: string; res: http.ServerResponse; closed: Promise<void> }[] = [];
let arrived: (() => void) | null = null;
const seen: string[] = [];

/** nextArrival resolves when the backend gets its next held request. */
const nextArrival = (): Promise<void> => new Promise((resolve) => (arrived = resolve));

let flusso: FlussoProcess;

beforeAll(async () => {
  backend = http.createServer((req, res) => {
    seen.push(req.url ?? '');
    if (req.url?.startsWith('/hold') === true) {
      held.push({ path: req.url, res, closed: new Promise((resolve) => req.socket.once('close', () => resolve())) });
      arrived?.();
      return;
    }
    res.end('ok\n');
  });
  wss = new WebSocketServer({ server: backend });
  await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
  const port = (backend.address() as AddressInfo).port;
  const dir = await manifestDir();
  await dir.write('00-class.yaml', [ingressClass('flusso')]);
  await dir.write('10-web.yaml', [service(NS, 'web', [{ name: 'http', port: 80, targetPort: port }]), endpointSlice(NS, 'web', ['127.0.0.1'], port, { portName: 'http' })]);
  await dir.write('20-ingresses.yaml', [
    limited('one', { [`${N}limit-connections`]: '1' }),
    limited('trusted', { [`${N}limit-connections`]: '1', [`${N}limit-whitelist`]: '127.0.0.0/8' }),
    limited('typo', { [`${N}limit-connections`]: 'few' }),
  ]);
  flusso = await startFlusso({ manifestsDir: dir.dir, workers: 1 });
});

afterAll(async () => {
  for (const h of held) h.res.destroy();
  await flusso?.stop();
  wss?.close();
  await new Promise<void>((resolve) => backend?.close(() => resolve()));
});

/** hold sends a request to `/hold<tag>` on `host` and resolves once the backend holds it; `answer` is its response to come. */
async function hold(host: string, tag: string): Promise<{ answer: Promise<{ status: number }>; release: () => void }> {
  const arrival = nextArrival();
  const answer = httpRequest({ port: flusso.httpPort, host, path: `/hold${tag}` });
  await arrival;
  const h = held[held.length - 1]!;
  return { answer, release: () => h.res.end('held\n') };
}

describe('limit-connections through the CLI', () => {
  it('refuses a second request in progress with 503, never asking the backend; admits again once the first is over', async () => {
    const first = await hold('one.test', '1');
    const before = seen.length;
    const refused = await httpRequest({ port: flusso.httpPort, host: 'one.test', path: '/second' });
    expect(refused.status).toBe(503);
    expect(refused.body).toBe('503 Service Unavailable\n');
    expect(seen.length).toBe(before);
    // Another Ingress has its own count.
    expect((await httpRequest({ port: flusso.httpPort, host: 'trusted.test', path: '/x' })).status).toBe(200);
    first.release();
    expect((await first.answer).status).toBe(200);
    expect((await httpRequest({ port: flusso.httpPort, host: 'one.test', path: '/third' })).status).toBe(200);
  });

  it('gives the place back when the client leaves before the answer', async () => {
    const arrival = nextArrival();
    const socket = net.connect(flusso.httpPort, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.write('GET /hold-gone HTTP/1.1\r\nHost: one.test\r\n\r\n');
    await arrival;
    const h = held[held.length - 1]!;
    expect((await httpRequest({ port: flusso.httpPort, host: 'one.test', path: '/while' })).status).toBe(503);
    socket.destroy();
    // Flusso drops the upstream request of a client that left: then the place is free.
    await h.closed;
    expect((await httpRequest({ port: flusso.httpPort, host: 'one.test', path: '/after' })).status).toBe(200);
  });

  it('an open WebSocket holds its place until it closes', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${flusso.httpPort}/ws`, { headers: { Host: 'one.test' } });
    const upstreamSide = new Promise<WebSocket>((resolve) => wss.once('connection', resolve));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const upstream = await upstreamSide;
    expect((await httpRequest({ port: flusso.httpPort, host: 'one.test', path: '/during-ws' })).status).toBe(503);
    const gone = new Promise<void>((resolve) => upstream.once('close', () => resolve()));
    ws.close();
    await gone;
    await pollUntil('the place given back', async () => ((await httpRequest({ port: flusso.httpPort, host: 'one.test', path: '/after-ws' })).status === 200 ? true : undefined));
  });

  it('exempts a whitelisted address', async () => {
    const first = await hold('trusted.test', 'a');
    const second = await hold('trusted.test', 'b');
    first.release();
    second.release();
    expect([(await first.answer).status, (await second.answer).status]).toEqual([200, 200]);
  });

  it('a bad value is a diagnostic naming the Ingress, the annotation and what is allowed, and the Ingress keeps working', async () => {
    const d = await pollUntil('the limit-connections diagnostic', async () => (await flusso.diagnostics()).diagnostics.find((x) => x.object === `Ingress ${NS}/typo` && x.code === 'ING_ERR_INGRESS_INVALID_ANNOTATION'));
    expect(d.message).toBe(`annotation ${N}limit-connections is "few", expected a whole number from 0 to 2147483647 (0: no limit); it has no effect`);
    const first = await hold('typo.test', 't');
    expect((await httpRequest({ port: flusso.httpPort, host: 'typo.test', path: '/x' })).status).toBe(200);
    first.release();
    expect((await first.answer).status).toBe(200);
  });
});
