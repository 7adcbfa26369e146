import { describe, expect, it } from 'vitest';
import { LiveFeed, quantile } from '../../../../src/primary/metrics/live.js';
import { DURATION_BUCKETS_S } from '../../../../src/shared/stats.js';

const buckets = (fill: Record<number, number>): Float64Array => {
  const b = new Float64Array(DURATION_BUCKETS_S.length + 1);
  for (const [i, n] of Object.entries(fill)) b[Number(i)] = n;
  return b;
};

describe('LiveFeed', () => {
  it('turns cumulative totals into per-second samples', () => {
    const feed = new LiveFeed(2);
    expect(feed.sample(1000, { requests: 0, errors: 0, duration: buckets({}) }, 1)).toBeNull();
    const s = feed.sample(3000, { requests: 200, errors: 20, duration: buckets({ 3: 200 }) }, 2);
    expect(s).toMatchObject({ t: 3000, rps: 100, errorRate: 0.1, generation: 2 });
    expect(s!.p50).toBeGreaterThan(DURATION_BUCKETS_S[2]);
    expect(s!.p99).toBeLessThanOrEqual(DURATION_BUCKETS_S[3]);
    feed.sample(4000, { requests: 200, errors: 20, duration: buckets({ 3: 200 }) }, 2);
    feed.sample(5000, { requests: 300, errors: 20, duration: buckets({ 3: 300 }) }, 2);
    expect(feed.history().map((x) => x.t)).toEqual([4000, 5000]);
    expect(feed.history()[0]).toMatchObject({ rps: 0, errorRate: 0, p50: 0 });
  });
});

describe('quantile', () => {
  it('interpolates inside the bucket like histogram_quantile', () => {
    // 100 observations in (0.001, 0.0025]: the median sits half-way.
    expect(quantile(buckets({ 1: 100 }), 0.5)).toBeCloseTo(0.00175, 6);
  });
  it('reports the last bound for the +Inf bucket and 0 for no data', () => {
    expect(quantile(buckets({ [DURATION_BUCKETS_S.length]: 5 }), 0.99)).toBe(60);
    expect(quantile(buckets({}), 0.5)).toBe(0);
  });
});
