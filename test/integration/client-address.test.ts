/**
 * The client address and trusted proxies through the built CLI (docs/client-address.md):
 * --use-forwarded-headers with --proxy-real-ip-cidr (the X-Forwarded-For list walked from the
 * right past trusted addresses, as nginx's realip module with real_ip_recursive), X-Forwarded-Proto
 * from a trusted peer deciding the HTTPS redirect, --use-proxy-protocol (v2 only) with
 * --compute-full-forwarded-for. Loopback gives two peers: 127.0.0.1 is the trusted proxy,
 * 127.0.0.2 an untrusted client. What the backend received (the echo's JSON) and what the
 * address lists decided are asserted; the same address feeds the rate limits and the logs.
 */
import { once } from 'node:events';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEchoPods, type EchoPods } from '../helpers/echo.js';
import { startFlusso, type FlussoProcess } from '../helpers/flusso.js';
import { endpointSlice, ingress, ingressClass, manifestDir, service, type K8sObject } from '../helpers/manifests.js';
import { proxyV2 } from '../helpers/raw-http.js';

const NS = 'trust';
const N = 'nginx.ingress.kubernetes.io/';

function routed(name: string, annotations: Record<string, string> = {}): K8sObject {
  const ing = ingress(NS, name, { host: `${name}.test`, paths: [{ path: '/', service: 'web', port: 'http' }] });
  return { ...ing, metadata: { ...(ing.metadata as object), annotations } };
}

let forwarded: FlussoProcess;
let proxied: FlussoProcess;
let web: EchoPods;

interface Answer {
  readonly status: number;
  readonly location: string | undefined;
  /** The backend's view of the request's fields (lower-case names), when it was reached. */
  readonly fields: Record<string, string>;
}

/** send writes `prefix` and then one request to `host` from local address `from`, and reads the whole answer. */
function send(port: number, host: string, opts: { from?: string; fields?: string; prefix?: Buffer } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress: opts.from ?? '127.0.0.1' });
    const chunks: Buffer[] = [];
    socket.on('connect', () => {
      if (opts.prefix !== undefined) socket.write(opts.prefix);
      socket.write(`GET /page HTTP/1.1\r\nHost: ${host}\r\n${opts.fields ?? ''}Connection: close\r\n\r\n`);
    });
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      const head = text.slice(0, split);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      const location = /\r\nlocation: ([^\r]*)/i.exec(head)?.[1];
      const fields: Record<string, string> = {};
      if (status === 200) {
        const payload = JSON.parse(text.slice(split + 4)) as { headers: Record<string, string[]> };
        for (const [k, v] of Object.entries(payload.headers)) fields[k.toLowerCase()] = v.join(', ');
      }
      resolve({ status, location, fields });
    });
  });
}

/**
 * sendTls connects from `from`, writes `prefix` in the clear, then speaks TLS (ALPN `alpn`) and
 * sends one GET to `host`: the backend's view of X-Real-IP and X-Forwarded-For, or the failure.
 */
