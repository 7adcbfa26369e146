import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../../src/primary/model.js';
import type { ErrorCode } from '../../../../src/shared/errors.js';
import type { RoutingTable } from '../../../../src/shared/snapshot.js';
import {
  backend,
  backendOf,
  codes,
  compileObjects,
  endpointSlice,
  ingress,
  ingressClass,
  path,
  ready,
  route,
  rule,
  service,
  sliceEndpoint,
} from '../../../helpers/k8s.js';

// Every case runs on top of these: our class and two Services with one ready endpoint each,
// so the only diagnostics are the ones a case is about.
const BASE: readonly KubeObject[] = [
  ingressClass(),
  service('default/web'),
  endpointSlice('default/web-a', { service: 'web', endpoints: [sliceEndpoint('10.0.0.1')] }),
  service('default/api'),
  endpointSlice('default/api-a', { service: 'api', endpoints: [sliceEndpoint('10.0.1.1')] }),
];
const WEB = 'default/web:80';
const API = 'default/api:80';
const WEB_BACKEND = backendOf(WEB, [ready('10.0.0.1')]);
const API_BACKEND = backendOf(API, [ready('10.0.1.1')]);
const web = backend('web');
const api = backend('api');
const T1 = '2024-01-01T00:00:00Z';
const T2 = '2024-02-01T00:00:00Z';

interface Case {
  readonly name: string;
  readonly objects: readonly KubeObject[];
  readonly want: RoutingTable;
  readonly diagnostics?: readonly [ErrorCode, string][];
}

