import { describe, expect, it } from 'vitest';
import { WorkerStats } from '../../../src/worker/stats.js';
import { DURATION_BUCKETS_S, STATUS_CLASSES, UNMATCHED } from '../../../src/shared/stats.js';

const proc = { rssBytes: 1, heapUsedBytes: 2, eventLoopDelayP50: 0, eventLoopDelayP99: 0, eventLoopDelayMax: 0 };

describe('WorkerStats', () => {
  it('counts by method and status class, buckets durations, and resets on flush', () => {
    const s = new WorkerStats();
    const c = s.counters('ns/ing', 'ns/svc');
    c.record('GET', 200, 0.003, 0.002, 0, 100);
    c.record('GET', 204, 0.003, 0.002, 0, 0);
    c.record('POST', 502, 20, -1, 10, 5);
    c.record('get', 404, 100, -1, 0, 0); // unknown casing counts as OTHER
    const delta = s.flush(3, proc);
    expect(delta.inFlight).toBe(3);
    expect(delta.routes).toHaveLength(1);
    const r = delta.routes[0]!;
    const cell = (m: number, cls: number) => r.requests[m * STATUS_CLASSES.length + cls];
    expect([cell(0, 1), cell(2, 4), cell(7, 3)]).toEqual([2, 1, 1]);
    expect(r.duration[2]).toBe(2); // 0.003 s → the 0.005 bucket
    expect(r.duration[DURATION_BUCKETS_S.length]).toBe(1); // 100 s → +Inf
    expect(r.upstream.reduce((a, b) => a + b, 0)).toBe(2);
    expect([r.bytesIn, r.bytesOut]).toEqual([10, 105]);
    expect(s.flush(0, proc).routes).toEqual([]);
  });

  it('keeps one counters object per route across snapshots and drops retired ones after flushing', () => {
    const s = new WorkerStats();
    const a = s.counters('ns/a', 'ns/s');
    expect(s.counters('ns/a', 'ns/s')).toBe(a);
    a.record('GET', 200, 0.01, 0.01, 0, 1);
    s.retain(new Set()); // route gone, but it still holds counts: kept until flushed
    expect(s.flush(0, proc).routes.map((r) => r.ingress)).toEqual(['ns/a']);
    expect(s.counters('ns/a', 'ns/s')).not.toBe(a);
  });

  it('reports unmatched requests under the fixed label value', () => {
    const s = new WorkerStats();
    s.unmatched.record('GET', 404, 0.001, -1, 0, 10);
    const [r] = s.flush(0, proc).routes;
    expect([r?.ingress, r?.service]).toEqual([UNMATCHED, UNMATCHED]);
  });

  it('counts upstream failures', () => {
    const s = new WorkerStats();
    const c = s.counters('ns/a', 'ns/s');
    c.recordUpstreamFailure('connect');
    c.recordUpstreamFailure('timeout');
    c.recordUpstreamFailure('timeout');
    const [r] = s.flush(0, proc).routes;
    expect([r?.connectErrors, r?.timeouts]).toEqual([1, 2]);
  });
});
