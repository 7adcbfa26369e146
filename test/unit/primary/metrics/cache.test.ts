import { describe, expect, it } from 'vitest';
import { CacheMetrics, hitRatio } from '../../../../src/primary/metrics/cache.js';
import { ExpositionWriter } from '../../../../src/primary/metrics/exposition.js';
import type { CacheStatsDelta, RouteCacheDelta } from '../../../../src/shared/stats.js';

const MIB = 1024 * 1024;

/** route builds one Ingress's flush; responses in CACHE_STATUSES order (HIT, MISS, EXPIRED, STALE, REVALIDATED, BYPASS). */
const route = (ingress: string, responses: number[], evictions: number, entries: number, storedBytes: number): RouteCacheDelta => ({ ingress, responses, evictions, entries, storedBytes });
const flush = (routes: RouteCacheDelta[], maxBytes = 64 * MIB): CacheStatsDelta => ({
  routes,
  entries: routes.reduce((n, r) => n + r.entries, 0),
  storedBytes: routes.reduce((n, r) => n + r.storedBytes, 0),
  maxBytes,
});

function scrape(m: CacheMetrics): string[] {
  const w = new ExpositionWriter();
  m.render(w);
  return w.text().split('\n').filter((l) => l.startsWith('flusso_cache_'));
}

describe('CacheMetrics', () => {
  it('sums counters over flushes and workers, and keeps only the newest gauges of each worker', () => {
    const m = new CacheMetrics();
    m.add(1, flush([route('shop/web', [5, 2, 0, 0, 0, 1], 1, 10, 1000)]));
    m.add(2, flush([route('shop/web', [1, 1, 1, 1, 1, 1], 0, 4, 400)]));
    m.add(1, flush([route('shop/web', [3, 0, 0, 0, 0, 0], 2, 12, 1200)]));
    expect(scrape(m)).toEqual([
      'flusso_cache_responses_total{namespace="shop",ingress="web",cache_status="HIT"} 9',
      'flusso_cache_responses_total{namespace="shop",ingress="web",cache_status="MISS"} 3',
      'flusso_cache_responses_total{namespace="shop",ingress="web",cache_status="EXPIRED"} 1',
      'flusso_cache_responses_total{namespace="shop",ingress="web",cache_status="STALE"} 1',
      'flusso_cache_responses_total{namespace="shop",ingress="web",cache_status="REVALIDATED"} 1',
      'flusso_cache_responses_total{namespace="shop",ingress="web",cache_status="BYPASS"} 2',
      'flusso_cache_evictions_total{namespace="shop",ingress="web"} 3',
      'flusso_cache_entries{namespace="shop",ingress="web"} 16',
      'flusso_cache_stored_bytes{namespace="shop",ingress="web"} 1600',
      `flusso_cache_max_bytes ${128 * MIB}`,
    ]);
  });

  it('drops the gauges of an Ingress missing from a later flush, and of a worker that exits', () => {
    const m = new CacheMetrics();
    m.add(1, flush([route('a/one', [1, 0, 0, 0, 0, 0], 0, 3, 300), route('b/two', [0, 1, 0, 0, 0, 0], 0, 2, 200)]));
    m.add(2, flush([route('a/one', [0, 0, 0, 0, 0, 0], 0, 1, 100)]));
    m.add(1, flush([route('b/two', [0, 0, 0, 0, 0, 0], 0, 2, 200)]));
    let f = m.figures();
    expect(f.ingresses.get('a/one')).toEqual({ responses: [1, 0, 0, 0, 0, 0], evictions: 0, entries: 1, storedBytes: 100 });
    expect([f.entries, f.storedBytes, f.maxBytes, f.workers]).toEqual([3, 300, 128 * MIB, 2]);
    m.forget(2);
    f = m.figures();
    // The counters stay (they are cumulative); the gauges went with the worker.
    expect(f.ingresses.get('a/one')).toEqual({ responses: [1, 0, 0, 0, 0, 0], evictions: 0, entries: 0, storedBytes: 0 });
    expect([f.entries, f.storedBytes, f.maxBytes, f.workers]).toEqual([2, 200, 64 * MIB, 1]);
    // A flush without cache figures: that worker runs no cache any more.
    m.add(1, undefined);
    expect(scrape(m)).toContain('flusso_cache_max_bytes 0');
    expect(m.figures().ingresses.get('b/two')).toMatchObject({ entries: 0, storedBytes: 0 });
  });

  it('labels only Ingress keys and ignores malformed figures', () => {
    const m = new CacheMetrics();
    m.add(1, flush([route('no-slash', [1, 0, 0, 0, 0, 0], 0, 1, 1), route('a/b', [Number.NaN, -3, 2, 0, 0, 0], -1, 1, 10)]));
    expect([...m.figures().ingresses.keys()]).toEqual(['a/b']);
    expect(m.figures().ingresses.get('a/b')).toMatchObject({ responses: [0, 0, 2, 0, 0, 0], evictions: 0 });
  });

  it('writes every family even before any worker reported', () => {
    const w = new ExpositionWriter();
    new CacheMetrics().render(w);
    expect([...w.text().matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((x) => `${x[1]} ${x[2]}`)).toEqual([
      'flusso_cache_responses_total counter',
      'flusso_cache_evictions_total counter',
      'flusso_cache_entries gauge',
      'flusso_cache_stored_bytes gauge',
      'flusso_cache_max_bytes gauge',
    ]);
  });
});

describe('hitRatio', () => {
  it.each([
    { name: 'nothing counted', responses: [0, 0, 0, 0, 0, 0], want: null },
    { name: 'only bypasses', responses: [0, 0, 0, 0, 0, 7], want: null },
    { name: 'hits, stale and revalidated serve from the cache; bypass is no lookup', responses: [2, 3, 1, 1, 1, 50], want: 0.5 },
  ])('$name', ({ responses, want }) => {
    expect(hitRatio(responses)).toBe(want);
  });
});
