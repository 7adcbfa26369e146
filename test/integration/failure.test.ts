/**
 * Failure behaviour through the built CLI: upstream faults map to 502/503/504, a killed worker
 * is replaced and serves the current routes, broken manifests keep the last good routes and are
 * reported, bad request framing gets 400 and a closed connection, and live route changes drop no
 * requests (README.md "Proxy behaviour" and docs/runtime.md).
 */
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startEchoPods, startRawUpstream, type EchoPods } from '../helpers/echo.js';
import { pollUntil, startFlusso, type DiagnosticsBody, type FlussoProcess, type LogLine } from '../helpers/flusso.js';
import { countResponses, httpRequest, rawRequest, statusOf } from '../helpers/http.js';
import { endpointSlice, ingress, ingressClass, manifestDir, service, type K8sObject, type ManifestDir } from '../helpers/manifests.js';
import { freePort } from '../helpers/ports.js';
import { RawConnection } from '../helpers/raw-http.js';

const NS = 'failure';

/** backend returns the Service and EndpointSlice of a one-port backend on `addresses:port`. */
function backend(name: string, addresses: readonly string[], port: number): K8sObject[] {
  return [service(NS, name, [{ name: 'http', port: 80, targetPort: port }]), endpointSlice(NS, name, addresses, port, { portName: 'http' })];
}

/** onRequestData runs `fn` once the first bytes of a request arrive on an upstream socket. */
function onRequestData(fn: (socket: Socket) => void): (socket: Socket) => void {
  return (socket) => socket.once('data', () => fn(socket));
}

/** receivedUntil resolves once `done` holds for what `conn` received; it rejects if the connection closes first. */
function receivedUntil(conn: RawConnection, done: (received: Buffer) => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (done(conn.received)) finish();
      else if (conn.isClosed) finish(new Error(`connection closed after ${conn.received.length} bytes: ${conn.received.toString('latin1').slice(0, 300)}`));
    };
    const finish = (err?: Error): void => {
      conn.socket.off('data', check);
      conn.socket.off('close', check);
      if (err) reject(err);
      else resolve();
    };
    conn.socket.on('data', check);
    conn.socket.on('close', check);
    check();
  });
}

