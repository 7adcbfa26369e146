import { describe, expect, it } from 'vitest';
import type { HeaderPairs } from '../../../../src/worker/cache/headers.js';
import {
  isRequestCacheable, isUnsafeInvalidation, parseCacheControl, storability, type CacheDirectives,
} from '../../../../src/worker/cache/policy.js';

type H = [string, string][];

describe('parseCacheControl', () => {
  const cases: { name: string; value: string | undefined; want: { [K in keyof CacheDirectives]?: CacheDirectives[K] | undefined } }[] = [
    { name: 'absent', value: undefined, want: { noStore: false, maxAge: undefined } },
    { name: 'max-age', value: 'max-age=60', want: { maxAge: 60 } },
    { name: 'case-insensitive names', value: 'Max-Age=5, NO-STORE, Public', want: { maxAge: 5, noStore: true, public: true } },
    { name: 'quoted value', value: 'max-age="30"', want: { maxAge: 30 } },
    { name: 'duplicates: first value wins', value: 'max-age=10, max-age=99', want: { maxAge: 10 } },
    { name: 'bad number ignored, later good one used', value: 'max-age=abc, max-age=7', want: { maxAge: 7 } },
    { name: 'negative ignored', value: 'max-age=-1', want: { maxAge: undefined } },
    { name: 'fraction ignored', value: 's-maxage=1.5', want: { sMaxAge: undefined } },
    { name: 'huge clamped to 2^31', value: 'max-age=99999999999999', want: { maxAge: 2_147_483_648 } },
    { name: 'qualified no-cache and private', value: 'no-cache="set-cookie", private="x"', want: { noCache: true, private: true } },
    { name: 'comma inside quotes', value: 'private="a, b", max-age=3', want: { private: true, maxAge: 3 } },
    { name: 'RFC 5861 windows', value: 'max-age=1, stale-while-revalidate=30, stale-if-error=600', want: { staleWhileRevalidate: 30, staleIfError: 600 } },
    { name: 'spaces and empty members', value: ' ,  s-maxage = 20 ,, must-revalidate ', want: { sMaxAge: 20, mustRevalidate: true } },
    { name: 'valueless numeric ignored', value: 'max-age', want: { maxAge: undefined } },
    { name: 'request directives', value: 'no-cache, min-fresh=5, only-if-cached', want: { noCache: true, minFresh: 5, onlyIfCached: true } },
  ];
  it.each(cases)('$name', ({ value, want }) => {
    const got = parseCacheControl(value);
    for (const [k, v] of Object.entries(want)) expect(got[k as keyof CacheDirectives], k).toBe(v);
  });
});

describe('isRequestCacheable', () => {
  const cases: { name: string; method: string; headers: H; want: boolean }[] = [
    { name: 'GET', method: 'GET', headers: [], want: true },
    { name: 'HEAD', method: 'HEAD', headers: [], want: true },
    { name: 'POST (row 154)', method: 'POST', headers: [], want: false },
    { name: 'lowercase get is not GET (row 39)', method: 'get', headers: [], want: false },
    { name: 'request no-store (row 148)', method: 'GET', headers: [['Cache-Control', 'no-store']], want: false },
    { name: 'GET with a body (row 156)', method: 'GET', headers: [['content-length', '5']], want: false },
    { name: 'GET with Content-Length: 0', method: 'GET', headers: [['content-length', '0']], want: true },
    { name: 'GET with a bad Content-Length', method: 'GET', headers: [['content-length', 'x']], want: false },
    { name: 'GET chunked', method: 'GET', headers: [['transfer-encoding', 'chunked']], want: false },
  ];
  it.each(cases)('$name', ({ method, headers, want }) => {
    expect(isRequestCacheable({ method, headers })).toBe(want);
  });

  it('accepts a record of headers', () => {
    expect(isRequestCacheable({ method: 'GET', headers: { 'cache-control': ['max-age=0', 'no-store'] } })).toBe(false);
  });
});

describe('isUnsafeInvalidation (RFC 9111 §4.4)', () => {
  it.each([
    { method: 'POST', status: 200, want: true },
    { method: 'DELETE', status: 204, want: true },
    { method: 'PUT', status: 302, want: true },
    { method: 'POST', status: 500, want: false },
    { method: 'GET', status: 200, want: false },
    { method: 'OPTIONS', status: 200, want: false },
  ])('$method $status → $want', ({ method, status, want }) => {
    expect(isUnsafeInvalidation(method, status)).toBe(want);
  });
});

