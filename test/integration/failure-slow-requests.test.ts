/**
 * Failure suite, slow requests and timeouts (issue 14 items 3 and 7), through the built CLI: the
 * exact bytes a client sends, what Flusso answers, whether the connection is closed, and what
 * the backend received (README.md "Request bodies" and "Proxy behaviour").
 */
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startRawUpstream, type RawUpstream } from '../helpers/echo.js';
import { startFlusso, type FlussoProcess } from '../helpers/flusso.js';
import { endpointSlice, ingress, ingressClass, manifestDir, service } from '../helpers/manifests.js';
import { RawConnection } from '../helpers/raw-http.js';

const NS = 'slow';
const HOST = 'slow.test';

/** UpstreamRequest is one request the backend read: its bytes, and whether Flusso closed its connection. */
interface UpstreamRequest {
  bytes: string;
  readonly closed: Promise<void>;
}

/**
 * Backend records what each upstream connection carried. A request for /hang is read and never
 * answered; any other is answered with a 3-byte 200 and `Connection: close` once whole
 * (Content-Length or chunked), so each connection carries one request.
 */
interface Backend {
  readonly upstream: RawUpstream;
  readonly requests: UpstreamRequest[];
  /** next resolves with the next connection's request once its head arrived. */
  next(): Promise<UpstreamRequest>;
}

async function startBackend(): Promise<Backend> {
  const requests: UpstreamRequest[] = [];
  const waiting: ((r: UpstreamRequest) => void)[] = [];
  const upstream = await startRawUpstream((socket: Socket) => {
    let buf = Buffer.alloc(0);
    let request: UpstreamRequest | null = null;
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      if (request === null) {
        request = { bytes: '', closed };
        requests.push(request);
        waiting.shift()?.(request);
      }
      request.bytes = buf.toString('latin1');
      const head = buf.subarray(0, end).toString('latin1');
      if (head.startsWith('GET /hang ') || head.startsWith('POST /hang ')) return;
      const length = /\r\ncontent-length: *(\d+)/i.exec(head);
      const chunked = /\r\ntransfer-encoding: *chunked/i.test(head);
      const complete = length ? buf.length >= end + 4 + Number(length[1]) : chunked ? buf.subarray(end + 4).includes('0\r\n\r\n') : true;
      if (complete) socket.end('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n');
    });
  });
  return {
    upstream,
    requests,
    next: () => new Promise((resolve) => waiting.push(resolve)),
  };
}

describe('slow requests and timeouts (1 worker)', () => {
  let flusso: FlussoProcess;
  let backend: Backend;

  beforeAll(async () => {
    backend = await startBackend();
    const dir = await manifestDir();
    await dir.write('00.yaml', [
      ingressClass('flusso'),
      ingress(NS, 'slow', { host: HOST, paths: [{ path: '/', service: 'backend', port: 'http' }] }),
      service(NS, 'backend', [{ name: 'http', port: 80, targetPort: backend.upstream.port }]),
      endpointSlice(NS, 'backend', ['127.0.0.1'], backend.upstream.port, { portName: 'http' }),
    ]);
    flusso = await startFlusso({ manifestsDir: dir.dir, workers: 1, args: ['--upstream-response-timeout', '1s'] });
  });
  afterAll(async () => {
    await flusso?.stop();
    await backend?.upstream.close();
  });

  async function open(): Promise<RawConnection> {
    const conn = await RawConnection.open(flusso.httpPort);
    onTestFinished(() => conn.destroy());
    return conn;
  }

  // Issue 14 item 7: the response timeout is on Flusso's upstream client's coarse timer; how
  // close to its setting it fires is measured by bench/load/timeouts.mjs, not asserted here.
  it('no response head within --upstream-response-timeout: 504, and the upstream connection is closed', async () => {
    const conn = await open();
    const arrived = backend.next();
    conn.write(`GET /hang HTTP/1.1\r\nHost: ${HOST}\r\nX-Case: timeout\r\n\r\n`);
    const request = await arrived;
    expect(request.bytes).toMatch(/^GET \/hang HTTP\/1\.1\r\nhost: slow\.test\r\nconnection: keep-alive\r\n/);
    expect(request.bytes).toContain('\r\nx-case: timeout\r\n');
    const res = await conn.readResponse();
    expect(res.status).toBe(504);
    await request.closed; // Flusso gave up on the upstream request: the connection is not reused
    const line = await flusso.waitForLog((l) => l.msg === 'upstream request failed' && l.failure === 'response-timeout');
    expect(line.endpoint).toBe(`127.0.0.1:${backend.upstream.port}`);
  });
});
