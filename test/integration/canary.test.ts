/**
 * Canary Ingresses through the built CLI (issue 15 group 5, docs/annotations.md "Canaries"): a
 * main Service and a canary Service, two echo pods each. The header decides first ("always",
 * "never", a value, a pattern), then the cookie, then the weight, which sends exactly its share
 * per worker (one worker here: weight 25 sends every fourth request, 100 of 400). The main
 * Ingress's annotations apply to canary traffic; a canary without a main Ingress is a
 * diagnostic and routes nothing.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEchoPods, type EchoPods } from '../helpers/echo.js';
import { startFlusso, type FlussoProcess } from '../helpers/flusso.js';
import { httpRequest, statusOf } from '../helpers/http.js';
import { endpointSlice, ingress, ingressClass, manifestDir, service, type K8sObject } from '../helpers/manifests.js';

const NS = 'canary';
const TOKEN = 'canary-test-token';
const N = 'nginx.ingress.kubernetes.io/';

function withAnnotations(ing: K8sObject, annotations: Record<string, string>): K8sObject {
  return { ...ing, metadata: { ...(ing.metadata as object), annotations } };
}
/** pair is a main Ingress `name` for host `name`.test → web and its canary → next, with the canary's annotations. */
function pair(name: string, canary: Record<string, string>, main: Record<string, string> = {}): K8sObject[] {
  return [
    withAnnotations(ingress(NS, name, { host: `${name}.test`, paths: [{ path: '/', service: 'web', port: 'http' }] }), main),
    withAnnotations(ingress(NS, `${name}-canary`, { host: `${name}.test`, paths: [{ path: '/', service: 'next', port: 'http' }] }), { [`${N}canary`]: 'true', ...canary }),
  ];
}

let flusso: FlussoProcess;
let web: EchoPods;
let next: EchoPods;

beforeAll(async () => {
  web = await startEchoPods('web', ['127.0.0.1', '127.0.0.2'], 0, { namespace: NS });
  next = await startEchoPods('next', ['127.0.0.3', '127.0.0.4'], 0, { namespace: NS });
  const dir = await manifestDir();
  await dir.write('00.yaml', [
    ingressClass('flusso'),
    service(NS, 'web', [{ name: 'http', port: 80, targetPort: web.port }]),
    endpointSlice(NS, 'web', web.addresses, web.port, { portName: 'http' }),
    service(NS, 'next', [{ name: 'http', port: 80, targetPort: next.port }]),
    endpointSlice(NS, 'next', next.addresses, next.port, { portName: 'http' }),
    ...pair('weight', { [`${N}canary-weight`]: '25' }),
    ...pair('header', { [`${N}canary-by-header`]: 'X-Canary', [`${N}canary-by-cookie`]: 'beta', [`${N}canary-weight`]: '0', [`${N}rewrite-target`]: '/ignored' }, { [`${N}upstream-vhost`]: 'main.internal' }),
    ...pair('value', { [`${N}canary-by-header`]: 'X-Region', [`${N}canary-by-header-value`]: 'eu', [`${N}canary-weight`]: '100' }),
    ...pair('pattern', { [`${N}canary-by-header`]: 'X-Region', [`${N}canary-by-header-pattern`]: '^eu-' }),
    withAnnotations(ingress(NS, 'orphan', { host: 'orphan.test', paths: [{ path: '/', service: 'next', port: 'http' }] }), { [`${N}canary`]: 'true', [`${N}canary-weight`]: '100' }),
  ]);
  flusso = await startFlusso({ manifestsDir: dir.dir, workers: 1, args: ['--admin-token', TOKEN] });
  await flusso.waitForGeneration(1);
});

afterAll(async () => {
  await flusso?.stop();
  await web?.close();
  await next?.close();
});

/** serviceOf sends one request and returns which Service's pod answered ('web' or 'next'). */
async function serviceOf(host: string, headers: Record<string, string> = {}): Promise<string> {
  const r = await httpRequest({ port: flusso.httpPort, host, path: '/page', headers });
  expect(r.status, r.body).toBe(200);
  return String(r.json?.service);
}

