/**
 * ingress-nginx external authentication through the built CLI (issue 15 group 6): a real auth
 * service (node:http in this test) decides each request by its Authorization field. Allowed: the
 * backend gets the request, its body, and the auth-response-headers (a client's forged copy
 * removed); 401 and 403 go to the client (401 with the service's challenge, or a 302 to
 * auth-signin with `rd`); any other status, a service that is down or too slow: 500, the backend
 * never asked. The auth service gets ingress-nginx's fields and no body. auth-cache-key keeps
 * answers; a bad auth-url refuses every request (503); a WebSocket upgrade is checked like any
 * request.
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { startEchoPods, type EchoPods } from '../helpers/echo.js';
import { pollUntil, startFlusso, type FlussoProcess } from '../helpers/flusso.js';
import { httpRequest } from '../helpers/http.js';
import { endpointSlice, ingress, ingressClass, manifestDir, service, type K8sObject } from '../helpers/manifests.js';

const NS = 'ea';
const N = 'nginx.ingress.kubernetes.io/';

function authed(name: string, annotations: Record<string, string>, to = 'web'): K8sObject {
  const ing = ingress(NS, name, { host: `${name}.test`, paths: [{ path: '/', service: to, port: 'http' }] });
  (ing.metadata as { annotations?: Record<string, string> }).annotations = annotations;
  return ing;
}

/** What the auth service got: method, target and fields, per request. */
const asked: { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }[] = [];
/** Held auth requests (the slow case): answered when the test says. */
let slowArrived: (() => void) | null = null;
let authService: http.Server;
let web: EchoPods;
let flusso: FlussoProcess;
/** A WebSocket backend: the fields of each upgrade it accepted. */
let wsBackend: http.Server;
const wsUpgrades: http.IncomingHttpHeaders[] = [];

beforeAll(async () => {
  authService = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      asked.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const token = req.headers.authorization ?? '';
      if (req.url === '/slow') {
        slowArrived?.();
        return; // never answered: Flusso's deadline decides
      }
      if (token === 'Bearer cookie') {
        res.writeHead(200, { 'Set-Cookie': 'sess=1; Path=/' });
        res.end();
      } else if (token === 'Bearer cookie-forbidden') {
        res.writeHead(403, { 'Set-Cookie': 'sess=0; Path=/' });
        res.end();
      } else if (token === 'Bearer good') {
        res.writeHead(200, { 'X-User': 'ann', 'X-Email': 'ann@example.test' });
        res.end('ok');
      } else if (token === 'Bearer forbidden') {
        res.writeHead(403);
        res.end();
      } else if (token === 'Bearer nocookie') {
        res.writeHead(401, { 'WWW-Authenticate': 'Bearer realm="test"' });
        res.end();
      } else if (token === 'Bearer broken') {
        res.writeHead(502);
        res.end();
      } else {
        res.writeHead(401, { 'WWW-Authenticate': 'Bearer realm="test"', 'Set-Cookie': 'state=abc; Path=/' });
        res.end();
      }
    });
  });
  await new Promise<void>((resolve) => authService.listen(0, '127.0.0.1', resolve));
  const authPort = (authService.address() as AddressInfo).port;
  web = await startEchoPods('web', ['127.0.0.1'], 0, { namespace: NS, ingress: 'auth' });
  // It also answers plain requests: with its own cookie, and 404 for /missing.
  wsBackend = http.createServer((req, res) => {
    res.writeHead(req.url === '/missing' ? 404 : 200, { 'Set-Cookie': 'backend=1' });
    res.end();
  });
  new WebSocketServer({ server: wsBackend }).on('connection', (_ws, req) => wsUpgrades.push(req.headers));
  await new Promise<void>((resolve) => wsBackend.listen(0, '127.0.0.1', resolve));
  const wsPort = (wsBackend.address() as AddressInfo).port;
  const dir = await manifestDir();
  await dir.write('00-class.yaml', [ingressClass('flusso')]);
  await dir.write('10-web.yaml', [
    service(NS, 'web', [{ name: 'http', port: 80, targetPort: web.port }]),
    endpointSlice(NS, 'web', web.addresses, web.port, { portName: 'http' }),
    service(NS, 'ws', [{ name: 'http', port: 80, targetPort: wsPort }]),
    endpointSlice(NS, 'ws', ['127.0.0.1'], wsPort, { portName: 'http' }),
  ]);
  await dir.write('20-ingresses.yaml', [
    authed('auth', { [`${N}auth-url`]: `http://127.0.0.1:${authPort}/check`, [`${N}auth-response-headers`]: 'X-User, X-Missing' }),
    authed('signin', { [`${N}auth-url`]: `http://127.0.0.1:${authPort}/check`, [`${N}auth-signin`]: 'https://login.example/start' }),
    authed('cached', { [`${N}auth-url`]: `http://127.0.0.1:${authPort}/check`, [`${N}auth-cache-key`]: '$http_authorization', [`${N}auth-cache-duration`]: '200 401 1h' }),
    authed('slow', { [`${N}auth-url`]: `http://127.0.0.1:${authPort}/slow` }),
    authed('down', { [`${N}auth-url`]: 'http://127.0.0.1:1/check' }),
    authed('typo', { [`${N}auth-url`]: 'auth-service/check' }),
    authed('wsauth', { [`${N}auth-url`]: `http://127.0.0.1:${authPort}/check`, [`${N}auth-response-headers`]: 'X-User' }, 'ws'),
    authed('always', { [`${N}auth-url`]: `http://127.0.0.1:${authPort}/check`, [`${N}auth-always-set-cookie`]: 'true' }, 'ws'),
    authed('method', { [`${N}auth-url`]: `http://127.0.0.1:${authPort}/check`, [`${N}auth-method`]: 'GET', [`${N}auth-request-redirect`]: 'https://$host/back' }),
  ]);
  // A short response deadline makes the slow case quick; connect stays generous.
  flusso = await startFlusso({ manifestsDir: dir.dir, workers: 1, args: ['--upstream-response-timeout', '1s'] });
});

