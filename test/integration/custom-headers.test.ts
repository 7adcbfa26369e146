/**
 * ingress-nginx `custom-headers`, `add-headers` and `proxy-set-headers` through the built CLI
 * with the file source (issue 15 item 4, docs/annotations.md "Custom headers"): ConfigMap
 * manifests hold the header lists; the route's fields replace the upstream's of the same names
 * and go on Flusso's own answers too (a redirect, a 403), as nginx's more_set_headers on every
 * status; proxy-set-headers reach the backend with their variables evaluated; a ConfigMap edited
 * in place changes the headers without a restart; a missing ConfigMap or a name outside
 * --global-allowed-response-headers is one diagnostic and that annotation has no effect.
 */
import { connect as h2connect } from 'node:http2';
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRawUpstream, type RawUpstream } from '../helpers/echo.js';
import { pollUntil, startFlusso, type FlussoProcess } from '../helpers/flusso.js';
import { rawRequest, statusOf } from '../helpers/http.js';
import { startBackend, type Backend } from '../helpers/websocket.js';
import { endpointSlice, ingress, ingressClass, manifestDir, service, type K8sObject, type ManifestDir } from '../helpers/manifests.js';

const N = 'nginx.ingress.kubernetes.io/';
let backend: RawUpstream;
let flusso: FlussoProcess;
let manifests: ManifestDir;
let wsBackend: Backend;
const heads: string[] = [];

/** answer records the request head and answers with an X-Team of its own. */
function answer(socket: Socket): void {
  let buf = '';
  socket.on('data', (d: Buffer) => {
    buf += d.toString('latin1');
    if (!buf.includes('\r\n\r\n')) return;
    heads.push(buf.slice(0, buf.indexOf('\r\n\r\n')));
    const cacheable = buf.startsWith('GET /c') ? 'Cache-Control: max-age=60\r\n' : '';
    socket.end(`HTTP/1.1 200 OK\r\nX-Team: upstream\r\nX-App: 1\r\n${cacheable}Content-Length: 3\r\nConnection: close\r\n\r\nok\n`);
  });
}

function configMap(namespace: string, name: string, data: Record<string, string>): K8sObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data };
}

function annotated(name: string, host: string, annotations: Record<string, string>): K8sObject {
  const ing = ingress('web', name, { host, paths: [{ path: '/', pathType: 'Prefix', service: 'backend', port: 'http' }] });
  return { ...ing, metadata: { ...(ing.metadata as object), annotations } };
}

