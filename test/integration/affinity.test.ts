/**
 * Cookie affinity through the built CLI (issue 15 group 5, docs/annotations.md "Cookie
 * affinity"): three echo pods, two workers. A request without the cookie gets one naming the
 * pod that served it; every request carrying it reaches that pod, whichever worker takes the
 * connection and after a restart of Flusso; when the pod leaves the EndpointSlice the cookie is
 * issued again for another pod. The cookie's attributes follow the session-cookie annotations.
 * WebSocket upgrades keep to the cookie's pod too, and the 101 carries a new cookie.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { startEchoPods, type EchoPods } from '../helpers/echo.js';
import { startFlusso, type FlussoProcess } from '../helpers/flusso.js';
import { httpRequest } from '../helpers/http.js';
import { endpointSlice, ingress, ingressClass, manifestDir, service, type K8sObject, type ManifestDir } from '../helpers/manifests.js';

const NS = 'sticky';
const N = 'nginx.ingress.kubernetes.io/';

function annotated(name: string, annotations: Record<string, string>, path = '/'): K8sObject {
  const ing = ingress(NS, name, { host: `${name}.test`, paths: [{ path, service: 'web', port: 'http' }] });
  return { ...ing, metadata: { ...(ing.metadata as object), annotations } };
}

let flusso: FlussoProcess;
let web: EchoPods;
let dir: ManifestDir;

const manifests = (addresses: readonly string[]): K8sObject[] => [
  ingressClass('flusso'),
  service(NS, 'web', [{ name: 'http', port: 80, targetPort: web.port }]),
  endpointSlice(NS, 'web', addresses, web.port, { portName: 'http' }),
  annotated('plain', { [`${N}affinity`]: 'cookie' }),
  annotated('full', {
    [`${N}affinity`]: 'cookie', [`${N}session-cookie-name`]: 'route', [`${N}session-cookie-path`]: '/shop', [`${N}session-cookie-domain`]: 'full.test',
    [`${N}session-cookie-max-age`]: '3600', [`${N}session-cookie-expires`]: '7200', [`${N}session-cookie-samesite`]: 'Strict', [`${N}session-cookie-secure`]: 'true',
  }),
  annotated('hashed', { [`${N}affinity`]: 'cookie', [`${N}upstream-hash-by`]: '$request_uri' }),
];

/** ask sends one request on a new connection; the pod that answered and the Set-Cookie fields. */
async function ask(host: string, cookie?: string): Promise<{ pod: string; setCookie: string[] }> {
  const r = await httpRequest({ port: flusso.httpPort, host, path: '/page', headers: cookie === undefined ? {} : { Cookie: cookie } });
  expect(r.status, r.body).toBe(200);
  const sc = r.headers['set-cookie'];
  return { pod: String(r.json?.pod), setCookie: sc === undefined ? [] : sc };
}
const valueOf = (setCookie: string, name = 'INGRESSCOOKIE'): string => new RegExp(`^${name}=([0-9a-f]{32});`).exec(setCookie)?.[1] ?? 'none';

/** The cookie each pod gets, learned by asking without one until every pod has answered. */
const cookies = new Map<string, string>();

beforeAll(async () => {
  web = await startEchoPods('web', ['127.0.0.1', '127.0.0.2', '127.0.0.3'], 0, { namespace: NS });
  dir = await manifestDir();
  await dir.write('00.yaml', manifests(web.addresses));
  flusso = await startFlusso({ manifestsDir: dir.dir, workers: 2 });
  await flusso.waitForGeneration(1);
});

afterAll(async () => {
  await flusso?.stop();
  await web?.close();
});

