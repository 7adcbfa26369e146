import { describe, expect, it } from 'vitest';
import type { EndpointSlice } from '../../../src/primary/model.js';
import { ObjectStore } from '../../../src/primary/store.js';
import { endpointSlice, ingress, ingressClass, service, sliceEndpoint } from '../../helpers/k8s.js';

const names = (slices: Iterable<EndpointSlice>): string[] => [...slices].map((s) => s.metadata.name).sort();

describe('ObjectStore', () => {
  it('upsert reports a change only when the object differs', () => {
    const store = new ObjectStore();
    expect(store.upsert(service('shop/web'))).toBe(true);
    expect(store.upsert(service('shop/web'))).toBe(false);
    expect(store.upsert(service('shop/web', [{ port: 81 }]))).toBe(true);
    expect(store.service('shop', 'web')?.spec?.ports).toEqual([{ port: 81 }]);
    expect(store.size).toBe(1);
  });

  it('compares deeply regardless of key order', () => {
    const store = new ObjectStore();
    store.upsert(ingress('shop/web', { created: '2024-01-01T00:00:00Z', annotations: { a: '1', b: '2' } }));
    expect(store.upsert(ingress('shop/web', { annotations: { b: '2', a: '1' }, created: '2024-01-01T00:00:00Z' }))).toBe(false);
    expect(store.upsert(ingress('shop/web', { annotations: { a: '1' }, created: '2024-01-01T00:00:00Z' }))).toBe(true);
  });

  it('compares by resourceVersion when both objects carry one', () => {
    const store = new ObjectStore();
    const v1 = service('shop/web');
    const withVersion = (rv: string, port: number) => ({ ...v1, metadata: { ...v1.metadata, resourceVersion: rv }, spec: { ports: [{ port }] } });
    expect(store.upsert(withVersion('1', 80))).toBe(true);
    expect(store.upsert(withVersion('1', 81))).toBe(false);
    expect(store.upsert(withVersion('2', 81))).toBe(true);
    expect(store.upsert(service('shop/web', [{ port: 81 }]))).toBe(true);
  });

  it('keys objects by kind, so an Ingress and a Service may share a name', () => {
    const store = new ObjectStore();
    store.upsert(service('shop/web'));
    expect(store.upsert(ingress('shop/web'))).toBe(true);
    expect([...store.ingresses()].map((i) => i.metadata.name)).toEqual(['web']);
    expect(store.get('Service', 'shop/web')?.kind).toBe('Service');
    expect(store.get('IngressClass', 'flusso')).toBeUndefined();
  });

  it('delete reports whether the object was there', () => {
    const store = new ObjectStore();
    store.upsert(ingressClass());
    expect(store.delete('IngressClass', 'flusso')).toBe(true);
    expect(store.delete('IngressClass', 'flusso')).toBe(false);
    expect([...store.ingressClasses()]).toEqual([]);
  });

  it('indexes slices by namespace and service label, following label changes and deletes', () => {
    const store = new ObjectStore();
    store.upsert(endpointSlice('shop/web-a', { service: 'web' }));
    store.upsert(endpointSlice('shop/web-b', { service: 'web' }));
    store.upsert(endpointSlice('other/web-c', { service: 'web' }));
    store.upsert(endpointSlice('shop/api-a', { service: 'api' }));
    expect(names(store.endpointSlices('shop', 'web'))).toEqual(['web-a', 'web-b']);
    expect(names(store.endpointSlices('other', 'web'))).toEqual(['web-c']);

    store.upsert(endpointSlice('shop/web-b', { service: 'api' }));
    expect(names(store.endpointSlices('shop', 'web'))).toEqual(['web-a']);
    expect(names(store.endpointSlices('shop', 'api'))).toEqual(['api-a', 'web-b']);

    store.delete('EndpointSlice', 'shop/web-a');
    expect(names(store.endpointSlices('shop', 'web'))).toEqual([]);
    expect(names(store.endpointSlices('nowhere', 'web'))).toEqual([]);
  });

  it('returns the newest version of a slice from the index', () => {
    const store = new ObjectStore();
    store.upsert(endpointSlice('shop/web-a', { service: 'web' }));
    store.upsert(endpointSlice('shop/web-a', { service: 'web', endpoints: [sliceEndpoint('10.0.0.1')] }));
    expect([...store.endpointSlices('shop', 'web')].map((s) => s.endpoints.length)).toEqual([1]);
  });

  it('replaceAll reports whether anything was added, changed or removed', () => {
    const store = new ObjectStore();
    const objects = [ingressClass(), service('shop/web'), endpointSlice('shop/web-a', { service: 'web' })];
    expect(store.replaceAll(objects)).toBe(true);
    expect(store.replaceAll([...objects].reverse())).toBe(false);
    expect(store.replaceAll(objects.slice(1))).toBe(true);
    expect(store.size).toBe(2);
    expect(store.replaceAll([service('shop/web'), endpointSlice('shop/web-a', { service: 'api' })])).toBe(true);
    expect(names(store.endpointSlices('shop', 'web'))).toEqual([]);
    expect(names(store.endpointSlices('shop', 'api'))).toEqual(['web-a']);
    expect(store.replaceAll([])).toBe(true);
    expect(store.size).toBe(0);
    expect(store.replaceAll([])).toBe(false);
  });
});
