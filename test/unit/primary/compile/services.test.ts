import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../../src/primary/model.js';
import type { ErrorCode } from '../../../../src/shared/errors.js';
import type { Backend } from '../../../../src/shared/snapshot.js';
import {
  backend,
  backendOf,
  codes,
  compileObjects,
  endpointSlice,
  fixture,
  ingress,
  ingressClass,
  path,
  ready,
  route,
  rule,
  service,
  sliceEndpoint,
  terminating,
} from '../../../helpers/k8s.js';

/** routeTo is an Ingress default/a routing web.example.com/ to `to`. */
const routeTo = (to: ReturnType<typeof backend>) => ingress('default/a', { rules: [rule('web.example.com', path('/', to))] });

interface Case {
  readonly name: string;
  readonly objects: readonly KubeObject[];
  readonly want: Backend;
  readonly diagnostics?: readonly [ErrorCode, string][];
}

const TWO_PORTS = service('default/web', [
  { name: 'http', port: 80, targetPort: 8080 },
  { name: 'admin', port: 9000, targetPort: 'admin' },
]);
const TWO_PORT_SLICE = endpointSlice('default/web-a', {
  service: 'web',
  ports: [
    { name: 'http', port: 8080 },
    { name: 'admin', port: 9001 },
  ],
  endpoints: [sliceEndpoint('10.0.0.1')],
});

const cases: Case[] = [
  {
    name: 'port by number picks the slice port of the Service port name',
    objects: [TWO_PORTS, TWO_PORT_SLICE, routeTo(backend('web', 9000))],
    want: backendOf('default/web:9000', [ready('10.0.0.1', 9001)]),
  },
  {
    name: 'port by name',
    objects: [TWO_PORTS, TWO_PORT_SLICE, routeTo(backend('web', 'http'))],
    want: backendOf('default/web:http', [ready('10.0.0.1', 8080)]),
  },
  {
    name: 'unnamed single-port Service matches unnamed slice ports ("" and absent are equal)',
    objects: [
      service('default/web', [{ port: 80, targetPort: 8080 }]),
      endpointSlice('default/web-a', { service: 'web', ports: [{ name: '', port: 8080 }], endpoints: [sliceEndpoint('10.0.0.1')] }),
      endpointSlice('default/web-b', { service: 'web', ports: [{ port: 8081 }], endpoints: [sliceEndpoint('10.0.0.2')] }),
      endpointSlice('default/web-c', { service: 'web', ports: [{ name: 'http', port: 8082 }], endpoints: [sliceEndpoint('10.0.0.3')] }),
      routeTo(backend('web', 80)),
    ],
    want: backendOf('default/web:80', [ready('10.0.0.1', 8080), ready('10.0.0.2', 8081)]),
  },
  {
    name: 'several slices merge, deduplicate ip:port and sort; slices without the port are skipped',
    objects: [
      service('default/web'),
      endpointSlice('default/web-b', { service: 'web', endpoints: [sliceEndpoint(['10.0.0.9', '10.0.0.10']), sliceEndpoint('10.0.0.2')] }),
      endpointSlice('default/web-a', { service: 'web', endpoints: [sliceEndpoint('10.0.0.2')] }),
      endpointSlice('default/web-c', { service: 'web', ports: [{ name: 'other', port: 1 }], endpoints: [sliceEndpoint('10.0.0.3')] }),
      endpointSlice('default/web-d', { service: 'web', ports: [{ name: 'http' }], endpoints: [sliceEndpoint('10.0.0.4')] }),
      endpointSlice('default/web-e', { service: 'web', ports: [], endpoints: [sliceEndpoint('10.0.0.5')] }),
      routeTo(backend('web')),
    ],
    want: backendOf('default/web:80', [ready('10.0.0.10'), ready('10.0.0.2'), ready('10.0.0.9')]),
  },
  {
    name: 'ready endpoints only: not-ready and terminating ones are dropped while one is ready',
    objects: [
      service('default/web'),
      endpointSlice('default/web-a', {
        service: 'web',
        endpoints: [
          sliceEndpoint('10.0.0.1'),
          sliceEndpoint('10.0.0.2', { ready: false }),
          sliceEndpoint('10.0.0.3', { ready: false, serving: true, terminating: true }),
          sliceEndpoint('10.0.0.4', { ready: true, terminating: true }),
          sliceEndpoint('10.0.0.5', { ready: true, serving: false }),
        ],
      }),
      routeTo(backend('web')),
    ],
    want: backendOf('default/web:80', [ready('10.0.0.1'), ready('10.0.0.5')]),
  },
  {
    name: 'serving terminating endpoints stand in when none is ready',
    objects: [
      service('default/web'),
      endpointSlice('default/web-a', {
        service: 'web',
        endpoints: [
          sliceEndpoint('10.0.0.2', { ready: false }),
          sliceEndpoint('10.0.0.3', { ready: false, serving: true, terminating: true }),
          sliceEndpoint('10.0.0.4', { terminating: true }),
          sliceEndpoint('10.0.0.5', { ready: false, serving: false, terminating: true }),
          sliceEndpoint('10.0.0.6', { ready: false, terminating: true }),
        ],
      }),
      routeTo(backend('web')),
    ],
    want: backendOf('default/web:80', [terminating('10.0.0.3'), terminating('10.0.0.4')]),
  },
  {
    name: 'IPv6 slices count, FQDN slices and addresses of the wrong family are skipped, zones kept',
    objects: [
      service('default/web'),
      endpointSlice('default/web-4', { service: 'web', endpoints: [sliceEndpoint(['10.0.0.1', 'fd00::9', 'nonsense'], undefined, 'z1')] }),
      endpointSlice('default/web-6', { service: 'web', addressType: 'IPv6', endpoints: [sliceEndpoint(['fd00::1', '10.0.0.7'])] }),
      endpointSlice('default/web-f', { service: 'web', addressType: 'FQDN', endpoints: [sliceEndpoint('pod.example.com')] }),
      routeTo(backend('web')),
    ],
    want: backendOf('default/web:80', [ready('10.0.0.1', 8080, 'z1'), ready('fd00::1')]),
  },
  {
    name: 'slices of another namespace or without the service label are not used',
    objects: [
      service('default/web'),
      endpointSlice('other/web-a', { service: 'web', endpoints: [sliceEndpoint('10.0.0.1')] }),
      { ...endpointSlice('default/web-b', { service: 'web', endpoints: [sliceEndpoint('10.0.0.2')] }), metadata: { name: 'web-b', namespace: 'default' } },
      routeTo(backend('web')),
    ],
    want: backendOf('default/web:80'),
    diagnostics: [['ING_ERR_NO_ENDPOINTS', 'Service default/web']],
  },
  {
    name: 'missing Service: empty backend, route kept',
    objects: [routeTo(backend('web'))],
    want: backendOf('default/web:80'),
    diagnostics: [['ING_ERR_SERVICE_NOT_FOUND', 'Ingress default/a']],
  },
  {
    name: 'unresolvable port number',
    objects: [service('default/web'), routeTo(backend('web', 8080))],
    want: backendOf('default/web:8080'),
    diagnostics: [['ING_ERR_SERVICE_PORT_UNRESOLVED', 'Ingress default/a']],
  },
  {
    name: 'unresolvable port name',
    objects: [service('default/web'), routeTo(backend('web', 'grpc'))],
    want: backendOf('default/web:grpc'),
    diagnostics: [['ING_ERR_SERVICE_PORT_UNRESOLVED', 'Ingress default/a']],
  },
  {
    name: 'Service without slices: empty backend and a warning',
    objects: [service('default/web'), routeTo(backend('web'))],
    want: backendOf('default/web:80'),
    diagnostics: [['ING_ERR_NO_ENDPOINTS', 'Service default/web']],
  },
];

