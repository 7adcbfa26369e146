/**
 * Whether a request goes to the canary (issue 15 group 5, shared/canary.ts): ingress-nginx's
 * order, header then cookie then weight, with "always"/"never", a header value or pattern; and
 * the weight's turns, exactly `weight` of every `weightTotal` requests, evenly spread.
 */
import { describe, expect, it } from 'vitest';
import { canaryByRequest, weightTurn, type RouteCanary } from '../../../src/shared/canary.js';

const base: RouteCanary = { backend: 'ns/c:80', source: 'ns/c', weight: 0, weightTotal: 100 };
const decide = (c: Partial<RouteCanary>, fields: Record<string, string>, cookies: Record<string, string> = {}) => {
  const v = canaryByRequest({ ...base, ...c }, (n) => fields[n], (n) => cookies[n]);
  return v === null ? 'weight' : `${v.canary ? 'canary' : 'main'} by ${v.rule}`;
};

describe('canaryByRequest', () => {
  it.each<[string, Partial<RouteCanary>, Record<string, string>, Record<string, string>, string]>([
    ['header always', { header: 'x-canary' }, { 'x-canary': 'always' }, {}, 'canary by header'],
    ['header never wins over cookie always', { header: 'x-canary', cookie: 'c' }, { 'x-canary': 'never' }, { c: 'always' }, 'main by header'],
    ['header other value: cookie decides', { header: 'x-canary', cookie: 'c' }, { 'x-canary': 'maybe' }, { c: 'never' }, 'main by cookie'],
    ['header absent, cookie always', { header: 'x-canary', cookie: 'c' }, {}, { c: 'always' }, 'canary by cookie'],
    ['header "Always" is not always (case matters, as in ingress-nginx)', { header: 'x-canary' }, { 'x-canary': 'Always' }, {}, 'weight'],
    ['header value matches', { header: 'x-region', headerValue: 'eu' }, { 'x-region': 'eu' }, {}, 'canary by header'],
    ['header value: "always" is a plain value then', { header: 'x-region', headerValue: 'eu' }, { 'x-region': 'always' }, {}, 'weight'],
    ['header value other: weight', { header: 'x-region', headerValue: 'eu' }, { 'x-region': 'us' }, {}, 'weight'],
    ['header pattern matches (unanchored)', { header: 'x-region', headerPattern: 'eu-[a-z]+' }, { 'x-region': 'zone-eu-west' }, {}, 'canary by header'],
    ['header pattern does not match', { header: 'x-region', headerPattern: '^eu' }, { 'x-region': 'us' }, {}, 'weight'],
    ['cookie other value: weight', { cookie: 'c' }, {}, { c: 'yes' }, 'weight'],
    ['nothing configured: weight', {}, { 'x-canary': 'always' }, { c: 'always' }, 'weight'],
  ])('%s', (_name, c, fields, cookies, want) => {
    expect(decide(c, fields, cookies)).toBe(want);
  });
});

describe('weightTurn', () => {
  const turns = (weight: number, weightTotal: number, n: number): number[] => Array.from({ length: n }, (_, i) => (weightTurn({ ...base, weight, weightTotal }, i) ? 1 : 0));
  it('weight 25 of 100: exactly every fourth request, 100 of 400', () => {
    const t = turns(25, 100, 400);
    expect(t.reduce((a, b) => a + b, 0)).toBe(100);
    expect(t.slice(0, 12)).toEqual([0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1]);
  });
  it.each([[1, 100], [33, 100], [50, 100], [99, 100], [7, 1000], [999, 1000]])('weight %i of %i: exactly that many in every window of the total', (w, t) => {
    const all = turns(w, t, 3 * t);
    for (let k = 0; k < 3; k++) expect(all.slice(k * t, (k + 1) * t).reduce((a, b) => a + b, 0)).toBe(w);
    // Evenly spread: any run of requests of length L holds ⌊L·w/t⌋ or ⌈L·w/t⌉ canary turns.
    const L = 17;
    for (let i = 0; i + L <= all.length; i += 5) {
      const got = all.slice(i, i + L).reduce((a, b) => a + b, 0);
      expect(got).toBeGreaterThanOrEqual(Math.floor((L * w) / t));
      expect(got).toBeLessThanOrEqual(Math.ceil((L * w) / t));
    }
  });
  it('0 never, the total or more always', () => {
    expect(turns(0, 100, 200)).not.toContain(1);
    expect(turns(100, 100, 200)).not.toContain(0);
    expect(turns(150, 100, 200)).not.toContain(0);
  });
});
