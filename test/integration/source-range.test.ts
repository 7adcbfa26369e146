/**
 * Client address lists through the built CLI (issue 15 item 6, docs/annotations.md):
 * allowlist-source-range (and whitelist-source-range) and denylist-source-range on the socket's
 * peer address. Flusso listens dual-stack (`--http-address ::`), so an IPv4 client arrives as an
 * IPv4-mapped IPv6 address and ::1 as IPv6, as on a dual-stack pod. A refused request gets 403
 * and never reaches the backend, a WebSocket upgrade included; the deny list wins over the allow
 * list; a bad entry is one diagnostic naming the Ingress, the annotation and what is allowed, and
 * the rest of that Ingress keeps working.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEchoPods, type EchoPods } from '../helpers/echo.js';
import { startFlusso, type FlussoProcess } from '../helpers/flusso.js';
import { statusOf } from '../helpers/http.js';
import { endpointSlice, ingress, ingressClass, manifestDir, service, type K8sObject } from '../helpers/manifests.js';

const NS = 'acl';
const N = 'nginx.ingress.kubernetes.io/';
const ALLOWED = 'IPv4 or IPv6 addresses or CIDR blocks (such as "10.0.0.0/8, 2001:db8::/32") separated by commas';

/** listed builds Ingress acl/`name` for host `name`.test → web, with `annotations`. */
function listed(name: string, annotations: Record<string, string>): K8sObject {
  const ing = ingress(NS, name, { host: `${name}.test`, paths: [{ path: '/', service: 'web', port: 'http' }] });
  return { ...ing, metadata: { ...(ing.metadata as object), annotations } };
}

let flusso: FlussoProcess;
let web: EchoPods;

/**
 * ask sends one request to `host` from the local address `from` to Flusso at `to`, and returns
 * the status and how many requests the backend received meanwhile. The response head ends the
 * read, so no delay decides anything.
 */
function ask(host: string, from = '127.0.0.1', to = from, extra = ''): Promise<{ status: number; reached: number }> {
  const before = web.requests();
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: to, port: flusso.httpPort, localAddress: from });
    const chunks: Buffer[] = [];
    socket.on('connect', () => socket.write(`GET /page HTTP/1.1\r\nHost: ${host}\r\n${extra}Connection: close\r\n\r\n`));
    const done = (): void => {
      socket.destroy();
      resolve({ status: statusOf(Buffer.concat(chunks).toString('latin1')), reached: web.requests() - before });
    };
    // The response head is the answer (an upgrade's may keep the connection open).
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      if (Buffer.concat(chunks).includes('\r\n\r\n')) done();
    });
    socket.on('error', reject);
    socket.on('close', done);
  });
}
const UPGRADE = 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';

beforeAll(async () => {
  web = await startEchoPods('web', ['127.0.0.1'], 0, { namespace: NS, ingress: 'acl' });
  const dir = await manifestDir();
  await dir.write('00.yaml', [
    ingressClass('flusso'),
    service(NS, 'web', [{ name: 'http', port: 80, targetPort: web.port }]),
    endpointSlice(NS, 'web', web.addresses, web.port, { portName: 'http' }),
    listed('loopback', { [`${N}allowlist-source-range`]: '127.0.0.1/32, ::1' }),
    listed('office', { [`${N}allowlist-source-range`]: '10.0.0.0/8, 2001:db8::/32' }),
    listed('legacy', { [`${N}whitelist-source-range`]: '192.168.0.0/16' }),
    listed('blocked', { [`${N}denylist-source-range`]: '127.0.0.1, ::1' }),
    listed('both', { [`${N}allowlist-source-range`]: '127.0.0.0/8, ::1', [`${N}denylist-source-range`]: '127.0.0.1' }),
    listed('open', {}),
    listed('moved', { [`${N}denylist-source-range`]: '127.0.0.1, ::1', [`${N}permanent-redirect`]: 'https://elsewhere.example/' }),
    listed('typo', { [`${N}allowlist-source-range`]: '127.0.0.0/33, 127.0.0.2', [`${N}upstream-vhost`]: 'in.typo' }),
  ]);
  flusso = await startFlusso({ manifestsDir: dir.dir, workers: 1, args: ['--http-address', '::'] });
  await flusso.waitForGeneration(1);
});

afterAll(async () => {
  await flusso?.stop();
  await web?.close();
});

describe('allowlist-source-range and denylist-source-range through the CLI', () => {
  it('a client in the allow list reaches the backend: IPv4 (as IPv4-mapped IPv6) and IPv6', async () => {
    expect(await ask('loopback.test')).toEqual({ status: 200, reached: 1 });
    expect(await ask('loopback.test', '::1')).toEqual({ status: 200, reached: 1 });
  });

  it('a client outside the allow list gets 403 and the backend sees nothing', async () => {
    expect(await ask('office.test')).toEqual({ status: 403, reached: 0 });
    expect(await ask('office.test', '::1')).toEqual({ status: 403, reached: 0 });
    expect(await ask('legacy.test')).toEqual({ status: 403, reached: 0 });
  });

  it('the deny list refuses its addresses only', async () => {
    expect(await ask('blocked.test')).toEqual({ status: 403, reached: 0 });
    expect(await ask('blocked.test', '::1')).toEqual({ status: 403, reached: 0 });
    expect(await ask('blocked.test', '127.0.0.2')).toEqual({ status: 200, reached: 1 });
  });

  it('the deny list wins over the allow list', async () => {
    expect(await ask('both.test', '127.0.0.1')).toEqual({ status: 403, reached: 0 });
    expect(await ask('both.test', '127.0.0.3')).toEqual({ status: 200, reached: 1 });
    expect(await ask('both.test', '::1')).toEqual({ status: 200, reached: 1 });
  });

  it('a WebSocket upgrade from a refused client gets 403 and the backend sees nothing', async () => {
    expect(await ask('blocked.test', '127.0.0.1', '127.0.0.1', UPGRADE)).toEqual({ status: 403, reached: 0 });
    // The same upgrade on a route without lists goes on to the backend (an HTTP echo, which refuses it).
    const open = await ask('open.test', '127.0.0.1', '127.0.0.1', UPGRADE);
    expect(open.status).not.toBe(403);
    expect(open.reached).toBe(1);
  });

  it('a redirect answers before the address lists, for a plain request and an upgrade alike (nginx: rewrite phase before access)', async () => {
    expect(await ask('moved.test', '127.0.0.1')).toEqual({ status: 301, reached: 0 });
    expect(await ask('moved.test', '127.0.0.1', '127.0.0.1', UPGRADE)).toEqual({ status: 301, reached: 0 });
  });

  it('a bad entry is one diagnostic naming the Ingress and what is allowed; the rest of the Ingress works', async () => {
    const d = (await flusso.diagnostics()).diagnostics.filter((x) => x.object === 'Ingress acl/typo');
    expect(d).toEqual([expect.objectContaining({ code: 'ING_ERR_INGRESS_INVALID_ANNOTATION', message: `annotation ${N}allowlist-source-range is "127.0.0.0/33", expected ${ALLOWED}; that entry is skipped` })]);
    expect(await ask('typo.test', '127.0.0.2')).toEqual({ status: 200, reached: 1 });
    expect(await ask('typo.test', '127.0.0.1')).toEqual({ status: 403, reached: 0 });
    // No other Ingress has a diagnostic of its own.
    expect((await flusso.diagnostics()).diagnostics.filter((x) => x.object.startsWith('Ingress acl/') && x.object !== 'Ingress acl/typo')).toEqual([]);
  });
});
