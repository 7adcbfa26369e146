/**
 * The worker's token buckets (issue 15 item 7, docs/rate-limits.md), on an injected clock: the
 * burst, the refill rate, the share the primary gives, the whitelist, and that N workers with
 * the primary's shares admit the limit together.
 */
import { describe, expect, it } from 'vitest';
import type { RouteRateLimit } from '../../../../src/shared/rate-limit.js';
import { RateShareTable } from '../../../../src/primary/ratelimit/shares.js';
import { RateLimiter } from '../../../../src/worker/ratelimit/limiter.js';

const V4 = (a: number, b: number, c: number, d: number): Uint8Array => new Uint8Array([a, b, c, d]);
const CLIENT = V4(10, 0, 0, 1);

function limit(perSecond: number, burst: number, whitelist: string[] = []): RouteRateLimit {
  return { id: 'shop/web', rates: [{ perSecond, burst }], whitelist };
}

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

/** admitCount tries `n` requests at the current instant and counts the admitted ones. */
function admitCount(l: RateLimiter, lim: RouteRateLimit, n: number, client = '10.0.0.1', address = CLIENT): number {
  let ok = 0;
  for (let i = 0; i < n; i++) if (l.admit(lim, client, address)) ok++;
  return ok;
}

describe('RateLimiter (one worker)', () => {
  it('admits the burst at once, then the rate', () => {
    const c = clock();
    const l = new RateLimiter({ workers: 1, now: c.now });
    const lim = limit(10, 51);
    expect(admitCount(l, lim, 100)).toBe(51);
    c.advance(100); // 1 token at 10/s
    expect(admitCount(l, lim, 10)).toBe(1);
    c.advance(1000);
    expect(admitCount(l, lim, 100)).toBe(10);
  });

  it('never holds more than the burst after a quiet time', () => {
    const c = clock();
    const l = new RateLimiter({ workers: 1, now: c.now });
    const lim = limit(10, 3);
    expect(admitCount(l, lim, 3)).toBe(3);
    c.advance(60_000);
    expect(admitCount(l, lim, 10)).toBe(3);
  });

  it('keeps one bucket per client address', () => {
    const c = clock();
    const l = new RateLimiter({ workers: 1, now: c.now });
    const lim = limit(1, 2);
    expect(admitCount(l, lim, 5, '10.0.0.1')).toBe(2);
    expect(admitCount(l, lim, 5, '10.0.0.2', V4(10, 0, 0, 2))).toBe(2);
  });

  it('needs a token from every rate (limit-rps and limit-rpm together)', () => {
    const c = clock();
    const l = new RateLimiter({ workers: 1, now: c.now });
    const both: RouteRateLimit = { id: 'shop/web', rates: [{ perSecond: 100, burst: 100 }, { perSecond: 1, burst: 5 }], whitelist: [] };
    expect(admitCount(l, both, 50)).toBe(5);
  });

  it('exempts whitelisted addresses, IPv4 (also v4-mapped) and IPv6', () => {
    const c = clock();
    const l = new RateLimiter({ workers: 1, now: c.now });
    const lim = limit(1, 1, ['10.0.0.0/8', '2001:db8::/32']);
    expect(admitCount(l, lim, 20, '10.1.2.3', V4(10, 1, 2, 3))).toBe(20);
    const mapped = new Uint8Array(16);
    mapped.set([0xff, 0xff, 10, 9, 9, 9], 10);
    expect(admitCount(l, lim, 20, '10.9.9.9', mapped)).toBe(20);
    const v6 = new Uint8Array(16);
    v6.set([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7]);
    expect(admitCount(l, lim, 20, '2001:db8::7', v6)).toBe(20);
    expect(admitCount(l, lim, 20, '11.0.0.1', V4(11, 0, 0, 1))).toBe(1);
    expect(l.size).toBe(1);
  });

  it('starts a key afresh when the Ingress changes its limit', () => {
    const c = clock();
    const l = new RateLimiter({ workers: 1, now: c.now });
    expect(admitCount(l, limit(1, 2), 10)).toBe(2);
    expect(admitCount(l, limit(1, 4), 10)).toBe(4);
  });

  it('reports the demand (admitted or not) once, and forgets full buckets on sweep', () => {
    const c = clock();
    const l = new RateLimiter({ workers: 1, now: c.now });
    const lim = limit(10, 2);
    admitCount(l, lim, 7);
    expect(l.takeDemand()).toEqual({ 'shop/web 10.0.0.1': 7 });
    expect(l.takeDemand()).toBeNull();
    l.sweep();
    expect(l.size).toBe(1); // not refilled yet
    c.advance(200);
    l.sweep();
    expect(l.size).toBe(0);
    // A key forgotten on sweep comes back full, under the same name for the primary.
    expect(admitCount(l, lim, 5)).toBe(2);
    expect(l.size).toBe(1);
    expect(l.takeDemand()).toEqual({ 'shop/web 10.0.0.1': 5 });
  });

  it('keeps the keys of two Ingresses and two clients apart', () => {
    const c = clock();
    const l = new RateLimiter({ workers: 1, now: c.now });
    const a = limit(1, 2);
    const b: RouteRateLimit = { ...limit(1, 3), id: 'shop/api' };
    expect(admitCount(l, a, 5)).toBe(2);
    expect(admitCount(l, b, 5)).toBe(3);
    expect(admitCount(l, a, 5, '10.0.0.2', V4(10, 0, 0, 2))).toBe(2);
    expect(l.size).toBe(3);
    expect(l.takeDemand()).toEqual({ 'shop/web 10.0.0.1': 5, 'shop/api 10.0.0.1': 5, 'shop/web 10.0.0.2': 5 });
  });
});