async function send(host: string, target = '/x', fields = ''): Promise<{ status: number; head: string[]; upstream: string }> {
  const before = heads.length;
  const { raw } = await rawRequest(flusso.httpPort, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: t/1\r\n${fields}Connection: close\r\n\r\n`, { idleMs: 2000 });
  return { status: statusOf(raw), head: raw.slice(0, raw.indexOf('\r\n\r\n')).split('\r\n'), upstream: heads[before] ?? '' };
}

const field = (head: readonly string[], name: string): string[] => head.filter((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));

const objects = (team: string): K8sObject[] => [
  ingressClass('flusso'),
  service('web', 'backend', [{ name: 'http', port: 80, targetPort: backend.port }]),
  endpointSlice('web', 'backend', ['127.0.0.1'], backend.port, { portName: 'http' }),
  configMap('web', 'hdrs', { 'X-Team': team, 'X-Frame-Options': 'DENY' }),
  configMap('web', 'secret', { 'X-Secret': '1' }),
  configMap('ingress', 'add', { 'X-Global': 'yes' }),
  configMap('ingress', 'proxy', { 'X-Via': 'flusso', 'X-Asked-Host': '$host', 'X-Agent': 'ua=$http_user_agent', 'X-Forged': '$http_x_absent' }),
  annotated('hdr', 'hdr.test', { [`${N}custom-headers`]: 'web/hdrs' }),
  annotated('moved', 'moved.test', { [`${N}custom-headers`]: 'web/hdrs', [`${N}permanent-redirect`]: 'https://new.example$request_uri' }),
  annotated('denied', 'denied.test', { [`${N}custom-headers`]: 'web/hdrs', [`${N}allowlist-source-range`]: '10.0.0.0/8' }),
  annotated('missing', 'missing.test', { [`${N}custom-headers`]: 'web/nothere' }),
  annotated('notallowed', 'na.test', { [`${N}custom-headers`]: 'web/secret' }),
  annotated('plain', 'plain.test', {}),
  // An endpoint nobody listens on (the discard port): Flusso answers 502 in the upstream's place.
  service('web', 'gone', [{ name: 'http', port: 80, targetPort: 9 }]),
  endpointSlice('web', 'gone', ['127.0.0.1'], 9, { portName: 'http' }),
  (() => {
    const ing = ingress('web', 'down', { host: 'down.test', paths: [{ path: '/', pathType: 'Prefix', service: 'gone', port: 'http' }] });
    return { ...ing, metadata: { ...(ing.metadata as object), annotations: { [`${N}custom-headers`]: 'web/hdrs' } } };
  })(),
  annotated('cached', 'cache.test', { [`${N}custom-headers`]: 'web/hdrs', 'flusso.dev/cache': 'true' }),
  service('web', 'ws-backend', [{ name: 'http', port: 80, targetPort: wsBackend.port }]),
  endpointSlice('web', 'ws-backend', ['127.0.0.1'], wsBackend.port, { portName: 'http' }),
  (() => {
    const ing = ingress('web', 'ws', { host: 'ws.test', paths: [{ path: '/', pathType: 'Prefix', service: 'ws-backend', port: 'http' }] });
    return { ...ing, metadata: { ...(ing.metadata as object), annotations: { [`${N}custom-headers`]: 'web/hdrs' } } };
  })(),
];

beforeAll(async () => {
  backend = await startRawUpstream(answer);
  wsBackend = await startBackend();
  manifests = await manifestDir();
  await manifests.write('00-web.yaml', objects('blue'));
  flusso = await startFlusso({ manifestsDir: manifests.dir, workers: 1, args: ['--global-allowed-response-headers', 'X-Team,X-Frame-Options', '--add-headers', 'ingress/add', '--proxy-set-headers', 'ingress/proxy'] });
  await flusso.waitForGeneration(1);
});

afterAll(async () => {
  await flusso?.stop();
  await backend?.close();
  wsBackend?.wss.close();
  await new Promise((resolve) => wsBackend?.server.close(resolve));
});

describe('custom-headers', () => {
  it("sets the ConfigMap's fields in place of the upstream's, once each, with add-headers; the rest of the upstream's head stays", async () => {
    const r = await send('hdr.test');
    expect(r.status).toBe(200);
    expect(field(r.head, 'X-Team')).toEqual(['X-Team: blue']);
    expect(field(r.head, 'X-Frame-Options')).toEqual(['X-Frame-Options: DENY']);
    expect(field(r.head, 'X-Global')).toEqual(['X-Global: yes']);
    expect(r.head).toContain('X-App: 1');
  });

  it('puts them on Flusso\'s own answers too: a redirect, a 502 in the upstream\'s place and a 403, as more_set_headers on every status', async () => {
    const moved = await send('moved.test', '/a?b=1');
    expect(moved.status).toBe(301);
    expect(field(moved.head, 'Location')).toEqual(['Location: https://new.example/a?b=1']);
    expect(field(moved.head, 'X-Team')).toEqual(['X-Team: blue']);
    expect(field(moved.head, 'X-Global')).toEqual(['X-Global: yes']);
    const down = await send('down.test');
    expect(down.status).toBe(502);
    expect(field(down.head, 'X-Team')).toEqual(['X-Team: blue']);
    const denied = await send('denied.test');
    expect(denied.status).toBe(403);
    expect(denied.upstream).toBe('');
    expect(field(denied.head, 'X-Frame-Options')).toEqual(['X-Frame-Options: DENY']);
  });

  it('leaves a route without it to the upstream (add-headers still applies)', async () => {
    const r = await send('plain.test');
    expect(field(r.head, 'X-Team')).toEqual(['X-Team: upstream']);
    expect(field(r.head, 'X-Frame-Options')).toEqual([]);
    expect(field(r.head, 'X-Global')).toEqual(['X-Global: yes']);
  });

  it('proxy-set-headers reach the backend with $host and $http_user_agent evaluated; one that comes out empty is not sent, nor the client\'s of that name', async () => {
    const r = await send('plain.test', '/x', 'X-Via: client\r\nX-Forged: client\r\n');
    const lines = r.upstream.split('\r\n');
    expect(field(lines, 'x-via')).toEqual(['x-via: flusso']);
    expect(field(lines, 'x-forged')).toEqual([]);
    expect(field(lines, 'x-asked-host')).toEqual(['x-asked-host: plain.test']);
    expect(field(lines, 'x-agent')).toEqual(['x-agent: ua=t/1']);
  });

  it('a cache hit carries them as the miss did, once each', async () => {
    const miss = await send('cache.test', '/c1');
    const hit = await send('cache.test', '/c1');
    expect(field(hit.head, 'X-Cache-Status')).toEqual(['X-Cache-Status: HIT']);
    expect(hit.upstream).toBe('');
    for (const r of [miss, hit]) {
      expect(field(r.head, 'X-Team')).toEqual(['X-Team: blue']);
      expect(field(r.head, 'X-Frame-Options')).toEqual(['X-Frame-Options: DENY']);
    }
  });

  it('an HTTP/2 request on the HTTPS port gets them too', async () => {
    const session = h2connect(`https://127.0.0.1:${flusso.httpsPort}`, { rejectUnauthorized: false, servername: 'hdr.test' });
    try {
      const headers = await new Promise<Record<string, unknown>>((resolve, reject) => {
        const stream = session.request({ ':path': '/x', ':authority': 'hdr.test' });
        stream.on('response', (h) => resolve(h as Record<string, unknown>));
        stream.on('error', reject);
        stream.resume();
        stream.end();
      });
      expect([headers[':status'], headers['x-team'], headers['x-global']]).toEqual([200, 'blue', 'yes']);
    } finally {
      session.close();
    }
  });

  it("a WebSocket upgrade's 101 carries them, and proxy-set-headers reach the backend's handshake", async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${flusso.httpPort}/`, { headers: { host: 'ws.test' }, perMessageDeflate: false });
    const upgraded = await new Promise<Record<string, unknown>>((resolve, reject) => {
      ws.on('upgrade', (res) => resolve(res.headers as Record<string, unknown>));
      ws.on('error', reject);
    });
    await new Promise((resolve) => (ws.readyState === WebSocket.OPEN ? resolve(null) : ws.once('open', resolve)));
    ws.close();
    expect([upgraded['x-team'], upgraded['x-global']]).toEqual(['blue', 'yes']);
    expect(wsBackend.lastRequest?.headers['x-via']).toBe('flusso');
    expect(wsBackend.lastRequest?.headers['x-asked-host']).toBe('ws.test');
  });

  it('a missing ConfigMap or a header outside --global-allowed-response-headers is one diagnostic; that annotation has no effect, the route serves', async () => {
    const { diagnostics } = await flusso.diagnostics();
    const ours = diagnostics.filter((d) => d.object === 'Ingress web/missing' || d.object === 'Ingress web/notallowed');
    expect(ours.map((d) => [d.code, d.object])).toEqual([
      ['ING_ERR_INGRESS_INVALID_ANNOTATION', 'Ingress web/missing'],
      ['ING_ERR_INGRESS_INVALID_ANNOTATION', 'Ingress web/notallowed'],
    ]);
    expect(ours[0]!.message).toContain('names ConfigMap web/nothere, which does not exist');
    expect(ours[1]!.message).toContain('sets header X-Secret, which is not in --global-allowed-response-headers');
    const missing = await send('missing.test');
    expect([missing.status, field(missing.head, 'X-Team')]).toEqual([200, ['X-Team: upstream']]);
    const na = await send('na.test');
    expect([na.status, field(na.head, 'X-Secret')]).toEqual([200, []]);
  });

  it('an edited ConfigMap changes the headers without a restart', async () => {
    const { generation } = await flusso.diagnostics();
    await manifests.write('00-web.yaml', objects('green'));
    await flusso.waitForGeneration(generation + 1);
    // The generation is the latch; a worker applies the broadcast snapshot on its next turn.
    const r = await pollUntil('X-Team: green', async () => {
      const x = await send('hdr.test');
      return field(x.head, 'X-Team')[0] === 'X-Team: green' ? x : undefined;
    });
    expect(field(r.head, 'X-Team')).toEqual(['X-Team: green']);
  });
});
