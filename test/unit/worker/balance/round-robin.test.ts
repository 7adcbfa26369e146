import { describe, expect, it } from 'vitest';
import type { Endpoint } from '../../../../src/shared/snapshot.js';
import { RoundRobinBalancer } from '../../../../src/worker/balance/round-robin.js';

const ep = (last: number, extra: Partial<Endpoint> = {}): Endpoint => ({
  address: `10.0.0.${last}`,
  port: 8080,
  weight: 1,
  ready: true,
  terminating: false,
  ...extra,
});

function picks(b: RoundRobinBalancer, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(b.select()?.address ?? 'none');
  return out;
}

function counts(b: RoundRobinBalancer, n: number): Record<string, number> {
  const c: Record<string, number> = {};
  for (const a of picks(b, n)) c[a] = (c[a] ?? 0) + 1;
  return c;
}

describe('RoundRobinBalancer', () => {
  it('is named round-robin', () => {
    expect(new RoundRobinBalancer().name).toBe('round-robin');
  });

  it('rotates through equal weights in order', () => {
    const b = new RoundRobinBalancer({ endpoints: [ep(1), ep(2), ep(3)] });
    expect(picks(b, 7)).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.1']);
  });

  it('returns null when empty', () => {
    expect(new RoundRobinBalancer().select()).toBeNull();
  });

  it('spreads unequal weights smoothly and exactly', () => {
    const b = new RoundRobinBalancer({ endpoints: [ep(1, { weight: 3 }), ep(2, { weight: 1 })] });
    expect(picks(b, 4)).toEqual(['10.0.0.1', '10.0.0.1', '10.0.0.2', '10.0.0.1']);
    expect(counts(b, 400)).toEqual({ '10.0.0.1': 300, '10.0.0.2': 100 });
    const c = new RoundRobinBalancer({ endpoints: [ep(1, { weight: 5 }), ep(2, { weight: 1 }), ep(3, { weight: 1 })] });
    const first = picks(c, 7);
    expect(first.filter((a) => a === '10.0.0.1')).toHaveLength(5);
    expect(first[0]).toBe('10.0.0.1');
    expect(first.slice(0, 2)).not.toEqual(['10.0.0.2', '10.0.0.3']);
    expect(counts(c, 700)).toEqual({ '10.0.0.1': 500, '10.0.0.2': 100, '10.0.0.3': 100 });
  });

  it('never selects weight 0', () => {
    const b = new RoundRobinBalancer({ endpoints: [ep(1, { weight: 0 }), ep(2), ep(3)] });
    expect(counts(b, 10)).toEqual({ '10.0.0.2': 5, '10.0.0.3': 5 });
    expect(new RoundRobinBalancer({ endpoints: [ep(1, { weight: 0 })] }).select()).toBeNull();
  });

  it('applies drained overrides by backendId|ip:port', () => {
    const overrides = { drained: ['ns/svc:80|10.0.0.2:8080', 'other/svc:80|10.0.0.3:8080'], weights: [] };
    const b = new RoundRobinBalancer({ backendId: 'ns/svc:80', endpoints: [ep(1), ep(2), ep(3)], overrides });
    expect(counts(b, 10)).toEqual({ '10.0.0.1': 5, '10.0.0.3': 5 });
  });

  it('applies weight overrides', () => {
    const overrides = { drained: [], weights: [['ns/svc:80|10.0.0.1:8080', 4] as const, ['ns/svc:80|10.0.0.2:8080', 0] as const] };
    const b = new RoundRobinBalancer({ backendId: 'ns/svc:80', endpoints: [ep(1), ep(2), ep(3)], overrides });
    expect(counts(b, 50)).toEqual({ '10.0.0.1': 40, '10.0.0.3': 10 });
  });

  it('uses terminating endpoints only when none is ready', () => {
    const mixed = new RoundRobinBalancer({ endpoints: [ep(1), ep(2, { ready: false, terminating: true })] });
    expect(counts(mixed, 4)).toEqual({ '10.0.0.1': 4 });
    const onlyTerminating = new RoundRobinBalancer({
      endpoints: [ep(1, { ready: false }), ep(2, { ready: false, terminating: true }), ep(3, { ready: false, terminating: true })],
    });
    expect(counts(onlyTerminating, 4)).toEqual({ '10.0.0.2': 2, '10.0.0.3': 2 });
    expect(new RoundRobinBalancer({ endpoints: [ep(1, { ready: false })] }).select()).toBeNull();
  });

  it('adds, replaces, removes and lists endpoints', () => {
    const b = new RoundRobinBalancer({ endpoints: [ep(1), ep(2)] });
    b.add(ep(3));
    expect(b.list().map((e) => e.address)).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3']);
    expect(counts(b, 6)).toEqual({ '10.0.0.1': 2, '10.0.0.2': 2, '10.0.0.3': 2 });
    b.remove('10.0.0.2:8080');
    b.remove('10.9.9.9:1'); // unknown: ignored
    expect(b.list().map((e) => e.address)).toEqual(['10.0.0.1', '10.0.0.3']);
    expect(counts(b, 4)).toEqual({ '10.0.0.1': 2, '10.0.0.3': 2 });
    b.add(ep(1, { weight: 0 })); // same key: replaced
    expect(b.list()).toHaveLength(2);
    expect(counts(b, 3)).toEqual({ '10.0.0.3': 3 });
    b.remove('10.0.0.3:8080');
    expect(b.select()).toBeNull();
  });

  it('keys IPv6 endpoints with brackets', () => {
    const b = new RoundRobinBalancer({ endpoints: [{ ...ep(1), address: 'fd00::1' }] });
    b.remove('[fd00::1]:8080');
    expect(b.list()).toEqual([]);
  });

  it('returns the caller’s own endpoint objects', () => {
    const mine = { ...ep(1), pool: 'p1' };
    const b = new RoundRobinBalancer({ endpoints: [mine] });
    expect(b.select()).toBe(mine);
  });
});
