/**
 * A route's upstream settings in the worker (issue 15 group 3, docs/annotations.md): the plan built
 * once per route (timeouts over the client's, nginx's retry conditions mapped onto the upstream
 * client's failures and statuses), the client's merged timeouts, and nginx's rule that POST,
 * LOCK and PATCH go again only when nothing reached the upstream, or with non_idempotent.
 */
import { describe, expect, it } from 'vitest';
import type { RouteUpstream } from '../../../../src/shared/upstream-policy.js';
import { mayResend, reachedUpstream, upstreamPlanOf } from '../../../../src/worker/proxy/upstream-policy.js';
import { UpstreamClient } from '../../../../src/worker/upstream/client.js';

const client = new UpstreamClient({ connectTimeoutMs: 5000, responseTimeoutMs: 60_000, idleTimeoutMs: 30_000, keepAliveTimeoutMs: 4000, maxConnections: 8 });

describe('upstreamPlanOf', () => {
  it('builds a plan once per route', () => {
    const u: RouteUpstream = { readTimeoutMs: 1000 };
    expect(upstreamPlanOf(u)).toBe(upstreamPlanOf(u));
  });

  it('gives the route timeouts only, and the client fills the others from its settings', () => {
    const { timeouts, retry } = upstreamPlanOf({ readTimeoutMs: 1000, sendTimeoutMs: 2000 });
    expect(retry).toBeNull();
    expect(timeouts).toEqual({ readMs: 1000, sendMs: 2000 });
    expect(client.timeoutsOf(timeouts!)).toEqual({ connectMs: 5000, responseMs: 1000, readMs: 1000, sendMs: 2000 });
    expect(client.timeoutsOf(timeouts!)).toBe(client.timeoutsOf(timeouts!));
    expect(client.timeouts).toEqual({ connectMs: 5000, responseMs: 60_000, readMs: 30_000, sendMs: 30_000 });
  });

  it('has no timeouts of its own for a route that sets only a retry rule', () => {
    expect(upstreamPlanOf({ nextUpstream: { when: ['error'], nonIdempotent: false, tries: 3, timeoutMs: 0 } }).timeouts).toBeNull();
  });

  it('maps nginx conditions onto the client failures and the response statuses', () => {
    const { retry } = upstreamPlanOf({ nextUpstream: { when: ['error', 'timeout', 'invalid_header', 'http_502', 'http_429'], nonIdempotent: true, tries: 0, timeoutMs: 5000 } });
    expect([...retry!.failures].sort()).toEqual(['closed', 'connect', 'connect-timeout', 'idle-timeout', 'pool-closed', 'protocol', 'response-timeout']);
    expect([...retry!.statuses].sort()).toEqual([429, 502]);
    expect(retry).toEqual(expect.objectContaining({ nonIdempotent: true, tries: 0, timeoutMs: 5000 }));
  });

  it('off: no failure and no status sends a request on', () => {
    const { retry } = upstreamPlanOf({ nextUpstream: { when: [], nonIdempotent: false, tries: 3, timeoutMs: 0 } });
    expect(retry!.failures.size + retry!.statuses.size).toBe(0);
  });
});

describe('mayResend', () => {
  const plan = upstreamPlanOf({ nextUpstream: { when: ['error'], nonIdempotent: false, tries: 3, timeoutMs: 0 } }).retry!;
  const any = upstreamPlanOf({ nextUpstream: { when: ['error'], nonIdempotent: true, tries: 3, timeoutMs: 0 } }).retry!;
  it.each([
    ['GET', true, plan, true],
    ['PUT', true, plan, true],
    ['PROPFIND', true, plan, true],
    ['POST', true, plan, false],
    ['PATCH', true, plan, false],
    ['LOCK', true, plan, false],
    ['POST', false, plan, true],
    ['POST', true, any, true],
  ] as const)('%s, reached the upstream %s: %s', (method, reached, p, want) => {
    expect(mayResend(p, method, reached)).toBe(want === true);
  });

  it('counts only a connect failure (or a pool gone) as nothing sent', () => {
    expect(['connect', 'connect-timeout', 'pool-closed', 'closed', 'response-timeout', 'idle-timeout', 'protocol'].map((f) => reachedUpstream(f as never))).toEqual([false, false, false, true, true, true, true]);
  });
});
