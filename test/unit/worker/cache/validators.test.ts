import { describe, expect, it } from 'vitest';
import { clientConditionalMatch, conditionalHeaders, refreshFrom304, type CachedResponse } from '../../../../src/worker/cache/policy.js';

const T0 = Date.UTC(2026, 10, 26, 12, 0, 0);
const httpDate = (ms: number): string => new Date(ms).toUTCString();
const LM = httpDate(T0 - 3600_000);

function entry(headers: [string, string][]): CachedResponse {
  return { status: 200, headers, storedAt: T0, requestTime: T0, defaultTtlSeconds: null };
}

describe('conditionalHeaders', () => {
  it.each([
    { name: 'ETag', headers: [['etag', 'W/"a"']] as [string, string][], want: [['if-none-match', 'W/"a"']] },
    { name: 'Last-Modified', headers: [['last-modified', LM]] as [string, string][], want: [['if-modified-since', LM]] },
    { name: 'both', headers: [['etag', '"a"'], ['last-modified', LM]] as [string, string][], want: [['if-none-match', '"a"'], ['if-modified-since', LM]] },
    { name: 'invalid Last-Modified', headers: [['last-modified', 'yesterday']] as [string, string][], want: [] },
    { name: 'none', headers: [] as [string, string][], want: [] },
  ])('$name', ({ headers, want }) => {
    expect(conditionalHeaders(entry(headers))).toEqual(want);
  });
});

describe('clientConditionalMatch', () => {
  const cases: { name: string; stored: [string, string][]; req: [string, string][]; want: boolean }[] = [
    { name: 'strong = strong', stored: [['etag', '"v1"']], req: [['if-none-match', '"v1"']], want: true },
    { name: 'weak comparison: W/ vs strong', stored: [['etag', '"v1"']], req: [['if-none-match', 'W/"v1"']], want: true },
    { name: 'weak comparison: strong vs stored W/', stored: [['etag', 'W/"v1"']], req: [['if-none-match', '"v1"']], want: true },
    { name: 'list', stored: [['etag', '"v2"']], req: [['if-none-match', '"v0", W/"v2" , "v3"']], want: true },
    { name: 'list, quoted comma', stored: [['etag', '"a,b"']], req: [['if-none-match', '"x", "a,b"']], want: true },
    { name: 'no match', stored: [['etag', '"v2"']], req: [['if-none-match', '"v1"']], want: false },
    { name: 'star', stored: [], req: [['if-none-match', '*']], want: true },
    { name: 'INM present wins over a matching IMS', stored: [['etag', '"v2"'], ['last-modified', LM]], req: [['if-none-match', '"v1"'], ['if-modified-since', httpDate(T0)]], want: false },
    { name: 'no stored ETag', stored: [['last-modified', LM]], req: [['if-none-match', '"v1"']], want: false },
    { name: 'IMS after Last-Modified', stored: [['last-modified', LM]], req: [['if-modified-since', httpDate(T0)]], want: true },
    { name: 'IMS equal to Last-Modified', stored: [['last-modified', LM]], req: [['if-modified-since', LM]], want: true },
    { name: 'IMS before Last-Modified', stored: [['last-modified', LM]], req: [['if-modified-since', httpDate(T0 - 7200_000)]], want: false },
    { name: 'IMS falls back to Date', stored: [['date', httpDate(T0)]], req: [['if-modified-since', httpDate(T0 + 1000)]], want: true },
    { name: 'invalid IMS', stored: [['last-modified', LM]], req: [['if-modified-since', 'nope']], want: false },
    { name: 'no conditionals', stored: [['etag', '"v1"']], req: [], want: false },
  ];
  it.each(cases)('$name', ({ stored, req, want }) => {
    expect(clientConditionalMatch(req, entry(stored))).toBe(want);
  });
});

describe('refreshFrom304 (RFC 9111 §4.3.4)', () => {
  const stored = entry([['etag', '"v1"'], ['cache-control', 'max-age=60'], ['content-length', '5'], ['x-a', 'old'], ['date', httpDate(T0)]]);

  it('replaces the fields the 304 carries (names compared in any case, kept as the 304 wrote them) and keeps the rest; times move', () => {
    const got = refreshFrom304(stored, [['Cache-Control', 'max-age=120'], ['Date', httpDate(T0 + 90_000)], ['X-A', 'new']], T0 + 90_000, T0 + 89_000);
    expect(got).not.toBeNull();
    expect(got?.headers).toEqual([
      ['etag', '"v1"'], ['content-length', '5'], ['Cache-Control', 'max-age=120'], ['Date', httpDate(T0 + 90_000)], ['X-A', 'new'],
    ]);
    expect(got?.storedAt).toBe(T0 + 90_000);
    expect(got?.requestTime).toBe(T0 + 89_000);
  });

  it.each([
    { name: 'Set-Cookie is never merged (row 149)', h: [['set-cookie', 'a=1']] as [string, string][] },
    { name: 'Content-Length is never merged', h: [['content-length', '0']] as [string, string][] },
    { name: 'hop-by-hop is never merged (row 162)', h: [['connection', 'x-hop'], ['x-hop', '1'], ['keep-alive', 'timeout=5']] as [string, string][] },
  ])('$name', ({ h }) => {
    expect(refreshFrom304(stored, h, T0)?.headers).toEqual(stored.headers);
  });

  it.each([
    { name: 'same strong ETag updates', etag: '"v1"', ok: true },
    { name: 'weak ETag updates', etag: 'W/"v9"', ok: true },
    { name: 'different strong ETag: not this entry', etag: '"v2"', ok: false },
  ])('$name', ({ etag, ok }) => {
    expect(refreshFrom304(stored, [['etag', etag]], T0) !== null).toBe(ok);
  });
});
