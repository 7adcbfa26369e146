/**
 * WorkerState with an injected Pool factory (no sockets): build completely, swap one
 * reference, keep the old state on any failure, reuse and close Pools by endpoint.
 */
import { describe, expect, it } from 'vitest';
import { encodeSnapshot } from '../../../src/shared/codec.js';
import { NO_OVERRIDES, SNAPSHOT_VERSION, type Backend, type RoutingSnapshot } from '../../../src/shared/snapshot.js';
import { WorkerState } from '../../../src/worker/state.js';
import { POOL_SETTINGS, fakePools } from '../../helpers/fake-pools.js';

const config = POOL_SETTINGS;

const fakes = fakePools;

function backendOf(id: string, endpoints: [string, number][]): Backend {
  return {
    id,
    service: id,
    servicePort: 80,
    loadBalancer: 'round-robin',
    endpoints: endpoints.map(([address, port]) => ({ address, port, weight: 1, ready: true, terminating: false })),
  };
}

function snapshot(generation: number, backends: Backend[]): RoutingSnapshot {
  return {
    version: SNAPSHOT_VERSION,
    generation,
    overrides: NO_OVERRIDES,
    tls: null,
    table: {
      hosts: backends.map((c) => ({ host: `${c.id.replace(/[^a-z0-9]/g, '')}.test`, routes: [{ match: 'Prefix', path: '/', backend: c.id, source: 'ns/i' }] })),
      defaultBackend: null,
      backends,
    },
  };
}

const bytes = (s: RoutingSnapshot): Uint8Array => encodeSnapshot(s);

describe('WorkerState', () => {
  it('starts empty at generation 0', () => {
    const state = new WorkerState({ config, createPool: fakes().factory });
    expect(state.generation).toBe(0);
    expect(state.current.router.match('any', '/')).toBeNull();
  });

  it('builds router, balancers and Pools, then swaps', () => {
    const { created, factory } = fakes();
    const state = new WorkerState({ config, createPool: factory });
    expect(state.apply(bytes(snapshot(3, [backendOf('a', [['10.0.0.1', 80], ['fd00::1', 81]])])))).toEqual({ ok: true, generation: 3 });
    expect(state.generation).toBe(3);
    expect(state.current.router.match('a.test', '/x')?.route.backend).toBe('a');
    const rt = state.current.backends.get('a');
    expect(rt?.size).toBe(2);
    expect(created.map((p) => p.origin)).toEqual(['http://10.0.0.1:80', 'http://[fd00::1]:81']);
    expect(created[0]?.options).toEqual({ maxConnections: 5, connectTimeoutMs: 1_000, responseTimeoutMs: 2_000, idleTimeoutMs: 3_000, keepAliveTimeoutMs: 4_000 });
    const picked = rt?.balancer.select();
    expect(picked?.key).toBe('10.0.0.1:80');
    expect(picked?.pool).toBe(created[0]);
  });

  it('reuses Pools of unchanged endpoints and closes those that disappeared', () => {
    const { created, factory } = fakes();
    const state = new WorkerState({ config, createPool: factory });
    state.apply(bytes(snapshot(1, [backendOf('a', [['10.0.0.1', 80], ['10.0.0.2', 80]])])));
    state.apply(bytes(snapshot(2, [backendOf('a', [['10.0.0.2', 80], ['10.0.0.3', 80]]), backendOf('b', [['10.0.0.2', 80]])])));
    expect(created.map((p) => [p.origin, p.closed])).toEqual([
      ['http://10.0.0.1:80', true],
      ['http://10.0.0.2:80', false],
      ['http://10.0.0.3:80', false],
    ]);
    expect(state.poolCount).toBe(2);
    expect(state.current.backends.get('b')?.balancer.select()?.pool).toBe(created[1]);
  });

  it('keeps the previous state on undecodable bytes and on another version', () => {
    const state = new WorkerState({ config, createPool: fakes().factory });
    state.apply(bytes(snapshot(1, [backendOf('a', [['10.0.0.1', 80]])])));
    const before = state.current;
    const garbage = state.apply(new Uint8Array([0xc1]));
    expect(garbage.ok).toBe(false);
    if (!garbage.ok) expect(garbage.error.code).toBe('ING_ERR_SNAPSHOT_DECODE');
    const version = state.apply(encodeSnapshot({ ...snapshot(2, []), version: SNAPSHOT_VERSION + 1 }));
    if (!version.ok) expect(version.error.code).toBe('ING_ERR_SNAPSHOT_VERSION');
    else throw new Error('expected a version error');
    expect(state.current).toBe(before);
  });

  it('keeps the previous state when the build fails and closes only the Pools it created', () => {
    const { created, factory } = fakes((origin) => origin.includes('10.0.0.9'));
    const state = new WorkerState({ config, createPool: factory });
    state.apply(bytes(snapshot(1, [backendOf('a', [['10.0.0.1', 80]])])));
    const before = state.current;
    const r = state.apply(bytes(snapshot(2, [backendOf('a', [['10.0.0.1', 80], ['10.0.0.2', 80], ['10.0.0.9', 80]])])));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe('ING_ERR_SNAPSHOT_BUILD');
    expect(state.current).toBe(before);
    expect(created.map((p) => [p.origin, p.closed])).toEqual([
      ['http://10.0.0.1:80', false], // still serving generation 1
      ['http://10.0.0.2:80', true], // created by the failed build
    ]);
  });

  it('refuses an endpoint with an invalid port', () => {
    const state = new WorkerState({ config, createPool: fakes().factory });
    const r = state.apply(bytes(snapshot(1, [backendOf('a', [['10.0.0.1', 0]])])));
    expect(r.ok ? 'ok' : r.error.code).toBe('ING_ERR_SNAPSHOT_BUILD');
    expect(state.generation).toBe(0);
  });

  it('routes to a backend missing from the table as no backend (503), not a failure', () => {
    const state = new WorkerState({ config, createPool: fakes().factory });
    const s = snapshot(1, []);
    const withDangling: RoutingSnapshot = {
      ...s,
      table: { ...s.table, hosts: [{ host: 'x.test', routes: [{ match: 'Prefix', path: '/', backend: 'gone', source: 'ns/i' }] }] },
    };
    expect(state.apply(bytes(withDangling)).ok).toBe(true);
    expect(state.current.router.match('x.test', '/')?.route.backend).toBe('gone');
    expect(state.current.backends.get('gone')).toBeUndefined();
  });

  it('close() closes every Pool', async () => {
    const { created, factory } = fakes();
    const state = new WorkerState({ config, createPool: factory });
    state.apply(bytes(snapshot(1, [backendOf('a', [['10.0.0.1', 80], ['10.0.0.2', 80]])])));
    await state.close();
    expect(created.every((p) => p.closed)).toBe(true);
    expect(state.poolCount).toBe(0);
  });
});