afterAll(async () => {
  await flusso?.stop();
  await web?.close();
  wsBackend?.closeAllConnections();
  wsBackend?.close();
  authService?.closeAllConnections();
  await new Promise<void>((resolve) => authService?.close(() => resolve()));
});

const send = (host: string, path: string, token?: string, extra: Record<string, string> = {}, method = 'GET', body?: string) =>
  httpRequest({ port: flusso.httpPort, host, path, method, headers: { ...(token === undefined ? {} : { authorization: token }), ...extra }, ...(body === undefined ? {} : { body }) });

describe('auth-url through the CLI', () => {
  it('lets an allowed request through with the auth-response-headers, a forged copy removed, and asks with ingress-nginx\'s fields, GET and no body', async () => {
    const before = asked.length;
    const r = await send('auth.test', '/p/q?x=1', 'Bearer good', { 'x-missing': 'forged', 'x-user': 'forged' }, 'POST', 'hello body');
    expect(r.status).toBe(200);
    expect(r.json?.headers['X-User']).toEqual(['ann']);
    expect(r.json?.headers['X-Missing']).toBeUndefined();
    expect(r.json?.headers.Authorization).toEqual(['Bearer good']);
    expect(r.json?.bodyLength).toBe(10);
    expect(asked.length).toBe(before + 1);
    const a = asked[before]!;
    // nginx's auth subrequest is a GET whatever the client's method (without auth-method).
    expect([a.method, a.url, a.body]).toEqual(['GET', '/check', '']);
    expect(a.headers).toMatchObject({
      host: '127.0.0.1',
      authorization: 'Bearer good',
      'x-original-url': 'http://auth.test/p/q?x=1',
      'x-original-method': 'POST',
      'x-sent-from': 'nginx-ingress-controller',
      'x-auth-request-redirect': '/p/q?x=1',
      'x-forwarded-for': '127.0.0.1',
    });
    expect(a.headers['content-length']).toBeUndefined();
    expect(a.headers['x-forwarded-proto']).toBeUndefined();
  });

  it('answers 401 with the service\'s challenge, 403, and 500 for any other status, never asking the backend', async () => {
    const before = web.requests();
    const unauthorized = await send('auth.test', '/x');
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.headers['www-authenticate']).toBe('Bearer realm="test"');
    expect((await send('auth.test', '/x', 'Bearer forbidden')).status).toBe(403);
    expect((await send('auth.test', '/x', 'Bearer broken')).status).toBe(500);
    expect(web.requests()).toBe(before);
  });

  it('keeps the connection after a refused request whose body arrived, and the next request on it is checked anew', async () => {
    const socket = net.connect(flusso.httpPort, '127.0.0.1');
    let got = '';
    socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
    const until = (text: string, count: number): Promise<void> =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          if (got.split(text).length - 1 >= count) resolve();
        };
        socket.on('data', check);
        socket.once('close', () => reject(new Error(`closed; got ${got}`)));
        check();
      });
    socket.write('POST /one HTTP/1.1\r\nHost: auth.test\r\nContent-Length: 5\r\n\r\nhello');
    await until('401 Unauthorized\r\n', 1);
    socket.write('GET /two HTTP/1.1\r\nHost: auth.test\r\nAuthorization: Bearer good\r\n\r\n');
    await until('"path":"/two"', 1);
    expect(got).toMatch(/^HTTP\/1\.1 401 Unauthorized\r\n/);
    expect(got).toContain('HTTP/1.1 200 OK\r\n');
    socket.destroy();
  });

  it('redirects a 401 to auth-signin with rd, and passes the service\'s cookie', async () => {
    const r = await send('signin.test', '/deep/page?a=1');
    expect(r.status).toBe(302);
    expect(r.headers.location).toBe('https://login.example/start?rd=http://signin.test%2Fdeep%2Fpage%3Fa%3D1');
    expect(r.headers['set-cookie']).toEqual(['state=abc; Path=/']);
    expect((await send('signin.test', '/x', 'Bearer forbidden')).status).toBe(403);
  });

  it('answers 500 when the auth service is down or too slow, without the backend', async () => {
    const before = web.requests();
    expect((await send('down.test', '/x', 'Bearer good')).status).toBe(500);
    const arrived = new Promise<void>((resolve) => (slowArrived = resolve));
    const slow = send('slow.test', '/x', 'Bearer good');
    await arrived;
    expect((await slow).status).toBe(500);
    expect(web.requests()).toBe(before);
  });

  it('passes the auth service\'s Set-Cookie next to the backend\'s on 2xx/3xx answers, and with auth-always-set-cookie on every one', async () => {
    const ok = await send('wsauth.test', '/x', 'Bearer cookie');
    expect([ok.status, ok.headers['set-cookie']]).toEqual([200, ['backend=1', 'sess=1; Path=/']]);
    const missing = await send('wsauth.test', '/missing', 'Bearer cookie');
    expect([missing.status, missing.headers['set-cookie']]).toEqual([404, ['backend=1']]);
    const always = await send('always.test', '/missing', 'Bearer cookie');
    expect([always.status, always.headers['set-cookie']]).toEqual([404, ['backend=1', 'sess=1; Path=/']]);
    const refused = await send('always.test', '/x', 'Bearer cookie-forbidden');
    expect([refused.status, refused.headers['set-cookie']]).toEqual([403, ['sess=0; Path=/']]);
    expect((await send('wsauth.test', '/x', 'Bearer cookie-forbidden')).headers['set-cookie']).toBeUndefined();
  });

  it('with auth-method, asks with that method, X-Original-URI and the auth-request-redirect', async () => {
    const before = asked.length;
    expect((await send('method.test', '/m?q', 'Bearer good', {}, 'DELETE')).status).toBe(200);
    const a = asked[before]!;
    expect([a.method, a.headers['x-original-method'], a.headers['x-original-uri'], a.headers['x-scheme'], a.headers['x-auth-request-redirect']]).toEqual(['GET', 'DELETE', '/m?q', 'http', 'https://method.test/back']);
  });

  it('with auth-cache-key, asks once per key while the answer is fresh, allowed or not; an answer with Set-Cookie is never kept (nginx proxy_cache)', async () => {
    const before = asked.length;
    for (let i = 0; i < 3; i++) expect((await send('cached.test', `/c${i}`, 'Bearer good')).status).toBe(200);
    expect(asked.length).toBe(before + 1);
    for (let i = 0; i < 3; i++) expect((await send('cached.test', `/c${i}`, 'Bearer nocookie')).status).toBe(401);
    expect(asked.length).toBe(before + 2);
    for (let i = 0; i < 2; i++) expect((await send('cached.test', `/c${i}`, 'Bearer with-cookie')).status).toBe(401);
    expect(asked.length).toBe(before + 4);
  });

  it('a bad auth-url is a diagnostic and refuses every request (503), never letting one through', async () => {
    const d = await pollUntil('the auth-url diagnostic', async () => (await flusso.diagnostics()).diagnostics.find((x) => x.object === `Ingress ${NS}/typo` && x.code === 'ING_ERR_INGRESS_INVALID_ANNOTATION'));
    expect(d.message).toContain(`annotation ${N}auth-url is "auth-service/check", expected an absolute http or https URL`);
    const before = web.requests();
    expect((await send('typo.test', '/x', 'Bearer good')).status).toBe(503);
    expect(web.requests()).toBe(before);
  });

  it('checks a WebSocket upgrade like any request: refused without credentials, opened with them and the auth-response-headers', async () => {
    const upgrade = (token?: string): Promise<number> =>
      new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${flusso.httpPort}/ws`, { headers: { Host: 'wsauth.test', ...(token === undefined ? {} : { Authorization: token }) } });
        ws.on('open', () => {
          ws.terminate();
          resolve(101);
        });
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('error', reject);
      });
    const before = wsUpgrades.length;
    expect(await upgrade()).toBe(401);
    expect(await upgrade('Bearer forbidden')).toBe(403);
    expect(wsUpgrades.length).toBe(before);
    expect(await upgrade('Bearer good')).toBe(101);
    expect(wsUpgrades.slice(before).map((h) => [h['x-user'], h.authorization])).toEqual([['ann', 'Bearer good']]);
  });
});
