import { describe, expect, it } from 'vitest';
import { explainRoute } from '../../../src/primary/explain.js';
import type { Route, RoutingTable } from '../../../src/shared/snapshot.js';
import { table } from '../worker/router/router.contract.js';
import { runRouterContract } from '../worker/router/router.contract.js';

// The explainer must route exactly as the workers do: run the router contract against it.
runRouterContract('route explainer (primary)', (t) => ({
  name: 'explainer',
  match(host, path) {
    const e = explainRoute(t, host, path);
    if (e.invalid !== undefined) return t.defaultBackend === null ? null : { route: t.defaultBackend, vhost: null };
    if (e.route === null) return null;
    return { route: e.route, vhost: e.result === 'default-backend' ? null : e.virtualHost };
  },
}));

describe('explainRoute', () => {
  const t = table(
    {
      'shop.example': [['Exact', '/foo', 'exact-foo'], ['Prefix', '/foo/bar', 'foobar'], ['Prefix', '/foo', 'foo'], ['Prefix', '/', 'root']],
      '*.example': [['Prefix', '/', 'wild']],
    },
    'fallback',
  );

  it('says which rule wins and why the others lose', () => {
    const e = explainRoute(t, 'SHOP.example:8080', '/foo/bar/baz?x=1');
    expect(e.result).toBe('route');
    expect(e.hostChoice).toBe('exact');
    expect(e.shadowedHosts).toEqual(['*.example']);
    expect(e.candidates.map((c) => [c.path, c.verdict])).toEqual([
      ['/foo', 'no-match'],
      ['/foo/bar', 'chosen'],
      ['/foo', 'matches-but-loses'],
      ['/', 'matches-but-loses'],
    ]);
    expect(e.summary).toContain('Prefix "/foo/bar"');
  });

  it('explains an Exact win over a Prefix on the same path', () => {
    const e = explainRoute(t, 'shop.example', '/foo');
    expect(e.route?.backend).toBe('exact-foo');
    expect(e.candidates.find((c) => c.path === '/foo' && c.match === 'Prefix')?.why).toContain('Exact "/foo" wins');
  });

  it('falls back to the default backend, and says so', () => {
    const e = explainRoute(t, 'nowhere.test', '/');
    expect([e.result, e.route?.backend, e.hostChoice]).toEqual(['default-backend', 'fallback', 'none']);
    expect(e.summary).toContain('no virtual host matches');
  });

  it('reports 404 without a default backend', () => {
    const e = explainRoute(table({ 'a.test': [['Exact', '/x', 'x']] }), 'a.test', '/y');
    expect([e.result, e.route]).toEqual(['not-found', null]);
    expect(e.summary).toContain('404');
  });

  it('reports a request the proxy refuses', () => {
    expect(explainRoute(t, 'bad host', '/').invalid).toContain('not a valid host');
    expect(explainRoute(t, 'shop.example', '/a#b').invalid).toContain('not a valid request path');
  });

  it('explains the normalised path, as the proxy matches it', () => {
    const e = explainRoute(t, 'shop.example', '/x/../foo/%62ar');
    expect([e.path, e.route?.backend]).toEqual(['/foo/bar', 'foobar']);
  });
});

describe('explainRoute on a route whose backend speaks HTTP/2', () => {
  const base = table({ 'grpc.example': [['Prefix', '/', 'grpc/echo:80/h2c']], 'web.example': [['Prefix', '/', 'web/site:80']] });
  const cachedRoute = { ...base.hosts[0]!.routes[0]!, cache: { ttlSeconds: 60 } } as unknown as Route;
  const t: RoutingTable = {
    ...base,
    hosts: [{ host: 'grpc.example', routes: [cachedRoute] }, base.hosts[1]!],
    backends: [{ id: 'grpc/echo:80/h2c', protocol: 'h2c', endpoints: [] } as unknown as RoutingTable['backends'][number]],
  };

  it('says how requests reach it and which of its annotations that path does not apply', () => {
    expect(explainRoute(t, 'grpc.example', '/pkg.Svc/Call').annotations).toEqual([
      'the backend speaks HTTP/2 (h2c): requests to the HTTPS port with --http2 on go out as HTTP/2 streams; on the plain port they go out as HTTP/1.1, which an HTTP/2 endpoint refuses (502); not applied on that path: the response cache',
    ]);
  });

  it('says nothing of the kind for an HTTP/1.1 backend', () => {
    expect(explainRoute(t, 'web.example', '/').annotations).toEqual([]);
  });
});