describe('WorkerState backend reuse (issue #5: a route change must not rebuild 10,000 balancers)', () => {
  it('keeps the runtime of a backend whose endpoints and overrides did not change, and rebuilds the others', () => {
    const state = new WorkerState({ config, createPool: fakes().factory });
    state.apply(bytes(snapshot(1, [backendOf('a', [['10.0.0.1', 80]]), backendOf('b', [['10.0.0.2', 80]])])));
    const before = state.current.backends;
    state.apply(bytes(snapshot(2, [backendOf('a', [['10.0.0.1', 80]]), backendOf('b', [['10.0.0.3', 80]]), backendOf('c', [['10.0.0.1', 80]])])));
    const after = state.current.backends;
    expect(after.get('a')).toBe(before.get('a'));
    expect(after.get('b')).not.toBe(before.get('b'));
    expect(after.get('b')?.balancer.select()?.address).toBe('10.0.0.3');
    expect(after.get('c')?.balancer.select()?.pool).toBe(after.get('a')?.balancer.select()?.pool);
    expect(state.poolCount).toBe(2);
  });

  it('rebuilds every backend when the overrides change', () => {
    const state = new WorkerState({ config, createPool: fakes().factory });
    const base = snapshot(1, [backendOf('a', [['10.0.0.1', 80], ['10.0.0.2', 80]])]);
    state.apply(bytes(base));
    const before = state.current.backends.get('a');
    state.apply(bytes({ ...base, generation: 2, overrides: { drained: ['a|10.0.0.1:80'], weights: [] } }));
    const after = state.current.backends.get('a');
    expect(after).not.toBe(before);
    expect([after?.balancer.select()?.address, after?.balancer.select()?.address]).toEqual(['10.0.0.2', '10.0.0.2']);
  });

  it('rebuilds a backend whose endpoint changed only in readiness', () => {
    const state = new WorkerState({ config, createPool: fakes().factory });
    const two = backendOf('a', [['10.0.0.1', 80], ['10.0.0.2', 80]]);
    state.apply(bytes(snapshot(1, [two])));
    const before = state.current.backends.get('a');
    const notReady: Backend = { ...two, endpoints: [two.endpoints[0]!, { ...two.endpoints[1]!, ready: false }] };
    state.apply(bytes(snapshot(2, [notReady])));
    const after = state.current.backends.get('a');
    expect(after).not.toBe(before);
    expect([after?.balancer.select()?.address, after?.balancer.select()?.address]).toEqual(['10.0.0.1', '10.0.0.1']);
  });
});
