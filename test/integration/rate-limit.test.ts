/**
 * Rate limits through the built CLI with 2 workers (issue 15 item 7, docs/rate-limits.md):
 * a burst over an Ingress's limit gets 503s, and no more requests pass than the limit allows
 * for the pod as a whole (ingress-nginx would allow the burst once per worker); a burst under
 * the limit gets none; a whitelisted address is exempt; a bad value is a diagnostic naming the
 * Ingress, the annotation and what is allowed, and that Ingress keeps working. Each request
 * comes on a new connection, so the workers share them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startEchoPods, type EchoPods } from '../helpers/echo.js';
import { pollUntil, startFlusso, type FlussoProcess } from '../helpers/flusso.js';
import { httpRequest, type HttpResponse } from '../helpers/http.js';
import { endpointSlice, ingress, ingressClass, manifestDir, service, type K8sObject, type ManifestDir } from '../helpers/manifests.js';

const NS = 'rl';
const N = 'nginx.ingress.kubernetes.io/';

/** limited builds Ingress rl/`name` for host `name`.test with `annotations`. */
function limited(name: string, annotations: Record<string, string>): K8sObject {
  const ing = ingress(NS, name, { host: `${name}.test`, paths: [{ path: '/', service: 'web', port: 'http' }] });
  (ing.metadata as { annotations?: Record<string, string> }).annotations = annotations;
  return ing;
}

describe('rate limits through the CLI, 2 workers', () => {
  let flusso: FlussoProcess;
  let web: EchoPods;
  /** burst sends `n` requests to `host` at once, each on its own connection, and returns their statuses. */
  const burst = async (host: string, n: number): Promise<number[]> => {
    const answers: Promise<HttpResponse>[] = [];
    for (let i = 0; i < n; i++) answers.push(httpRequest({ port: flusso.httpPort, host, path: `/r${i}` }));
    return (await Promise.all(answers)).map((r) => r.status);
  };
  const count = (statuses: number[], status: number): number => statuses.filter((s) => s === status).length;

  beforeAll(async () => {
    web = await startEchoPods('web', ['127.0.0.1'], 0, { namespace: NS, ingress: 'tight' });
    const dir: ManifestDir = await manifestDir();
    await dir.write('00-class.yaml', [ingressClass('flusso')]);
    await dir.write('10-web.yaml', [service(NS, 'web', [{ name: 'http', port: 80, targetPort: web.port }]), endpointSlice(NS, 'web', web.addresses, web.port, { portName: 'http' })]);
    await dir.write('20-ingresses.yaml', [
      // One request a minute with a burst of 1 (multiplier 1): 2 requests at once for the pod, then none for the test's length.
      limited('tight', { [`${N}limit-rpm`]: '1', [`${N}limit-burst-multiplier`]: '1' }),
      limited('roomy', { [`${N}limit-rps`]: '1000' }),
      limited('trusted', { [`${N}limit-rpm`]: '1', [`${N}limit-burst-multiplier`]: '1', [`${N}limit-whitelist`]: '10.0.0.0/8, 127.0.0.0/8' }),
      limited('typo', { [`${N}limit-rps`]: 'lots' }),
    ]);
    flusso = await startFlusso({ manifestsDir: dir.dir, workers: 2 });
  });
  afterAll(async () => {
    await flusso?.stop();
    await web?.close();
  });

  it('a burst over the limit gets 503s, and the pod as a whole lets through only the limit', async () => {
    const statuses = await burst('tight.test', 30);
    expect(count(statuses, 200) + count(statuses, 503)).toBe(30);
    expect(count(statuses, 200)).toBeGreaterThanOrEqual(1);
    // ingress-nginx's limit is per worker process: 2 workers would let 4 through.
    expect(count(statuses, 200)).toBeLessThanOrEqual(2);
    const refused = await httpRequest({ port: flusso.httpPort, host: 'tight.test', path: '/again' });
    expect(refused.status).toBe(503);
    expect(refused.body).toBe('503 Service Unavailable\n');
    expect(refused.json).toBeUndefined();
  });

  it('a WebSocket upgrade counts as a request: refused with 503 once the limit is spent, the backend never asked', async () => {
    /** upgradeStatus tries an upgrade to `host` and resolves the status the handshake got (101 when it opened). */
    const upgradeStatus = (host: string): Promise<{ status: number; body: string }> =>
      new Promise((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${flusso.httpPort}/ws`, { headers: { Host: host } });
        ws.on('open', () => {
          ws.terminate();
          resolve({ status: 101, body: '' });
        });
        ws.on('unexpected-response', (_req, res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        ws.on('error', reject);
      });
    // The same route without a spent limit: what the backend answers an upgrade.
    expect((await upgradeStatus('roomy.test')).status).not.toBe(503);
    await burst('tight.test', 4);
    expect(await upgradeStatus('tight.test')).toEqual({ status: 503, body: '503 Service Unavailable\n' });
  });

  it('a burst under the limit gets no 503', async () => {
    expect(count(await burst('roomy.test', 60), 200)).toBe(60);
  });

  it('a whitelisted address is exempt', async () => {
    expect(count(await burst('trusted.test', 30), 200)).toBe(30);
  });

  it('a bad value is a diagnostic naming the Ingress, the annotation and what is allowed, and the Ingress keeps working', async () => {
    const d = await pollUntil('the limit-rps diagnostic', async () => (await flusso.diagnostics()).diagnostics.find((x) => x.object === `Ingress ${NS}/typo` && x.code === 'ING_ERR_INGRESS_INVALID_ANNOTATION'));
    expect(d.message).toBe(`annotation ${N}limit-rps is "lots", expected a whole number from 0 to 2147483647 (0: no limit); it has no effect`);
    expect(count(await burst('typo.test', 30), 200)).toBe(30);
  });
});

describe('rate limits with --rate-limit-status 429', () => {
  let flusso: FlussoProcess;
  let web: EchoPods;
  beforeAll(async () => {
    web = await startEchoPods('web', ['127.0.0.1'], 0, { namespace: NS, ingress: 'tight' });
    const dir = await manifestDir();
    await dir.write('00-class.yaml', [ingressClass('flusso')]);
    await dir.write('10-web.yaml', [service(NS, 'web', [{ name: 'http', port: 80, targetPort: web.port }]), endpointSlice(NS, 'web', web.addresses, web.port, { portName: 'http' })]);
    await dir.write('20-ingresses.yaml', [limited('tight', { [`${N}limit-rpm`]: '1', [`${N}limit-burst-multiplier`]: '1' })]);
    flusso = await startFlusso({ manifestsDir: dir.dir, workers: 2, args: ['--rate-limit-status', '429'] });
  });
  afterAll(async () => {
    await flusso?.stop();
    await web?.close();
  });

  it('answers 429 Too Many Requests over the limit', async () => {
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => httpRequest({ port: flusso.httpPort, host: 'tight.test', path: `/r${i}` })));
    const refused = answers.filter((r) => r.status === 429);
    expect(refused.length).toBeGreaterThanOrEqual(8);
    expect(answers.filter((r) => r.status !== 429).every((r) => r.status === 200)).toBe(true);
    expect(refused[0]!.body).toBe('429 Too Many Requests\n');
  });
});
