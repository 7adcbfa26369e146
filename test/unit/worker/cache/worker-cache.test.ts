import { describe, expect, it } from 'vitest';
import { primaryKey } from '../../../../src/worker/cache/key.js';
import { WorkerCache } from '../../../../src/worker/cache/worker-cache.js';

const T0 = Date.UTC(2026, 10, 26, 12, 0, 0);

function fill(c: WorkerCache, host: string, path: string, route: string): void {
  c.store.set({
    key: primaryKey({ scheme: 'http', host, path, query: '' }), host, path, route, requestHeaders: [],
    status: 200, headers: [['cache-control', 'max-age=60']], body: Buffer.from('x'), storedAt: T0, requestTime: T0, defaultTtlSeconds: null,
  });
}

describe('WorkerCache', () => {
  it('purges by host (any port, any case), path prefix and Ingress, all given fields together', () => {
    const c = new WorkerCache({ maxBytes: 1 << 20, maxObjectBytes: 1 << 16, lockTimeoutMs: 100, now: () => T0 });
    fill(c, 'a.test', '/img/1', 'ns/a');
    fill(c, 'a.test', '/css/1', 'ns/a');
    fill(c, 'b.test', '/img/1', 'ns/b');
    expect(c.purge({ host: 'A.TEST:8080', pathPrefix: '/img/' })).toBe(1);
    expect(c.purge({ ingress: 'ns/b' })).toBe(1);
    expect(c.purge({ pathPrefix: '/nothing' })).toBe(0);
    expect(c.purge({})).toBe(1);
  });

  it('invalidates keys here and tells the others only for its own unsafe requests', () => {
    const c = new WorkerCache({ maxBytes: 1 << 20, maxObjectBytes: 1 << 16, lockTimeoutMs: 100, now: () => T0 });
    const told: string[][] = [];
    c.onInvalidate = (keys) => told.push([...keys]);
    fill(c, 'a.test', '/x', 'ns/a');
    fill(c, 'a.test', '/y', 'ns/a');
    expect(c.invalidate(['http://a.test/x', 'http://a.test/nope'])).toBe(1);
    expect(told).toEqual([]);
    c.invalidateHere('http://a.test/y');
    expect(told).toEqual([['http://a.test/y']]);
    expect(c.store.stats().entries).toBe(0);
  });

  it('sweeps entries past their freshness on its clock', () => {
    let now = T0;
    const c = new WorkerCache({ maxBytes: 1 << 20, maxObjectBytes: 1 << 16, lockTimeoutMs: 100, now: () => now });
    fill(c, 'a.test', '/x', 'ns/a');
    expect(c.sweep()).toBe(0);
    now += 61_000;
    expect(c.sweep()).toBe(1);
  });

  it('flushes nothing before any cached route was used, then per-Ingress responses and gauges', () => {
    const c = new WorkerCache({ maxBytes: 1 << 20, maxObjectBytes: 1 << 16, lockTimeoutMs: 100, now: () => T0 });
    expect(c.flush()).toBeUndefined();
    c.count('ns/a', 'HIT');
    c.count('ns/a', 'HIT');
    c.count('ns/a', 'STALE');
    fill(c, 'a.test', '/x', 'ns/a');
    const d = c.flush();
    expect(d?.routes).toEqual([{ ingress: 'ns/a', responses: [2, 0, 0, 1, 0, 0], evictions: 0, entries: 1, storedBytes: d?.storedBytes }]);
    expect(d?.maxBytes).toBe(1 << 20);
    // The gauges stay while the entry does; the counters start again.
    expect(c.flush()?.routes).toEqual([{ ingress: 'ns/a', responses: [0, 0, 0, 0, 0, 0], evictions: 0, entries: 1, storedBytes: d?.storedBytes }]);
  });
});
