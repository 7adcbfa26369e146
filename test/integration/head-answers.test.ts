/**
 * Answers Flusso writes itself carry no body for a HEAD request (RFC 9110 §9.3.2): no route (404),
 * no ready endpoint (503) and an upstream that refuses the connection (502). Each HEAD is followed
 * by a GET on the same keep-alive connection: a body sent after the HEAD answer would be read as
 * the start of the next response, and that GET's answer would not parse.
 */
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFlusso, type FlussoProcess } from '../helpers/flusso.js';
import { endpointSlice, ingress, ingressClass, manifestDir, service } from '../helpers/manifests.js';
import { RawConnection, header } from '../helpers/raw-http.js';

const NS = 'head';

/** closedPort is a loopback port nothing listens on (bound once, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('HEAD answers Flusso writes itself (built CLI, 1 worker)', () => {
  let flusso: FlussoProcess;

  beforeAll(async () => {
    const gone = await closedPort();
    const dir = await manifestDir();
    await dir.write('head.yaml', [
      ingressClass('flusso'),
      service(NS, 'gone', [{ name: 'http', port: 80, targetPort: gone }]),
      endpointSlice(NS, 'gone', ['127.0.0.1'], gone, { portName: 'http' }),
      service(NS, 'empty', [{ name: 'http', port: 80, targetPort: 1 }]),
      ingress(NS, 'refused', { host: 'refused.head.test', paths: [{ path: '/', service: 'gone', port: 'http' }] }),
      ingress(NS, 'nobody', { host: 'nobody.head.test', paths: [{ path: '/', service: 'empty', port: 'http' }] }),
    ]);
    flusso = await startFlusso({ manifestsDir: dir.dir, workers: 1 });
    await flusso.waitForGeneration(1);
  });
  afterAll(async () => {
    await flusso?.stop();
  });

  it.each([
    { what: 'no route', host: 'unknown.head.test', status: 404 },
    { what: 'no ready endpoint', host: 'nobody.head.test', status: 503 },
    { what: 'connection refused upstream', host: 'refused.head.test', status: 502 },
  ])('$what: $status with the GET\'s Content-Length and no body, then the next request on the connection', async ({ host, status }) => {
    const conn = await RawConnection.open(flusso.httpPort);
    try {
      conn.request('GET', '/', [`Host: ${host}`]);
      const get = await conn.readResponse();
      expect(get.status).toBe(status);
      expect(get.body.length).toBeGreaterThan(0);

      conn.request('HEAD', '/', [`Host: ${host}`]);
      const head = await conn.readResponse({ head: true });
      expect(head.status).toBe(status);
      expect(header(head, 'content-length')).toBe(String(get.body.length));

      conn.request('GET', '/', [`Host: ${host}`]);
      const again = await conn.readResponse();
      expect({ status: again.status, body: again.body.toString() }).toEqual({ status, body: get.body.toString() });
    } finally {
      conn.socket.destroy();
    }
  });
});
