/**
 * load-balance: ewma through the built CLI (issue 15 group 5, docs/annotations.md): one pod of
 * the Service answers after 300 ms, the other at once. The EWMA balancer learns that from the
 * response times the worker feeds it: after each pod has answered once, every request goes to
 * the quick pod (the slow pod's average would need about a minute to decay below the quick one's);
 * the same pods behind round-robin still get half each. What is asserted is where requests go,
 * which a 300-to-1 ratio of response times decides, not how fast anything is.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEchoPods, type EchoPods } from '../helpers/echo.js';
import { startFlusso, type FlussoProcess } from '../helpers/flusso.js';
import { httpRequest } from '../helpers/http.js';
import { endpointSlice, ingress, ingressClass, manifestDir, service } from '../helpers/manifests.js';

const NS = 'ewma';
const N = 'nginx.ingress.kubernetes.io/';

let flusso: FlussoProcess;
let slow: EchoPods;
let quick: EchoPods;

beforeAll(async () => {
  slow = await startEchoPods('web', ['127.0.0.1'], 0, { namespace: NS, podNames: ['slow'], responseDelayMs: 300 });
  quick = await startEchoPods('web', ['127.0.0.2'], slow.port, { namespace: NS, podNames: ['quick'] });
  const ewma = ingress(NS, 'ewma', { host: 'ewma.test', paths: [{ path: '/', service: 'web', port: 'http' }] });
  const dir = await manifestDir();
  await dir.write('00.yaml', [
    ingressClass('flusso'),
    service(NS, 'web', [{ name: 'http', port: 80, targetPort: slow.port }]),
    service(NS, 'web-rr', [{ name: 'http', port: 80, targetPort: slow.port }]),
    endpointSlice(NS, 'web', ['127.0.0.1', '127.0.0.2'], slow.port, { portName: 'http' }),
    endpointSlice(NS, 'web-rr', ['127.0.0.1', '127.0.0.2'], slow.port, { portName: 'http' }),
    { ...ewma, metadata: { ...(ewma.metadata as object), annotations: { [`${N}load-balance`]: 'ewma' } } },
    ingress(NS, 'rr', { host: 'rr.test', paths: [{ path: '/', service: 'web-rr', port: 'http' }] }),
  ]);
  flusso = await startFlusso({ manifestsDir: dir.dir, workers: 1 });
  await flusso.waitForGeneration(1);
});

afterAll(async () => {
  await flusso?.stop();
  await slow?.close();
  await quick?.close();
});

async function pods(host: string, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await httpRequest({ port: flusso.httpPort, host, path: '/x' });
    expect(r.status, r.body).toBe(200);
    out.push(String(r.json?.pod));
  }
  return out;
}

describe('load-balance: ewma through the CLI', () => {
  it('after each pod has answered once, every request goes to the quick pod', async () => {
    const seen = await pods('ewma.test', 14);
    // The first two requests try each pod once (a pod never observed scores 0).
    expect(new Set(seen.slice(0, 2))).toEqual(new Set(['slow', 'quick']));
    expect(seen.slice(2)).toEqual(Array(12).fill('quick'));
  });

  it('the same pods behind round-robin get half each', async () => {
    const seen = await pods('rr.test', 4);
    expect(seen.filter((p) => p === 'slow')).toHaveLength(2);
  });

  it('no diagnostic for the annotation', async () => {
    expect((await flusso.diagnostics()).diagnostics.filter((d) => d.object.startsWith(`Ingress ${NS}/`))).toEqual([]);
  });
});
