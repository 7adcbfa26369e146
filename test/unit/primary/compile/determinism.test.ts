import { describe, expect, it } from 'vitest';
import { compileSnapshot } from '../../../../src/primary/compile/index.js';
import type { KubeObject } from '../../../../src/primary/model.js';
import { ObjectStore } from '../../../../src/primary/store.js';
import { encodeTable } from '../../../../src/shared/codec.js';
import {
  OPTS,
  backendOf,
  codes,
  compileObjects,
  endpointSlice,
  fixture,
  ingress,
  ingressClass,
  ready,
  route,
  seededShuffle,
  service,
  sliceEndpoint,
} from '../../../helpers/k8s.js';

describe('compileSnapshot: shared fixture', () => {
  it('compiles conflicts-and-defaults to the whole expected table', () => {
    const result = compileObjects(fixture('conflicts-and-defaults'));
    expect(result.table).toStrictEqual({
      hosts: [
        { host: '*', routes: [route('Exact', '/healthz', 'team-b/search:80', 'team-b/search')] },
        { host: '*.apps.example.com', routes: [route('Prefix', '/', 'infra/fallback:80', 'infra/platform')] },
        {
          host: 'www.example.com',
          routes: [
            route('Exact', '/status', 'infra/fallback:80', 'infra/platform'),
            route('Prefix', '/search', 'team-b/search:80', 'team-b/search'),
            route('Prefix', '/api', 'team-a/api:8080', 'team-a/storefront'),
            route('Prefix', '/', 'team-a/web:http', 'team-a/storefront'),
          ],
        },
      ],
      defaultBackend: route('Prefix', '/', 'infra/fallback:80', 'infra/platform'),
      backends: [
        backendOf('infra/fallback:80', [ready('10.9.0.1')]),
        backendOf('team-a/api:8080'),
        backendOf('team-a/web:http', [ready('10.2.0.1', 3000, 'z1'), ready('10.2.0.2', 3000)]),
        backendOf('team-b/search:80'),
      ],
    });
    expect(codes(result)).toEqual([
      ['ING_ERR_INGRESS_DEFAULT_BACKEND_CONFLICT', 'Ingress team-a/storefront'],
      ['ING_ERR_INGRESS_CONFLICT', 'Ingress team-a/storefront'],
      ['ING_ERR_INGRESS_CONFLICT', 'Ingress team-b/search'],
      ['ING_ERR_SERVICE_NOT_FOUND', 'Ingress team-a/storefront'],
      ['ING_ERR_NO_ENDPOINTS', 'Service team-b/search'],
    ]);
    expect(result.ingresses).toEqual(['infra/platform', 'team-a/storefront', 'team-b/search']);
  });
});

describe('compileSnapshot: determinism', () => {
  // Both fixtures define IngressClass flusso; keep one, or the input itself would depend on order.
  const objects = [
    ...fixture('conflicts-and-defaults'),
    ...fixture('rollout-multi-slice').filter((o) => o.kind !== 'IngressClass'),
  ];

  it('gives byte-identical output for 20 shuffled input orders', () => {
    const reference = compileObjects(objects);
    const bytes = Buffer.from(encodeTable(reference.table));
    for (let seed = 1; seed <= 20; seed++) {
      const store = new ObjectStore();
      for (const obj of seededShuffle(objects, seed)) store.upsert(obj);
      const result = compileSnapshot(store, OPTS);
      expect(Buffer.from(encodeTable(result.table)).equals(bytes), `seed ${seed}`).toBe(true);
      expect(result.diagnostics).toEqual(reference.diagnostics);
      expect(result.ingresses).toEqual(reference.ingresses);
    }
  });

  it('is not affected by compiling twice from the same view', () => {
    const store = new ObjectStore();
    store.replaceAll(objects);
    expect(encodeTable(compileSnapshot(store, OPTS).table)).toEqual(encodeTable(compileSnapshot(store, OPTS).table));
  });
});

describe('compileSnapshot: garbage-ish objects', () => {
  // Every object here passes the type checks but is as empty or odd as the types allow.
  const garbage: KubeObject[] = [
    { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'bare' } },
    ingressClass(),
    { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'no-spec' } },
    { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'empty', namespace: 'g' }, spec: { ingressClassName: 'flusso' } },
    ingress('g/odd', {
      created: 'yesterday',
      defaultBackend: {},
      rules: [
        {},
        { host: '' },
        { host: '', http: { paths: [] } },
        { http: { paths: [{ path: '', pathType: '', backend: {} }] } },
        { http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: '', port: {} } } }] } },
        { http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'svc', port: { name: '' } } } }] } },
        { http: { paths: [{ path: '/p', pathType: 'Prefix', backend: { service: { name: 'svc', port: { number: 80 } } } }] } },
      ],
    }),
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'svc', namespace: 'g' } },
    endpointSlice('g/svc-1', { service: 'svc', addressType: '', endpoints: [{ addresses: [] }, sliceEndpoint('', {})] }),
    endpointSlice('g/svc-2', { service: '', endpoints: [sliceEndpoint('10.0.0.1')] }),
    { ...endpointSlice('g/svc-3', { service: 'svc', endpoints: [sliceEndpoint('10.0.0.1')] }), ports: [] },
    service('g/other', []),
  ];

  it('never throws and compiles what is usable', () => {
    const result = compileObjects(garbage);
    expect(result.table).toStrictEqual({
      hosts: [{ host: '*', routes: [route('Prefix', '/p', 'g/svc:80', 'g/odd')] }],
      defaultBackend: null,
      backends: [backendOf('g/svc:80')],
    });
    expect(codes(result)).toEqual([
      ['ING_ERR_INGRESS_BACKEND_UNSUPPORTED', 'Ingress g/odd'],
      ['ING_ERR_INGRESS_INVALID_PATH', 'Ingress g/odd'],
      ['ING_ERR_INGRESS_BACKEND_UNSUPPORTED', 'Ingress g/odd'],
      ['ING_ERR_INGRESS_BACKEND_UNSUPPORTED', 'Ingress g/odd'],
      ['ING_ERR_SERVICE_PORT_UNRESOLVED', 'Ingress g/odd'],
    ]);
  });
});
