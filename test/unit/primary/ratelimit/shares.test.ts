/** The primary's share table (issue 15 item 7, docs/rate-limits.md) on an injected clock. */
import { describe, expect, it } from 'vitest';
import { RateShareTable } from '../../../../src/primary/ratelimit/shares.js';

describe('RateShareTable', () => {
  it('gives a lone worker the whole key, with one worker', () => {
    const t = new RateShareTable({ workers: 1 });
    t.record(1, { k: 30 }, 0);
    expect(t.shares(300)).toEqual(new Map([[1, { k: 1 }]]));
  });

  it('keeps a new key even for two report intervals, then follows the demand', () => {
    const t = new RateShareTable({ workers: 4 });
    t.record(1, { k: 30 }, 0);
    expect(t.shares(100).get(1)).toEqual({ k: 0.25 });
    t.record(1, { k: 30 }, 200);
    expect(t.shares(200).get(1)!.k).toBeGreaterThan(0.95);
  });

  it('shares a key by demand, computed together so that the shares sum to exactly 1', () => {
    const t = new RateShareTable({ workers: 3, floor: 0.5 });
    t.record(1, { k: 0 }, -1000);
    t.record(1, { k: 60 }, 0);
    t.record(2, { k: 30 }, 0);
    t.record(3, { k: 0 }, 0);
    const s = t.shares(50);
    expect(s.get(1)!.k).toBeCloseTo(60.5 / 91.5, 9);
    expect(s.get(2)!.k).toBeCloseTo(30.5 / 91.5, 9);
    expect(s.get(1)!.k! + s.get(2)!.k! + s.get(3)!.k!).toBeCloseTo(1, 12);
  });

  it('lets old demand decay, so the shares follow where the requests go', () => {
    const t = new RateShareTable({ workers: 2, tauMs: 400 });
    t.record(1, { k: 100 }, -1000);
    t.record(2, { k: 1 }, -1000);
    expect(t.shares(-750).get(2)!.k).toBeLessThan(0.05);
    // Worker 1 went quiet; worker 2 reports every 100 ms: after 3 s it has nearly all of it.
    for (let ms = -900; ms <= 2000; ms += 100) t.record(2, { k: 10 }, ms);
    expect(t.shares(2000).get(2)!.k).toBeGreaterThan(0.95);
  });

  it('does not let a steady worker\'s demand grow without bound', () => {
    const t = new RateShareTable({ workers: 2, tauMs: 400 });
    for (let ms = 0; ms <= 10_000; ms += 100) t.record(1, { k: 10 }, ms);
    for (let ms = 0; ms <= 10_000; ms += 100) t.record(2, { k: 30 }, ms);
    expect(t.shares(10_000).get(1)!.k).toBeCloseTo(0.25, 1);
  });

  it('forgets keys nobody reports any more, and a worker that left', () => {
    const t = new RateShareTable({ workers: 2, tauMs: 100 });
    t.record(1, { a: 5 }, 0);
    t.record(2, { b: 5 }, 0);
    t.forget(2);
    expect(t.size).toBe(1);
    expect(t.shares(10_000)).toEqual(new Map());
    expect(t.size).toBe(0);
  });

  it('skips counts that are not non-negative numbers', () => {
    const t = new RateShareTable({ workers: 2 });
    t.record(1, { a: -1, b: 'x', c: Number.NaN, d: 4 }, 0);
    expect(Object.keys(t.shares(0).get(1)!)).toEqual(['d']);
  });

  it('refuses a bad worker count', () => {
    expect(() => new RateShareTable({ workers: 0 })).toThrow(RangeError);
  });
});
