/**
 * The consistent choice behind upstream-hash-by (issue 15 group 5, shared/upstream-hash.ts):
 * rendezvous hashing over the eligible endpoints. The measure: when one of N endpoints
 * leaves, at most about 1/N of the keys move, and only the keys it owned. Measured over 100,000
 * keys for N = 3, 5, 10 (the figures are in docs/annotations.md "Upstream hashing").
 */
import { describe, expect, it } from 'vitest';
import { RoundRobinBalancer } from '../../../../src/worker/balance/round-robin.js';
import type { Endpoint } from '../../../../src/shared/snapshot.js';
import { cookieValue, hash32, hashKeyOf, parseHashKey, type HashRequest } from '../../../../src/shared/upstream-hash.js';

const KEYS = 100_000;
const ep = (i: number, extra: Partial<Endpoint> = {}): Endpoint => ({ address: `10.0.0.${i}`, port: 8080, weight: 1, ready: true, terminating: false, ...extra });
const keyHashes = Array.from({ length: KEYS }, (_, i) => hash32(`/item/${i}?page=${i % 7}`));

function owners(b: RoundRobinBalancer): string[] {
  return keyHashes.map((h) => b.selectByHash(h)!.address);
}

describe('rendezvous hashing', () => {
  it.each([3, 5, 10])('N = %i: removing one endpoint moves only its keys, at most 1/N + 0.01 of them; each endpoint owns 1/N ± 0.01', (n) => {
    const all = Array.from({ length: n }, (_, i) => ep(i + 1));
    const before = owners(new RoundRobinBalancer({ endpoints: all }));
    for (let i = 0; i < n; i++) {
      const share = before.filter((a) => a === all[i]!.address).length / KEYS;
      expect(Math.abs(share - 1 / n)).toBeLessThan(0.01);
    }
    for (const gone of all) {
      const b = new RoundRobinBalancer({ endpoints: all });
      b.remove(`${gone.address}:8080`);
      const after = owners(b);
      let moved = 0;
      for (let k = 0; k < KEYS; k++) {
        if (after[k] === before[k]) continue;
        moved++;
        // Only the removed endpoint's keys move.
        expect(before[k]).toBe(gone.address);
      }
      expect(moved / KEYS).toBeLessThanOrEqual(1 / n + 0.01);
      expect(moved).toBe(before.filter((a) => a === gone.address).length);
    }
  });

  it('adding an endpoint takes about 1/(N+1) of the keys, all to the new one', () => {
    const all = Array.from({ length: 5 }, (_, i) => ep(i + 1));
    const before = owners(new RoundRobinBalancer({ endpoints: all }));
    const after = owners(new RoundRobinBalancer({ endpoints: [...all, ep(9)] }));
    let moved = 0;
    for (let k = 0; k < KEYS; k++) {
      if (after[k] === before[k]) continue;
      moved++;
      expect(after[k]).toBe('10.0.0.9');
    }
    expect(moved / KEYS).toBeLessThanOrEqual(1 / 6 + 0.01);
    expect(moved / KEYS).toBeGreaterThan(1 / 6 - 0.01);
  });

  it('the choice depends on the key and the endpoint set only: another order, another balancer, the same endpoint', () => {
    const a = new RoundRobinBalancer({ endpoints: [ep(1), ep(2), ep(3)] });
    const b = new RoundRobinBalancer({ endpoints: [ep(3), ep(1), ep(2)] });
    for (const h of keyHashes.slice(0, 1000)) expect(b.selectByHash(h)).toEqual(a.selectByHash(h));
    // The round-robin turn does not move a hashed choice.
    const h = hash32('/fixed');
    const first = a.selectByHash(h);
    a.select();
    expect(a.selectByHash(h)).toBe(first);
  });

  it('drained, weight-0, not ready endpoints own no keys; terminating ones only when nothing else is left; none: null', () => {
    const b = new RoundRobinBalancer({ endpoints: [ep(1), ep(2, { weight: 0 }), ep(3, { ready: false }), ep(4, { terminating: true, ready: false })], backendId: 'x', overrides: { drained: [], weights: [] } });
    expect(new Set(keyHashes.slice(0, 2000).map((h) => b.selectByHash(h)!.address))).toEqual(new Set(['10.0.0.1']));
    b.remove('10.0.0.1:8080');
    expect(new Set(keyHashes.slice(0, 2000).map((h) => b.selectByHash(h)!.address))).toEqual(new Set(['10.0.0.4']));
    expect(new RoundRobinBalancer({ endpoints: [] }).selectByHash(1)).toBeNull();
  });
});

describe('hash keys', () => {
  const req: HashRequest = {
    target: '/a/b?id=7&Page=2',
    path: '/a/b',
    host: 'web.test',
    query: 'id=7&Page=2',
    scheme: 'https',
    remoteAddress: '192.0.2.1',
    field: (name) => ({ 'x-user': 'ann', cookie: 'a=1; session=xyz; b=2' })[name] ?? '',
  };
  it.each<[string, string]>([
    ['$request_uri', '/a/b?id=7&Page=2'],
    ['$uri', '/a/b'],
    ['$host$uri', 'web.test/a/b'],
    ['$remote_addr', '192.0.2.1'],
    ['$scheme', 'https'],
    ['$args', 'id=7&Page=2'],
    ['$http_x_user', 'ann'],
    ['$http_x_absent', ''],
    ['$cookie_session', 'xyz'],
    ['$cookie_none', ''],
    ['$arg_page', '2'],
    ['${uri}-v1', '/a/b-v1'],
  ])('%s is %j', (expr, want) => {
    const parsed = parseHashKey(expr);
    if (!('parts' in parsed)) throw new Error(parsed.error);
    expect(hashKeyOf(parsed.parts, req)).toBe(want);
  });

  it('unknown variables and a lone $ are refused', () => {
    expect(parseHashKey('$upstream_addr')).toEqual({ error: '$upstream_addr' });
    expect(parseHashKey('a$')).toEqual({ error: '$' });
  });

  it('cookieValue finds a cookie without case in its name, and not a prefix of another name', () => {
    expect(cookieValue('Session=1; sessionid=2', 'session')).toBe('1');
    expect(cookieValue('sessionid=2', 'session')).toBe('');
  });
});
