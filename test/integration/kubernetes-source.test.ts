/**
 * The built CLI with `--source kubernetes` against the fake API server: routing, relist after
 * 410, an API outage under traffic, EndpointSlice changes reaching every worker, custom-headers
 * ConfigMaps watched and applied without a restart, Ingress status
 * and leader election.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startEchoPods, type EchoPods } from '../helpers/echo.js';
import { startFakeApiServer, type ApiObject, type FakeApiServer } from '../helpers/fake-apiserver.js';
import { pollUntil, startFlusso, type FlussoProcess, type LogLine, type StartFlussoOptions } from '../helpers/flusso.js';
import { httpRequest, type HttpResponse } from '../helpers/http.js';
import { endpointSlice, ingress, ingressClass, service, type K8sObject } from '../helpers/manifests.js';

const NS = 'team-a';
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function api(opts: { token?: string | null } = {}): Promise<FakeApiServer> {
  const a = await startFakeApiServer(opts);
  cleanups.push(() => a.close());
  return a;
}

async function pods(name: string, addresses: readonly string[], port = 0, podNames?: readonly string[]): Promise<EchoPods> {
  const p = await startEchoPods(name, addresses, port, { namespace: NS, ...(podNames === undefined ? {} : { podNames }) });
  cleanups.push(() => p.close());
  return p;
}

async function flusso(a: FakeApiServer, extra: readonly string[] = [], opts: Partial<StartFlussoOptions> & { token?: string } = {}): Promise<FlussoProcess> {
  const kubeconfig = await a.kubeconfigFile(opts.token);
  const f = await startFlusso({ sourceArgs: ['--source', 'kubernetes', '--kubeconfig', kubeconfig], args: ['--drain-timeout', '1s', ...extra], ...opts });
  cleanups.push(() => f.stop());
  return f;
}

/** backend applies a Service and its EndpointSlice for `p`, and an Ingress routing `host` to it. */
function routeTo(a: FakeApiServer, host: string, p: EchoPods, className = 'flusso', name = 'web'): void {
  for (const o of [service(NS, p.service, [{ port: 80, targetPort: p.port }]), endpointSlice(NS, p.service, p.addresses, p.port), ingress(NS, name, { host, paths: [{ path: '/', service: p.service, port: 80 }] }, className)] as K8sObject[])
    a.apply(o);
}

const get = (f: FlussoProcess, host: string): Promise<HttpResponse> => httpRequest({ port: f.httpPort, host, path: '/' });

/**
 * publishedAfter waits for the first line about a generation after `generation` ("endpoints
 * published" or "snapshot published") and returns every such line read so far. The primary logs
 * after broadcasting and the test reads its stdout asynchronously, so a worker can serve the new
 * generation before the line about it has been read.
 */
async function publishedAfter(f: FlussoProcess, generation: number): Promise<LogLine[]> {
  const lines = (): LogLine[] => f.logs().filter((l) => (l.msg === 'endpoints published' || l.msg === 'snapshot published') && (l.generation as number) > generation);
  await pollUntil(`a line about a generation after ${generation}`, async () => (lines().length > 0 ? true : undefined));
  return lines();
}

async function untilPod(f: FlussoProcess, host: string, pod: string): Promise<void> {
  await pollUntil(`${host} served by ${pod}`, async () => ((await get(f, host).catch(() => undefined))?.json?.pod === pod ? true : undefined), 20_000, 50);
}

