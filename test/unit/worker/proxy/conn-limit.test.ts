/** The worker's limit-connections count (issue 15 item 7, docs/rate-limits.md). */
import { describe, expect, it } from 'vitest';
import type { RouteConnLimit } from '../../../../src/shared/conn-limit.js';
import { ConnLimiter } from '../../../../src/worker/proxy/conn-limit.js';

const A = new Uint8Array([10, 0, 0, 1]);
const B = new Uint8Array([10, 0, 0, 2]);

describe('ConnLimiter', () => {
  it('admits max requests per client address at once, and one more once one is over', () => {
    const limiter = new ConnLimiter();
    const limit: RouteConnLimit = { id: 'ns/web', max: 2, whitelist: [] };
    const first = limiter.acquire(limit, '10.0.0.1', A);
    const second = limiter.acquire(limit, '10.0.0.1', A);
    expect(first).not.toBeNull();
    expect(second).not.toBeNull();
    expect(limiter.acquire(limit, '10.0.0.1', A)).toBeNull();
    // Another address has its own count.
    expect(limiter.acquire(limit, '10.0.0.2', B)).not.toBeNull();
    first!();
    first!(); // twice gives back one place only
    expect(limiter.acquire(limit, '10.0.0.1', A)).not.toBeNull();
    expect(limiter.acquire(limit, '10.0.0.1', A)).toBeNull();
  });

  it('counts per Ingress, and forgets a key with nothing in progress', () => {
    const limiter = new ConnLimiter();
    const one: RouteConnLimit = { id: 'ns/one', max: 1, whitelist: [] };
    const two: RouteConnLimit = { id: 'ns/two', max: 1, whitelist: [] };
    const r1 = limiter.acquire(one, '10.0.0.1', A);
    const r2 = limiter.acquire(two, '10.0.0.1', A);
    expect(r1).not.toBeNull();
    expect(r2).not.toBeNull();
    expect(limiter.size).toBe(2);
    r1!();
    r2!();
    expect(limiter.size).toBe(0);
  });

  it('keeps the count when a new snapshot changes the limit of the same Ingress', () => {
    const limiter = new ConnLimiter();
    const held = limiter.acquire({ id: 'ns/web', max: 1, whitelist: [] }, '10.0.0.1', A);
    expect(held).not.toBeNull();
    expect(limiter.acquire({ id: 'ns/web', max: 1, whitelist: [] }, '10.0.0.1', A)).toBeNull();
    expect(limiter.acquire({ id: 'ns/web', max: 2, whitelist: [] }, '10.0.0.1', A)).not.toBeNull();
  });

  it('exempts whitelisted addresses (IPv4-mapped IPv6 as IPv4), never counting them', () => {
    const limiter = new ConnLimiter();
    const limit: RouteConnLimit = { id: 'ns/web', max: 1, whitelist: ['10.0.0.1/32'] };
    const mapped = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1]);
    for (let i = 0; i < 5; i++) expect(limiter.acquire(limit, '::ffff:10.0.0.1', mapped)).not.toBeNull();
    expect(limiter.size).toBe(0);
    expect(limiter.acquire(limit, '10.0.0.2', B)).not.toBeNull();
    expect(limiter.acquire(limit, '10.0.0.2', B)).toBeNull();
  });
});
