/**
 * The EWMA balancer (ingress-nginx load-balance: ewma; issue 15 group 5), fed latencies and a
 * clock by the test: the average follows ingress-nginx's decay formula, power of two choices
 * takes the lower decayed score, an endpoint never observed is tried first, and old slowness
 * fades as time passes.
 */
import { describe, expect, it } from 'vitest';
import { DECAY_SECONDS, EwmaBalancer } from '../../../../src/worker/balance/ewma.js';
import type { Endpoint } from '../../../../src/shared/snapshot.js';

const ep = (i: number): Endpoint => ({ address: `10.0.0.${i}`, port: 80, weight: 1, ready: true, terminating: false });

/** A clock and a random source the test turns by hand. */
function rig(n: number, randoms: number[] = []) {
  let now = 100;
  let r = 0;
  const b = new EwmaBalancer({ endpoints: Array.from({ length: n }, (_, i) => ep(i + 1)), now: () => now, random: () => randoms[r++ % Math.max(1, randoms.length)] ?? 0 });
  return { b, tick: (s: number) => (now += s) };
}

describe('EwmaBalancer', () => {
  it('the average: the first observation, then ewma·w + rtt·(1−w) with w = e^(−td/10), decayed to now for the score', () => {
    const { b, tick } = rig(1);
    const a = b.list()[0]!;
    b.observe(a, 0.2);
    expect(b.score(a)).toBeCloseTo(0.2, 12);
    tick(5);
    b.observe(a, 1.0);
    const w = Math.exp(-5 / DECAY_SECONDS);
    expect(b.score(a)).toBeCloseTo(0.2 * w + 1.0 * (1 - w), 12);
    tick(10);
    expect(b.score(a)).toBeCloseTo((0.2 * w + 1.0 * (1 - w)) * Math.exp(-1), 12);
  });

  it('of the two picked, the lower score wins; an endpoint never observed scores 0 and is tried', () => {
    const { b } = rig(2, [0, 0]);
    const [slow, fast] = b.list() as Endpoint[];
    b.observe(slow!, 0.5);
    b.observe(fast!, 0.01);
    for (let i = 0; i < 20; i++) expect(b.select()).toBe(fast);
    const fresh = rig(2, [0, 0]);
    fresh.b.observe(fresh.b.list()[0]!, 0.01);
    expect(fresh.b.select()).toBe(fresh.b.list()[1]);
  });

  it('picks two distinct endpoints from the random source and compares only those', () => {
    // random 0.0 → index 0; then 0.99 of the remaining two → index 2. Endpoint 2 (index 1) is fastest but not picked.
    const { b } = rig(3, [0, 0.99]);
    const [e1, e2, e3] = b.list() as Endpoint[];
    b.observe(e1!, 0.3);
    b.observe(e2!, 0.001);
    b.observe(e3!, 0.2);
    expect(b.select()).toBe(e3);
  });

  it('slowness fades: after a long quiet time a slow endpoint scores below a recently slightly slower one', () => {
    const { b, tick } = rig(2, [0, 0]);
    const [a, c] = b.list() as Endpoint[];
    b.observe(a!, 2.0);
    tick(60);
    b.observe(c!, 0.05);
    expect(b.score(a!)).toBeLessThan(b.score(c!));
    expect(b.select()).toBe(a);
  });

  it('a removed endpoint forgets its average; eligibility is the round-robin balancer’s', () => {
    const { b } = rig(2);
    b.observe(b.list()[0]!, 1);
    b.remove('10.0.0.1:80');
    b.add(ep(1));
    expect(b.score(b.list().find((e) => e.address === '10.0.0.1')!)).toBe(0);
    const none = new EwmaBalancer({ endpoints: [{ ...ep(1), ready: false }], now: () => 0 });
    expect(none.select()).toBeNull();
  });
});