describe('--source kubernetes', () => {
  it('exits 1 naming ING_ERR_K8S_CREDENTIALS when there are no credentials', async () => {
    const f = await startFlusso({ sourceArgs: ['--source', 'kubernetes'], env: { KUBECONFIG: '', KUBERNETES_SERVICE_HOST: '' }, waitReady: false });
    expect((await f.exited()).code).toBe(1);
    expect(f.stderr()).toContain('[ING_ERR_K8S_CREDENTIALS]');
  });

  it('routes an Ingress of our class to its EndpointSlice endpoints', async () => {
    const a = await api();
    a.apply(ingressClass('flusso'));
    const web = await pods('web', ['127.0.0.1']);
    routeTo(a, 'web.example', web);
    const f = await flusso(a);
    const res = await get(f, 'web.example');
    expect([res.status, res.json?.pod, res.json?.service]).toEqual([200, 'web-1', 'web']);
    expect((await get(f, 'other.example')).status).toBe(404);
    const lists = a.requests().filter((r) => r.method === 'GET' && r.query.get('watch') === null).map((r) => r.path).sort();
    expect(lists).toEqual(['/api/v1/configmaps', '/api/v1/secrets', '/api/v1/services', '/apis/discovery.k8s.io/v1/endpointslices', '/apis/networking.k8s.io/v1/ingressclasses', '/apis/networking.k8s.io/v1/ingresses']);
    expect(a.requests().find((r) => r.path === '/api/v1/secrets')?.query.get('fieldSelector')).toBe('type=kubernetes.io/tls');
  });

  it('stays unready until every collection listed once', async () => {
    const a = await api();
    a.apply(ingressClass('flusso'));
    a.setFault({ listStatus: 500 });
    const f = await flusso(a, [], { waitReady: false });
    await f.waitForLog((l) => l.code === 'ING_ERR_K8S_API_UNREACHABLE');
    // /readyz must answer, and answer 503 (an unreachable admin port is no pass).
    const r = await pollUntil('an answer from /readyz', async () => f.readyz().catch(() => undefined));
    expect(r.status).toBe(503);
    expect(r.body.ready).toBe(false);
    a.setFault({});
    await f.waitForGeneration(1);
  });

  it('relists after a 410 and keeps serving, then applies what changed', async () => {
    const a = await api();
    a.apply(ingressClass('flusso'));
    const web = await pods('web', ['127.0.0.1']);
    routeTo(a, 'web.example', web);
    const f = await flusso(a);
    expect((await get(f, 'web.example')).status).toBe(200);
    a.expireAll();
    a.apply(ingress(NS, 'second', { host: 'second.example', paths: [{ path: '/', service: 'web', port: 80 }] }));
    await untilPod(f, 'second.example', 'web-1');
    expect((await get(f, 'web.example')).status).toBe(200);
    await f.waitForLog((l) => l.msg === 'resourceVersion expired: relisting');
  });

  it('serves through an API outage (every watch fails to come back twice) with 0 failed requests, then applies the changes made meanwhile', async () => {
    const a = await api();
    a.apply(ingressClass('flusso'));
    const web = await pods('web', ['127.0.0.1']);
    routeTo(a, 'web.example', web);
    const f = await flusso(a, ['--log-level', 'debug']); // debug: the watches' retries are logged
    let failed = 0;
    let sent = 0;
    let running = true;
    const loop = (async () => {
      while (running) {
        sent++;
        const res = await get(f, 'web.example').catch(() => undefined);
        if (res?.status !== 200) failed++;
      }
    })();
    try {
      await a.down();
      const outage = f.waitForLog((l) => l.msg === 'kubernetes API unreachable: serving the last snapshot, retrying');
      await outage;
      const sentAtDown = sent;
      // The outage itself is the scenario: the API stays away until each of the six watches
      // (Ingresses, IngressClasses, Services, EndpointSlices, ConfigMaps, Secrets) has failed to come back at
      // least twice, one backoff apart, while requests flow.
      const retried = await pollUntil('every watch to fail twice', async () => {
        const resources = new Set(f.logs().filter((l) => l.msg === 'list/watch failed: retrying' && typeof l.failures === 'number' && l.failures >= 2).map((l) => String(l.resource)));
        return resources.size >= 6 ? resources : undefined;
      }, 30_000);
      expect(retried.size).toBe(6);
      expect(sent).toBeGreaterThan(sentAtDown);
      // A change made while Flusso cannot see the API (the store outlives the listener).
      a.apply(ingress(NS, 'later', { host: 'later.example', paths: [{ path: '/', service: 'web', port: 80 }] }));
      await a.up();
      const ended = await f.waitForLog((l) => l.msg === 'kubernetes API outage ended', 60_000);
      expect(typeof ended.durationMs).toBe('number');
      await untilPod(f, 'later.example', 'web-1');
    } finally {
      running = false;
      await loop;
    }
    expect(failed).toBe(0);
    expect(sent).toBeGreaterThan(10);
  });

  it('an EndpointSlice change reaches every worker', async () => {
    const a = await api();
    a.apply(ingressClass('flusso'));
    const first = await pods('web', ['127.0.0.1']);
    const second = await pods('web', ['127.0.0.2'], first.port, ['web-2']);
    routeTo(a, 'web.example', first);
    const f = await flusso(a, [], { workers: 2 });
    const before = (await f.readyz()).body.generation;
    a.apply(endpointSlice(NS, 'web', second.addresses, second.port));
    const after = await pollUntil('a new generation on every worker', async () => {
      const r = await f.readyz();
      return r.body.generation > before && r.body.workers.length === 2 && r.body.workers.every((w) => w.generation >= r.body.generation) ? r.body.generation : undefined;
    });
    expect(after).toBeGreaterThan(before);
    // It went out as an endpoints delta, not a full snapshot.
    const published = await publishedAfter(f, before);
    expect(published.map((l) => [l.kind, l.backends])).toEqual([['endpoints', 1]]);
    expect(published[0]!.bytes as number).toBeLessThan(1000);
    // Fresh connections land on either worker: 20 in a row all reach the new endpoint.
    for (let i = 0; i < 20; i++) expect((await get(f, 'web.example')).json?.pod).toBe('web-2');
  });

  it('custom-headers reads its ConfigMap from the API, an edit reaches the workers without a restart, and a ConfigMap nothing names compiles nothing', async () => {
    const a = await api();
    a.apply(ingressClass('flusso'));
    const first = await pods('web', ['127.0.0.1']);
    const second = await pods('web', ['127.0.0.2'], first.port, ['web-2']);
    routeTo(a, 'web.example', first);
    const ing = ingress(NS, 'web', { host: 'web.example', paths: [{ path: '/', service: first.service, port: 80 }] });
    a.apply({ ...ing, metadata: { ...(ing.metadata as object), annotations: { 'nginx.ingress.kubernetes.io/custom-headers': `${NS}/hdrs` } } });
    a.apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { namespace: NS, name: 'hdrs' }, data: { 'X-Team': 'blue' } });
    const f = await flusso(a, ['--global-allowed-response-headers', 'X-Team']);
    expect((await get(f, 'web.example')).headers['x-team']).toBe('blue');
    a.apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { namespace: NS, name: 'hdrs' }, data: { 'X-Team': 'green' } });
    await pollUntil('X-Team: green', async () => ((await get(f, 'web.example')).headers['x-team'] === 'green' ? true : undefined));
    // A ConfigMap no Ingress names, then an endpoint change: the rebuild stays an endpoints delta (the ConfigMap forced no full compile).
    const before = (await f.readyz()).body.generation;
    a.apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { namespace: NS, name: 'unrelated' }, data: { 'leader': 'x' } });
    a.apply(endpointSlice(NS, 'web', second.addresses, second.port));
    await untilPod(f, 'web.example', 'web-2');
    const published = await publishedAfter(f, before);
    expect(published.map((l) => l.kind)).toEqual(['endpoints']);
  });

  it('a worker restarted after endpoint deltas gets the current endpoints in its init', async () => {
    const a = await api();
    a.apply(ingressClass('flusso'));
    const first = await pods('web', ['127.0.0.1']);
    const second = await pods('web', ['127.0.0.2'], first.port, ['web-2']);
    const third = await pods('web', ['127.0.0.3'], first.port, ['web-3']);
    routeTo(a, 'web.example', first);
    const f = await flusso(a, [], { workers: 2 });
    const start = (await f.readyz()).body.generation;
    a.apply(endpointSlice(NS, 'web', second.addresses, second.port));
    await f.waitForLog((l) => l.msg === 'endpoints published' && (l.generation as number) > start);
    a.apply(endpointSlice(NS, 'web', third.addresses, third.port));
    const delta = await f.waitForLog((l) => l.msg === 'endpoints published' && (l.generation as number) > start + 1);
    const current = await f.waitForGeneration(delta.generation as number);
    const victim = current.workers[0]!;
    process.kill(victim.pid, 'SIGKILL');
    const replaced = await pollUntil('the killed worker replaced and ready', async () => {
      const r = await f.readyz().catch(() => undefined);
      const w = r?.body.workers.find((x) => x.id === victim.id);
      return r?.status === 200 && w && w.pid !== victim.pid && w.listening ? r.body : undefined;
    });
    // The replacement's init carried the generation the deltas made, with no snapshot published since.
    expect(replaced.generation).toBe(delta.generation);
    expect(replaced.workers.every((w) => w.generation === delta.generation)).toBe(true);
    expect(f.logs().filter((l) => l.msg === 'snapshot published' && (l.generation as number) > start)).toEqual([]);
    for (let i = 0; i < 20; i++) expect((await get(f, 'web.example')).json?.pod).toBe('web-3');
  });
});

