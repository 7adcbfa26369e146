/**
 * Control-plane failure behaviour through the built CLI (issue 14 items 4, 5 and 6), through the
 * file source and the kubernetes source (the fake API server):
 * - a huge Ingress is parsed and compiled off the primary's event loop (the offload is decided on
 *   its paths), /healthz keeps answering meanwhile, and its routes come and go;
 * - diagnostics are bounded (a 1 MiB annotation value is not copied whole into the API or a log
 *   line), and a backend that is this Flusso's own listener is a diagnostic, never a loop;
 * - a live edit that breaks one path keeps the Ingress's last good version, whatever broke.
 * Speed is measured in bench/load/huge-ingress.mjs, not here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEchoPods, type EchoPods } from '../helpers/echo.js';
import { startFakeApiServer, type FakeApiServer } from '../helpers/fake-apiserver.js';
import { pollUntil, startFlusso, type DiagnosticEntry, type FlussoProcess, type LogLine } from '../helpers/flusso.js';
import { httpRequest } from '../helpers/http.js';
import { endpointSlice, ingress, ingressClass, manifestDir, service, type K8sObject, type ManifestDir } from '../helpers/manifests.js';

const NS = 'cp';
/** Paths of the huge Ingress: enough to take the parse thread (> 16 KiB) and the compile thread (weight ≥ 2,000). */
const HUGE_PATHS = 5000;

/** hugeIngress routes /p-0 … /p-(n-1) of huge.test to `svc`. */
function hugeIngress(n: number, svc: string): K8sObject {
  const paths = Array.from({ length: n }, (_, i) => ({ path: `/p-${i}`, service: svc, port: 80 }));
  return ingress(NS, 'huge', { host: 'huge.test', paths });
}

/** shop routes / to web and /api to api, the /api path as `apiPath` gives it. */
function shop(apiPath: Record<string, unknown> = {}): K8sObject {
  const ing = ingress(NS, 'shop', { host: 'shop.test', paths: [{ path: '/', service: 'web', port: 80 }, { path: '/api', service: 'api', port: 80 }] });
  const paths = (ing.spec as { rules: { http: { paths: Record<string, unknown>[] } }[] }).rules[0]!.http.paths;
  Object.assign(paths[1]!, apiPath);
  return ing;
}

