/**
 * RequestRecord: one finish per request, read by metrics and the access log alike.
 */
import { describe, expect, it } from 'vitest';
import type { AccessLog, AccessRecord } from '../../../../src/worker/access-log.js';
import { RequestRecord } from '../../../../src/worker/proxy/request-record.js';
import { RouteCounters } from '../../../../src/worker/stats.js';

function fakeLog(): { log: AccessLog; lines: AccessRecord[] } {
  const lines: AccessRecord[] = [];
  return { lines, log: { enabled: true, write: (r: AccessRecord) => lines.push(r) } as unknown as AccessLog };
}

describe('RequestRecord', () => {
  it('counts and logs once, with the upstream facts', () => {
    const counters = new RouteCounters('ns/i', 'svc');
    const { log, lines } = fakeLog();
    const r = new RequestRecord({ method: 'GET', target: '/x?y', counters, accessLog: log, access: { host: 'a.test', clientAddress: '10.0.0.1', requestId: 'id', route: 'ns/i' }, startedAt: performance.now() });
    r.upstreamAddress = '10.1.1.1:80';
    r.upstreamStatus = 201;
    r.upstreamAt = performance.now();
    r.bytesIn = 5;
    r.finish(201, 7);
    r.finish(500, 1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ method: 'GET', path: '/x?y', status: 201, bytesIn: 5, bytesOut: 7, upstreamAddress: '10.1.1.1:80', upstreamStatus: 201, route: 'ns/i', host: 'a.test' });
    expect(lines[0]?.upstreamTime).toBeGreaterThanOrEqual(0);
    const delta = counters.take();
    expect(delta.bytesIn).toBe(5);
    expect(delta.bytesOut).toBe(7);
  });

  it('a request that ended with nothing sent is a 499, in the access log too', () => {
    const { log, lines } = fakeLog();
    const r = new RequestRecord({ method: 'GET', target: '/', counters: null, accessLog: log, access: { host: 'h', clientAddress: '', requestId: '', route: '' }, startedAt: performance.now() });
    r.finish(0, 0);
    expect(lines.map((l) => [l.status, l.upstreamTime])).toEqual([[499, -1]]);
    expect(r.finished).toBe(true);
  });
});
