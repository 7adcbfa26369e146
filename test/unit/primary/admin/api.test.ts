import { describe, expect, it } from 'vitest';
import { handleApi as handle, PURGE_TIMEOUT_MS, type AdminContext, type ApiRequest, type ApiResponse } from '../../../../src/primary/admin/api.js';
import { CacheMetrics } from '../../../../src/primary/metrics/cache.js';
import { OverrideStore } from '../../../../src/primary/overrides.js';
import type { CertificateStatus } from '../../../../src/primary/tls/manager.js';
import type { CachePurgeResult } from '../../../../src/primary/workers.js';
import type { CachePurgeSelector } from '../../../../src/shared/messages.js';
import type { RoutingTable } from '../../../../src/shared/snapshot.js';

const table: RoutingTable = {
  hosts: [
    { host: 'shop.test', routes: [{ match: 'Prefix', path: '/api', backend: 'shop/api:80', source: 'shop/shop' }, { match: 'Prefix', path: '/', backend: 'shop/web:80', source: 'shop/shop' }] },
    { host: 'blog.test', routes: [{ match: 'Prefix', path: '/', backend: 'blog/blog:80', source: 'blog/blog', cache: { ttlSeconds: 30 } }, { match: 'Exact', path: '/feed', backend: 'blog/blog:80', source: 'blog/blog', cache: { ttlSeconds: 30 } }] },
  ],
  defaultBackend: null,
  backends: [
    { id: 'shop/api:80', service: 'shop/api', servicePort: 80, loadBalancer: 'round-robin', endpoints: [{ address: '10.0.0.1', port: 8080, weight: 1, ready: true, terminating: false }, { address: '10.0.0.2', port: 8080, weight: 1, ready: true, terminating: false }] },
    { id: 'shop/web:80', service: 'shop/web', servicePort: 80, loadBalancer: 'round-robin', endpoints: [] },
    { id: 'blog/blog:80', service: 'blog/blog', servicePort: 80, loadBalancer: 'round-robin', endpoints: [] },
  ],
};

const DAY_MS = 86_400_000;

/** One TLS host with a certificate that expires in 30 days and a half (daysLeft 30). */
const certificates: CertificateStatus[] = [
  {
    host: 'shop.test',
    secret: 'shop/shop-tls',
    ingress: 'shop/shop',
    status: 'ok',
    serving: 'own',
    certificate: { subject: 'shop.test', issuer: 'Test CA', dnsNames: ['shop.test'], notBefore: '2026-01-01T00:00:00.000Z', notAfter: new Date(Date.now() + 30.5 * DAY_MS).toISOString(), fingerprint256: 'AB:CD', serialNumber: '01', selfSigned: false, chainLength: 2 },
  },
];

function context(purged: CachePurgeResult = { purged: 3, workers: 2, answered: 2 }): AdminContext & { publishes: number; purges: CachePurgeSelector[]; cache: CacheMetrics } {
  const overrides = new OverrideStore();
  let generation = 3;
  const cache = new CacheMetrics();
  const ctx = {
    publishes: 0,
    purges: [] as CachePurgeSelector[],
    cache,
    ready: () => true,
    generation: () => generation,
    workers: () => [],
    diagnostics: () => [],
    table: () => table,
    overrides,
    publishOverrides: () => {
      ctx.publishes++;
      return ++generation;
    },
    serviceFigures: () => new Map([['shop/api', { requests: 10, errors: 1 }]]),
    purgeCache: (selector: CachePurgeSelector, timeoutMs: number) => {
      expect(timeoutMs).toBe(PURGE_TIMEOUT_MS);
      ctx.purges.push(selector);
      return Promise.resolve(purged);
    },
    cacheFigures: () => cache.figures(),
    certificates: () => certificates,
  };
  return ctx;
}

