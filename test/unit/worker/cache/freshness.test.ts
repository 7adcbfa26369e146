import { describe, expect, it } from 'vitest';
import {
  currentAge, freshnessLifetime, isFresh, reuseDecision, retentionSeconds, withinStaleIfError, withinStaleWhileRevalidate,
  type CachedResponse,
} from '../../../../src/worker/cache/policy.js';

const T0 = Date.UTC(2026, 10, 26, 12, 0, 0);
const s = (n: number): number => T0 + n * 1000;
const httpDate = (ms: number): string => new Date(ms).toUTCString();

function entry(headers: [string, string][], o: { storedAt?: number; requestTime?: number; ttl?: number | null } = {}): CachedResponse {
  return { status: 200, headers, storedAt: o.storedAt ?? T0, requestTime: o.requestTime ?? o.storedAt ?? T0, defaultTtlSeconds: o.ttl ?? null };
}

describe('freshnessLifetime', () => {
  const cases: { name: string; headers: [string, string][]; ttl: number | null; want: number }[] = [
    { name: 's-maxage beats max-age', headers: [['cache-control', 'max-age=10, s-maxage=99']], ttl: null, want: 99 },
    { name: 'max-age beats Expires', headers: [['cache-control', 'max-age=10'], ['expires', httpDate(s(500))], ['date', httpDate(T0)]], ttl: null, want: 10 },
    { name: 'Expires − Date', headers: [['expires', httpDate(s(300))], ['date', httpDate(T0)]], ttl: 5, want: 300 },
    { name: 'Expires − Date with a skewed origin clock', headers: [['expires', httpDate(s(3600 + 120))], ['date', httpDate(s(3600))]], ttl: null, want: 120 },
    { name: 'Expires in the past', headers: [['expires', httpDate(s(-60))], ['date', httpDate(T0)]], ttl: 30, want: 0 },
    { name: 'invalid Expires is already expired', headers: [['expires', '0']], ttl: 30, want: 0 },
    { name: 'Expires without Date uses storedAt', headers: [['expires', httpDate(s(40))]], ttl: null, want: 40 },
    { name: 'default TTL', headers: [], ttl: 30, want: 30 },
    { name: 'nothing', headers: [], ttl: null, want: 0 },
    { name: 'max-age=0', headers: [['cache-control', 'max-age=0']], ttl: 30, want: 0 },
  ];
  it.each(cases)('$name', ({ headers, ttl, want }) => {
    expect(freshnessLifetime({ headers, storedAt: T0 }, ttl)).toBe(want);
  });
});

describe('currentAge (RFC 9111 §4.2.3)', () => {
  const cases: { name: string; e: CachedResponse; now: number; want: number }[] = [
    { name: 'resident time only', e: entry([['date', httpDate(T0)]]), now: s(25), want: 25 },
    { name: 'Age header is added', e: entry([['date', httpDate(T0)], ['age', '100']]), now: s(10), want: 110 },
    { name: 'response delay added to Age', e: entry([['age', '100'], ['date', httpDate(s(2))]], { requestTime: T0, storedAt: s(2) }), now: s(2), want: 102 },
    { name: 'apparent age from an old Date', e: entry([['date', httpDate(s(-50))]]), now: s(10), want: 60 },
    { name: 'Date in the future (clock skew) is not negative', e: entry([['date', httpDate(s(3600))]]), now: s(10), want: 10 },
    { name: 'bad Age ignored', e: entry([['age', 'ten'], ['date', httpDate(T0)]]), now: s(1), want: 1 },
    { name: 'no Date: storedAt', e: entry([]), now: s(7), want: 7 },
    { name: 'now before storedAt clamps', e: entry([]), now: s(-5), want: 0 },
  ];
  it.each(cases)('$name', ({ e, now, want }) => {
    expect(currentAge(e, now)).toBe(want);
  });
});

describe('isFresh', () => {
  const cases: { name: string; e: CachedResponse; now: number; want: boolean }[] = [
    { name: 'within max-age', e: entry([['cache-control', 'max-age=60']]), now: s(59), want: true },
    { name: 'at max-age', e: entry([['cache-control', 'max-age=60']]), now: s(60), want: false },
    { name: 'Age eats the lifetime', e: entry([['cache-control', 'max-age=60'], ['age', '55']]), now: s(5), want: false },
    { name: 'skewed Date does not extend freshness', e: entry([['cache-control', 'max-age=60'], ['date', httpDate(s(9999))]]), now: s(61), want: false },
    { name: 'route TTL', e: entry([], { ttl: 30 }), now: s(29), want: true },
    { name: 'Expires in the past', e: entry([['expires', httpDate(s(-1))], ['date', httpDate(T0)]]), now: T0, want: false },
  ];
  it.each(cases)('$name', ({ e, now, want }) => {
    expect(isFresh(e, now)).toBe(want);
  });
});

