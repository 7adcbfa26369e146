import { describe, expect, it } from 'vitest';
import { WorkerStats } from '../../../src/worker/stats.js';
import { COMPAT_STRIDE, DURATION_BUCKETS_S, UNMATCHED } from '../../../src/shared/stats.js';
import { COMPAT_HISTOGRAMS, requestsOf } from '../../../src/shared/ingress-nginx-stats.js';
import { MAX_STATUS_CODES } from '../../../src/shared/status-counts.js';

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
    // [status, method index, count] triples, in the order the statuses first came.
    expect(r.requests).toEqual([200, 0, 1, 204, 0, 1, 502, 2, 1, 404, 7, 1]);
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

  it('counts at most MAX_STATUS_CODES exact codes per route, the rest under their class, for the worker\'s life', () => {
    const s = new WorkerStats();
    const c = s.counters('ns/a', 'ns/s');
    for (let i = 0; i < MAX_STATUS_CODES; i++) c.record('GET', 200 + i, 0.001, -1, 0, 0);
    c.record('GET', 503, 0.001, -1, 0, 0); // a 17th code: the 5xx overflow row
    c.record('GET', 999, 0.001, -1, 0, 0); // not an HTTP status: counted as 5xx too
    c.record('GET', 42, 0.001, -1, 0, 0);
    expect(s.flush(0, proc).routes[0]!.requests.slice(-3)).toEqual([5, 0, 3]);
    c.record('GET', 504, 0.001, -1, 0, 0); // still over the bound after a flush
    c.record('GET', 200, 0.001, -1, 0, 0);
    expect(s.flush(0, proc).routes[0]!.requests).toEqual([200, 0, 1, 5, 0, 1]);
  });

  it('keeps ingress-nginx cells per host and path only when that family is on', () => {
    const off = new WorkerStats();
    expect(off.counters('ns/a', 'ns/s', 'a.test', '/x')).toBe(off.counters('ns/a', 'ns/s', 'b.test', '/y'));
    off.counters('ns/a', 'ns/s').record('GET', 200, 0.001, 0.001, 0, 0);
    expect(off.flush(0, proc).routes[0]).not.toHaveProperty('compat');

    const on = new WorkerStats({ path: false });
    const a = on.counters('ns/a', 'ns/s', 'a.test', '/x');
    expect(on.counters('ns/a', 'ns/s', 'a.test', '/y')).toBe(a); // no path label: one cell set per host
    const b = on.counters('ns/a', 'ns/s', 'b.test', '/x');
    expect(b).not.toBe(a);
    a.record('GET', 200, 0.02, 0.004, 12, 150, 0.006);
    a.record('GET', 200, 0.02, -1, 0, 0);
    b.record('POST', 503, 0.2, -1, 0, 0);
    const routes = on.flush(0, proc).routes;
    expect(routes.map((r) => [r.host, r.path, r.compat!.length / COMPAT_STRIDE])).toEqual([['a.test', undefined, 1], ['b.test', undefined, 1]]);
    const [status, method, ...cell] = routes[0]!.compat!;
    expect([status, method, requestsOf(cell)]).toEqual([200, 0, 2]);
    const fig = (name: string): number[] => {
      const h = COMPAT_HISTOGRAMS.find((x) => x.name === name)!;
      return cell.slice(h.offset, h.offset + h.bounds.length + 2);
    };
    // request_duration: 0.02 s twice → the 0.025 bucket (index 2); sum 0.04.
    expect(fig('request_duration_seconds')[2]).toBe(2);
    expect(fig('request_duration_seconds').at(-1)).toBeCloseTo(0.04);
    // Only the request an upstream answered has header and response durations.
    expect(fig('header_duration_seconds').slice(0, -1).reduce((x, y) => x + y, 0)).toBe(1);
    expect(fig('response_duration_seconds')[1]).toBe(1); // 0.006 s → the 0.01 bucket
    expect(fig('request_size')[1]).toBe(1); // 12 bytes → le 20
    expect(fig('response_size')[10]).toBe(1); // 150 bytes → +Inf of 10..100
    expect(fig('bytes_sent')[2]).toBe(1); // 150 bytes → le 1000
    expect(on.flush(0, proc).routes).toEqual([]);

    const withPath = new WorkerStats({ path: true });
    expect(withPath.counters('ns/a', 'ns/s', 'a.test', '/y')).not.toBe(withPath.counters('ns/a', 'ns/s', 'a.test', '/x'));
    withPath.counters('ns/a', 'ns/s', 'a.test', '/y').record('GET', 200, 0.001, -1, 0, 0);
    expect(withPath.flush(0, proc).routes[0]).toMatchObject({ host: 'a.test', path: '/y' });
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
