/**
 * The fake API server speaks the Kubernetes list/watch wire protocol, checked with plain
 * HTTP and with the real @kubernetes/client-node.
 */
import { request } from 'node:http';
import * as k8s from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeApiServer, type FakeApiServer } from '../helpers/fake-apiserver.js';
import { pollUntil } from '../helpers/flusso.js';

let api: FakeApiServer;
beforeEach(async () => {
  api = await startFakeApiServer();
});
afterEach(async () => {
  await api.close();
});

const AUTH = { authorization: 'Bearer test-token' };

async function get(path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${api.url}${path}`, { headers: AUTH });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function send(method: string, path: string, body: unknown, contentType = 'application/json'): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${api.url}${path}`, { method, headers: { ...AUTH, 'content-type': contentType }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** WatchStream reads newline-delimited events from a watch request. */
interface WatchStream {
  events: { type: string; object: Record<string, unknown> }[];
  ended: Promise<void>;
  until(n: number): Promise<void>;
  close(): void;
}

function watch(path: string): Promise<WatchStream> {
  return new Promise((resolve, reject) => {
    const req = request(`${api.url}${path}`, { headers: AUTH }, (res) => {
      const events: WatchStream['events'] = [];
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          events.push(JSON.parse(buf.slice(0, i)) as WatchStream['events'][number]);
          buf = buf.slice(i + 1);
        }
      });
      const ended = new Promise<void>((r) => res.on('close', () => r()));
      expect(res.headers['transfer-encoding']).toBe('chunked');
      resolve({ events, ended, until: (n) => pollUntil(`${n} events`, async () => (events.length >= n ? true : undefined), 5000, 10).then(() => undefined), close: () => req.destroy() });
    });
    req.on('error', reject);
    req.end();
  });
}

const ing = (ns: string, name: string, labels: Record<string, string> = {}): Record<string, unknown> => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'Ingress',
  metadata: { name, namespace: ns, labels },
  spec: { ingressClassName: 'flusso' },
});

describe('fake apiserver over plain HTTP', () => {
  it('lists with a resourceVersion, items without kind, namespaced and cluster-wide, with selectors', async () => {
    api.apply(ing('a', 'one', { app: 'x' }));
    api.apply(ing('b', 'two', { app: 'y' }));
    const all = await get('/apis/networking.k8s.io/v1/ingresses');
    expect(all.status).toBe(200);
    expect(all.body.kind).toBe('IngressList');
    expect((all.body.metadata as { resourceVersion: string }).resourceVersion).toBe('3');
    const items = all.body.items as Record<string, unknown>[];
    expect(items.map((i) => (i.metadata as { name: string }).name)).toEqual(['one', 'two']);
    expect(items[0]).not.toHaveProperty('kind');
    expect(((await get('/apis/networking.k8s.io/v1/namespaces/b/ingresses')).body.items as unknown[]).length).toBe(1);
    expect(((await get('/apis/networking.k8s.io/v1/ingresses?labelSelector=app%3Dx')).body.items as unknown[]).length).toBe(1);
    expect(((await get('/apis/networking.k8s.io/v1/ingresses?labelSelector=app%20in%20(x,y),app!%3Dy')).body.items as unknown[]).length).toBe(1);
    expect(((await get('/apis/networking.k8s.io/v1/ingresses?fieldSelector=metadata.namespace%3Db')).body.items as unknown[]).length).toBe(1);
    expect((await fetch(`${api.url}/apis/networking.k8s.io/v1/ingresses`)).status).toBe(401);
  });

  it('watches: synthetic ADDED without a resourceVersion, then live events with kind, BOOKMARK on request', async () => {
    api.apply(ing('a', 'one'));
    const w = await watch('/apis/networking.k8s.io/v1/ingresses?watch=true&allowWatchBookmarks=true');
    await w.until(1);
    api.apply({ ...ing('a', 'one'), spec: { ingressClassName: 'other' } });
    api.remove('Ingress', 'a', 'one');
    api.bookmark();
    await w.until(4);
    expect(w.events.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK']);
    expect(w.events[1]?.object.kind).toBe('Ingress');
    expect((w.events[3]?.object.metadata as { resourceVersion: string }).resourceVersion).toBe('4');
    w.close();
  });

  // As the real watch cache: an object that stops matching a watch's selector is DELETED for it,
  // one that starts matching is ADDED (Flusso's TLS Secret watch selects type=kubernetes.io/tls).
  it('turns selector transitions into DELETED and ADDED for a selecting watch', async () => {
    const secret = (type: string) => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'cert', namespace: 'a' }, type, data: {} });
    api.apply(secret('kubernetes.io/tls'));
    const w = await watch('/api/v1/secrets?watch=true&fieldSelector=type%3Dkubernetes.io%2Ftls');
    await w.until(1);
    api.apply(secret('Opaque'));
    api.apply(secret('Opaque'));
    api.apply(secret('kubernetes.io/tls'));
    await w.until(3);
    expect(w.events.map((e) => [e.type, e.object.type])).toEqual([['ADDED', 'kubernetes.io/tls'], ['DELETED', 'kubernetes.io/tls'], ['ADDED', 'kubernetes.io/tls']]);
    w.close();
  });

  it('replays events after a resourceVersion and expires old ones with ERROR 410 then close', async () => {
    api.apply(ing('a', 'one'));
    api.apply(ing('a', 'two'));
    const w = await watch('/apis/networking.k8s.io/v1/ingresses?watch=true&resourceVersion=2');
    await w.until(1);
    expect((w.events[0]?.object.metadata as { name: string }).name).toBe('two');
    api.expireAll();
    await w.ended;
    expect(w.events.at(-1)).toMatchObject({ type: 'ERROR', object: { code: 410, reason: 'Expired' } });
    const old = await watch('/apis/networking.k8s.io/v1/ingresses?watch=true&resourceVersion=1');
    await old.ended;
    expect(old.events).toMatchObject([{ type: 'ERROR', object: { code: 410 } }]);
  });

  it('writes status by PUT, merge patch and JSON patch, with 409 on a stale resourceVersion', async () => {
    const stored = api.apply(ing('a', 'one'));
    const path = '/apis/networking.k8s.io/v1/namespaces/a/ingresses/one/status';
    const put = await send('PUT', path, { ...stored, spec: { ingressClassName: 'changed' }, status: { loadBalancer: { ingress: [{ ip: '10.0.0.1' }] } } });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ spec: { ingressClassName: 'flusso' }, status: { loadBalancer: { ingress: [{ ip: '10.0.0.1' }] } } });
    expect((await send('PUT', path, stored)).status).toBe(409);
    const merge = await send('PATCH', path, { status: { loadBalancer: { ingress: [{ hostname: 'lb' }] } } }, 'application/merge-patch+json');
    expect(merge.body).toMatchObject({ status: { loadBalancer: { ingress: [{ hostname: 'lb' }] } } });
    const jp = await send('PATCH', path, [{ op: 'replace', path: '/status/loadBalancer', value: { ingress: [] } }], 'application/json-patch+json');
    expect(jp.body).toMatchObject({ status: { loadBalancer: { ingress: [] } } });
    expect((await get('/apis/networking.k8s.io/v1/namespaces/a/ingresses/missing/status')).status).toBe(404);
  });

  it('serves Leases with create conflicts and optimistic updates', async () => {
    const path = '/apis/coordination.k8s.io/v1/namespaces/default/leases';
    const lease = { metadata: { name: 'l' }, spec: { holderIdentity: 'a' } };
    const created = await send('POST', path, lease);
    expect(created.status).toBe(201);
    expect((await send('POST', path, lease)).status).toBe(409);
    const ok = await send('PUT', `${path}/l`, { ...created.body, spec: { holderIdentity: 'b' } });
    expect(ok.status).toBe(200);
    expect((await send('PUT', `${path}/l`, { ...created.body, spec: { holderIdentity: 'c' } })).status).toBe(409);
    expect((await get(`${path}/l`)).body).toMatchObject({ spec: { holderIdentity: 'b' } });
  });

  it('fault knobs: 500 on list, silence, dropped connections, down and up on the same port', async () => {
    api.setFault({ listStatus: 500 });
    expect((await get('/api/v1/services')).status).toBe(500);
    api.setFault({ silent: true });
    const w = await watch('/api/v1/services?watch=true');
    api.apply({ apiVersion: 'v1', kind: 'Service', metadata: { name: 's', namespace: 'a' } });
    expect(api.watchCount()).toBe(1);
    api.setFault({});
    api.dropConnections();
    await w.ended;
    expect(w.events).toEqual([]);
    const port = api.port;
    await api.down();
    await expect(fetch(`${api.url}/api/v1/services`)).rejects.toThrow();
    await api.up();
    expect(api.port).toBe(port);
    expect(((await get('/api/v1/services')).body.items as unknown[]).length).toBe(1);
  });
});