describe('compileSnapshot: backends and endpoints', () => {
  it.each(cases)('$name', ({ objects, want, diagnostics = [] }) => {
    const result = compileObjects([ingressClass(), ...objects]);
    expect(result.table).toStrictEqual({
      hosts: [{ host: 'web.example.com', routes: [route('Prefix', '/', want.id, 'default/a')] }],
      defaultBackend: null,
      backends: [want],
    });
    expect(codes(result)).toEqual(diagnostics);
  });

  it('reports a missing Service once per referencing Ingress and lists the backend once', () => {
    const result = compileObjects([
      ingressClass(),
      ingress('default/a', { created: '2024-01-01T00:00:00Z', rules: [rule('a.example.com', path('/', backend('web')))] }),
      ingress('default/b', { created: '2024-01-02T00:00:00Z', defaultBackend: backend('web'), rules: [rule('b.example.com', path('/', backend('web')))] }),
    ]);
    expect(result.table).toStrictEqual({
      hosts: [
        { host: 'a.example.com', routes: [route('Prefix', '/', 'default/web:80', 'default/a')] },
        { host: 'b.example.com', routes: [route('Prefix', '/', 'default/web:80', 'default/b')] },
      ],
      defaultBackend: route('Prefix', '/', 'default/web:80', 'default/b'),
      backends: [backendOf('default/web:80')],
    });
    expect(result.diagnostics).toEqual([
      {
        code: 'ING_ERR_SERVICE_NOT_FOUND',
        severity: 'error',
        object: 'Ingress default/a',
        message: 'backend Service default/web does not exist; requests to it get 503',
      },
      {
        code: 'ING_ERR_SERVICE_NOT_FOUND',
        severity: 'error',
        object: 'Ingress default/b',
        message: 'backend Service default/web does not exist; requests to it get 503',
      },
    ]);
  });

  it('compiles a rollout across several slices (fixture rollout-multi-slice)', () => {
    const result = compileObjects(fixture('rollout-multi-slice'));
    expect(result.table).toStrictEqual({
      hosts: [
        {
          host: 'shop.example.com',
          routes: [route('Exact', '/metrics', 'shop/storefront:9090', 'shop/shop'), route('Prefix', '/', 'shop/storefront:http', 'shop/shop')],
        },
      ],
      defaultBackend: null,
      backends: [
        backendOf('shop/storefront:9090', [ready('10.1.0.11', 9091, 'eu-west-1b'), ready('10.1.0.12', 9091, 'eu-west-1a')]),
        backendOf('shop/storefront:http', [
          ready('10.1.0.11', 8080, 'eu-west-1b'),
          ready('10.1.0.12', 8080, 'eu-west-1a'),
          ready('10.1.0.2'),
          ready('10.1.0.3'),
          ready('fd00::a'),
          ready('fd00::b'),
        ]),
      ],
    });
    expect(result.diagnostics).toEqual([]);
    expect(result.ingresses).toEqual(['shop/shop']);
  });
});