const cases: Case[] = [
  {
    name: 'exact, wildcard and catch-all hosts',
    objects: [
      ingress('default/a', {
        rules: [rule('web.example.com', path('/', web)), rule('*.example.com', path('/', api)), rule(undefined, path('/', web))],
      }),
    ],
    want: {
      hosts: [
        { host: '*', routes: [route('Prefix', '/', WEB, 'default/a')] },
        { host: '*.example.com', routes: [route('Prefix', '/', API, 'default/a')] },
        { host: 'web.example.com', routes: [route('Prefix', '/', WEB, 'default/a')] },
      ],
      defaultBackend: null,
      backends: [API_BACKEND, WEB_BACKEND],
    },
  },
  {
    name: 'hosts are lower-cased and rules of one host merge',
    objects: [ingress('default/a', { rules: [rule('WEB.Example.COM', path('/a', web)), rule('web.example.com', path('/b', api))] })],
    want: {
      hosts: [{ host: 'web.example.com', routes: [route('Prefix', '/a', WEB, 'default/a'), route('Prefix', '/b', API, 'default/a')] }],
      defaultBackend: null,
      backends: [API_BACKEND, WEB_BACKEND],
    },
  },
  {
    name: 'invalid hosts skip their rule and leave the rest',
    objects: [
      ingress('default/a', {
        rules: [
          ...['foo_bar.com', '*', '*.', 'a.*.com', '*foo.com', '10.0.0.1', 'foo.com.', '-a.com', 'foo.com:80', `${'a'.repeat(64)}.com`].map(
            (host) => rule(host, path('/', web)),
          ),
          rule('ok.example.com', path('/', web)),
        ],
      }),
    ],
    want: {
      hosts: [{ host: 'ok.example.com', routes: [route('Prefix', '/', WEB, 'default/a')] }],
      defaultBackend: null,
      backends: [WEB_BACKEND],
    },
    diagnostics: Array.from({ length: 10 }, () => ['ING_ERR_INGRESS_INVALID_HOST', 'Ingress default/a'] as [ErrorCode, string]),
  },
  {
    name: 'path types, trailing-slash normalisation and route order',
    objects: [
      ingress('default/a', {
        rules: [
          rule(
            'web.example.com',
            path('/aaa/bbb/', web),
            path('/', web),
            path('/zz', web, 'Exact'),
            path('/exact/', web, 'Exact'),
            path('/impl/', api, 'ImplementationSpecific'),
            path(undefined, api, 'ImplementationSpecific'),
            path('/b', web),
            path('/a', api),
            path('/a//', web, 'Exact'),
          ),
        ],
      }),
    ],
    want: {
      hosts: [
        {
          host: 'web.example.com',
          routes: [
            route('Exact', '/a//', WEB, 'default/a'),
            route('Exact', '/exact/', WEB, 'default/a'),
            route('Exact', '/zz', WEB, 'default/a'),
            route('Prefix', '/aaa/bbb', WEB, 'default/a'),
            route('Prefix', '/impl', API, 'default/a'),
            route('Prefix', '/a', API, 'default/a'),
            route('Prefix', '/b', WEB, 'default/a'),
            route('Prefix', '/', WEB, 'default/a'),
          ],
        },
      ],
      defaultBackend: null,
      backends: [API_BACKEND, WEB_BACKEND],
    },
    // `path(undefined, …, 'ImplementationSpecific')` means `/`, which `path('/', web)` claimed first.
    diagnostics: [['ING_ERR_INGRESS_CONFLICT', 'Ingress default/a']],
  },
  {
    name: 'invalid paths are skipped one by one',
    objects: [
      ingress('default/a', {
        rules: [
          rule(
            'web.example.com',
            path('/no-type', web, null),
            path('/regex', web, 'Regex'),
            path('relative', web),
            path('/a b', web),
            path('/a?b', web),
            path('/a#b', web),
            path('/a\u0001', web),
            path(undefined, web, 'Exact'),
            path(`/${'x'.repeat(5000)}`, web),
            path('/kept', web),
          ),
        ],
      }),
    ],
    want: {
      hosts: [{ host: 'web.example.com', routes: [route('Prefix', '/kept', WEB, 'default/a')] }],
      defaultBackend: null,
      backends: [WEB_BACKEND],
    },
    diagnostics: Array.from({ length: 9 }, () => ['ING_ERR_INGRESS_INVALID_PATH', 'Ingress default/a'] as [ErrorCode, string]),
  },
  {
    name: 'conflict: the older creationTimestamp wins, whatever the names',
    objects: [
      ingress('default/a', { created: T2, rules: [rule('web.example.com', path('/x', web))] }),
      ingress('default/b', { created: T1, rules: [rule('web.example.com', path('/x/', api))] }),
    ],
    want: {
      hosts: [{ host: 'web.example.com', routes: [route('Prefix', '/x', API, 'default/b')] }],
      defaultBackend: null,
      backends: [API_BACKEND],
    },
    diagnostics: [['ING_ERR_INGRESS_CONFLICT', 'Ingress default/a']],
  },
  {
    name: 'conflict: equal timestamps fall back to namespace/name, absent timestamps sort last',
    objects: [
      ingress('default/c', { rules: [rule('web.example.com', path('/x', web))] }),
      ingress('default/b', { created: T1, rules: [rule('web.example.com', path('/x', api, 'ImplementationSpecific'))] }),
      ingress('default/a', { created: T1, rules: [rule('web.example.com', path('/x', web))] }),
    ],
    want: {
      hosts: [{ host: 'web.example.com', routes: [route('Prefix', '/x', WEB, 'default/a')] }],
      defaultBackend: null,
      backends: [WEB_BACKEND],
    },
    diagnostics: [
      ['ING_ERR_INGRESS_CONFLICT', 'Ingress default/b'],
      ['ING_ERR_INGRESS_CONFLICT', 'Ingress default/c'],
    ],
  },
  {
    name: 'Exact and Prefix on the same path do not conflict; hosts do not conflict across each other',
    objects: [
      ingress('default/a', { created: T1, rules: [rule('web.example.com', path('/x', web, 'Exact'))] }),
      ingress('default/b', { created: T2, rules: [rule('web.example.com', path('/x', api)), rule('*.example.com', path('/x', api, 'Exact'))] }),
    ],
    want: {
      hosts: [
        { host: '*.example.com', routes: [route('Exact', '/x', API, 'default/b')] },
        { host: 'web.example.com', routes: [route('Exact', '/x', WEB, 'default/a'), route('Prefix', '/x', API, 'default/b')] },
      ],
      defaultBackend: null,
      backends: [API_BACKEND, WEB_BACKEND],
    },
  },
  {
    name: 'rules of one host merge across Ingresses',
    objects: [
      ingress('default/a', { created: T1, rules: [rule('web.example.com', path('/web', web))] }),
      ingress('default/b', { created: T2, rules: [rule('WEB.example.com', path('/api', api))] }),
    ],
    want: {
      hosts: [{ host: 'web.example.com', routes: [route('Prefix', '/api', API, 'default/b'), route('Prefix', '/web', WEB, 'default/a')] }],
      defaultBackend: null,
      backends: [API_BACKEND, WEB_BACKEND],
    },
  },
  {
    name: 'defaultBackend: the oldest valid one wins, the others get a diagnostic',
    objects: [
      ingress('default/a', { created: T1, defaultBackend: { resource: { apiGroup: 'k8s.example.com', kind: 'Bucket', name: 'b' } } }),
      ingress('default/b', { created: T2, defaultBackend: api }),
      ingress('default/c', { defaultBackend: web }),
    ],
    want: { hosts: [], defaultBackend: route('Prefix', '/', API, 'default/b'), backends: [API_BACKEND] },
    diagnostics: [
      ['ING_ERR_INGRESS_BACKEND_UNSUPPORTED', 'Ingress default/a'],
      ['ING_ERR_INGRESS_DEFAULT_BACKEND_CONFLICT', 'Ingress default/c'],
    ],
  },
  {
    name: 'resource backends and backends without service or port skip their path',
    objects: [
      ingress('default/a', {
        rules: [
          rule(
            'web.example.com',
            path('/resource', { resource: { kind: 'Bucket', name: 'b' } }),
            path('/no-service', {}),
            path('/no-port', { service: { name: 'web' } }),
            path('/ok', web),
          ),
        ],
      }),
    ],
    want: {
      hosts: [{ host: 'web.example.com', routes: [route('Prefix', '/ok', WEB, 'default/a')] }],
      defaultBackend: null,
      backends: [WEB_BACKEND],
    },
    diagnostics: Array.from({ length: 3 }, () => ['ING_ERR_INGRESS_BACKEND_UNSUPPORTED', 'Ingress default/a'] as [ErrorCode, string]),
  },
  {
    name: 'hosts left without routes are pruned, and their backends are not referenced',
    objects: [
      ingress('default/a', {
        created: T1,
        rules: [rule('empty.example.com'), { host: 'nohttp.example.com' }, rule('bad.example.com', path('bad', api))],
      }),
      ingress('default/b', { created: T2, rules: [rule('lost.example.com', path('/', api))] }),
      ingress('default/c', { created: T1, rules: [rule('lost.example.com', path('/', web))] }),
    ],
    want: {
      hosts: [{ host: 'lost.example.com', routes: [route('Prefix', '/', WEB, 'default/c')] }],
      defaultBackend: null,
      backends: [WEB_BACKEND],
    },
    diagnostics: [
      ['ING_ERR_INGRESS_INVALID_PATH', 'Ingress default/a'],
      ['ING_ERR_INGRESS_CONFLICT', 'Ingress default/b'],
    ],
  },
  {
    name: 'backends resolve in the Ingress namespace',
    objects: [
      ingress('other/a', { rules: [rule('web.example.com', path('/', web))] }),
    ],
    want: {
      hosts: [{ host: 'web.example.com', routes: [route('Prefix', '/', 'other/web:80', 'other/a')] }],
      defaultBackend: null,
      backends: [backendOf('other/web:80')],
    },
    diagnostics: [['ING_ERR_SERVICE_NOT_FOUND', 'Ingress other/a']],
  },
];