async function sendTls(port: number, host: string, opts: { from?: string; prefix?: Buffer; alpn: 'http/1.1' | 'h2' }): Promise<{ status: number; realIp: string; forwardedFor: string } | { failed: string }> {
  const raw = net.connect({ host: '127.0.0.1', port, localAddress: opts.from ?? '127.0.0.1' });
  await new Promise<void>((resolve, reject) => raw.once('connect', resolve).once('error', reject));
  if (opts.prefix !== undefined) raw.write(opts.prefix);
  const secure = tls.connect({ socket: raw, servername: host, rejectUnauthorized: false, ALPNProtocols: [opts.alpn] });
  const handshake = await new Promise<string | null>((resolve) => {
    secure.once('secureConnect', () => resolve(null));
    secure.once('error', (err) => resolve(err.message));
    secure.once('close', () => resolve('closed before the TLS handshake ended'));
  });
  if (handshake !== null) {
    secure.destroy();
    return { failed: handshake };
  }
  const body = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    if (opts.alpn === 'h2') {
      const session = http2.connect(`https://${host}`, { createConnection: () => secure });
      const req = session.request({ ':path': '/page', ':authority': host });
      let text = '';
      let status = 0;
      req.on('response', (h) => (status = Number(h[':status'])));
      req.setEncoding('utf8');
      req.on('data', (c: string) => (text += c));
      req.on('end', () => {
        session.close();
        resolve({ status, text });
      });
      req.on('error', reject);
      return;
    }
    const chunks: Buffer[] = [];
    secure.on('data', (c: Buffer) => chunks.push(c));
    secure.on('error', reject);
    secure.on('end', () => {
      const t = Buffer.concat(chunks).toString('latin1');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(t)?.[1] ?? 0), text: t.slice(t.indexOf('\r\n\r\n') + 4) });
    });
    secure.write(`GET /page HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  });
  const fields: Record<string, string> = {};
  if (body.status === 200) for (const [k, v] of Object.entries((JSON.parse(body.text) as { headers: Record<string, string[]> }).headers)) fields[k.toLowerCase()] = v.join(', ');
  return { status: body.status, realIp: fields['x-real-ip'] ?? '', forwardedFor: fields['x-forwarded-for'] ?? '' };
}

/** upgradeTls sends a WebSocket upgrade for `host` over TLS after the PROXY header `prefix`, from `from`, and returns the answer's status. */
async function upgradeTls(port: number, host: string, from: string, prefix: Buffer): Promise<number> {
  const raw = net.connect({ host: '127.0.0.1', port, localAddress: from });
  await new Promise<void>((resolve, reject) => raw.once('connect', resolve).once('error', reject));
  raw.write(prefix);
  const secure = tls.connect({ socket: raw, servername: host, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
  await once(secure, 'secureConnect');
  secure.write(`GET /page HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
  let text = '';
  while (!text.includes('\r\n\r\n')) text += ((await once(secure, 'data')) as [Buffer])[0].toString('latin1');
  secure.destroy();
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
}

beforeAll(async () => {
  web = await startEchoPods('web', ['127.0.0.1'], 0, { namespace: NS, ingress: 'open' });
  const dir = await manifestDir();
  await dir.write('00.yaml', [
    ingressClass('flusso'),
    service(NS, 'web', [{ name: 'http', port: 80, targetPort: web.port }]),
    endpointSlice(NS, 'web', web.addresses, web.port, { portName: 'http' }),
    routed('open'),
    routed('office', { [`${N}allowlist-source-range`]: '203.0.113.0/24' }),
    routed('secure', { [`${N}force-ssl-redirect`]: 'true' }),
  ]);
  [forwarded, proxied] = await Promise.all([
    startFlusso({ manifestsDir: dir.dir, workers: 1, args: ['--use-forwarded-headers', 'true', '--proxy-real-ip-cidr', '127.0.0.1/32'] }),
    startFlusso({ manifestsDir: dir.dir, workers: 1, args: ['--use-proxy-protocol', 'true', '--proxy-real-ip-cidr', '127.0.0.1', '--compute-full-forwarded-for', 'true'] }),
  ]);
  await Promise.all([forwarded.waitForGeneration(1), proxied.waitForGeneration(1)]);
});

afterAll(async () => {
  await Promise.all([forwarded?.stop(), proxied?.stop()]);
  await web?.close();
});

