/**
 * WorkerState.applyEndpoints: replace the named backends' balancers on top of exactly the
 * current generation, share the router, reuse and close Pools by endpoint, and keep the old
 * state on any error.
 */
import { describe, expect, it } from 'vitest';
import { encodeEndpointsDelta, encodeSnapshot } from '../../../src/shared/codec.js';
import { NO_OVERRIDES, SNAPSHOT_VERSION, type Backend, type Endpoint, type EndpointsDelta } from '../../../src/shared/snapshot.js';
import { WorkerState, type PoolFactory } from '../../../src/worker/state.js';
import { POOL_SETTINGS, fakePools } from '../../helpers/fake-pools.js';

const config = POOL_SETTINGS;

const fakes = fakePools;

const ep = (address: string, port = 80): Endpoint => ({ address, port, weight: 1, ready: true, terminating: false });
const backendOf = (id: string, endpoints: Endpoint[]): Backend => ({ id, service: id, servicePort: 80, loadBalancer: 'round-robin', endpoints });

function start(created: PoolFactory, generation = 1, overrides = NO_OVERRIDES): WorkerState {
  const state = new WorkerState({ config, createPool: created });
  const backends = [backendOf('a', [ep('10.0.0.1'), ep('10.0.0.2')]), backendOf('b', [ep('10.0.0.2')])];
  const table = { hosts: backends.map((c) => ({ host: `${c.id}.test`, routes: [{ match: 'Prefix' as const, path: '/', backend: c.id, source: 'ns/i' }] })), defaultBackend: null, backends };
  expect(state.apply(encodeSnapshot({ version: SNAPSHOT_VERSION, generation, table, overrides, tls: null })).ok).toBe(true);
  return state;
}

const delta = (base: number, backends: EndpointsDelta['backends']): Uint8Array => encodeEndpointsDelta({ version: SNAPSHOT_VERSION, generation: base + 1, base, backends });
const keysOf = (state: WorkerState, id: string): string[] => state.current.backends.get(id)!.balancer.list().map((e) => e.key);

describe('WorkerState.applyEndpoints', () => {
  it('replaces only the named backends, shares the router and counters, and acks the new generation', () => {
    const { created, factory } = fakes();
    const state = start(factory);
    const before = state.current;
    expect(state.applyEndpoints(delta(1, [{ id: 'a', endpoints: [ep('10.0.0.2'), ep('10.0.0.3')] }]))).toEqual({ ok: true, generation: 2 });
    const after = state.current;
    expect(after.generation).toBe(2);
    expect(after.router).toBe(before.router);
    expect(after.counters).toBe(before.counters);
    expect(after.backends.get('b')).toBe(before.backends.get('b'));
    expect(keysOf(state, 'a')).toEqual(['10.0.0.2:80', '10.0.0.3:80']);
    // 10.0.0.2 kept its Pool, 10.0.0.3 got one, 10.0.0.1 (used by no backend now) was closed.
    expect(created.map((p) => [p.origin, p.closed])).toEqual([
      ['http://10.0.0.1:80', true],
      ['http://10.0.0.2:80', false],
      ['http://10.0.0.3:80', false],
    ]);
    expect(state.poolCount).toBe(2);
    expect(state.current.backends.get('a')!.balancer.list()[0]!.pool).toBe(before.backends.get('b')!.balancer.list()[0]!.pool);
  });

  it('keeps a Pool another backend still uses', () => {
    const { created, factory } = fakes();
    const state = start(factory);
    expect(state.applyEndpoints(delta(1, [{ id: 'b', endpoints: [] }])).ok).toBe(true);
    expect(created.every((p) => !p.closed)).toBe(true);
    expect(state.current.backends.get('b')!.size).toBe(0);
    expect(state.current.backends.get('b')!.balancer.select()).toBeNull();
  });

  it('applies the overrides of the current snapshot to the new balancers', () => {
    const { factory } = fakes();
    const state = start(factory, 1, { drained: ['a|10.0.0.9:80'], weights: [] });
    expect(state.applyEndpoints(delta(1, [{ id: 'a', endpoints: [ep('10.0.0.9')] }])).ok).toBe(true);
    expect(state.current.backends.get('a')!.balancer.select()).toBeNull();
  });

  it.each([
    ['a delta for another base', delta(0, [{ id: 'a', endpoints: [] }]), 'ING_ERR_SNAPSHOT_BUILD'],
    ['a delta for a base that is ahead', delta(2, [{ id: 'a', endpoints: [] }]), 'ING_ERR_SNAPSHOT_BUILD'],
    ['a delta naming an unknown backend', delta(1, [{ id: 'a', endpoints: [ep('10.0.0.7')] }, { id: 'zzz', endpoints: [] }]), 'ING_ERR_SNAPSHOT_BUILD'],
    ['a delta with an invalid endpoint', delta(1, [{ id: 'a', endpoints: [{ ...ep('10.0.0.7'), port: 0 }] }]), 'ING_ERR_SNAPSHOT_BUILD'],
    ['bytes that are not a delta', new Uint8Array([0xc1]), 'ING_ERR_SNAPSHOT_DECODE'],
  ])('rejects %s and keeps the old state', (_name, bytes, code) => {
    const { created, factory } = fakes();
    const state = start(factory);
    const before = state.current;
    const r = state.applyEndpoints(bytes);
    expect(r.ok).toBe(false);
    expect(r.ok ? undefined : r.error.code).toBe(code);
    expect(state.current).toBe(before);
    // A Pool created for the failed delta is closed; the serving ones are not.
    expect(created.filter((p) => p.closed).map((p) => p.origin)).toEqual(created.length > 2 ? ['http://10.0.0.7:80'] : []);
    expect(state.poolCount).toBe(2);
  });

  it('rejects a delta before any snapshot', () => {
    const state = new WorkerState({ config, createPool: fakes().factory });
    expect(state.applyEndpoints(delta(1, [])).ok).toBe(false);
    expect(state.applyEndpoints(delta(0, [])).ok).toBe(true);
  });

  it('a full snapshot after deltas reuses the Pools the deltas made', () => {
    const { created, factory } = fakes();
    const state = start(factory);
    state.applyEndpoints(delta(1, [{ id: 'a', endpoints: [ep('10.0.0.3')] }]));
    const table = { hosts: [], defaultBackend: null, backends: [backendOf('a', [ep('10.0.0.3')])] };
    expect(state.apply(encodeSnapshot({ version: SNAPSHOT_VERSION, generation: 3, table, overrides: NO_OVERRIDES, tls: null })).ok).toBe(true);
    expect(created.filter((p) => !p.closed).map((p) => p.origin)).toEqual(['http://10.0.0.3:80']);
  });
});