describe('fake apiserver with @kubernetes/client-node', () => {
  const client = async (): Promise<k8s.KubeConfig> => {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(await api.kubeconfigFile());
    return kc;
  };

  it('lists, watches through an informer, and relists after a 410', async () => {
    api.apply(ing('a', 'one'));
    const kc = await client();
    const net = kc.makeApiClient(k8s.NetworkingV1Api);
    const inf = k8s.makeInformer(kc, '/apis/networking.k8s.io/v1/ingresses', () => net.listIngressForAllNamespaces());
    const seen: string[] = [];
    inf.on('add', (o) => seen.push(`add ${o.metadata?.name}`));
    inf.on('delete', (o) => seen.push(`delete ${o.metadata?.name}`));
    inf.on('error', () => undefined);
    await inf.start();
    try {
      api.apply(ing('a', 'two'));
      await pollUntil('add two', async () => (seen.includes('add two') ? true : undefined), 5000, 10);
      api.expireAll();
      api.remove('Ingress', 'a', 'one');
      await pollUntil('delete one after relist', async () => (seen.includes('delete one') ? true : undefined), 5000, 10);
      expect(inf.list().map((o) => o.metadata?.name)).toEqual(['two']);
    } finally {
      await inf.stop();
    }
  });

  it('writes Ingress status and Leases as client-node sends them', async () => {
    api.apply(ing('a', 'one'));
    const kc = await client();
    const net = kc.makeApiClient(k8s.NetworkingV1Api);
    await net.patchNamespacedIngressStatus(
      { name: 'one', namespace: 'a', body: { status: { loadBalancer: { ingress: [{ ip: '203.0.113.10' }] } } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    const got = await net.readNamespacedIngressStatus({ name: 'one', namespace: 'a' });
    expect(got.status?.loadBalancer?.ingress).toEqual([{ ip: '203.0.113.10' }]);
    const coord = kc.makeApiClient(k8s.CoordinationV1Api);
    const now = new k8s.V1MicroTime();
    await coord.createNamespacedLease({ namespace: 'default', body: { metadata: { name: 'l' }, spec: { holderIdentity: 'me', renewTime: now, leaseDurationSeconds: 15 } } });
    const raw = api.get('Lease', 'default', 'l') as unknown as { spec: { renewTime: string } };
    expect(raw.spec.renewTime).toMatch(/\.\d{6}Z$/);
    await expect(coord.createNamespacedLease({ namespace: 'default', body: { metadata: { name: 'l' } } })).rejects.toMatchObject({ code: 409 });
  });
});