/** handleApi is the handler for requests that must answer synchronously (everything but a purge). */
function handleApi(ctx: AdminContext, req: ApiRequest): ApiResponse {
  const r = handle(ctx, req);
  if (r instanceof Promise) throw new Error(`${req.method} ${req.path} answered asynchronously`);
  return r;
}

const get = (path: string, query = ''): ApiRequest => ({ method: 'GET', path, query: new URLSearchParams(query), body: undefined });
const post = (path: string, body: unknown): ApiRequest => ({ method: 'POST', path, query: new URLSearchParams(), body });

describe('handleApi', () => {
  it('lists routes with a search', () => {
    const r = handleApi(context(), get('/api/v1/routes', 'search=API'));
    expect(r.status).toBe(200);
    expect((r.body as { routes: unknown[] }).routes).toEqual([{ host: 'shop.test', match: 'Prefix', path: '/api', backend: 'shop/api:80', source: 'shop/shop', cache: null }]);
  });

  it('shows each route\'s cache policy', () => {
    const r = handleApi(context(), get('/api/v1/routes', 'search=blog'));
    expect((r.body as { routes: { path: string; cache: unknown }[] }).routes.map((x) => [x.path, x.cache])).toEqual([
      ['/', { ttlSeconds: 30 }],
      ['/feed', { ttlSeconds: 30 }],
    ]);
  });

  it('lists backends with endpoints, overrides and live figures', () => {
    const ctx = context();
    ctx.overrides.drain('shop/api:80|10.0.0.2:8080');
    const body = handleApi(ctx, get('/api/v1/backends')).body as { backends: { id: string; requests: number; endpoints: { key: string; drained: boolean; effectiveWeight: number }[] }[] };
    const api = body.backends.find((b) => b.id === 'shop/api:80');
    expect(api?.requests).toBe(10);
    expect(api?.endpoints.map((e) => [e.key, e.drained, e.effectiveWeight])).toEqual([
      ['shop/api:80|10.0.0.1:8080', false, 1],
      ['shop/api:80|10.0.0.2:8080', true, 0],
    ]);
  });

  it('drains and undrains an endpoint, publishing only on a change', () => {
    const ctx = context();
    const first = handleApi(ctx, post('/api/v1/endpoints/drain', { backend: 'shop/api:80', endpoint: '10.0.0.1:8080' }));
    expect(first).toMatchObject({ status: 200, body: { changed: true, generation: 4 } });
    expect(handleApi(ctx, post('/api/v1/endpoints/drain', { backend: 'shop/api:80', endpoint: '10.0.0.1:8080' }))).toMatchObject({ body: { changed: false, generation: 4 } });
    expect(handleApi(ctx, post('/api/v1/endpoints/undrain', { backend: 'shop/api:80', endpoint: '10.0.0.1:8080' }))).toMatchObject({ body: { changed: true, generation: 5 } });
    expect(ctx.publishes).toBe(2);
  });

  it('overrides and clears a weight, validating it', () => {
    const ctx = context();
    expect(handleApi(ctx, post('/api/v1/endpoints/weight', { backend: 'shop/api:80', endpoint: '10.0.0.2:8080', weight: 3 }))).toMatchObject({ status: 200, body: { overrides: { weights: [['shop/api:80|10.0.0.2:8080', 3]] } } });
    expect(handleApi(ctx, post('/api/v1/endpoints/weight', { backend: 'shop/api:80', endpoint: '10.0.0.2:8080', weight: -2 })).status).toBe(400);
    expect(handleApi(ctx, post('/api/v1/endpoints/weight', { backend: 'shop/api:80', endpoint: '10.0.0.2:8080', weight: null }))).toMatchObject({ body: { overrides: { weights: [] } } });
  });

  it.each([
    [post('/api/v1/endpoints/drain', { backend: 'shop/api:80', endpoint: '10.9.9.9:1' }), 404],
    [post('/api/v1/endpoints/drain', { backend: 'nope', endpoint: '10.0.0.1:8080' }), 404],
    [post('/api/v1/endpoints/drain', 'text'), 400],
    [post('/api/v1/endpoints/drain', { backend: 1 }), 400],
    [get('/api/v1/endpoints/drain'), 405],
    [post('/api/v1/routes', {}), 405],
    [get('/api/v1/cache/purge'), 405],
    [get('/api/v1/explain'), 400],
    [get('/api/v1/nothing'), 404],
  ])('answers %j with %i', (req, status) => {
    expect(handleApi(context(), req).status).toBe(status);
  });

  it('names the field\'s old name when a client still sends "cluster"', () => {
    const r = handleApi(context(), post('/api/v1/endpoints/drain', { cluster: 'shop/api:80', endpoint: '10.0.0.2:8080' }));
    expect(r).toMatchObject({ status: 400, body: { error: '"cluster" is now "backend": send {"backend": "ns/svc:port", "endpoint": "ip:port"}' } });
  });

  it('explains a route', () => {
    const r = handleApi(context(), get('/api/v1/explain', 'host=shop.test&path=/api/x'));
    expect(r.body).toMatchObject({ result: 'route', route: { backend: 'shop/api:80' } });
  });
});

