/**
 * updateEndpoints against a full compile: after random EndpointSlice changes, resolving only
 * the affected Services' backends gives exactly the table and diagnostics of compileState.
 */
import { describe, expect, it } from 'vitest';
import { compileState, updateEndpoints, type CompiledState } from '../../../../src/primary/compile/index.js';
import type { EndpointSlice, KubeObject, SliceEndpoint } from '../../../../src/primary/model.js';
import { ObjectStore } from '../../../../src/primary/store.js';
import { backend, endpointSlice, ingress, ingressClass, OPTS, path, rule, service, sliceEndpoint } from '../../../helpers/k8s.js';

/** rng is mulberry32: the same seed gives the same changes. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SERVICES = ['s0', 's1', 's2', 's3'];

/** world: Ingresses reaching every Service by port number and by name, and one Service that does not exist. */
function world(): KubeObject[] {
  const objects: KubeObject[] = [ingressClass()];
  for (const s of SERVICES) {
    objects.push(service(`default/${s}`, [{ name: 'http', port: 80, targetPort: 8080 }, { name: 'admin', port: 9000, targetPort: 9000 }]));
    objects.push(ingress(`default/${s}`, { rules: [rule(`${s}.example`, path('/', backend(s, 80)), path('/named', backend(s, 'http')), path('/admin', backend(s, 9000)))] }));
  }
  objects.push(ingress('default/ghost', { rules: [rule('ghost.example', path('/', backend('ghost', 80)))] }));
  return objects;
}

function randomSlice(next: () => number, svc: string, index: number): EndpointSlice {
  const endpoints: SliceEndpoint[] = [];
  const count = Math.floor(next() * 4);
  for (let i = 0; i < count; i++) {
    const address = `10.0.${Math.floor(next() * 3)}.${Math.floor(next() * 6)}`;
    const r = next();
    const conditions = r < 0.6 ? undefined : r < 0.8 ? { ready: false, serving: true, terminating: true } : { ready: false };
    endpoints.push(sliceEndpoint(address, conditions, next() < 0.2 ? 'zone-a' : undefined));
  }
  const ports = next() < 0.5 ? [{ name: 'http', port: 8080, protocol: 'TCP' }, { name: 'admin', port: 9000, protocol: 'TCP' }] : [{ name: 'http', port: 8080 + Math.floor(next() * 2), protocol: 'TCP' }];
  return endpointSlice(`default/${svc}-${index}`, { service: svc, endpoints, ports });
}

function comparable(s: CompiledState): unknown {
  return { table: s.table, diagnostics: s.diagnostics, ingresses: s.ingresses };
}

describe('updateEndpoints', () => {
  it.each([1, 2, 3, 4, 5])('equals a full compile after 150 random EndpointSlice changes (seed %i)', (seed) => {
    const next = rng(seed);
    const store = new ObjectStore();
    store.replaceAll(world());
    let state = compileState(store, OPTS);
    let deltas = 0;
    for (let step = 0; step < 150; step++) {
      const services = new Set<string>();
      // One to three slice changes per rebuild, as a burst would give.
      for (let n = 1 + Math.floor(next() * 3); n > 0; n--) {
        const svc = SERVICES[Math.floor(next() * SERVICES.length)]!;
        const index = Math.floor(next() * 2);
        if (next() < 0.2) store.delete('EndpointSlice', `default/${svc}-${index}`);
        else store.upsert(randomSlice(next, svc, index));
        services.add(`default/${svc}`);
      }
      const before = state;
      const { state: after, changed } = updateEndpoints(store, before, services);
      const full = compileState(store, OPTS);
      expect(comparable(after)).toEqual(comparable(full));
      // `changed` lists exactly the backends whose endpoints differ, in table order.
      const differs = full.table.backends.filter((c, i) => JSON.stringify(c.endpoints) !== JSON.stringify(before.table.backends[i]!.endpoints));
      expect(changed).toEqual(differs);
      // Everything else is shared with the previous table.
      expect(after.table.hosts).toBe(before.table.hosts);
      if (changed.length === 0) expect(after.table).toBe(before.table);
      else deltas++;
      state = after;
    }
    expect(deltas).toBeGreaterThan(10);
  });

  it('brings ING_ERR_NO_ENDPOINTS in and out with the endpoints', () => {
    const store = new ObjectStore();
    store.replaceAll(world());
    const noEndpoints = (s: CompiledState): string[] => s.diagnostics.filter((d) => d.code === 'ING_ERR_NO_ENDPOINTS' && d.object === 'Service default/s1').map((d) => d.message);
    const first = compileState(store, OPTS);
    expect(noEndpoints(first)).toHaveLength(3);
    store.upsert(endpointSlice('default/s1-0', { service: 's1', endpoints: [sliceEndpoint('10.1.0.1')] }));
    const second = updateEndpoints(store, first, new Set(['default/s1']));
    expect(second.changed.map((c) => c.id)).toHaveLength(2);
    expect(noEndpoints(second.state)).toEqual(['port 9000 has no ready or serving endpoints; requests to it get 503']);
    store.delete('EndpointSlice', 'default/s1-0');
    const third = updateEndpoints(store, second.state, new Set(['default/s1']));
    expect(noEndpoints(third.state)).toHaveLength(3);
    expect(comparable(third.state)).toEqual(comparable(first));
  });

  it('returns the same state when nothing the named Services serve changed', () => {
    const store = new ObjectStore();
    store.replaceAll(world());
    const first = compileState(store, OPTS);
    expect(updateEndpoints(store, first, new Set(['default/s2', 'default/unknown']))).toEqual({ state: first, changed: [] });
  });
});
