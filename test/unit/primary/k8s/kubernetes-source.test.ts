import { PassThrough } from 'node:stream';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { KubernetesSource } from '../../../../src/primary/k8s/kubernetes-source.js';
import type { ResourceSpec } from '../../../../src/primary/k8s/resources.js';
import type { ListResult, RawObject, WatchClient, WatchHandle } from '../../../../src/primary/k8s/watch.js';
import type { SourceUpdate } from '../../../../src/primary/sources/source.js';

/** Collection is a scripted collection: lists answer `items` (or fail), watches are kept for events. */
class Collection implements WatchClient {
  items: RawObject[] = [];
  fail: Error | undefined;
  onEvent: ((type: string, object: RawObject) => void) | undefined;
  onDone: ((err: unknown) => void) | undefined;
  list(): Promise<ListResult> {
    return this.fail ? Promise.reject(this.fail) : Promise.resolve({ items: this.items, resourceVersion: '1' });
  }
  watch(_q: Readonly<Record<string, string>>, onEvent: (type: string, object: RawObject) => void, onDone: (err: unknown) => void): Promise<WatchHandle> {
    this.onEvent = onEvent;
    this.onDone = onDone;
    return Promise.resolve({ abort: () => undefined });
  }
}

const ingress = (name: string, rv: string, extra: Record<string, unknown> = {}): RawObject => ({
  metadata: { name, namespace: 'a', resourceVersion: rv, creationTimestamp: '2026-01-01T00:00:00Z' },
  spec: { ingressClassName: 'flusso', rules: [{ host: `${name}.example`, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 's', port: { number: 80 } } } }] } }] },
  ...extra,
});

let logs: Record<string, unknown>[];
let collections: Map<string, Collection>;
let scopes: string[];
let source: KubernetesSource | undefined;
let updates: SourceUpdate[];
let clock: number;

function create(opts: { namespaces?: string[] } = {}): KubernetesSource {
  const sink = new PassThrough();
  sink.on('data', (c: Buffer) => c.toString().split('\n').filter(Boolean).forEach((l) => logs.push(JSON.parse(l) as Record<string, unknown>)));
  source = new KubernetesSource({
    kubeConfig: new KubeConfig(),
    log: pino({ level: 'debug' }, sink),
    ...(opts.namespaces === undefined ? {} : { namespaces: opts.namespaces }),
    watch: { initialBackoffMs: 100, maxBackoffMs: 100 },
    now: () => clock,
    clientFor: (spec: ResourceSpec, ns: string | undefined) => {
      const key = ns === undefined ? spec.plural : `${spec.plural}/${ns}`;
      scopes.push(key);
      const c = collections.get(key) ?? new Collection();
      collections.set(key, c);
      return c;
    },
  });
  return source;
}

const coll = (key: string): Collection => {
  const c = collections.get(key) ?? new Collection();
  collections.set(key, c);
  return c;
};

beforeEach(() => {
  vi.useFakeTimers();
  logs = [];
  collections = new Map();
  scopes = [];
  updates = [];
  clock = 0;
});
afterEach(async () => {
  await source?.stop();
  source = undefined;
  vi.useRealTimers();
});