describe('the cache API', () => {
  const purge = async (ctx: ReturnType<typeof context>, body: unknown): Promise<ApiResponse> => handle(ctx, post('/api/v1/cache/purge', body));

  it.each([
    { name: 'a host, lower-cased and without port', body: { host: 'Shop.TEST:8443' }, want: { host: 'shop.test' } },
    { name: 'a host with a trailing dot', body: { host: 'shop.test.' }, want: { host: 'shop.test' } },
    { name: 'an IPv6 literal host', body: { host: '[::1]:8080' }, want: { host: '[::1]' } },
    { name: 'a path prefix, normalised as the proxy does', body: { pathPrefix: '/img/./%41' }, want: { pathPrefix: '/img/A' } },
    { name: 'an Ingress', body: { ingress: 'shop/web-v2.1' }, want: { ingress: 'shop/web-v2.1' } },
    { name: 'all three together', body: { host: 'a.test', pathPrefix: '/', ingress: 'a/b' }, want: { host: 'a.test', pathPrefix: '/', ingress: 'a/b' } },
    { name: 'everything, explicitly', body: { all: true }, want: {} },
  ])('purges $name', async ({ body, want }) => {
    const ctx = context();
    const r = await purge(ctx, body);
    expect(r).toEqual({ status: 200, body: { purged: 3, workers: 2, answered: 2, selector: want } });
    expect(ctx.purges).toEqual([want]);
  });

  it.each([
    { name: 'an empty object', body: {}, error: 'nothing selected' },
    { name: 'an array', body: [{ host: 'a.test' }], error: 'must be a JSON object' },
    { name: 'a string', body: 'a.test', error: 'must be a JSON object' },
    { name: 'an unknown field', body: { host: 'a.test', path: '/x' }, error: 'unknown field "path"' },
    { name: 'all false', body: { all: false }, error: '"all" must be true' },
    { name: 'all with a selector', body: { all: true, host: 'a.test' }, error: 'cannot be combined' },
    { name: 'a host that is a number', body: { host: 42 }, error: '"host" must be a host name' },
    { name: 'an empty host', body: { host: '' }, error: '"host" must be a host name' },
    { name: 'a wildcard host', body: { host: '*.a.test' }, error: '"host" must be a host name' },
    { name: 'a URL as host', body: { host: 'http://a.test/' }, error: '"host" must be a host name' },
    { name: 'a host with an underscore label', body: { host: 'a_b.test' }, error: '"host" must be a host name' },
    { name: 'a host with a bad port', body: { host: 'a.test:http' }, error: '"host" must be a host name' },
    { name: 'a relative path prefix', body: { pathPrefix: 'img/' }, error: '"pathPrefix" must start with "/"' },
    { name: 'a path prefix with a query', body: { pathPrefix: '/a?b=1' }, error: 'without a query' },
    { name: 'a path prefix with a space', body: { pathPrefix: '/a b' }, error: '"pathPrefix" must start with "/"' },
    { name: 'a path prefix that is not a string', body: { pathPrefix: ['/a'] }, error: '"pathPrefix" must be a path' },
    { name: 'an Ingress without namespace', body: { ingress: 'web' }, error: '"ingress" must be "namespace/name"' },
    { name: 'an Ingress with upper case', body: { ingress: 'Shop/web' }, error: '"ingress" must be "namespace/name"' },
    { name: 'an Ingress with two slashes', body: { ingress: 'a/b/c' }, error: '"ingress" must be "namespace/name"' },
    { name: 'a null Ingress', body: { ingress: null }, error: '"ingress" must be "namespace/name"' },
  ])('refuses $name with 400', async ({ body, error }) => {
    const ctx = context();
    const r = await purge(ctx, body);
    expect(r.status).toBe(400);
    expect((r.body as { error: string }).error).toContain(error);
    expect(ctx.purges).toEqual([]);
  });

  it('answers 503 when no worker runs', async () => {
    const r = await purge(context({ purged: 0, workers: 0, answered: 0 }), { all: true });
    expect(r).toEqual({ status: 503, body: { error: 'no worker is running: nothing to purge' } });
  });

  it('reports workers that did not answer in time', async () => {
    const r = await purge(context({ purged: 1, workers: 3, answered: 2 }), { host: 'a.test' });
    expect(r).toMatchObject({ status: 200, body: { purged: 1, workers: 3, answered: 2 } });
  });

  it('lists cached Ingresses with policy, responses, hit ratio and what they hold', () => {
    const ctx = context();
    ctx.cache.add(1, { routes: [{ ingress: 'blog/blog', responses: [6, 2, 0, 1, 1, 4], evictions: 2, entries: 5, storedBytes: 5000 }, { ingress: 'old/gone', responses: [0, 1, 0, 0, 0, 0], evictions: 0, entries: 1, storedBytes: 10 }], entries: 6, storedBytes: 5010, maxBytes: 1_000_000 });
    const r = handleApi(ctx, get('/api/v1/cache'));
    expect(r).toEqual({
      status: 200,
      body: {
        generation: 3,
        workers: 1,
        entries: 6,
        storedBytes: 5010,
        maxBytes: 1_000_000,
        ingresses: [
          { ingress: 'blog/blog', namespace: 'blog', name: 'blog', policy: { ttlSeconds: 30, routes: 2 }, responses: { HIT: 6, MISS: 2, EXPIRED: 0, STALE: 1, REVALIDATED: 1, BYPASS: 4 }, hitRatio: 0.8, evictions: 2, entries: 5, storedBytes: 5000 },
          { ingress: 'old/gone', namespace: 'old', name: 'gone', policy: null, responses: { HIT: 0, MISS: 1, EXPIRED: 0, STALE: 0, REVALIDATED: 0, BYPASS: 0 }, hitRatio: 0, evictions: 0, entries: 1, storedBytes: 10 },
        ],
      },
    });
  });

  it('lists a cached Ingress before any worker reported', () => {
    const body = handleApi(context(), get('/api/v1/cache')).body as { ingresses: { ingress: string; hitRatio: number | null; entries: number }[]; maxBytes: number };
    expect(body.ingresses).toEqual([expect.objectContaining({ ingress: 'blog/blog', hitRatio: null, entries: 0 })]);
    expect(body.maxBytes).toBe(0);
  });
});

describe('the certificates API', () => {
  it('lists the TLS manager\'s rows with the generation and the days left', () => {
    const r = handleApi(context(), get('/api/v1/certificates'));
    expect(r).toEqual({ status: 200, body: { generation: 3, certificates: [{ ...certificates[0], daysLeft: 30 }] } });
  });

  it('only reads', () => {
    expect(handleApi(context(), post('/api/v1/certificates', {})).status).toBe(405);
  });
});