describe('upstream faults, invalid manifests, framing and live updates (2 workers)', () => {
  let dir: ManifestDir;
  let flusso: FlussoProcess;
  let stable: EchoPods;
  const midBodySockets: Socket[] = [];

  const get = (host: string, path = '/') => httpRequest({ port: flusso.httpPort, host, path });

  beforeAll(async () => {
    stable = await startEchoPods('stable', ['127.0.0.1', '127.0.0.2'], 0, { namespace: NS, ingress: 'stable' });
    const refusedPort = await freePort();
    const reset = await startRawUpstream(onRequestData((s) => s.resetAndDestroy()));
    const hang = await startRawUpstream(() => undefined);
    // Sends the head and 1000 of 100000 body bytes, then hands the socket to the test, which
    // resets it once the client has those bytes (so the proxy has read them: no race with the RST).
    const midBody = await startRawUpstream(
      onRequestData((s) => {
        s.write(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n${'x'.repeat(1000)}`);
        midBodySockets.push(s);
      }),
    );
    dir = await manifestDir();
    await dir.write('00-class.yaml', [ingressClass('flusso')]);
    await dir.write('10-stable.yaml', [
      ingress(NS, 'stable', { host: 'stable.test', paths: [{ path: '/', service: 'stable', port: 'http' }] }),
      ...backend('stable', stable.addresses, stable.port),
    ]);
    await dir.write('20-faults.yaml', [
      ingress(NS, 'faults', {
        host: 'faults.test',
        paths: [
          { path: '/refused', service: 'refused', port: 80 },
          { path: '/reset', service: 'reset', port: 80 },
          { path: '/hang', service: 'hang', port: 80 },
          { path: '/midbody', service: 'midbody', port: 80 },
          { path: '/noendpoints', service: 'empty', port: 80 },
        ],
      }),
      ...backend('refused', ['127.0.0.1'], refusedPort),
      ...backend('reset', ['127.0.0.1'], reset.port),
      ...backend('hang', ['127.0.0.1'], hang.port),
      ...backend('midbody', ['127.0.0.1'], midBody.port),
      ...backend('empty', [], 9),
    ]);
    flusso = await startFlusso({ manifestsDir: dir.dir, workers: 2, args: ['--upstream-response-timeout', '1s'] });
    await flusso.waitForGeneration(1);
  });
  afterAll(async () => {
    await flusso?.stop();
  });

  it('upstream refuses the connection: 502', async () => {
    const res = await get('faults.test', '/refused');
    expect(res.status, res.body).toBe(502);
  });

  it('upstream resets before sending headers: 502', async () => {
    const res = await get('faults.test', '/reset');
    expect(res.status, res.body).toBe(502);
  });

  it('upstream accepts and never answers: 504 at --upstream-response-timeout', async () => {
    const res = await get('faults.test', '/hang');
    expect(res.status, res.body).toBe(504);
  });

  it('service with no endpoints: 503', async () => {
    const res = await get('faults.test', '/noendpoints');
    expect(res.status, res.body).toBe(503);
  });

  it('upstream resets mid-body: the client gets the head and the bytes sent, then a closed connection; the worker stays up', async () => {
    const before = (await flusso.readyz()).body.workers.map((w) => w.pid).sort();
    const conn = await RawConnection.open(flusso.httpPort);
    onTestFinished(() => conn.destroy());
    conn.request('GET', '/midbody', ['Host: faults.test']);
    // Latch: the head and all 1000 body bytes have reached the client, so the proxy read them
    // before the upstream resets.
    await receivedUntil(conn, (b) => {
      const end = b.indexOf('\r\n\r\n');
      return end >= 0 && b.length - end - 4 >= 1000;
    });
    expect(midBodySockets).toHaveLength(1);
    midBodySockets[0]!.resetAndDestroy();
    await conn.waitClose();
    const raw = conn.received.toString('latin1');
    const end = raw.indexOf('\r\n\r\n');
    expect(statusOf(raw), raw.slice(0, 300)).toBe(200);
    expect(raw.slice(0, end)).toMatch(/\r\nContent-Length: 100000(\r\n|$)/i);
    // Exactly the bytes the upstream sent, and no second response after them.
    expect(raw.slice(end + 4)).toBe('x'.repeat(1000));
    const next = await get('stable.test');
    expect(next.status, next.body).toBe(200);
    const after = await flusso.readyz();
    expect(after.body.workers.map((w) => w.pid).sort()).toEqual(before);
    expect(after.body.workers.every((w) => w.restarts === 0)).toBe(true);
  });

  describe('request framing this uWS build lets through: 400 and close', () => {
    const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: stable.test\r\n\r\n';
    const cases = [
      { name: 'differing duplicate Content-Length', bytes: 'POST / HTTP/1.1\r\nHost: stable.test\r\nContent-Length: 5\r\nContent-Length: 10\r\n\r\nhello' },
      { name: 'Transfer-Encoding: gzip', bytes: 'POST / HTTP/1.1\r\nHost: stable.test\r\nTransfer-Encoding: gzip\r\n\r\n0\r\n\r\n' },
      { name: 'Transfer-Encoding: chunked, chunked', bytes: 'POST / HTTP/1.1\r\nHost: stable.test\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n' },
      { name: 'Transfer-Encoding: xchunked', bytes: 'POST / HTTP/1.1\r\nHost: stable.test\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n' },
    ];
    it.each(cases)('$name alone: 400, Server header, connection closed, never forwarded', async ({ bytes }) => {
      const before = stable.requests();
      const { raw, closed } = await rawRequest(flusso.httpPort, bytes);
      expect({ status: statusOf(raw), responses: countResponses(raw), closed }, raw).toEqual({ status: 400, responses: 1, closed: true });
      expect(raw).toMatch(/\r\nServer: /i);
      expect(raw).toMatch(/\r\nConnection: close\r\n/i);
      expect(stable.requests()).toBe(before);
    });

    // The same bad request followed, in the same write, by a valid pipelined request: if the
    // connection were not really closed after the refusal, that request would reach the upstream
    // (request smuggling). Flusso answers a refused request one event-loop turn later, so this uWS
    // build sees the pipelined request while a response is pending and closes the connection
    // (it refuses async pipelining): the client gets at most the 400, and nothing is forwarded.
    it.each(cases)('$name with a pipelined request behind it: closed, nothing smuggled upstream', async ({ bytes }) => {
      const before = stable.requests();
      const { raw, closed } = await rawRequest(flusso.httpPort, `${bytes}${SMUGGLED}`);
      expect(closed, raw).toBe(true);
      expect(countResponses(raw), raw).toBeLessThanOrEqual(1);
      expect([0, 400]).toContain(statusOf(raw));
      expect(raw).not.toContain('smuggled');
      expect(stable.requests()).toBe(before);
    });

    // uWS 20.57 answers these itself, before Flusso sees them (docs/bad-input.md §A row 1
    // and §B: the old 20.30 build closed without an answer, or hung): 400, and the connection is
    // closed with nothing behind the request parsed or forwarded.
    it.each([
      { name: 'Transfer-Encoding and Content-Length together', bytes: 'POST / HTTP/1.1\r\nHost: stable.test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' },
      { name: 'duplicate Host', bytes: 'GET / HTTP/1.1\r\nHost: stable.test\r\nHost: victim.test\r\n\r\n' },
    ])('$name, with a pipelined request behind it: 400 from uWS, closed, never forwarded', async ({ bytes }) => {
      const before = stable.requests();
      const { raw, closed } = await rawRequest(flusso.httpPort, `${bytes}${SMUGGLED}`);
      expect({ status: statusOf(raw), responses: countResponses(raw), closed }, raw).toEqual({ status: 400, responses: 1, closed: true });
      expect(stable.requests()).toBe(before);
    });
  });

  describe('heads: the --max-request-head-bytes limit (32Ki) and what uWS refuses outright', () => {
    // Flusso's own per-field, target and field-count limits: failure-requests.test.ts.
    it('an 8 KiB header line reaches the upstream intact', async () => {
      const value = 'v'.repeat(8 * 1024 - 'X-Big: '.length);
      const { raw } = await rawRequest(flusso.httpPort, `GET /big-head HTTP/1.1\r\nHost: stable.test\r\nX-Big: ${value}\r\nConnection: close\r\n\r\n`);
      expect(statusOf(raw), raw.slice(0, 300)).toBe(200);
      const echoed = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as { headers: Record<string, string[]> };
      expect(echoed.headers['X-Big']).toEqual([value]);
    });

    it('a 40 KiB head gets 431 and a closed connection, and nothing is forwarded', async () => {
      const before = stable.requests();
      const { raw, closed } = await rawRequest(flusso.httpPort, `GET / HTTP/1.1\r\nHost: stable.test\r\nX-Big: ${'v'.repeat(40 * 1024)}\r\n\r\n`);
      expect({ status: statusOf(raw), closed }).toEqual({ status: 431, closed: true });
      expect(stable.requests()).toBe(before);
    });

    it('an HTTP/1.0 request gets 505 and a closed connection', async () => {
      const { raw, closed } = await rawRequest(flusso.httpPort, 'GET / HTTP/1.0\r\nHost: stable.test\r\n\r\n');
      expect({ status: statusOf(raw), closed }).toEqual({ status: 505, closed: true });
    });
  });

  describe('invalid manifests keep the previous routes and are reported', () => {
    // Each case writes its own file and host, serves it, breaks it and removes it at the end, so
    // neither depends on what the other left behind.
    const waitForDiagnostic = (code: string, file: string): Promise<DiagnosticsBody> =>
      pollUntil(`a ${code} diagnostic for ${file}`, async () => {
        const d = await flusso.diagnostics();
        return d.diagnostics.some((x) => x.code === code && (x.file ?? '').endsWith(file)) ? d : undefined;
      });
    const mentions = (code: string, file: string) => (l: LogLine): boolean => JSON.stringify(l).includes(code) && JSON.stringify(l).includes(file);
    const victim = (name: string) => ingress(NS, name, { host: `${name}.test`, paths: [{ path: '/', service: 'stable', port: 'http' }] });
    /** serveVictim writes `file` with a valid Ingress `name` and waits until every worker routes `name.test`. */
    const serveVictim = async (file: string, name: string): Promise<void> => {
      onTestFinished(async () => {
        await dir.remove(file);
      });
      await dir.write(file, [victim(name)]);
      const res = await pollUntil(`${name}.test to be routed`, async () => {
        const r = await get(`${name}.test`);
        return r.status === 200 ? r : undefined;
      });
      expect(res.json?.service).toBe('stable');
      // One worker routes it: wait until every worker has that generation or a later one.
      await flusso.waitForGeneration((await flusso.readyz()).body.generation);
    };

    it('broken YAML in the file that holds an Ingress', async () => {
      await serveVictim('31-yaml.yaml', 'victim-yaml');
      await dir.writeRaw('31-yaml.yaml', 'apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: victim-yaml, namespace: failure\nspec: [\n');
      const diag = await waitForDiagnostic('ING_ERR_MANIFEST_PARSE', '31-yaml.yaml');
      await flusso.waitForGeneration(diag.generation);
      await flusso.waitForLog(mentions('ING_ERR_MANIFEST_PARSE', '31-yaml.yaml'));
      const res = await get('victim-yaml.test');
      expect(res.status, res.body).toBe(200);
      expect(res.json?.service).toBe('stable');
    });

    it('an Ingress with an invalid field', async () => {
      await serveVictim('32-field.yaml', 'victim-field');
      const bad = victim('victim-field');
      (bad.spec as Record<string, unknown>).rules = 'not-a-list';
      await dir.write('32-field.yaml', [bad]);
      const diag = await waitForDiagnostic('ING_ERR_MANIFEST_INVALID', '32-field.yaml');
      await flusso.waitForGeneration(diag.generation);
      await flusso.waitForLog(mentions('ING_ERR_MANIFEST_INVALID', '32-field.yaml'));
      const res = await get('victim-field.test');
      expect(res.status, res.body).toBe(200);
      expect(res.json?.service).toBe('stable');
    });
  });

  it('route changes apply live without dropping requests on an unchanged route', async () => {
    let stop = false;
    let ok = 0;
    const failures: string[] = [];
    const loop = (async () => {
      while (!stop) {
        try {
          const res = await get('stable.test', '/loop');
          if (res.status === 200 && res.json?.service === 'stable') ok++;
          else failures.push(`status ${res.status}: ${res.body.slice(0, 200)}`);
        } catch (err) {
          failures.push(String(err));
        }
      }
    })();
    onTestFinished(async () => {
      stop = true;
      await loop;
    });
    onTestFinished(async () => {
      await dir.remove('40-live.yaml');
    });
    for (let i = 1; i <= 20; i++) {
      await dir.write('40-live.yaml', [ingress(NS, 'live', { host: 'live.test', paths: [{ path: `/v${i}`, service: 'stable', port: 'http' }] })]);
      // Latch on the change itself (a generation count could be met by an earlier rebuild).
      await pollUntil(`live.test/v${i} to be routed`, async () => ((await get('live.test', `/v${i}`)).status === 200 ? true : undefined), 20_000, 20);
      await flusso.waitForGeneration((await flusso.readyz()).body.generation);
    }
    stop = true;
    await loop;
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(0);
    expect((await get('live.test', '/v20')).status).toBe(200);
    expect((await get('live.test', '/v19')).status).toBe(404);
  });
});

describe('worker crash (1 worker)', () => {
  it('a worker killed with SIGKILL is replaced, and the replacement serves the current routes', async () => {
    const oldPods = await startEchoPods('old', ['127.0.0.1'], 0, { namespace: NS });
    const newPods = await startEchoPods('new', ['127.0.0.1'], 0, { namespace: NS });
    const dir = await manifestDir();
    const route = (svc: string) => [ingress(NS, 'crash', { host: 'crash.test', paths: [{ path: '/', service: svc, port: 'http' }] })];
    await dir.write('00-class.yaml', [ingressClass('flusso'), ...backend('old', oldPods.addresses, oldPods.port), ...backend('new', newPods.addresses, newPods.port)]);
    await dir.write('10-route.yaml', route('old'));
    const flusso = await startFlusso({ manifestsDir: dir.dir, workers: 1 });
    onTestFinished(() => flusso.kill());
    await flusso.waitForGeneration(1);
    const get = () => httpRequest({ port: flusso.httpPort, host: 'crash.test' });
    expect((await get()).json?.service).toBe('old');

    // Change the route first, so the replacement must get the *current* snapshot.
    const { generation } = (await flusso.readyz()).body;
    await dir.write('10-route.yaml', route('new'));
    const changed = await flusso.waitForGeneration(generation + 1);
    expect((await get()).json?.service).toBe('new');

    const victim = changed.workers[0];
    expect(victim).toBeDefined();
    process.kill(victim!.pid, 'SIGKILL');
    const replaced = await pollUntil('a replacement worker', async () => {
      const r = await flusso.readyz().catch(() => undefined);
      const w = r?.body.workers[0];
      return r?.status === 200 && r.body.ready && w && w.pid !== victim!.pid && w.listening && w.restarts >= 1 ? r.body : undefined;
    });
    expect(replaced.workers).toHaveLength(1);
    expect(replaced.generation).toBeGreaterThanOrEqual(changed.generation);
    const res = await get();
    expect(res.status, res.body).toBe(200);
    expect(res.json?.service).toBe('new');
    expect(await flusso.stop()).toEqual({ code: 0, signal: null });
  });
});
