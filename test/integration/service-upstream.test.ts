/**
 * service-upstream through the built CLI (issue 15 group 5, docs/annotations.md): the Service's
 * ClusterIP stands in for kube-proxy's virtual IP with a recording echo server of its own
 * (127.0.0.9, the Service port); the EndpointSlice lists two other pods. An Ingress with
 * service-upstream "true" sends every request to the ClusterIP; another Ingress on the same
 * Service goes to the endpoints.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEchoPods, type EchoPods } from '../helpers/echo.js';
import { startFlusso, type FlussoProcess } from '../helpers/flusso.js';
import { httpRequest } from '../helpers/http.js';
import { endpointSlice, ingress, ingressClass, manifestDir, service, type K8sObject } from '../helpers/manifests.js';

const NS = 'vip';
const N = 'nginx.ingress.kubernetes.io/';

let flusso: FlussoProcess;
let web: EchoPods;
let vip: EchoPods;

beforeAll(async () => {
  web = await startEchoPods('web', ['127.0.0.1', '127.0.0.2'], 0, { namespace: NS });
  vip = await startEchoPods('web', ['127.0.0.9'], web.port, { namespace: NS, podNames: ['cluster-ip'] });
  const svc = service(NS, 'web', [{ name: 'http', port: web.port, targetPort: web.port }]);
  const up = ingress(NS, 'up', { host: 'up.test', paths: [{ path: '/', service: 'web', port: 'http' }] });
  const dir = await manifestDir();
  await dir.write('00.yaml', [
    ingressClass('flusso'),
    { ...svc, spec: { ...(svc.spec as object), clusterIP: '127.0.0.9' } },
    endpointSlice(NS, 'web', web.addresses, web.port, { portName: 'http' }),
    { ...up, metadata: { ...(up.metadata as object), annotations: { [`${N}service-upstream`]: 'true' } } },
    ingress(NS, 'plain', { host: 'plain.test', paths: [{ path: '/', service: 'web', port: 'http' }] }),
  ]);
  flusso = await startFlusso({ manifestsDir: dir.dir, workers: 1 });
  await flusso.waitForGeneration(1);
});

afterAll(async () => {
  await flusso?.stop();
  await web?.close();
  await vip?.close();
});

async function podsOf(host: string, n: number): Promise<Set<string>> {
  const pods = new Set<string>();
  for (let i = 0; i < n; i++) {
    const r = await httpRequest({ port: flusso.httpPort, host, path: '/x' });
    expect(r.status, r.body).toBe(200);
    pods.add(String(r.json?.pod));
  }
  return pods;
}

describe('service-upstream through the CLI', () => {
  it('"true": every request goes to the ClusterIP and port', async () => {
    expect(await podsOf('up.test', 6)).toEqual(new Set(['cluster-ip']));
  });
  it('another Ingress on the same Service goes to the endpoints', async () => {
    expect(await podsOf('plain.test', 6)).toEqual(new Set(['web-1', 'web-2']));
  });
  it('no diagnostic for either Ingress', async () => {
    expect((await flusso.diagnostics()).diagnostics.filter((d) => d.object.startsWith(`Ingress ${NS}/`))).toEqual([]);
  });
});