describe('--use-forwarded-headers with --proxy-real-ip-cidr', () => {
  it('a trusted peer names the client: X-Real-IP and X-Forwarded-For carry it, the allow list admits it', async () => {
    const a = await send(forwarded.httpPort, 'open.test', { fields: 'X-Forwarded-For: 203.0.113.7\r\n' });
    expect([a.status, a.fields['x-real-ip'], a.fields['x-forwarded-for'], a.fields['x-original-forwarded-for']]).toEqual([200, '203.0.113.7', '203.0.113.7', '203.0.113.7']);
    expect((await send(forwarded.httpPort, 'office.test', { fields: 'X-Forwarded-For: 203.0.113.7\r\n' })).status).toBe(200);
  });

  it('an untrusted peer cannot: its own address is the client, and the allow list refuses it', async () => {
    const a = await send(forwarded.httpPort, 'open.test', { from: '127.0.0.2', fields: 'X-Forwarded-For: 203.0.113.7\r\n' });
    expect([a.status, a.fields['x-real-ip'], a.fields['x-forwarded-for']]).toEqual([200, '127.0.0.2', '127.0.0.2']);
    expect((await send(forwarded.httpPort, 'office.test', { from: '127.0.0.2', fields: 'X-Forwarded-For: 203.0.113.7\r\n' })).status).toBe(403);
  });

  it('the list is walked from the right past trusted addresses; an entry that is no address stops the walk', async () => {
    const a = await send(forwarded.httpPort, 'open.test', { fields: 'X-Forwarded-For: 198.51.100.1, 203.0.113.7\r\nX-Forwarded-For: 127.0.0.1:8080\r\n' });
    expect(a.fields['x-real-ip']).toBe('203.0.113.7');
    const b = await send(forwarded.httpPort, 'open.test', { fields: 'X-Forwarded-For: 198.51.100.1, not-an-address\r\n' });
    expect(b.fields['x-real-ip']).toBe('127.0.0.1');
  });

  it('a trusted X-Forwarded-Proto: https is passed on and answers the HTTPS redirect; an untrusted one is not', async () => {
    const trusted = await send(forwarded.httpPort, 'secure.test', { fields: 'X-Forwarded-Proto: https\r\nX-Forwarded-Port: 443\r\n' });
    expect([trusted.status, trusted.fields['x-forwarded-proto'], trusted.fields['x-forwarded-port']]).toEqual([200, 'https', '443']);
    const untrusted = await send(forwarded.httpPort, 'secure.test', { from: '127.0.0.2', fields: 'X-Forwarded-Proto: https\r\n' });
    expect([untrusted.status, untrusted.location]).toEqual([308, 'https://secure.test/page']);
  });
});

