/**
 * ingress-nginx annotations through the built CLI, where the nginx differential cannot look
 * (issue 15): the route's CORS fields replace the upstream's own, a client's forged
 * X-Forwarded-Prefix never reaches the backend on a route that sets it, rewrite and
 * upstream-vhost combine, and a bad annotation value is one diagnostic while the rest of the
 * Ingress keeps serving, as in ingress-nginx.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startRawUpstream, type RawUpstream } from '../helpers/echo.js';
import { startFlusso, type FlussoProcess } from '../helpers/flusso.js';
import { rawRequest, statusOf } from '../helpers/http.js';
import { endpointSlice, ingress, ingressClass, manifestDir, service, type K8sObject } from '../helpers/manifests.js';

const N = 'nginx.ingress.kubernetes.io/';
let backend: RawUpstream;
let flusso: FlussoProcess;
const heads: string[] = [];

/** answer records the request head and answers with its own CORS fields, as some applications do. */
function answer(socket: Socket): void {
  let buf = '';
  socket.on('data', (d: Buffer) => {
    buf += d.toString('latin1');
    if (!buf.includes('\r\n\r\n')) return;
    heads.push(buf.slice(0, buf.indexOf('\r\n\r\n')));
    socket.end('HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: https://upstream.example\r\nAccess-Control-Max-Age: 1\r\nX-App: 1\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n');
  });
}

/** annotated builds an Ingress `web/<name>` for `host` → the backend, with annotations. */
function annotated(name: string, host: string, path: string, annotations: Record<string, string>, pathType: 'Prefix' | 'ImplementationSpecific' = 'Prefix'): K8sObject {
  const ing = ingress('web', name, { host, paths: [{ path, pathType, service: 'backend', port: 'http' }] });
  return { ...ing, metadata: { ...(ing.metadata as object), annotations } };
}

/** send sends one request and returns the response head lines and the backend's request head ('' when none). */
async function send(host: string, target: string, fields = '', method = 'GET'): Promise<{ status: number; head: string[]; upstream: string }> {
  const before = heads.length;
  const { raw } = await rawRequest(flusso.httpPort, `${method} ${target} HTTP/1.1\r\nHost: ${host}\r\n${fields}Connection: close\r\n\r\n`, { idleMs: 2000 });
  return { status: statusOf(raw), head: raw.slice(0, raw.indexOf('\r\n\r\n')).split('\r\n'), upstream: heads[before] ?? '' };
}

beforeAll(async () => {
  backend = await startRawUpstream(answer);
  const manifests = await manifestDir();
  await manifests.write('00-web.yaml', [
    ingressClass('flusso'),
    service('web', 'backend', [{ name: 'http', port: 80, targetPort: backend.port }]),
    endpointSlice('web', 'backend', ['127.0.0.1'], backend.port, { portName: 'http' }),
    annotated('cors', 'cors.test', '/', { [`${N}enable-cors`]: 'true', [`${N}cors-allow-origin`]: 'https://app.example' }),
    annotated('rewrite', 'rw.test', '/api(/|$)(.*)', { [`${N}rewrite-target`]: '/v2/$2', [`${N}x-forwarded-prefix`]: '/api', [`${N}upstream-vhost`]: 'internal.svc' }, 'ImplementationSpecific'),
    annotated('bad', 'bad.test', '/', { [`${N}permanent-redirect`]: 'not a url', [`${N}upstream-vhost`]: 'ok.internal' }),
    annotated('moved', 'moved.test', '/', { [`${N}permanent-redirect`]: 'https://new.example$request_uri' }),
  ]);
  flusso = await startFlusso({ manifestsDir: manifests.dir, workers: 1 });
  await flusso.waitForGeneration(1);
});

afterAll(async () => {
  await flusso?.stop();
  await backend?.close();
});

