/**
 * custom-http-errors through the built CLI (issue 15 item 4, docs/annotations.md "Error pages"):
 * an upstream answer with a listed code is replaced by the Ingress's default-backend's answer to
 * the request ingress-nginx's `@custom_…` location makes (same method on `/`, X-Code, X-Format,
 * X-Original-URI, X-Namespace, X-Ingress-Name, X-Service-Name, X-Service-Port, X-Request-ID),
 * with the error backend's own status; other codes pass; HEAD; a large intercepted body is read
 * off and the route keeps working; no error backend endpoint gives 503; without a default-backend
 * or with disable-proxy-intercept-errors the upstream's answer passes.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFlusso, type FlussoProcess } from '../helpers/flusso.js';
import { httpRequest } from '../helpers/http.js';
import { endpointSlice, ingress, ingressClass, manifestDir, service, type K8sObject } from '../helpers/manifests.js';

const NS = 'errs';
const N = 'nginx.ingress.kubernetes.io/';

let flusso: FlussoProcess;
let app: Server;
let pages: Server;
/** What the error backend received, latest last. */
const seen: { method: string; url: string; headers: IncomingMessage['headers'] }[] = [];

/** listen starts a node:http server on 127.0.0.1 and resolves with its port. */
function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function annotated(name: string, annotations: Record<string, string>): K8sObject {
  const ing = ingress(NS, name, { host: `${name}.test`, paths: [{ path: '/', service: 'app', port: 'http' }] });
  return { ...ing, metadata: { ...(ing.metadata as object), annotations } };
}

beforeAll(async () => {
  // The app answers /status/NNN with that status and a body naming it (/big: a 1 MiB 503).
  app = createServer((req, res) => {
    if (req.url === '/big') {
      res.writeHead(503, { 'content-type': 'text/plain', 'content-length': String(1024 * 1024) });
      res.end(Buffer.alloc(1024 * 1024, 0x61));
      return;
    }
    const code = Number(/^\/status\/(\d{3})/.exec(req.url ?? '')?.[1] ?? 200);
    res.writeHead(code, { 'content-type': 'text/plain', 'x-from': 'app' });
    res.end(`app ${code}`);
  });
  // The error pages answer with the code they are asked for, except 404, which they soften to 200.
  pages = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const code = Number(req.headers['x-code']);
    res.writeHead(code === 404 ? 200 : code, { 'content-type': 'text/plain', 'x-from': 'pages' });
    res.end(`page ${code}`);
  });
  const [appPort, pagesPort] = await Promise.all([listen(app), listen(pages)]);
  const dir = await manifestDir();
  await dir.write('00.yaml', [
    ingressClass('flusso'),
    service(NS, 'app', [{ name: 'http', port: 80, targetPort: appPort }]),
    endpointSlice(NS, 'app', ['127.0.0.1'], appPort, { portName: 'http' }),
    service(NS, 'pages', [{ name: 'http', port: 8080, targetPort: pagesPort }]),
    endpointSlice(NS, 'pages', ['127.0.0.1'], pagesPort, { portName: 'http' }),
    service(NS, 'empty', [{ name: 'http', port: 8080, targetPort: 1 }]),
    annotated('shop', { [`${N}custom-http-errors`]: '404, 503', [`${N}default-backend`]: 'pages' }),
    annotated('dark', { [`${N}custom-http-errors`]: '503', [`${N}default-backend`]: 'empty' }),
    annotated('lone', { [`${N}custom-http-errors`]: '503' }),
    annotated('bad', { [`${N}custom-http-errors`]: '503,700', [`${N}default-backend`]: 'pages' }),
    annotated('off', { [`${N}custom-http-errors`]: '503', [`${N}default-backend`]: 'pages', [`${N}disable-proxy-intercept-errors`]: 'true' }),
  ]);
  flusso = await startFlusso({ manifestsDir: dir.dir, workers: 1 });
  await flusso.waitForGeneration(1);
});

afterAll(async () => {
  await flusso?.stop();
  await Promise.all([new Promise((r) => app?.close(r)), new Promise((r) => pages?.close(r))]);
});

const ask = (host: string, path: string, method = 'GET', headers: Record<string, string> = {}) => httpRequest({ port: flusso.httpPort, host, path, method, headers });

describe('custom-http-errors through the CLI', () => {
  it('a listed code is replaced by the error backend\'s answer, which gets the X-* fields of ingress-nginx', async () => {
    const r = await ask('shop.test', '/status/503?q=1', 'GET', { Accept: 'application/json', 'X-Request-ID': 'req-1' });
    expect([r.status, r.body, r.headers['x-from']]).toEqual([503, 'page 503', 'pages']);
    // X-Service-Port is the Ingress backend's port as written (a name here), as ingress-nginx's $service_port.
    const got = seen.at(-1);
    expect([got?.method, got?.url]).toEqual(['GET', '/?q=1']); // nginx's rewrite to / keeps the query
    expect(got?.headers).toMatchObject({
      'x-code': '503', 'x-format': 'application/json', 'x-original-uri': '/status/503?q=1', 'x-namespace': NS, 'x-ingress-name': 'shop',
      'x-service-name': 'app', 'x-service-port': 'http', 'x-request-id': 'req-1', 'x-forwarded-for': '127.0.0.1', host: 'shop.test',
    });
  });

  it('the error backend\'s status is the client\'s, and a code not listed passes untouched', async () => {
    const soft = await ask('shop.test', '/status/404');
    expect([soft.status, soft.body]).toEqual([200, 'page 404']);
    const passed = await ask('shop.test', '/status/500');
    expect([passed.status, passed.body, passed.headers['x-from']]).toEqual([500, 'app 500', 'app']);
  });

  it('HEAD goes to the error backend as HEAD, and the client gets its status without a body', async () => {
    const r = await ask('shop.test', '/status/503', 'HEAD');
    expect([r.status, r.body, seen.at(-1)?.method]).toEqual([503, '', 'HEAD']);
  });

  it('a large intercepted body is read off: the error page arrives, and the route goes on answering', async () => {
    const r = await ask('shop.test', '/big');
    expect([r.status, r.body]).toEqual([503, 'page 503']);
    for (let i = 0; i < 3; i++) expect((await ask('shop.test', `/status/20${i}`)).status).toBe(200 + i);
  });

  it('an error backend without an endpoint gives 503 of Flusso\'s own', async () => {
    const r = await ask('dark.test', '/status/503');
    expect(r.status).toBe(503);
    expect(r.body).not.toContain('app 503');
  });

  it('without a default-backend, with a bad code, or with disable-proxy-intercept-errors, the upstream\'s answer passes', async () => {
    for (const host of ['lone.test', 'bad.test', 'off.test']) {
      const r = await ask(host, '/status/503');
      expect([host, r.status, r.body]).toEqual([host, 503, 'app 503']);
    }
    const messages = (await flusso.diagnostics()).diagnostics.filter((d) => d.message.includes('custom-http-errors')).map((d) => `${d.object}: ${d.message}`);
    expect(messages).toEqual([
      expect.stringMatching(/errs\/bad.*"503,700": 700 is outside 300–599/),
      expect.stringMatching(/errs\/lone.*needs a valid nginx\.ingress\.kubernetes\.io\/default-backend on the same Ingress/),
    ]);
  });
});