describe('--use-proxy-protocol (v2) with --compute-full-forwarded-for', () => {
  it('a trusted peer\'s PROXY header names the client; X-Forwarded-For is that address, the client\'s list goes as X-Original-Forwarded-For', async () => {
    const a = await send(proxied.httpPort, 'open.test', { prefix: proxyV2('203.0.113.9'), fields: 'X-Forwarded-For: 192.0.2.1\r\n' });
    // compute-full-forwarded-for builds the list only with use-forwarded-headers (ingress-nginx's template): the client alone.
    expect([a.status, a.fields['x-real-ip'], a.fields['x-forwarded-for'], a.fields['x-original-forwarded-for']]).toEqual([200, '203.0.113.9', '203.0.113.9', '192.0.2.1']);
    expect((await send(proxied.httpPort, 'office.test', { prefix: proxyV2('203.0.113.9') })).status).toBe(200);
  });

  it('an untrusted peer\'s PROXY header does not: the socket\'s address stays the client', async () => {
    const a = await send(proxied.httpPort, 'open.test', { from: '127.0.0.2', prefix: proxyV2('203.0.113.9') });
    expect([a.status, a.fields['x-real-ip']]).toEqual([200, '127.0.0.2']);
    expect((await send(proxied.httpPort, 'office.test', { from: '127.0.0.2', prefix: proxyV2('203.0.113.9') })).status).toBe(403);
  });

  it('a connection without a PROXY header gets 400; a v1 line, which this uWS build does not read, 505; neither reaches a backend', async () => {
    const before = web.requests();
    expect((await send(proxied.httpPort, 'open.test')).status).toBe(400);
    expect((await send(proxied.httpPort, 'open.test', { prefix: Buffer.from('PROXY TCP4 203.0.113.9 127.0.0.1 40000 80\r\n') })).status).toBe(505);
    expect(web.requests()).toBe(before);
  });

  it('on the HTTPS port the header comes before TLS, over HTTP/1.1 and HTTP/2; only a trusted peer\'s names the client', async () => {
    for (const alpn of ['http/1.1', 'h2'] as const) {
      expect([alpn, await sendTls(proxied.httpsPort, 'open.test', { prefix: proxyV2('203.0.113.9'), alpn })]).toEqual([alpn, { status: 200, realIp: '203.0.113.9', forwardedFor: '203.0.113.9' }]);
      expect([alpn, await sendTls(proxied.httpsPort, 'open.test', { from: '127.0.0.2', prefix: proxyV2('203.0.113.9'), alpn })]).toEqual([alpn, { status: 200, realIp: '127.0.0.2', forwardedFor: '127.0.0.2' }]);
    }
  });

  it('on the HTTPS port a WebSocket upgrade is judged by the same address: the trusted peer\'s header admits it to the allow-listed route, the untrusted peer\'s does not', async () => {
    const before = web.requests();
    expect(await upgradeTls(proxied.httpsPort, 'office.test', '127.0.0.2', proxyV2('203.0.113.9'))).toBe(403);
    expect(web.requests()).toBe(before);
    // Admitted, the upgrade goes on to the backend (an HTTP echo, which refuses it).
    expect(await upgradeTls(proxied.httpsPort, 'office.test', '127.0.0.1', proxyV2('203.0.113.9'))).not.toBe(403);
    expect(web.requests()).toBe(before + 1);
  });

  it('on the HTTPS port a v1 line (an AWS Classic Load Balancer\'s) names the client as v2 does, from a trusted peer only', async () => {
    const v1 = (address: string): Buffer => Buffer.from(`PROXY TCP4 ${address} 127.0.0.1 40000 443\r\n`);
    for (const alpn of ['http/1.1', 'h2'] as const) {
      expect([alpn, await sendTls(proxied.httpsPort, 'open.test', { prefix: v1('203.0.113.9'), alpn })]).toEqual([alpn, { status: 200, realIp: '203.0.113.9', forwardedFor: '203.0.113.9' }]);
      expect([alpn, await sendTls(proxied.httpsPort, 'open.test', { from: '127.0.0.2', prefix: v1('203.0.113.9'), alpn })]).toEqual([alpn, { status: 200, realIp: '127.0.0.2', forwardedFor: '127.0.0.2' }]);
    }
    const v6 = Buffer.from('PROXY TCP6 2001:db8::9 ::1 40000 443\r\n');
    expect(await sendTls(proxied.httpsPort, 'open.test', { prefix: v6, alpn: 'http/1.1' })).toEqual({ status: 200, realIp: '2001:db8::9', forwardedFor: '2001:db8::9' });
  });

  it('on the HTTPS port a connection without a PROXY header, or with a broken v1 line, is closed before TLS and reaches no backend', async () => {
    const before = web.requests();
    expect(await sendTls(proxied.httpsPort, 'open.test', { alpn: 'http/1.1' })).toHaveProperty('failed');
    expect(await sendTls(proxied.httpsPort, 'open.test', { prefix: Buffer.from('PROXY TCP4 203.0.113.9 ::1 40000 443\r\n'), alpn: 'http/1.1' })).toHaveProperty('failed');
    expect(web.requests()).toBe(before);
    // The port still serves the next connection.
    expect(await sendTls(proxied.httpsPort, 'open.test', { prefix: proxyV2('203.0.113.9'), alpn: 'http/1.1' })).toMatchObject({ status: 200 });
  });

  it('without the setting a PROXY header is refused, never trusted', async () => {
    const before = web.requests();
    expect((await send(forwarded.httpPort, 'open.test', { prefix: proxyV2('203.0.113.9') })).status).toBe(400);
    expect(web.requests()).toBe(before);
  });
});