describe('affinity: cookie through the CLI', () => {
  it('a request without the cookie gets one naming its pod (Path the route, HttpOnly); each pod has its own value', async () => {
    for (let i = 0; i < 9; i++) {
      const r = await ask('plain.test');
      expect(r.setCookie).toHaveLength(1);
      expect(r.setCookie[0]).toMatch(/^INGRESSCOOKIE=[0-9a-f]{32}; Path=\/; HttpOnly$/);
      const value = valueOf(r.setCookie[0]!);
      if (cookies.has(r.pod)) expect(value).toBe(cookies.get(r.pod));
      cookies.set(r.pod, value);
    }
    expect(new Set(cookies.keys())).toEqual(new Set(['web-1', 'web-2', 'web-3']));
    expect(new Set(cookies.values()).size).toBe(3);
  });

  it('with the cookie every request reaches its pod, on every connection (both workers), and no cookie is set again', async () => {
    for (const [pod, value] of cookies) {
      for (let i = 0; i < 6; i++) expect(await ask('plain.test', `a=1; INGRESSCOOKIE=${value}`)).toEqual({ pod, setCookie: [] });
    }
  });

  it('an unknown value gets a new cookie', async () => {
    const r = await ask('plain.test', 'INGRESSCOOKIE=0123456789abcdef0123456789abcdef');
    expect(valueOf(r.setCookie[0] ?? '')).toBe(cookies.get(r.pod));
  });

  it('the session-cookie annotations set the attributes, in ingress-nginx order', async () => {
    const r = await ask('full.test');
    expect(r.setCookie).toHaveLength(1);
    expect(r.setCookie[0]).toMatch(/^route=[0-9a-f]{32}; Expires=(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d-[A-Z][a-z]{2}-\d{4} \d\d:\d\d:\d\d GMT; Max-Age=3600; Domain=full\.test; Path=\/shop; Secure; HttpOnly; SameSite=Strict$/);
  });

  it('affinity wins over upstream-hash-by, as in ingress-nginx', async () => {
    for (const [pod, value] of cookies) expect((await ask('hashed.test', `INGRESSCOOKIE=${value}`)).pod).toBe(pod);
  });

  it('after a restart of Flusso the cookies still reach their pods', async () => {
    await flusso.stop();
    flusso = await startFlusso({ manifestsDir: dir.dir, workers: 2 });
    await flusso.waitForGeneration(1);
    for (const [pod, value] of cookies) expect(await ask('plain.test', `INGRESSCOOKIE=${value}`)).toEqual({ pod, setCookie: [] });
  });

  it('when the pod leaves the EndpointSlice its cookie is issued again, for another pod; the others keep theirs', async () => {
    const generation = (await flusso.readyz()).body.generation;
    await dir.write('00.yaml', manifests(['127.0.0.1', '127.0.0.2']));
    await flusso.waitForGeneration(generation + 1);
    const gone = await ask('plain.test', `INGRESSCOOKIE=${cookies.get('web-3') as string}`);
    expect(['web-1', 'web-2']).toContain(gone.pod);
    expect(valueOf(gone.setCookie[0] ?? '')).toBe(cookies.get(gone.pod));
    expect(await ask('plain.test', `INGRESSCOOKIE=${cookies.get('web-1') as string}`)).toEqual({ pod: 'web-1', setCookie: [] });
  });
});

describe('affinity: cookie on WebSocket upgrades', () => {
  let wsFlusso: FlussoProcess;
  const servers: WebSocketServer[] = [];

  /** open upgrades on the sticky route; the address of the backend that took it, and the 101's Set-Cookie. */
  const open = (cookie?: string): Promise<{ at: string; setCookie: string[] }> =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${wsFlusso.httpPort}/socket`, { headers: { host: 'wsticky.test', ...(cookie === undefined ? {} : { cookie }) }, perMessageDeflate: false });
      let setCookie: string[] = [];
      ws.once('upgrade', (res) => (setCookie = ([] as string[]).concat(res.headers['set-cookie'] ?? [])));
      ws.once('message', (data: Buffer) => {
        ws.close();
        resolve({ at: data.toString(), setCookie });
      });
      ws.once('error', reject);
    });

  beforeAll(async () => {
    // Two WebSocket pods on one port, 127.0.0.1 and 127.0.0.2; each says which it is.
    const first = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(first, 'listening');
    const port = (first.address() as AddressInfo).port;
    const second = new WebSocketServer({ host: '127.0.0.2', port });
    await once(second, 'listening');
    for (const [wss, at] of [[first, '127.0.0.1'], [second, '127.0.0.2']] as const) {
      servers.push(wss);
      wss.on('connection', (ws) => ws.send(at));
    }
    const wsDir = await manifestDir();
    const ing = ingress(NS, 'wsticky', { host: 'wsticky.test', paths: [{ path: '/', service: 'sockets', port: 'ws' }] });
    await wsDir.write('00.yaml', [
      ingressClass('flusso'),
      service(NS, 'sockets', [{ name: 'ws', port: 80, targetPort: port }]),
      endpointSlice(NS, 'sockets', ['127.0.0.1', '127.0.0.2'], port, { portName: 'ws' }),
      { ...ing, metadata: { ...(ing.metadata as object), annotations: { [`${N}affinity`]: 'cookie' } } },
    ]);
    wsFlusso = await startFlusso({ manifestsDir: wsDir.dir, workers: 1 });
    await wsFlusso.waitForGeneration(1);
  });

  afterAll(async () => {
    await wsFlusso?.stop();
    for (const wss of servers) wss.close();
  });

  it('the 101 without a cookie carries one naming its pod; every upgrade with it reaches that pod, and gets none again', async () => {
    const [a, b] = [await open(), await open()];
    // Without a cookie the two pods take turns, each with its own cookie.
    expect([a.at, b.at].sort()).toEqual(['127.0.0.1', '127.0.0.2']);
    expect(valueOf(a.setCookie[0] ?? '')).not.toBe(valueOf(b.setCookie[0] ?? ''));
    for (const first of [a, b]) {
      const cookie = `INGRESSCOOKIE=${valueOf(first.setCookie[0] ?? '')}`;
      for (let i = 0; i < 3; i++) expect(await open(cookie)).toEqual({ at: first.at, setCookie: [] });
    }
  });
});