/** probeHealthz asks /healthz one request after another until stopped; it counts the answers that were not 200. */
function probeHealthz(f: FlussoProcess): { stop: () => Promise<{ answered: number; failed: number }> } {
  let stopped = false;
  let answered = 0;
  let failed = 0;
  const loop = (async () => {
    while (!stopped) {
      const ok = await fetch(`http://127.0.0.1:${f.adminPort}/healthz`).then((r) => r.status === 200, () => false);
      answered++;
      if (!ok) failed++;
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      return { answered, failed };
    },
  };
}

const published = (l: LogLine): boolean => l.msg === 'snapshot published';

/**
 * publishedLine waits for the `which`th "snapshot published" line (negative: from the end) that
 * `ready` accepts. The primary logs a snapshot after broadcasting it, and its stdout is read
 * asynchronously, so a worker can serve a snapshot before the test has read the line about it.
 */
function publishedLine(f: FlussoProcess, which: number, ready: (l: LogLine) => boolean): Promise<LogLine> {
  return pollUntil(`snapshot line ${which}`, async () => {
    const line = f.logs().filter(published).at(which);
    return line !== undefined && ready(line) ? line : undefined;
  });
}

async function servedBy(f: FlussoProcess, host: string, path: string): Promise<string | number> {
  const res = await httpRequest({ port: f.httpPort, host, path });
  return res.status === 200 ? String(res.json?.service) : res.status;
}

describe('control plane through the file source', () => {
  let dir: ManifestDir;
  let flusso: FlussoProcess;
  let web: EchoPods;
  let api: EchoPods;
  const backends = (): K8sObject[] => [
    service(NS, 'web', [{ port: 80, targetPort: web.port }]),
    endpointSlice(NS, 'web', web.addresses, web.port),
    service(NS, 'api', [{ port: 80, targetPort: api.port }]),
    endpointSlice(NS, 'api', api.addresses, api.port),
  ];
  const diagnosticOf = (object: string, code: string): Promise<DiagnosticEntry> =>
    pollUntil(`a ${code} diagnostic for ${object}`, async () => (await flusso.diagnostics()).diagnostics.find((d) => d.object === object && d.code === code));

  beforeAll(async () => {
    web = await startEchoPods('web', ['127.0.0.1'], 0, { namespace: NS });
    api = await startEchoPods('api', ['127.0.0.1'], 0, { namespace: NS });
    dir = await manifestDir();
    await dir.write('00-class.yaml', [ingressClass('flusso')]);
    await dir.write('10-backends.yaml', backends());
    await dir.write('20-shop.yaml', [shop()]);
    flusso = await startFlusso({ manifestsDir: dir.dir, workers: 2 });
  });
  afterAll(async () => {
    await flusso?.stop();
  });

  it('a huge Ingress is parsed and compiled off the event loop: /healthz answers throughout, its routes come and go', async () => {
    const probe = probeHealthz(flusso);
    const before = flusso.logs().filter(published).length;
    await dir.write('30-huge.yaml', [hugeIngress(HUGE_PATHS, 'web')]);
    await pollUntil('the last path of the huge Ingress', async () => ((await servedBy(flusso, 'huge.test', `/p-${HUGE_PATHS - 1}/x`)) === 'web' ? true : undefined));
    // Decided on the work: the table holds a handful of Ingresses, but one has 5,000 paths.
    expect(await publishedLine(flusso, before, () => true)).toMatchObject({ offloaded: true, ingresses: 2 });
    await dir.remove('30-huge.yaml');
    await pollUntil('the huge Ingress gone', async () => ((await servedBy(flusso, 'huge.test', '/p-0')) === 404 ? true : undefined));
    const { answered, failed } = await probe.stop();
    expect(failed).toBe(0);
    expect(answered).toBeGreaterThan(0);
    // Small again: compiled on the event loop, the thread released.
    expect(await publishedLine(flusso, -1, (l) => l.ingresses !== 2)).toMatchObject({ offloaded: false, ingresses: 1 });
    expect(await servedBy(flusso, 'shop.test', '/api/x')).toBe('api');
  });

  it('a 1 MiB annotation value is cut in /api/v1/diagnostics and in the log line', async () => {
    const value = 'x'.repeat(1 << 20);
    const ing = ingress(NS, 'annotated', { host: 'annotated.test', paths: [{ path: '/', service: 'web', port: 80 }] });
    (ing.metadata as Record<string, unknown>).annotations = { 'flusso.dev/cache': value };
    await dir.write('40-annotated.yaml', [ing]);
    const d = await diagnosticOf(`Ingress ${NS}/annotated`, 'ING_ERR_INGRESS_INVALID_ANNOTATION');
    expect(d.message).toContain(`"${'x'.repeat(200)}"… (${(1 << 20) - 200} more characters)`);
    expect(d.message.length).toBeLessThan(1100);
    const logged = await flusso.waitForLog((l) => l.msg === 'configuration diagnostic' && l.object === `Ingress ${NS}/annotated`);
    expect(String(logged.detail)).toBe(d.message);
    expect(Math.max(...flusso.rawLogs().map((l) => l.length))).toBeLessThan(4096);
    expect(await servedBy(flusso, 'annotated.test', '/')).toBe('web');
  });

  it.each([
    { listener: 'admin', port: (f: FlussoProcess) => f.adminPort },
    { listener: 'HTTP', port: (f: FlussoProcess) => f.httpPort },
  ])("a backend that is this Flusso's own $listener port is a diagnostic and 503, never a loop", async ({ listener, port }) => {
    const name = `loop-${listener.toLowerCase()}`;
    await dir.write(`50-${name}.yaml`, [
      service(NS, name, [{ port: 80, targetPort: port(flusso) }]),
      endpointSlice(NS, name, ['127.0.0.1'], port(flusso)),
      ingress(NS, name, { host: `${name}.test`, paths: [{ path: '/', service: name, port: 80 }] }),
    ]);
    const d = await diagnosticOf(`Ingress ${NS}/${name}`, 'ING_ERR_SERVICE_ENDPOINT_SELF');
    expect(d).toMatchObject({ severity: 'error', file: `50-${name}.yaml` });
    expect(d.message).toContain(`has endpoint 127.0.0.1:${port(flusso)}, which is this Flusso's own ${listener} listener; it is not used`);
    const res = await httpRequest({ port: flusso.httpPort, host: `${name}.test`, path: '/readyz' });
    expect(res.status).toBe(503);
  });

  it.each([
    { name: 'a relative path', broken: { path: 'api' }, reason: 'path "api" does not start with "/"' },
    { name: 'pathType: Bogus', broken: { pathType: 'Bogus' }, reason: 'pathType must be Exact, Prefix or ImplementationSpecific, not "Bogus"' },
    { name: 'a backend with no port', broken: { backend: { service: { name: 'api' } } }, reason: 'backend.service.port must have a number or a name' },
  ])('a live edit that breaks one path ($name) keeps the last good version of the Ingress', async ({ broken, reason }) => {
    expect(await servedBy(flusso, 'shop.test', '/api/orders')).toBe('api');
    await dir.write('20-shop.yaml', [shop(broken)]);
    const d = await diagnosticOf(`Ingress ${NS}/shop`, 'ING_ERR_MANIFEST_INVALID');
    expect(d.message).toContain(reason);
    expect(d.message).toMatch(/; Ingress cp\/shop is kept at its last good version$/);
    // Had the path been dropped alone, /api/orders would fall through to / (web).
    for (let i = 0; i < 4; i++) expect(await servedBy(flusso, 'shop.test', '/api/orders')).toBe('api');
    await dir.write('20-shop.yaml', [shop()]);
    await pollUntil('the diagnostic gone', async () => ((await flusso.diagnostics()).diagnostics.some((x) => x.object === `Ingress ${NS}/shop`) ? undefined : true));
  });
});

describe('control plane through the kubernetes source', () => {
  let apiServer: FakeApiServer;
  let flusso: FlussoProcess;
  let web: EchoPods;
  let api: EchoPods;

  beforeAll(async () => {
    web = await startEchoPods('web', ['127.0.0.1'], 0, { namespace: NS });
    api = await startEchoPods('api', ['127.0.0.1'], 0, { namespace: NS });
    apiServer = await startFakeApiServer();
    for (const o of [ingressClass('flusso'), service(NS, 'web', [{ port: 80, targetPort: web.port }]), endpointSlice(NS, 'web', web.addresses, web.port), service(NS, 'api', [{ port: 80, targetPort: api.port }]), endpointSlice(NS, 'api', api.addresses, api.port), shop()])
      apiServer.apply(o);
    flusso = await startFlusso({ sourceArgs: ['--source', 'kubernetes', '--kubeconfig', await apiServer.kubeconfigFile()], workers: 2 });
  });
  afterAll(async () => {
    await flusso?.stop();
    await apiServer?.close();
  });

  it('a huge Ingress from the API is compiled off the event loop: /healthz answers throughout, its routes come and go', async () => {
    const probe = probeHealthz(flusso);
    const before = flusso.logs().filter(published).length;
    apiServer.apply(hugeIngress(HUGE_PATHS, 'web'));
    await pollUntil('the last path of the huge Ingress', async () => ((await servedBy(flusso, 'huge.test', `/p-${HUGE_PATHS - 1}`)) === 'web' ? true : undefined));
    expect(await publishedLine(flusso, before, () => true)).toMatchObject({ offloaded: true, ingresses: 2 });
    apiServer.remove('Ingress', NS, 'huge');
    await pollUntil('the huge Ingress gone', async () => ((await servedBy(flusso, 'huge.test', '/p-0')) === 404 ? true : undefined));
    const { answered, failed } = await probe.stop();
    expect(failed).toBe(0);
    expect(answered).toBeGreaterThan(0);
  });

  it('pathType: Bogus on a live Ingress keeps its last good version (as any object-level error does)', async () => {
    expect(await servedBy(flusso, 'shop.test', '/api/orders')).toBe('api');
    apiServer.apply(shop({ pathType: 'Bogus' }));
    const d = await pollUntil('the invalid-object diagnostic', async () => (await flusso.diagnostics()).diagnostics.find((x) => x.code === 'ING_ERR_K8S_OBJECT_INVALID'));
    expect(d.object).toBe(`Ingress ${NS}/shop`);
    expect(d.message).toContain('spec.rules[0].http.paths[1].pathType must be Exact, Prefix or ImplementationSpecific, not "Bogus"');
    expect(d.message).toMatch(/last good version/);
    for (let i = 0; i < 4; i++) expect(await servedBy(flusso, 'shop.test', '/api/orders')).toBe('api');
    apiServer.apply(shop({ pathType: 'Exact' }));
    await pollUntil('the fixed Ingress to apply', async () => ((await servedBy(flusso, 'shop.test', '/api/orders')) === 'web' ? true : undefined));
    expect((await flusso.diagnostics()).diagnostics.filter((x) => x.object === `Ingress ${NS}/shop`)).toEqual([]);
  });
});