/** lbOf is status.loadBalancer.ingress of a stored Ingress. */
function lbOf(obj: ApiObject | undefined): unknown {
  return (obj?.status as { loadBalancer?: { ingress?: unknown } } | undefined)?.loadBalancer?.ingress;
}

const STATUS_PATH = (name: string): string => `/apis/networking.k8s.io/v1/namespaces/${NS}/ingresses/${name}/status`;
/** Short election timings, through the real flags, so that takeover happens within a test. */
const ELECTION = ['--publish-status-address', '127.0.0.9', '--election-id', 'flusso-test', '--election-lease-duration', '3s', '--election-renew-deadline', '2s', '--election-retry-period', '250ms'];
const OURS = [{ ip: '127.0.0.9' }];

async function untilStatus(a: FakeApiServer, name: string, want: unknown): Promise<void> {
  await pollUntil(`status of ${name} = ${JSON.stringify(want)}`, async () => (JSON.stringify(lbOf(a.get('Ingress', NS, name)) ?? []) === JSON.stringify(want) ? true : undefined), 20_000, 50);
}

const writesTo = (a: FakeApiServer, name: string): { method: string; token: string | undefined }[] =>
  a.requests().filter((r) => r.path === STATUS_PATH(name) && r.method !== 'GET').map((r) => ({ method: r.method, token: r.token }));