describe('canary Ingresses through the CLI', () => {
  it('canary-weight 25: exactly every fourth request goes to the canary, 100 of 400, over both canary pods', async () => {
    const seq: string[] = [];
    const pods = new Set<string>();
    for (let i = 0; i < 400; i++) {
      const r = await httpRequest({ port: flusso.httpPort, host: 'weight.test', path: '/page' });
      expect(r.status).toBe(200);
      seq.push(String(r.json?.service));
      if (r.json?.service === 'next') pods.add(String(r.json.pod));
    }
    expect(seq.filter((s) => s === 'next')).toHaveLength(100);
    expect(seq.slice(0, 8)).toEqual(['web', 'web', 'web', 'next', 'web', 'web', 'web', 'next']);
    expect(pods).toEqual(new Set(['next-1', 'next-2']));
  });

  it('canary-by-header: "always" and "never" decide, before the cookie; another value leaves it to the cookie, then the weight (0)', async () => {
    expect(await serviceOf('header.test', { 'X-Canary': 'always' })).toBe('next');
    expect(await serviceOf('header.test', { 'X-Canary': 'never', Cookie: 'beta=always' })).toBe('web');
    expect(await serviceOf('header.test', { 'X-Canary': 'maybe', Cookie: 'beta=always' })).toBe('next');
    expect(await serviceOf('header.test', { Cookie: 'a=1; beta=always' })).toBe('next');
    expect(await serviceOf('header.test', { Cookie: 'beta=never' })).toBe('web');
    expect(await serviceOf('header.test', { Cookie: 'beta=yes' })).toBe('web');
    expect(await serviceOf('header.test')).toBe('web');
  });

  it("canary traffic gets the main Ingress's annotations; the canary's own are reported as having no effect", async () => {
    const r = await httpRequest({ port: flusso.httpPort, host: 'header.test', path: '/page', headers: { 'X-Canary': 'always' } });
    expect([r.json?.service, r.json?.host, r.json?.path]).toEqual(['next', 'main.internal', '/page']);
    const d = (await flusso.diagnostics()).diagnostics.filter((x) => x.object === `Ingress ${NS}/header-canary`);
    expect(d).toEqual([expect.objectContaining({ code: 'ING_ERR_INGRESS_UNSUPPORTED', message: expect.stringContaining(`annotations ${N}rewrite-target have no effect on a canary Ingress`) })]);
  });

  it('canary-by-header-value: only that value sends to the canary ("always" is a plain value); others go to the weight (100 here)', async () => {
    expect(await serviceOf('value.test', { 'X-Region': 'eu' })).toBe('next');
    expect(await serviceOf('value.test', { 'X-Region': 'us' })).toBe('next');
    expect(await serviceOf('pattern.test', { 'X-Region': 'eu-west' })).toBe('next');
    expect(await serviceOf('pattern.test', { 'X-Region': 'us-east' })).toBe('web');
    expect(await serviceOf('pattern.test', { 'X-Region': 'always' })).toBe('web');
  });

  it('a WebSocket handshake is split the same way (the echo pods refuse it; which Service got it is what counts)', async () => {
    /** upgrade sends a handshake and resolves at the response head: the status and which Services received it. */
    const upgrade = (extra: string): Promise<{ status: number; web: number; next: number }> => {
      const before = { web: web.requests(), next: next.requests() };
      return new Promise((resolve, reject) => {
        const socket = net.connect({ host: '127.0.0.1', port: flusso.httpPort });
        let buf = '';
        socket.on('connect', () => socket.write(`GET /ws HTTP/1.1\r\nHost: header.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${extra}\r\n`));
        socket.on('data', (c: Buffer) => {
          buf += c.toString('latin1');
          if (!buf.includes('\r\n\r\n')) return;
          socket.destroy();
          resolve({ status: statusOf(buf), web: web.requests() - before.web, next: next.requests() - before.next });
        });
        socket.on('error', reject);
      });
    };
    expect(await upgrade('X-Canary: always\r\n')).toMatchObject({ web: 0, next: 1 });
    expect(await upgrade('X-Canary: never\r\nCookie: beta=always\r\n')).toMatchObject({ web: 1, next: 0 });
    expect(await upgrade('Cookie: beta=always\r\n')).toMatchObject({ web: 0, next: 1 });
  });

  it('the explainer says where a request with a given header and cookie goes, and why', async () => {
    const explain = async (query: string): Promise<string[]> => {
      const res = await fetch(`http://127.0.0.1:${flusso.adminPort}/api/v1/explain?host=header.test&path=/page&${query}`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(res.status).toBe(200);
      return ((await res.json()) as { annotations: string[] }).annotations;
    };
    expect(await explain('header=X-Canary:always')).toContain(`this request goes to the canary ${NS}/next:http: its header x-canary is "always"`);
    expect(await explain(`cookie=${encodeURIComponent('beta=never')}`)).toContain(`this request goes to the main backend ${NS}/web:http: its cookie beta is "never"`);
  });

  it('a canary without a main Ingress is a diagnostic and routes nothing', async () => {
    const d = (await flusso.diagnostics()).diagnostics.filter((x) => x.object === `Ingress ${NS}/orphan`);
    expect(d).toEqual([expect.objectContaining({ code: 'ING_ERR_INGRESS_CANARY_WITHOUT_MAIN' })]);
    const r = await httpRequest({ port: flusso.httpPort, host: 'orphan.test', path: '/page' });
    expect(r.status).toBe(404);
  });
});
