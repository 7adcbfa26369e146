/** The primary's share table (issue 15 item 7, docs/rate-limits.md) on an injected clock. */
import { describe, expect, it } from 'vitest';
import { RateShareTable } from '../../../../src/primary/ratelimit/shares.js';

describe('RateShareTable', () => {
  it('gives a lone worker the whole key, with one worker', () => {
    const t = new RateShareTable({ workers: 1 });
    expect(t.record(0, { k: 30 }, 0)).toEqual({ k: 1 });
  });

  it('keeps a new key even for two report intervals, then follows the demand', () => {
    const t = new RateShareTable({ workers: 4 });
    expect(t.record(0, { k: 30 }, 0)).toEqual({ k: 0.25 });
    expect(t.record(0, { k: 30 }, 100)).toEqual({ k: 0.25 });
    expect(t.record(0, { k: 30 }, 200).k).toBeGreaterThan(0.95);
  });

  it('shares a key by demand, and the shares of all workers sum to 1', () => {
    const t = new RateShareTable({ workers: 3, floor: 0.5 });
    t.record(0, { k: 0 }, -1000);
    t.record(0, { k: 60 }, 0);
    const s1 = t.record(1, { k: 30 }, 0).k!;
    const s0 = t.record(0, { k: 0 }, 0).k!;
    const s2 = t.record(2, { k: 0 }, 0).k!;
    expect(s0).toBeCloseTo(60.5 / 91.5, 9);
    expect(s1).toBeCloseTo(30.5 / 91.5, 9);
    expect(s0 + s1 + s2).toBeCloseTo(1, 9);
  });

  it('lets old demand decay, so the shares follow where the requests go', () => {
    const t = new RateShareTable({ workers: 2, tauMs: 1000 });
    t.record(0, { k: 100 }, -200);
    expect(t.record(1, { k: 1 }, 0).k).toBeLessThan(0.05);
    // Five seconds later worker 0 went quiet: worker 1 has nearly all of it.
    let share = 0;
    for (let ms = 100; ms <= 5000; ms += 100) share = t.record(1, { k: 10 }, ms).k!;
    expect(share).toBeGreaterThan(0.95);
  });

  it('forgets keys nobody reports, and a worker that left', () => {
    const t = new RateShareTable({ workers: 2, tauMs: 100 });
    t.record(0, { a: 5 }, 0);
    t.record(1, { b: 5 }, 0);
    t.forget(1);
    expect(t.size).toBe(1);
    t.record(0, { c: 1 }, 10_000);
    expect(t.size).toBe(1);
  });

  it('skips counts that are not non-negative numbers', () => {
    const t = new RateShareTable({ workers: 2, tauMs: 1000 });
    expect(t.record(0, { a: -1, b: 'x', c: Number.NaN, d: 4 }, 0)).toEqual({ d: 0.5 });
    const left = 4 * Math.exp(-0.2);
    expect(t.record(0, { d: 0 }, 200).d).toBeCloseTo((left + 0.5) / (left + 1), 9);
  });

  it('refuses a bad worker count', () => {
    expect(() => new RateShareTable({ workers: 0 })).toThrow(RangeError);
  });
});