describe('storability', () => {
  const cases: { name: string; method?: string; req?: H; status?: number; res: H; ttl?: number | null; storeErrors?: boolean; want: string }[] = [
    { name: 'max-age', res: [['cache-control', 'max-age=60']], want: 'ok' },
    { name: 's-maxage', res: [['cache-control', 's-maxage=60']], want: 'ok' },
    { name: 'Expires', res: [['expires', 'Thu, 26 Nov 2026 13:00:00 GMT'], ['date', 'Thu, 26 Nov 2026 12:00:00 GMT']], want: 'ok' },
    { name: 'no freshness, no default TTL', res: [], want: 'no-freshness' },
    { name: 'no freshness, route default TTL', res: [], ttl: 30, want: 'ok' },
    { name: 'cache deception /account/x.css without cache headers (row 157)', res: [['content-type', 'text/css']], want: 'no-freshness' },
    { name: 'Authorization without permission (row 146)', req: [['authorization', 'Bearer x']], res: [['cache-control', 'max-age=60']], want: 'authorization' },
    { name: 'Authorization with public', req: [['authorization', 'Bearer x']], res: [['cache-control', 'public, max-age=60']], want: 'ok' },
    { name: 'Authorization with s-maxage', req: [['authorization', 'Bearer x']], res: [['cache-control', 's-maxage=60']], want: 'ok' },
    { name: 'Authorization with must-revalidate', req: [['authorization', 'Bearer x']], res: [['cache-control', 'max-age=60, must-revalidate']], want: 'ok' },
    { name: 'Authorization, route TTL only', req: [['authorization', 'Bearer x']], res: [], ttl: 60, want: 'authorization' },
    { name: 'private (row 147)', res: [['cache-control', 'private, max-age=60']], want: 'private' },
    { name: 'response no-store (row 148)', res: [['cache-control', 'no-store, max-age=60']], want: 'no-store' },
    { name: 'request no-store (row 148)', req: [['cache-control', 'no-store']], res: [['cache-control', 'max-age=60']], want: 'request-no-store' },
    { name: 'Set-Cookie (row 149)', res: [['cache-control', 'public, max-age=60'], ['Set-Cookie', 'a=1']], want: 'set-cookie' },
    { name: 'Vary: * (row 150)', res: [['cache-control', 'max-age=60'], ['vary', 'accept, *']], want: 'vary-star' },
    { name: 'Vary: Accept-Encoding stored (row 150)', res: [['cache-control', 'max-age=60'], ['vary', 'Accept-Encoding']], want: 'ok' },
    { name: 'POST (row 154)', method: 'POST', res: [['cache-control', 'max-age=60']], want: 'method' },
    { name: 'HEAD response not stored (served from GET)', method: 'HEAD', res: [['cache-control', 'max-age=60']], want: 'method' },
    { name: 'lowercase get', method: 'get', res: [['cache-control', 'max-age=60']], want: 'method' },
    { name: 'GET with a body (row 156)', req: [['content-length', '3']], res: [['cache-control', 'max-age=60']], want: 'request-body' },
    { name: '206 (row 155)', status: 206, res: [['cache-control', 'max-age=60']], want: 'partial' },
    { name: 'Content-Range on 200', res: [['cache-control', 'max-age=60'], ['content-range', 'bytes 0-1/10']], want: 'partial' },
    { name: '500 (row 155)', status: 500, res: [['cache-control', 'max-age=60']], want: 'error-status' },
    { name: '502 with default TTL', status: 502, res: [], ttl: 60, want: 'error-status' },
    { name: '503 with storeErrors', status: 503, res: [['cache-control', 'max-age=5']], storeErrors: true, want: 'ok' },
    { name: '501 needs storeErrors too', status: 501, res: [['cache-control', 'max-age=5']], want: 'error-status' },
    { name: '404 with default TTL', status: 404, res: [], ttl: 10, want: 'ok' },
    { name: '204 with max-age', status: 204, res: [['cache-control', 'max-age=10']], want: 'ok' },
    { name: '302 with default TTL only', status: 302, res: [], ttl: 60, want: 'status' },
    { name: '302 with explicit max-age', status: 302, res: [['cache-control', 'max-age=60']], want: 'ok' },
    { name: '304 never', status: 304, res: [['cache-control', 'max-age=60']], want: 'status' },
    { name: 'max-age=0 without validator', res: [['cache-control', 'max-age=0']], want: 'zero-lifetime' },
    { name: 'max-age=0 with ETag (revalidated on use)', res: [['cache-control', 'max-age=0'], ['etag', '"v1"']], want: 'ok' },
    { name: 'Expires in the past, no validator', res: [['expires', 'Thu, 01 Jan 1970 00:00:00 GMT'], ['date', 'Thu, 26 Nov 2026 12:00:00 GMT']], want: 'zero-lifetime' },
    { name: 'Expires without Date is kept (measured from arrival)', res: [['expires', 'Thu, 26 Nov 2026 13:00:00 GMT']], want: 'ok' },
    { name: 'invalid Expires with Date, no validator', res: [['expires', '0'], ['date', 'Thu, 26 Nov 2026 12:00:00 GMT']], want: 'zero-lifetime' },
    { name: 'no-cache with validator is stored', res: [['cache-control', 'no-cache, max-age=60'], ['etag', '"v"']], want: 'ok' },
  ];
  it.each(cases)('$name → $want', ({ method, req, status, res, ttl, storeErrors, want }) => {
    const opts = storeErrors === undefined ? { defaultTtlSeconds: ttl ?? null } : { defaultTtlSeconds: ttl ?? null, storeErrors };
    const got = storability({ method: method ?? 'GET', headers: (req ?? []) as HeaderPairs }, { status: status ?? 200, headers: res }, opts);
    expect(got).toEqual({ store: want === 'ok', reason: want });
  });
});
