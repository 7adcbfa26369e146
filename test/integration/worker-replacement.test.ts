/**
 * Worker replacement through the built CLI (issue 14 item 8): with two workers, requests held
 * in flight at the backend on both workers; one worker is SIGKILLed; then the backend answers
 * every held request. Exactly the killed worker's requests fail, every other one completes
 * whole, and the spare takes the killed worker's slot (README.md "Running", `--spare-worker`).
 *
 * Which worker carries a request is read from the system, not guessed: the backend records the
 * source port of each request's upstream connection, and `ss -tnp` says which process owns the
 * socket with that port.
 */
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { pollUntil, startFlusso } from '../helpers/flusso.js';
import { httpRequest, type HttpResponse } from '../helpers/http.js';
import { endpointSlice, ingress, ingressClass, manifestDir, service } from '../helpers/manifests.js';

const NS = 'replace';
const REQUESTS = 24;
const BODY = 'x'.repeat(64 * 1024);

/** ownerOf returns the pid of the process holding the local TCP socket on 127.0.0.1:`port`. */
function ownerOf(port: number): number {
  const out = execFileSync('ss', ['-Htnp', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8' });
  const pid = /pid=(\d+)/.exec(out)?.[1];
  if (pid === undefined) throw new Error(`no process owns local port ${port}: ${out}`);
  return Number(pid);
}

describe('a SIGKILLed worker (2 workers)', () => {
  it('fails only its own in-flight requests; requests in flight on the other worker complete, and the spare takes its place', async () => {
    // The backend holds every request until `release`, remembering its upstream source port.
    const held = new Map<string, { port: number; res: http.ServerResponse }>();
    let onHeld: (() => void) | null = null;
    let holding = true;
    const backendServer = http.createServer((req, res) => {
      const id = String(req.headers['x-test-id']);
      req.resume();
      req.on('end', () => {
        if (!holding) return void res.end(BODY);
        held.set(id, { port: req.socket.remotePort ?? 0, res });
        onHeld?.();
      });
    });
    await new Promise<void>((r) => backendServer.listen(0, '127.0.0.1', r));
    onTestFinished(() => void backendServer.close());
    const backendPort = (backendServer.address() as AddressInfo).port;

    const dir = await manifestDir();
    await dir.write('00.yaml', [
      ingressClass('flusso'),
      ingress(NS, 'app', { host: 'app.test', paths: [{ path: '/', service: 'app', port: 'http' }] }),
      service(NS, 'app', [{ name: 'http', port: 80, targetPort: backendPort }]),
      endpointSlice(NS, 'app', ['127.0.0.1'], backendPort, { portName: 'http' }),
    ]);
    const flusso = await startFlusso({ manifestsDir: dir.dir, workers: 2 });
    onTestFinished(() => flusso.kill());
    const spareReady = await flusso.waitForLog((l) => l.msg === 'spare worker ready');
    const before = (await flusso.readyz()).body.workers.map((w) => w.pid);

    // Every request on its own connection: the kernel spreads them over both workers.
    const allHeld = new Promise<void>((resolve) => {
      onHeld = () => {
        if (held.size === REQUESTS) resolve();
      };
    });
    const responses = new Map<string, Promise<HttpResponse | Error>>();
    for (let i = 0; i < REQUESTS; i++) {
      const id = `r${i}`;
      responses.set(id, httpRequest({ port: flusso.httpPort, host: 'app.test', headers: { 'x-test-id': id }, timeoutMs: 20_000 }).catch((err: unknown) => err as Error));
    }
    await allHeld;
    const workerOf = new Map([...held].map(([id, h]) => [id, ownerOf(h.port)]));
    const perWorker = before.map((pid) => [...workerOf.values()].filter((p) => p === pid).length);
    expect(perWorker.reduce((a, b) => a + b, 0)).toBe(REQUESTS); // every request is on one of the two workers
    expect(perWorker.every((n) => n > 0), `requests per worker: ${perWorker.join(', ')}`).toBe(true);

    const victim = before[0] as number;
    process.kill(victim, 'SIGKILL');
    const replaced = await flusso.waitForLog((l) => l.msg === 'worker exited; the spare replaces it' && l.pid === victim);
    expect(replaced.spare).toBe(spareReady.pid);
    holding = false;
    for (const { res } of held.values()) res.end(BODY);

    const outcome = new Map<string, string>();
    for (const [id, p] of responses) {
      const r = await p;
      outcome.set(id, r instanceof Error ? 'failed' : r.status === 200 && r.complete && r.body === BODY ? 'ok' : `status ${r.status} complete ${String(r.complete)}`);
    }
    const want = new Map([...workerOf].map(([id, pid]) => [id, pid === victim ? 'failed' : 'ok']));
    expect(outcome).toEqual(want);

    // The spare serves in the killed worker's slot.
    const after = await pollUntil('the spare listening in slot 1', async () => {
      const r = await flusso.readyz();
      return r.status === 200 && r.body.workers[0]?.pid === spareReady.pid && r.body.workers[0]?.listening === true ? r.body : undefined;
    });
    expect(after.workers.map((w) => w.pid)).toEqual([spareReady.pid, before[1]]);
    const next = await httpRequest({ port: flusso.httpPort, host: 'app.test', headers: { 'x-test-id': 'after' } });
    expect(next.status).toBe(200);
    expect(await flusso.stop()).toEqual({ code: 0, signal: null });
  });
});