describe('Ingress status', () => {
  it('publishes our address for our class, never for another, removes it when an Ingress leaves, and clears it on shutdown', async () => {
    const a = await api();
    a.apply(ingressClass('flusso'));
    a.apply(ingressClass('other', 'other.dev/controller'));
    const web = await pods('web', ['127.0.0.1']);
    routeTo(a, 'web.example', web);
    a.apply(ingress(NS, 'foreign', { host: 'foreign.example', paths: [{ path: '/', service: 'web', port: 80 }] }, 'other'));
    const foreign = a.get('Ingress', NS, 'foreign') as ApiObject;
    a.apply({ ...foreign, status: { loadBalancer: { ingress: [{ ip: '10.9.9.9' }] } } });
    const f = await flusso(a, ELECTION);
    await untilStatus(a, 'web', OURS);
    expect((await get(f, 'web.example')).status).toBe(200);

    // A later Ingress is published too; by then the sync after the first one has finished, and
    // nothing rewrote the unchanged 'web'.
    a.apply(ingress(NS, 'second', { host: 'second.example', paths: [{ path: '/', service: 'web', port: 80 }] }));
    await untilStatus(a, 'second', OURS);
    expect(writesTo(a, 'web')).toHaveLength(1);

    // 'second' moves to the other class: our address is removed.
    a.apply(ingress(NS, 'second', { host: 'second.example', paths: [{ path: '/', service: 'web', port: 80 }] }, 'other'));
    await untilStatus(a, 'second', []);

    await f.stop();
    await untilStatus(a, 'web', []);
    expect(writesTo(a, 'foreign')).toEqual([]);
    expect(lbOf(a.get('Ingress', NS, 'foreign'))).toEqual([{ ip: '10.9.9.9' }]);
    expect(a.get('Lease', 'default', 'flusso-test')?.spec).toMatchObject({ holderIdentity: '' });
  });

  it('two replicas elect one leader; only it writes, and the other takes over when it stops', async () => {
    // Any token is accepted: each replica sends its own, which tells their requests apart.
    const a = await api({ token: null });
    a.apply(ingressClass('flusso'));
    const web = await pods('web', ['127.0.0.1']);
    routeTo(a, 'web.example', web);
    const startReplica = (id: string): Promise<FlussoProcess> => flusso(a, ELECTION, { env: { POD_NAME: id }, token: `${id}-token` });
    const [r1, r2] = await Promise.all([startReplica('flusso-a'), startReplica('flusso-b')]);
    await untilStatus(a, 'web', OURS);
    const holder = String((a.get('Lease', 'default', 'flusso-test')?.spec as { holderIdentity?: string }).holderIdentity);
    expect(['flusso-a', 'flusso-b']).toContain(holder);
    const [leader, follower, followerId] = holder === 'flusso-a' ? [r1, r2, 'flusso-b'] : [r2, r1, 'flusso-a'];
    expect(writesTo(a, 'web').map((w) => w.token)).toEqual([`${holder}-token`]);
    expect(follower.logs().some((l) => l.msg === 'became leader')).toBe(false);

    await leader.stop();
    await follower.waitForLog((l) => l.msg === 'became leader');
    // The stopping leader cleared the status; the new one writes it back.
    await untilStatus(a, 'web', OURS);
    expect(writesTo(a, 'web').map((w) => w.token)).toEqual([`${holder}-token`, `${holder}-token`, `${followerId}-token`]);
    expect(a.get('Lease', 'default', 'flusso-test')?.spec).toMatchObject({ holderIdentity: followerId, leaseTransitions: 1 });
  });
});