describe('KubernetesSource', () => {
  it('resolves start only after every collection listed, with one update', async () => {
    coll('ingresses').items = [ingress('web', '5')];
    coll('services').fail = new Error('refused');
    const s = create();
    let started = false;
    void s.start((u) => updates.push(u)).then(() => (started = true));
    await vi.advanceTimersByTimeAsync(0);
    expect([started, updates.length]).toEqual([false, 0]);
    coll('services').fail = undefined;
    await vi.advanceTimersByTimeAsync(200);
    expect([started, updates.length]).toEqual([true, 1]);
    expect([...(updates[0]?.view.ingresses() ?? [])].map((i) => i.metadata.name)).toEqual(['web']);
  });

  it('watches one collection per namespace, IngressClasses cluster-wide, TLS Secrets kept aside', async () => {
    coll('secrets/a').items = [{ metadata: { name: 'cert', namespace: 'a', resourceVersion: '3' }, type: 'kubernetes.io/tls', data: { 'tls.crt': 'Y3J0' } }];
    const s = create({ namespaces: ['a', 'b'] });
    await Promise.all([s.start((u) => updates.push(u)), vi.advanceTimersByTimeAsync(0)]);
    expect(scopes.sort()).toEqual(['configmaps/a', 'configmaps/b', 'endpointslices/a', 'endpointslices/b', 'ingressclasses', 'ingresses/a', 'ingresses/b', 'secrets/a', 'secrets/b', 'services/a', 'services/b']);
    expect(s.secrets.secret('a', 'cert')).toMatchObject({ type: 'kubernetes.io/tls', data: { 'tls.crt': 'Y3J0' } });
  });

  it('notifies changes that matter only: a status-only change is not one', async () => {
    coll('ingresses').items = [ingress('web', '5')];
    const s = create();
    await Promise.all([s.start((u) => updates.push(u)), vi.advanceTimersByTimeAsync(0)]);
    const w = coll('ingresses');
    w.onEvent?.('MODIFIED', ingress('web', '6', { status: { loadBalancer: { ingress: [{ ip: '10.0.0.1' }] } } }));
    expect(updates).toHaveLength(1);
    expect(s.loadBalancerOf('a/web')).toEqual([{ ip: '10.0.0.1' }]);
    w.onEvent?.('MODIFIED', ingress('web', '7', { metadata: { name: 'web', namespace: 'a', resourceVersion: '7', creationTimestamp: '2026-01-01T00:00:00.000Z', labels: { x: 'y' } } }));
    expect(updates).toHaveLength(2);
    w.onEvent?.('DELETED', ingress('web', '8'));
    expect(updates).toHaveLength(3);
    expect([...(updates[2]?.view.ingresses() ?? [])]).toEqual([]);
  });

  it('says what changed: an EndpointSlice change names its Services before and after', async () => {
    const slice = (rv: string, service: string): Record<string, unknown> => ({
      metadata: { name: 'web-1', namespace: 'a', resourceVersion: rv, labels: { 'kubernetes.io/service-name': service } },
      addressType: 'IPv4',
      endpoints: [{ addresses: [`10.0.0.${rv}`] }],
      ports: [{ name: 'http', port: 8080 }],
    });
    coll('endpointslices').items = [slice('1', 'web')];
    const s = create();
    await Promise.all([s.start((u) => updates.push(u)), vi.advanceTimersByTimeAsync(0)]);
    expect(updates[0]?.changes).toBeUndefined();
    coll('endpointslices').onEvent?.('MODIFIED', slice('2', 'web'));
    coll('endpointslices').onEvent?.('MODIFIED', slice('3', 'api'));
    coll('endpointslices').onEvent?.('DELETED', slice('4', 'api'));
    coll('ingresses').onEvent?.('ADDED', ingress('web', '5'));
    expect(updates.slice(1).map((u) => u.changes)).toEqual([
      [{ kind: 'EndpointSlice', key: 'a/web-1', services: ['a/web'] }],
      [{ kind: 'EndpointSlice', key: 'a/web-1', services: ['a/web', 'a/api'] }],
      [{ kind: 'EndpointSlice', key: 'a/web-1', services: ['a/api'] }],
      [{ kind: 'Ingress', key: 'a/web' }],
    ]);
  });

  it('keeps the last good version of an invalid object and reports a diagnostic', async () => {
    coll('ingresses').items = [ingress('web', '5')];
    const s = create();
    await Promise.all([s.start((u) => updates.push(u)), vi.advanceTimersByTimeAsync(0)]);
    coll('ingresses').onEvent?.('MODIFIED', ingress('web', '6', { spec: { rules: 'nope' } }));
    const last = updates.at(-1);
    expect(last?.diagnostics).toMatchObject([{ code: 'ING_ERR_K8S_OBJECT_INVALID', object: 'Ingress a/web' }]);
    expect([...(last?.view.ingresses() ?? [])][0]?.spec?.rules).toHaveLength(1);
    expect(logs.filter((l) => l.code === 'ING_ERR_K8S_OBJECT_INVALID')).toHaveLength(1);
  });

  it('logs an outage when it starts and its duration when every watch is back', async () => {
    const s = create();
    await Promise.all([s.start((u) => updates.push(u)), vi.advanceTimersByTimeAsync(0)]);
    clock = 1000;
    coll('ingresses').onDone?.(new Error('socket hang up'));
    coll('services').onDone?.(new Error('socket hang up'));
    await vi.advanceTimersByTimeAsync(0);
    clock = 6000;
    await vi.advanceTimersByTimeAsync(100);
    const lines = logs.filter((l) => l.code === 'ING_ERR_K8S_API_UNREACHABLE');
    expect(lines.map((l) => [l.msg, l.durationMs])).toEqual([
      ['kubernetes API unreachable: serving the last snapshot, retrying', undefined],
      ['kubernetes API outage ended', 5000],
    ]);
  });
});
