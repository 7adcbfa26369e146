import { describe, expect, it } from 'vitest';
import { handleApi, type AdminContext, type ApiRequest } from '../../../../src/primary/admin/api.js';
import { OverrideStore } from '../../../../src/primary/overrides.js';
import type { RoutingTable } from '../../../../src/shared/snapshot.js';

const table: RoutingTable = {
  hosts: [
    { host: 'shop.test', routes: [{ match: 'Prefix', path: '/api', cluster: 'shop/api:80', source: 'shop/shop' }, { match: 'Prefix', path: '/', cluster: 'shop/web:80', source: 'shop/shop' }] },
    { host: 'blog.test', routes: [{ match: 'Prefix', path: '/', cluster: 'blog/blog:80', source: 'blog/blog' }] },
  ],
  defaultBackend: null,
  clusters: [
    { id: 'shop/api:80', service: 'shop/api', servicePort: 80, loadBalancer: 'round-robin', endpoints: [{ address: '10.0.0.1', port: 8080, weight: 1, ready: true, terminating: false }, { address: '10.0.0.2', port: 8080, weight: 1, ready: true, terminating: false }] },
    { id: 'shop/web:80', service: 'shop/web', servicePort: 80, loadBalancer: 'round-robin', endpoints: [] },
    { id: 'blog/blog:80', service: 'blog/blog', servicePort: 80, loadBalancer: 'round-robin', endpoints: [] },
  ],
};

function context(): AdminContext & { publishes: number } {
  const overrides = new OverrideStore();
  let generation = 3;
  const ctx = {
    publishes: 0,
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
  };
  return ctx;
}

const get = (path: string, query = ''): ApiRequest => ({ method: 'GET', path, query: new URLSearchParams(query), body: undefined });
const post = (path: string, body: unknown): ApiRequest => ({ method: 'POST', path, query: new URLSearchParams(), body });

describe('handleApi', () => {
  it('lists routes with a search', () => {
    const r = handleApi(context(), get('/api/v1/routes', 'search=API'));
    expect(r.status).toBe(200);
    expect((r.body as { routes: unknown[] }).routes).toEqual([{ host: 'shop.test', match: 'Prefix', path: '/api', cluster: 'shop/api:80', source: 'shop/shop' }]);
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
    const first = handleApi(ctx, post('/api/v1/endpoints/drain', { cluster: 'shop/api:80', endpoint: '10.0.0.1:8080' }));
    expect(first).toMatchObject({ status: 200, body: { changed: true, generation: 4 } });
    expect(handleApi(ctx, post('/api/v1/endpoints/drain', { cluster: 'shop/api:80', endpoint: '10.0.0.1:8080' }))).toMatchObject({ body: { changed: false, generation: 4 } });
    expect(handleApi(ctx, post('/api/v1/endpoints/undrain', { cluster: 'shop/api:80', endpoint: '10.0.0.1:8080' }))).toMatchObject({ body: { changed: true, generation: 5 } });
    expect(ctx.publishes).toBe(2);
  });

  it('overrides and clears a weight, validating it', () => {
    const ctx = context();
    expect(handleApi(ctx, post('/api/v1/endpoints/weight', { cluster: 'shop/api:80', endpoint: '10.0.0.2:8080', weight: 3 }))).toMatchObject({ status: 200, body: { overrides: { weights: [['shop/api:80|10.0.0.2:8080', 3]] } } });
    expect(handleApi(ctx, post('/api/v1/endpoints/weight', { cluster: 'shop/api:80', endpoint: '10.0.0.2:8080', weight: -2 })).status).toBe(400);
    expect(handleApi(ctx, post('/api/v1/endpoints/weight', { cluster: 'shop/api:80', endpoint: '10.0.0.2:8080', weight: null }))).toMatchObject({ body: { overrides: { weights: [] } } });
  });

  it.each([
    [post('/api/v1/endpoints/drain', { cluster: 'shop/api:80', endpoint: '10.9.9.9:1' }), 404],
    [post('/api/v1/endpoints/drain', { cluster: 'nope', endpoint: '10.0.0.1:8080' }), 404],
    [post('/api/v1/endpoints/drain', 'text'), 400],
    [post('/api/v1/endpoints/drain', { cluster: 1 }), 400],
    [get('/api/v1/endpoints/drain'), 405],
    [post('/api/v1/routes', {}), 405],
    [post('/api/v1/cache/purge', {}), 501],
    [get('/api/v1/explain'), 400],
    [get('/api/v1/nothing'), 404],
  ])('answers %j with %i', (req, status) => {
    expect(handleApi(context(), req).status).toBe(status);
  });

  it('explains a route', () => {
    const r = handleApi(context(), get('/api/v1/explain', 'host=shop.test&path=/api/x'));
    expect(r.body).toMatchObject({ result: 'route', route: { cluster: 'shop/api:80' } });
  });
});