describe('ingress-nginx annotations on the proxy path', () => {
  it("the route's CORS fields replace the upstream's, once each; the rest of the upstream's head stays", async () => {
    const r = await send('cors.test', '/x', 'Origin: https://app.example\r\n');
    expect(r.status).toBe(200);
    expect(r.head.filter((l) => /^access-control-allow-origin:/i.test(l))).toEqual(['Access-Control-Allow-Origin: https://app.example']);
    expect(r.head.filter((l) => /^access-control-max-age:/i.test(l))).toEqual(['Access-Control-Max-Age: 1728000']);
    expect(r.head).toContain('X-App: 1');
    // Another origin: no CORS of Flusso's, the upstream's fields pass as they are (as ingress-nginx).
    const other = await send('cors.test', '/x', 'Origin: https://evil.example\r\n');
    expect(other.head.filter((l) => /^access-control-allow-origin:/i.test(l))).toEqual(['Access-Control-Allow-Origin: https://upstream.example']);
  });

  it('a preflight from the allowed origin never reaches the backend', async () => {
    const r = await send('cors.test', '/x', 'Origin: https://app.example\r\nAccess-Control-Request-Method: PUT\r\n', 'OPTIONS');
    expect(r.status).toBe(204);
    expect(r.upstream).toBe('');
  });

  it('rewrite, X-Forwarded-Prefix and upstream-vhost together; a forged X-Forwarded-Prefix is replaced', async () => {
    const r = await send('rw.test', '/API/users/7?full=1', 'X-Forwarded-Prefix: /forged\r\n');
    expect(r.status).toBe(200);
    const lines = r.upstream.split('\r\n');
    expect(lines[0]).toBe('GET /v2/users/7?full=1 HTTP/1.1');
    expect(lines.filter((l) => /^host:/i.test(l))).toEqual(['host: internal.svc']);
    expect(lines.filter((l) => /^x-forwarded-prefix:/i.test(l))).toEqual(['x-forwarded-prefix: /api']);
    expect(lines.filter((l) => /^x-forwarded-host:/i.test(l))).toEqual(['x-forwarded-host: rw.test']);
  });

  it('a WebSocket handshake is rewritten like any request, and a redirect route answers it', async () => {
    const upgrade = 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n';
    const before = heads.length;
    // The backend answers 200, not 101: the handshake fails there, after Flusso sent it.
    await rawRequest(flusso.httpPort, `GET /api/chat?room=1 HTTP/1.1\r\nHost: rw.test\r\n${upgrade}\r\n`, { idleMs: 2000 });
    const lines = (heads[before] ?? '').split('\r\n');
    expect(lines[0]).toBe('GET /v2/chat?room=1 HTTP/1.1');
    expect(lines.filter((l) => /^(host|x-forwarded-prefix):/i.test(l)).map((l) => l.toLowerCase()).sort()).toEqual(['host: internal.svc', 'x-forwarded-prefix: /api']);
    const { raw } = await rawRequest(flusso.httpPort, `GET /room/1 HTTP/1.1\r\nHost: moved.test\r\n${upgrade}\r\n`, { idleMs: 2000 });
    expect(statusOf(raw)).toBe(301);
    expect(raw).toContain('Location: https://new.example/room/1\r\n');
    expect(heads.length).toBe(before + 1);
  });

  it('a HEAD to a redirect route gets the redirect head and no body, so the next response on the connection is intact', async () => {
    // One connection, the second request sent once the first answer is in (Flusso closes a
    // connection that pipelines behind an answer of its own: handler.ts `later`).
    const socket = connect(flusso.httpPort, '127.0.0.1');
    onTestFinished(() => void socket.destroy());
    let raw = '';
    const until = (done: () => boolean): Promise<void> =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          if (!done()) return;
          socket.off('data', onData);
          resolve();
        };
        const onData = (d: Buffer): void => {
          raw += d.toString('latin1');
          check();
        };
        socket.on('data', onData);
        socket.once('error', reject);
        check();
      });
    socket.write('HEAD /a HTTP/1.1\r\nHost: moved.test\r\n\r\n');
    await until(() => raw.includes('\r\n\r\n'));
    socket.write('GET /b HTTP/1.1\r\nHost: moved.test\r\nConnection: close\r\n\r\n');
    await new Promise((resolve) => socket.on('close', resolve).on('data', (d: Buffer) => (raw += d.toString('latin1'))));
    const responses = raw.split(/(?=HTTP\/1\.1 )/);
    expect(responses.map((r) => r.split('\r\n')[0])).toEqual(['HTTP/1.1 301 Moved Permanently', 'HTTP/1.1 301 Moved Permanently']);
    expect(responses[0]?.endsWith('\r\n\r\n')).toBe(true);
    expect(responses[0]).toContain('Content-Length: 22\r\n');
    expect(responses[1]).toContain('Location: https://new.example/b\r\n');
  });

  it('a bad annotation value is one diagnostic naming the Ingress and what is allowed; the rest of the Ingress serves', async () => {
    const d = (await flusso.diagnostics()).diagnostics.filter((x) => x.code === 'ING_ERR_INGRESS_INVALID_ANNOTATION');
    expect(d).toEqual([expect.objectContaining({ object: 'Ingress web/bad', message: expect.stringContaining(`${N}permanent-redirect is "not a url", expected an absolute http or https URL`) })]);
    const r = await send('bad.test', '/page');
    expect(r.status).toBe(200);
    expect(r.upstream.split('\r\n').filter((l) => /^host:/i.test(l))).toEqual(['host: ok.internal']);
  });
});
