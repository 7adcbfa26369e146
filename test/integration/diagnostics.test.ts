/**
 * What diagnostics promise, through the built CLI and the file source (issue 16 item 7): an
 * Ingress with an invalid pathType keeps its last good version (README, "The file source")
 * instead of dropping the path and letting its requests fall through to `/`; each diagnostic
 * says what happens to the object; and the compiler's diagnostics name the file their object
 * comes from, as the source's own do.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEchoPods, type EchoPods } from '../helpers/echo.js';
import { pollUntil, startFlusso, type DiagnosticEntry, type FlussoProcess } from '../helpers/flusso.js';
import { httpRequest } from '../helpers/http.js';
import { endpointSlice, ingress, ingressClass, manifestDir, service, type K8sObject, type ManifestDir } from '../helpers/manifests.js';

const NS = 'diag';

describe('diagnostics through the file source', () => {
  let dir: ManifestDir;
  let flusso: FlussoProcess;
  let web: EchoPods;
  let api: EchoPods;
  const get = (path: string) => httpRequest({ port: flusso.httpPort, host: 'shop.test', path });
  const backends = (): K8sObject[] => [
    service(NS, 'web', [{ name: 'http', port: 80, targetPort: web.port }]),
    endpointSlice(NS, 'web', web.addresses, web.port, { portName: 'http' }),
    service(NS, 'api', [{ name: 'http', port: 80, targetPort: api.port }]),
    endpointSlice(NS, 'api', api.addresses, api.port, { portName: 'http' }),
  ];
  const shop = (apiPathType: string): K8sObject => {
    const ing = ingress(NS, 'shop', { host: 'shop.test', paths: [{ path: '/', service: 'web', port: 'http' }, { path: '/api', service: 'api', port: 'http' }] });
    const paths = (ing.spec as { rules: { http: { paths: Record<string, unknown>[] } }[] }).rules[0]!.http.paths;
    paths[1]!.pathType = apiPathType;
    return ing;
  };
  /** diagnosticOf waits until /api/v1/diagnostics lists one for `object` with `code`. */
  const diagnosticOf = (object: string, code: string): Promise<DiagnosticEntry> =>
    pollUntil(`a ${code} diagnostic for ${object}`, async () => (await flusso.diagnostics()).diagnostics.find((d) => d.object === object && d.code === code));

  beforeAll(async () => {
    web = await startEchoPods('web', ['127.0.0.1'], 0, { namespace: NS, ingress: 'shop' });
    api = await startEchoPods('api', ['127.0.0.1'], 0, { namespace: NS, ingress: 'shop' });
    dir = await manifestDir();
    await dir.write('00-class.yaml', [ingressClass('flusso')]);
    await dir.write('10-backends.yaml', backends());
    await dir.write('20-shop.yaml', [shop('Prefix')]);
    flusso = await startFlusso({ manifestsDir: dir.dir, workers: 1 });
  });
  afterAll(async () => {
    await flusso?.stop();
    await web?.close();
    await api?.close();
  });

  it('an Ingress whose path gets an invalid pathType keeps its last good version: /api still reaches api', async () => {
    expect((await get('/api/orders')).json?.service).toBe('api');
    await dir.write('20-shop.yaml', [shop('Regex')]);
    const d = await diagnosticOf(`Ingress ${NS}/shop`, 'ING_ERR_MANIFEST_INVALID');
    expect(d).toMatchObject({
      severity: 'error',
      file: '20-shop.yaml',
      message: `spec.rules[0].http.paths[1].pathType must be Exact, Prefix or ImplementationSpecific, not "Regex"; Ingress ${NS}/shop is kept at its last good version`,
    });
    // Had the path been dropped alone, /api/orders would now fall through to `/` (web).
    for (let i = 0; i < 5; i++) expect((await get('/api/orders')).json?.service).toBe('api');
    expect((await get('/')).json?.service).toBe('web');

    // Fixed, it applies again and the diagnostic goes.
    await dir.write('20-shop.yaml', [shop('Exact')]);
    await pollUntil('the fixed Ingress to apply', async () => ((await get('/api/orders')).json?.service === 'web' ? true : undefined));
    expect((await flusso.diagnostics()).diagnostics.filter((d) => d.object === `Ingress ${NS}/shop`)).toEqual([]);
  });

  it('a compile diagnostic names the file its object comes from', async () => {
    await dir.write('30-orphan.yaml', [ingress(NS, 'orphan', { host: 'orphan.test', paths: [{ path: '/', service: 'missing', port: 80 }] })]);
    const d = await diagnosticOf(`Ingress ${NS}/orphan`, 'ING_ERR_SERVICE_NOT_FOUND');
    expect(d.file).toBe('30-orphan.yaml');
    // A Service's own diagnostic names the Service's file.
    await dir.write('10-backends.yaml', [...backends(), service(NS, 'idle', [{ name: 'http', port: 80, targetPort: 1 }])]);
    await dir.write('30-orphan.yaml', [ingress(NS, 'orphan', { host: 'orphan.test', paths: [{ path: '/', service: 'idle', port: 'http' }] })]);
    const idle = await diagnosticOf(`Service ${NS}/idle`, 'ING_ERR_NO_ENDPOINTS');
    expect(idle.file).toBe('10-backends.yaml');
    // One that names an IngressClass nobody defined: it says what becomes of the Ingress.
    await dir.write('40-classless.yaml', [ingress(NS, 'classless', { host: 'classless.test', paths: [{ path: '/', service: 'web', port: 'http' }] }, 'nope')]);
    expect(await diagnosticOf(`Ingress ${NS}/classless`, 'ING_ERR_CLASS_NOT_FOUND')).toMatchObject({
      file: '40-classless.yaml',
      message: 'ingressClassName "nope" names no IngressClass; Flusso does not serve this Ingress',
    });
  });

  it('a file that stops parsing is kept at its last good version, and says so', async () => {
    await dir.writeRaw('30-orphan.yaml', 'kind: [\n');
    const d = await diagnosticOf('document 1', 'ING_ERR_MANIFEST_PARSE');
    expect(d.file).toBe('30-orphan.yaml');
    expect(d.message).toMatch(/; the file is kept at its last good version$/);
    // The Ingress it held still compiles (its Service still has no endpoints).
    expect((await diagnosticOf(`Service ${NS}/idle`, 'ING_ERR_NO_ENDPOINTS')).file).toBe('10-backends.yaml');
  });
});
