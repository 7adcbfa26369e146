/**
 * The load generator's HDR histogram against exact percentiles of the sorted values: every
 * reported value is at or above the exact one and within 0.1 % of it (3 significant digits),
 * exact below 2048; merging equals recording everything in one; a shared buffer is one histogram.
 */
import { describe, expect, it } from 'vitest';
import { HdrHistogram } from '../../../src/loadgen/hdr-histogram.js';

/** mulberry32 is a small seeded PRNG, so every run checks the same values. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** exactAt is the nearest-rank percentile of sorted values. */
function exactAt(sorted: readonly number[], p: number): number {
  const rank = Math.max(1, Math.min(sorted.length, Math.ceil((p / 100) * sorted.length - 1e-9)));
  return sorted[rank - 1] ?? NaN;
}

const PERCENTILES = [0, 1, 25, 50, 75, 90, 99, 99.9, 99.99, 100];

const DATASETS: { name: string; values: () => number[] }[] = [
  { name: 'uniform 0..1,999 (exact range)', values: () => Array.from({ length: 20_000 }, (_, i, r = rng(1)) => Math.floor(r() * 2000) + (i % 1)) },
  { name: 'uniform 1 µs..10 s', values: () => { const r = rng(2); return Array.from({ length: 50_000 }, () => 1 + Math.floor(r() * 10_000_000)); } },
  { name: 'log-normal latencies around 1 ms with a long tail', values: () => { const r = rng(3); return Array.from({ length: 100_000 }, () => Math.round(Math.exp(Math.log(1000) + 1.2 * Math.sqrt(-2 * Math.log(r() || 1e-12)) * Math.cos(2 * Math.PI * r())))); } },
  { name: 'two modes (cache hits and misses)', values: () => { const r = rng(4); return Array.from({ length: 30_000 }, () => (r() < 0.9 ? 200 + Math.floor(r() * 100) : 40_000 + Math.floor(r() * 20_000))); } },
  { name: 'powers of two and their neighbours up to 2^31', values: () => Array.from({ length: 32 }, (_, k) => [2 ** k - 1, 2 ** k, 2 ** k + 1]).flat().filter((v) => v >= 0 && v <= 2 ** 31) },
  { name: 'one value', values: () => [123_456] },
];

describe('HdrHistogram', () => {
  it.each(DATASETS)('$name: each percentile is within 0.1 % above the exact one (exact below 2048); min, max and mean exact', ({ values }) => {
    const data = values();
    const h = new HdrHistogram();
    for (const v of data) h.record(v);
    const sorted = [...data].sort((a, b) => a - b);
    expect(h.totalCount).toBe(data.length);
    expect(h.min).toBe(sorted[0]);
    expect(h.max).toBe(sorted.at(-1));
    expect(h.mean).toBeCloseTo(data.reduce((a, b) => a + b, 0) / data.length, 6);
    for (const p of PERCENTILES) {
      const exact = exactAt(sorted, p);
      const got = h.valueAt(p);
      expect(got, `p${p}`).toBeGreaterThanOrEqual(exact);
      expect(got - exact, `p${p}: ${got} vs exact ${exact}`).toBeLessThanOrEqual(exact < 2048 ? 0 : exact / 1000);
    }
  });

  it('is not exact above 2048: a value is reported as the top of its step (512 wide around 1,000,000)', () => {
    const h = new HdrHistogram();
    for (const v of [1_000_000, 1_000_300, 2_000_000]) h.record(v);
    // 1,000,000 and 1,000,300 share the step 999,936..1,000,447: both percentiles report its top.
    expect(h.valueAt(33)).toBe(1_000_447);
    expect(h.valueAt(66)).toBe(1_000_447);
    expect(h.valueAt(100)).toBe(2_000_000); // the top, capped at the exact max
  });

  it('merge gives the same counts and percentiles as recording everything in one histogram', () => {
    const r = rng(5);
    const all = new HdrHistogram();
    const parts = [new HdrHistogram(), new HdrHistogram(), new HdrHistogram()];
    for (let i = 0; i < 30_000; i++) {
      const v = Math.floor(r() * r() * 5_000_000);
      all.record(v);
      parts[i % 3]?.record(v);
    }
    const merged = new HdrHistogram();
    for (const p of parts) merged.merge(p);
    expect(Array.from(merged.counts)).toEqual(Array.from(all.counts));
    for (const p of PERCENTILES) expect(merged.valueAt(p)).toBe(all.valueAt(p));
    expect([merged.min, merged.max, merged.totalCount]).toEqual([all.min, all.max, all.totalCount]);
  });

  it('merging an empty histogram changes nothing, and merging into an empty one copies', () => {
    const h = new HdrHistogram();
    h.record(5000);
    h.merge(new HdrHistogram());
    expect([h.min, h.max, h.totalCount]).toEqual([5000, 5000, 1]);
    const e = new HdrHistogram();
    e.merge(h);
    expect([e.min, e.max, e.totalCount, e.valueAt(50)]).toEqual([5000, 5000, 1, h.valueAt(50)]);
  });

  it('refuses to merge histograms of different ranges', () => {
    expect(() => new HdrHistogram(1_000_000).merge(new HdrHistogram())).toThrow(/different ranges/);
  });

  it('two histograms on one SharedArrayBuffer are one histogram (a thread writes, the main thread reads)', () => {
    const buffer = new SharedArrayBuffer(HdrHistogram.bytesFor());
    const writer = new HdrHistogram(undefined, buffer);
    const reader = new HdrHistogram(undefined, buffer);
    writer.record(700);
    writer.record(90_000);
    expect([reader.totalCount, reader.min, reader.max, reader.valueAt(50)]).toEqual([2, 700, 90_000, 700]);
    expect(() => new HdrHistogram(undefined, new SharedArrayBuffer(8))).toThrow(/needs/);
  });

  it('since() holds only what was recorded after the copy (the progress line\'s last second)', () => {
    const h = new HdrHistogram();
    for (let i = 0; i < 1000; i++) h.record(100);
    const before = h.copy();
    for (let i = 0; i < 10; i++) h.record(50_000);
    const last = h.since(before);
    expect(last.totalCount).toBe(10);
    expect(last.valueAt(50)).toBeGreaterThanOrEqual(50_000);
    expect(last.valueAt(50)).toBeLessThanOrEqual(50_050);
  });

  it('clamps values outside 0..highest and counts them', () => {
    const h = new HdrHistogram(10_000);
    h.record(-5);
    h.record(1e12);
    expect([h.totalCount, h.min, h.max]).toEqual([2, 0, 10_000]);
    expect(h.valueAt(100)).toBe(10_000);
  });

  it('answers 0 when empty', () => {
    const h = new HdrHistogram();
    expect([h.valueAt(99), h.min, h.max, h.totalCount]).toEqual([0, 0, 0, 0]);
  });
});