describe('compileSnapshot: hosts, paths, conflicts', () => {
  it.each(cases)('$name', ({ objects, want, diagnostics = [] }) => {
    const result = compileObjects([...BASE, ...objects]);
    expect(result.table).toStrictEqual(want);
    expect(codes(result)).toEqual(diagnostics);
  });

  it('names the winner in a conflict diagnostic and says what happened', () => {
    const result = compileObjects([
      ...BASE,
      ingress('default/old', { created: T1, rules: [rule('web.example.com', path('/x', web))] }),
      ingress('default/new', { created: T2, rules: [rule('Web.Example.com', path('/x/', api))] }),
    ]);
    expect(result.diagnostics).toEqual([
      {
        code: 'ING_ERR_INGRESS_CONFLICT',
        severity: 'error',
        object: 'Ingress default/new',
        message: 'host "web.example.com" Prefix path "/x" is already routed by Ingress default/old; path skipped',
      },
    ]);
  });

  it('explains an invalid host with the host as written', () => {
    const result = compileObjects([...BASE, ingress('default/a', { rules: [rule('Foo_bar', path('/', web))] })]);
    expect(result.diagnostics.map((d) => d.message)).toEqual(['rule host "Foo_bar" is not a valid DNS name; rule skipped']);
  });
});

describe('compileSnapshot: cache annotations', () => {
  const routeOf = (annotations: Record<string, string> | undefined, cacheDefault = false) => {
    const result = compileObjects(
      [...BASE, ingress('default/a', { ...(annotations === undefined ? {} : { annotations }), rules: [rule('web.example.com', path('/', web))], defaultBackend: web })],
      { ingressClass: 'flusso', controllerName: 'flusso.dev/ingress-controller', watchIngressWithoutClass: false, cacheDefault },
    );
    return { route: result.table.hosts[0]?.routes[0], def: result.table.defaultBackend, messages: result.diagnostics.map((d) => `${d.code}: ${d.message}`) };
  };

  it('leaves routes uncached without the annotation, and without a cache key at all', () => {
    const { route: r, def, messages } = routeOf(undefined);
    expect(r).toStrictEqual(route('Prefix', '/', WEB, 'default/a'));
    expect(r !== undefined && 'cache' in r).toBe(false);
    expect(def).toStrictEqual(route('Prefix', '/', WEB, 'default/a'));
    expect(messages).toEqual([]);
  });

  it('caches every route of an annotated Ingress, with its TTL', () => {
    expect(routeOf({ 'flusso.dev/cache': 'true' }).route?.cache).toEqual({ ttlSeconds: null });
    expect(routeOf({ 'flusso.dev/cache': 'True', 'flusso.dev/cache-ttl': '5m' }).route?.cache).toEqual({ ttlSeconds: 300 });
    expect(routeOf({ 'flusso.dev/cache': 'true', 'flusso.dev/cache-ttl': '45' }).def?.cache).toEqual({ ttlSeconds: 45 });
    expect(routeOf({ 'flusso.dev/cache': 'true', 'flusso.dev/cache-ttl': '2d' }).route?.cache).toEqual({ ttlSeconds: 172800 });
  });

  it('follows --cache-default on, and lets an Ingress opt out', () => {
    expect(routeOf(undefined, true).route?.cache).toEqual({ ttlSeconds: null });
    expect(routeOf({ 'flusso.dev/cache': 'false' }, true).route?.cache).toBeUndefined();
  });

  it('reports a bad value and ignores it, keeping the routes', () => {
    const bad = routeOf({ 'flusso.dev/cache': 'yes' });
    expect(bad.route?.cache).toBeUndefined();
    expect(bad.route?.backend).toBe(WEB);
    expect(bad.messages).toEqual(['ING_ERR_INGRESS_INVALID_ANNOTATION: annotation flusso.dev/cache is "yes", expected "true" or "false"; the cache stays off for this Ingress']);
    const badTtl = routeOf({ 'flusso.dev/cache': 'true', 'flusso.dev/cache-ttl': '10 minutes' });
    expect(badTtl.route?.cache).toEqual({ ttlSeconds: null });
    expect(badTtl.messages).toHaveLength(1);
    expect(badTtl.messages[0]).toContain('flusso.dev/cache-ttl is "10 minutes"');
    expect(routeOf({ 'flusso.dev/cache': 'true', 'flusso.dev/cache-ttl': '400d' }).messages).toHaveLength(1);
  });
});