describe('stale windows (RFC 5861)', () => {
  const cases: { name: string; cc: string; now: number; swr: boolean; sie: boolean }[] = [
    { name: 'fresh: no stale serving needed', cc: 'max-age=10, stale-while-revalidate=20', now: s(5), swr: false, sie: false },
    { name: 'inside swr', cc: 'max-age=10, stale-while-revalidate=20', now: s(30), swr: true, sie: false },
    { name: 'past swr', cc: 'max-age=10, stale-while-revalidate=20', now: s(31), swr: false, sie: false },
    { name: 'inside sie', cc: 'max-age=10, stale-if-error=100', now: s(110), swr: false, sie: true },
    { name: 'past sie', cc: 'max-age=10, stale-if-error=100', now: s(111), swr: false, sie: false },
    { name: 'must-revalidate forbids both', cc: 'max-age=10, must-revalidate, stale-while-revalidate=20, stale-if-error=20', now: s(15), swr: false, sie: false },
    { name: 'proxy-revalidate forbids both', cc: 'max-age=10, proxy-revalidate, stale-if-error=20', now: s(15), swr: false, sie: false },
    { name: 'no-cache forbids both', cc: 'max-age=10, no-cache, stale-while-revalidate=20', now: s(15), swr: false, sie: false },
    { name: 's-maxage with an explicit window keeps it', cc: 's-maxage=10, stale-while-revalidate=20', now: s(15), swr: true, sie: false },
  ];
  it.each(cases)('$name', ({ cc, now, swr, sie }) => {
    const e = entry([['cache-control', cc]]);
    expect(withinStaleWhileRevalidate(e, now)).toBe(swr);
    expect(withinStaleIfError(e, now)).toBe(sie);
  });

  it.each([
    { cc: 'max-age=10', want: 10 },
    { cc: 'max-age=10, stale-while-revalidate=20, stale-if-error=5', want: 30 },
    { cc: 'max-age=10, must-revalidate, stale-if-error=50', want: 10 },
  ])('retentionSeconds($cc) = $want', ({ cc, want }) => {
    expect(retentionSeconds(entry([['cache-control', cc]]))).toBe(want);
  });
});

describe('reuseDecision', () => {
  const etag: [string, string] = ['etag', '"v1"'];
  const cases: { name: string; res: [string, string][]; req: [string, string][]; now: number; want: string }[] = [
    { name: 'fresh → hit', res: [['cache-control', 'max-age=60']], req: [], now: s(1), want: 'hit' },
    { name: 'stale with validator → revalidate', res: [['cache-control', 'max-age=60'], etag], req: [], now: s(61), want: 'revalidate' },
    { name: 'stale without validator → fetch', res: [['cache-control', 'max-age=60']], req: [], now: s(61), want: 'fetch' },
    { name: 'stale in swr → stale', res: [['cache-control', 'max-age=60, stale-while-revalidate=30'], etag], req: [], now: s(80), want: 'stale' },
    { name: 'response no-cache → always revalidate', res: [['cache-control', 'no-cache, max-age=60'], etag], req: [], now: s(1), want: 'revalidate' },
    { name: 'response max-age=0 → revalidate', res: [['cache-control', 'max-age=0'], ['last-modified', httpDate(s(-100))]], req: [], now: T0, want: 'revalidate' },
    { name: 'request no-cache → revalidate', res: [['cache-control', 'max-age=60'], etag], req: [['cache-control', 'no-cache']], now: s(1), want: 'revalidate' },
    { name: 'request Pragma: no-cache → revalidate', res: [['cache-control', 'max-age=60'], etag], req: [['pragma', 'no-cache']], now: s(1), want: 'revalidate' },
    { name: 'request max-age older than entry', res: [['cache-control', 'max-age=60'], etag], req: [['cache-control', 'max-age=5']], now: s(10), want: 'revalidate' },
    { name: 'request min-fresh not met', res: [['cache-control', 'max-age=60']], req: [['cache-control', 'min-fresh=30']], now: s(40), want: 'fetch' },
    { name: 'request no-cache overrides swr', res: [['cache-control', 'max-age=60, stale-while-revalidate=30'], etag], req: [['cache-control', 'no-cache']], now: s(80), want: 'revalidate' },
  ];
  it.each(cases)('$name', ({ res, req, now, want }) => {
    expect(reuseDecision(entry(res), req, now)).toBe(want);
  });
});
