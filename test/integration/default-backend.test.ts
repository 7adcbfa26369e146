/**
 * default-backend through the built CLI (issue 15 group 4, docs/annotations.md): while the
 * route's Service has no endpoint, an Ingress with `default-backend: sorry` sends its requests to
 * Service sorry; an Ingress without it answers 503; once the route's Service has endpoints again,
 * the requests go back to it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEchoPods, type EchoPods } from '../helpers/echo.js';
import { startFlusso, type FlussoProcess } from '../helpers/flusso.js';
import { httpRequest } from '../helpers/http.js';
import { endpointSlice, ingress, ingressClass, manifestDir, service, type K8sObject } from '../helpers/manifests.js';

const NS = 'fallback';
const N = 'nginx.ingress.kubernetes.io/';

let flusso: FlussoProcess;
let web: EchoPods;
let sorry: EchoPods;
let dir: Awaited<ReturnType<typeof manifestDir>>;
let objects: K8sObject[];

beforeAll(async () => {
  web = await startEchoPods('web', ['127.0.0.1'], 0, { namespace: NS });
  sorry = await startEchoPods('sorry', ['127.0.0.3'], 0, { namespace: NS });
  const fb = ingress(NS, 'fb', { host: 'fb.test', paths: [{ path: '/', service: 'web', port: 'http' }] });
  objects = [
    ingressClass('flusso'),
    service(NS, 'web', [{ name: 'http', port: 80, targetPort: web.port }]),
    service(NS, 'sorry', [{ name: 'http', port: 8080, targetPort: sorry.port }]),
    endpointSlice(NS, 'sorry', sorry.addresses, sorry.port, { portName: 'http' }),
    { ...fb, metadata: { ...(fb.metadata as object), annotations: { [`${N}default-backend`]: 'sorry' } } },
    ingress(NS, 'plain', { host: 'plain.test', paths: [{ path: '/', service: 'web', port: 'http' }] }),
  ];
  dir = await manifestDir();
  await dir.write('00.yaml', objects);
  flusso = await startFlusso({ manifestsDir: dir.dir, workers: 1 });
  await flusso.waitForGeneration(1);
});

afterAll(async () => {
  await flusso?.stop();
  await web?.close();
  await sorry?.close();
});

describe('default-backend through the CLI', () => {
  it('while the route\'s Service has no endpoint, its requests go to the default backend', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await httpRequest({ port: flusso.httpPort, host: 'fb.test', path: `/p${i}` });
      expect(r.status, r.body).toBe(200);
      expect(r.json?.pod).toBe('sorry-1');
    }
  });

  it('an Ingress without it answers 503', async () => {
    expect((await httpRequest({ port: flusso.httpPort, host: 'plain.test', path: '/' })).status).toBe(503);
  });

  it('once the route\'s Service has an endpoint, its requests go back to it', async () => {
    await dir.write('00.yaml', [...objects, endpointSlice(NS, 'web', web.addresses, web.port, { portName: 'http' })]);
    await flusso.waitForGeneration(2);
    const r = await httpRequest({ port: flusso.httpPort, host: 'fb.test', path: '/back' });
    expect(r.status, r.body).toBe(200);
    expect(r.json?.pod).toBe('web-1');
  });

  it('no diagnostic for either Ingress', async () => {
    expect((await flusso.diagnostics()).diagnostics.filter((d) => d.object.startsWith(`Ingress ${NS}/`))).toEqual([]);
  });
});