describe('RateLimiter shares', () => {
  it('starts each worker at 1 / workers of the rate and the burst', () => {
    const c = clock();
    const l = new RateLimiter({ workers: 4, now: c.now });
    const lim = limit(100, 400);
    expect(admitCount(l, lim, 1000)).toBe(100);
    c.advance(1000);
    expect(admitCount(l, lim, 1000)).toBe(25);
  });

  it('applies the share the primary gives and trims the bucket to it', () => {
    const c = clock();
    const l = new RateLimiter({ workers: 2, now: c.now });
    const lim = limit(100, 100);
    l.admit(lim, '10.0.0.1', CLIENT);
    l.setShares({ 'shop/web 10.0.0.1': 0.1 });
    expect(admitCount(l, lim, 1000)).toBe(10);
    c.advance(1000);
    expect(admitCount(l, lim, 1000)).toBe(10);
    l.setShares({ 'shop/web 10.0.0.1': 1, 'shop/web 10.0.0.9': 0.5, 'shop/web 10.0.0.1 ': Number.NaN });
    c.advance(1000);
    expect(admitCount(l, lim, 1000)).toBe(100);
  });

  it('keeps at least one token per worker, so a small share is not starved', () => {
    const c = clock();
    const l = new RateLimiter({ workers: 8, now: c.now });
    expect(admitCount(l, limit(1, 2), 10)).toBe(1);
  });
});

describe('workers with the primary shares admit the pod-wide limit', () => {
  /** run drives `workers` limiters for `seconds` at `offered` rps in all, split by `weights`, reporting every 100 ms. */
  function run(workers: number, weights: number[], offered: number, seconds: number): { admitted: number; lastSecond: number } {
    const c = clock();
    const table = new RateShareTable({ workers });
    const limiters = Array.from({ length: workers }, () => new RateLimiter({ workers, now: c.now }));
    const lim = limit(100, 101);
    const total = weights.reduce((a, b) => a + b, 0);
    let admitted = 0;
    let lastSecond = 0;
    const stepMs = 1;
    const carry = new Array<number>(workers).fill(0);
    for (let t = 0; t < seconds * 1000; t += stepMs) {
      for (let w = 0; w < workers; w++) {
        carry[w]! += (offered * (weights[w]! / total) * stepMs) / 1000;
        while (carry[w]! >= 1) {
          carry[w]! -= 1;
          if (limiters[w]!.admit(lim, '10.0.0.1', CLIENT)) {
            admitted++;
            if (t >= (seconds - 1) * 1000) lastSecond++;
          }
        }
      }
      c.advance(stepMs);
      // Workers report at their own phases; the primary sends everyone's shares at one instant.
      for (let w = 0; w < workers; w++) {
        if ((t + stepMs + w * 17) % 100 !== 0) continue;
        const demand = limiters[w]!.takeDemand();
        if (demand !== null) table.record(w, demand, c.now());
      }
      if ((t + stepMs) % 100 === 50) for (const [w, shares] of table.shares(c.now())) limiters[w]!.setShares(shares);
    }
    return { admitted, lastSecond };
  }

  it.each([
    [1, [1]],
    [2, [1, 1]],
    [4, [1, 1, 1, 1]],
    [4, [5, 2, 1, 0]],
    [4, [1, 0, 0, 0]],
  ])('%i workers, demand split %j: 100 rps ± 10 %% in steady state', (workers, weights) => {
    const { lastSecond, admitted } = run(workers, weights, 300, 5);
    expect(lastSecond).toBeGreaterThanOrEqual(90);
    expect(lastSecond).toBeLessThanOrEqual(110);
    // Over the whole run: the burst (101) plus 100 per second, plus at most one token per
    // worker (a bucket never holds less than one).
    expect(admitted).toBeLessThanOrEqual(101 + 500 + workers);
  });

  it('without the shares, each worker would admit only its 1 / workers part of one client on one connection', () => {
    const c = clock();
    const l = new RateLimiter({ workers: 4, now: c.now });
    const lim = limit(100, 1);
    let ok = 0;
    for (let t = 0; t < 1000; t++, c.advance(1)) if (l.admit(lim, '10.0.0.1', CLIENT)) ok++;
    expect(ok).toBeLessThan(30);
  });
});
