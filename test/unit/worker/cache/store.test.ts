import { describe, expect, it } from 'vitest';
import { IngressError } from '../../../../src/shared/errors.js';
import { primaryKey } from '../../../../src/worker/cache/key.js';
import { ResponseCache, type CacheEntryInput } from '../../../../src/worker/cache/store.js';

const T0 = Date.UTC(2026, 10, 26, 12, 0, 0);

function input(path: string, o: Partial<CacheEntryInput> & { host?: string } = {}): CacheEntryInput {
  const host = o.host ?? 'a.com';
  return {
    key: primaryKey({ scheme: 'http', host, path, query: '' }), host, path, route: 'ns/web', requestHeaders: [],
    status: 200, headers: [['cache-control', 'max-age=60']], body: Buffer.from('hello'), storedAt: T0, requestTime: T0,
    defaultTtlSeconds: null, ...o,
  };
}

describe('ResponseCache options', () => {
  it.each([
    { name: 'maxBytes 0', opts: { maxBytes: 0, maxObjectBytes: 1 } },
    { name: 'object bigger than cache', opts: { maxBytes: 10, maxObjectBytes: 11 } },
    { name: 'fractional', opts: { maxBytes: 1.5, maxObjectBytes: 1 } },
    { name: 'variants 0', opts: { maxBytes: 10, maxObjectBytes: 5, maxVariantsPerKey: 0 } },
  ])('$name throws ING_ERR_CONFIG_INVALID', ({ opts }) => {
    expect(() => new ResponseCache(opts)).toThrow(IngressError);
    try { new ResponseCache(opts); } catch (err) { expect((err as IngressError).code).toBe('ING_ERR_CONFIG_INVALID'); }
  });
});

describe('ResponseCache', () => {
  it('stores, finds, strips hop-by-hop (row 162) and counts hits and misses', () => {
    const c = new ResponseCache({ maxBytes: 1 << 20, maxObjectBytes: 1 << 16 });
    const e = c.set(input('/x', { headers: [['Cache-Control', 'max-age=60'], ['Connection', 'x-trace'], ['X-Trace', '1'], ['Keep-Alive', 'timeout=5'], ['Transfer-Encoding', 'chunked'], ['ETag', '"v"']] }));
    expect(e?.headers).toEqual([['Cache-Control', 'max-age=60'], ['ETag', '"v"']]); // names as the origin wrote them (issue 16 item 7)
    expect(c.get('http://a.com/x', [])).toBe(e);
    expect(c.get('http://a.com/y', [])).toBeNull();
    expect(c.stats()).toMatchObject({ entries: 1, hits: 1, misses: 1, bytes: e?.size });
  });

  it('counts keys and headers in the size', () => {
    const c = new ResponseCache({ maxBytes: 1 << 20, maxObjectBytes: 1 << 16 });
    const short = c.set(input('/x'));
    const long = c.set(input(`/${'p'.repeat(1000)}`));
    expect((long?.size ?? 0) - (short?.size ?? 0)).toBeGreaterThanOrEqual(2 * 999 + 999);
  });

  it('refuses objects over maxObjectBytes (the caller streams them through)', () => {
    const c = new ResponseCache({ maxBytes: 1 << 20, maxObjectBytes: 2048 });
    expect(c.set(input('/big', { body: Buffer.alloc(4096) }))).toBeNull();
    expect(c.stats().entries).toBe(0);
  });

  it('refuses Vary: *', () => {
    const c = new ResponseCache({ maxBytes: 1 << 20, maxObjectBytes: 1 << 16 });
    expect(c.set(input('/v', { headers: [['vary', '*']] }))).toBeNull();
  });

  it('copies a body that is a view into a larger buffer', () => {
    const c = new ResponseCache({ maxBytes: 1 << 20, maxObjectBytes: 1 << 16 });
    const big = Buffer.alloc(8192, 1);
    const e = c.set(input('/x', { body: big.subarray(10, 20) }));
    expect(e?.body.buffer.byteLength).toBe(10);
    expect(e?.body.equals(big.subarray(10, 20))).toBe(true);
  });

  it('evicts least recently used entries by bytes, and get refreshes recency', () => {
    const one = new ResponseCache({ maxBytes: 1 << 20, maxObjectBytes: 1 << 16 }).set(input('/a'))?.size ?? 0;
    const c = new ResponseCache({ maxBytes: one * 3, maxObjectBytes: one });
    c.set(input('/a'));
    c.set(input('/b'));
    c.set(input('/c'));
    c.get('http://a.com/a', []);
    c.set(input('/d'));
    expect(c.get('http://a.com/b', [])).toBeNull();
    expect(c.get('http://a.com/a', [])).not.toBeNull();
    expect(c.stats()).toMatchObject({ entries: 3, evictions: 1 });
    expect(c.stats().bytes).toBeLessThanOrEqual(one * 3);
  });

  it('keeps several Vary variants per key and picks by the request (row 150)', () => {
    const c = new ResponseCache({ maxBytes: 1 << 20, maxObjectBytes: 1 << 16 });
    const h: [string, string][] = [['cache-control', 'max-age=60'], ['vary', 'Accept-Encoding']];
    c.set(input('/x', { headers: h, requestHeaders: [['accept-encoding', 'gzip']], body: Buffer.from('gz') }));
    c.set(input('/x', { headers: h, requestHeaders: [['accept-encoding', 'br']], body: Buffer.from('br') }));
    c.set(input('/x', { headers: h, requestHeaders: [['accept-encoding', 'br']], body: Buffer.from('br2') }));
    expect(c.stats().entries).toBe(2);
    expect(c.get('http://a.com/x', [['Accept-Encoding', ' gzip ']])?.body.toString()).toBe('gz');
    expect(c.get('http://a.com/x', { 'accept-encoding': 'br' })?.body.toString()).toBe('br2');
    expect(c.get('http://a.com/x', [])).toBeNull();
  });

  it('bounds variants per key', () => {
    const c = new ResponseCache({ maxBytes: 1 << 20, maxObjectBytes: 1 << 16, maxVariantsPerKey: 2 });
    const h: [string, string][] = [['cache-control', 'max-age=60'], ['vary', 'user-agent']];
    for (const ua of ['a', 'b', 'c']) c.set(input('/x', { headers: h, requestHeaders: [['user-agent', ua]] }));
    expect(c.stats()).toMatchObject({ entries: 2, evictions: 1 });
    expect(c.get('http://a.com/x', [['user-agent', 'a']])).toBeNull();
    expect(c.get('http://a.com/x', [['user-agent', 'c']])).not.toBeNull();
  });

  it('delete drops every variant of a key (unsafe method, row 154)', () => {
    const c = new ResponseCache({ maxBytes: 1 << 20, maxObjectBytes: 1 << 16 });
    const h: [string, string][] = [['cache-control', 'max-age=60'], ['vary', 'accept']];
    c.set(input('/x', { headers: h, requestHeaders: [['accept', 'a']] }));
    c.set(input('/x', { headers: h, requestHeaders: [['accept', 'b']] }));
    c.set(input('/y'));
    expect(c.delete('http://a.com/x')).toBe(2);
    expect(c.delete('http://a.com/x')).toBe(0);
    expect(c.stats()).toMatchObject({ entries: 1, purged: 2 });
  });

  describe('purge (row 161)', () => {
    function filled(): ResponseCache {
      const c = new ResponseCache({ maxBytes: 1 << 20, maxObjectBytes: 1 << 16 });
      c.set(input('/app/1', { host: 'a.com', route: 'ns/app' }));
      c.set(input('/app/2', { host: 'a.com', route: 'ns/app' }));
      c.set(input('/static/x', { host: 'a.com', route: 'ns/static' }));
      c.set(input('/app/1', { host: 'b.com', route: 'ns/b' }));
      c.set(input('/other', { host: 'b.com', route: null }));
      return c;
    }
    it.each([
      { name: 'by host', sel: { host: 'A.com' }, want: 3 },
      { name: 'by path prefix', sel: { pathPrefix: '/app/' }, want: 3 },
      { name: 'by host and prefix', sel: { host: 'b.com', pathPrefix: '/app' }, want: 1 },
      { name: 'by route', sel: { route: 'ns/app' }, want: 2 },
      { name: 'unknown host', sel: { host: 'c.com' }, want: 0 },
      { name: 'everything', sel: {}, want: 5 },
    ])('$name', ({ sel, want }) => {
      const c = filled();
      expect(c.purge(sel)).toBe(want);
      expect(c.stats()).toMatchObject({ entries: 5 - want, purged: want });
    });
    it('by predicate', () => {
      const c = filled();
      expect(c.purge((e) => e.path.endsWith('1'))).toBe(2);
    });
  });

  it('sweepExpired drops entries past freshness plus stale windows', () => {
    const c = new ResponseCache({ maxBytes: 1 << 20, maxObjectBytes: 1 << 16 });
    c.set(input('/short', { headers: [['cache-control', 'max-age=10']] }));
    c.set(input('/swr', { headers: [['cache-control', 'max-age=10, stale-while-revalidate=50']] }));
    c.set(input('/ttl', { headers: [], defaultTtlSeconds: 100 }));
    expect(c.sweepExpired(T0 + 10_000)).toBe(0);
    expect(c.sweepExpired(T0 + 11_000)).toBe(1);
    expect(c.sweepExpired(T0 + 61_000)).toBe(1);
    expect(c.sweepExpired(T0 + 101_000)).toBe(1);
    expect(c.stats()).toMatchObject({ entries: 0, bytes: 0, expired: 3 });
  });

  it('stays under maxBytes with 100,000 distinct URLs (row 159)', () => {
    const maxBytes = 4 << 20;
    const c = new ResponseCache({ maxBytes, maxObjectBytes: 64 << 10 });
    const body = Buffer.alloc(200, 0x61);
    for (let i = 0; i < 100_000; i++) {
      c.set(input(`/item/${i}/${'x'.repeat(i % 300)}`, { body }));
      if (i % 10_000 === 0) expect(c.stats().bytes).toBeLessThanOrEqual(maxBytes);
    }
    const st = c.stats();
    expect(st.bytes).toBeLessThanOrEqual(maxBytes);
    expect(st.entries + st.evictions).toBe(100_000);
    expect(st.evictions).toBeGreaterThan(0);
    expect(c.get(primaryKey({ scheme: 'http', host: 'a.com', path: `/item/99999/${'x'.repeat(99_999 % 300)}`, query: '' }), [])).not.toBeNull();
  });
});

describe('ResponseCache usage per route', () => {
  it('tracks entries, bytes and evictions per route, and forgets a route once empty and reported', () => {
    const one = new ResponseCache({ maxBytes: 1 << 20, maxObjectBytes: 1 << 16 }).set(input('/p'));
    const size = one?.size ?? 0;
    const c = new ResponseCache({ maxBytes: size * 3 + 10, maxObjectBytes: size * 2 });
    c.set(input('/a'));
    c.set(input('/b', { route: 'ns/api' }));
    c.set(input('/c'));
    expect(Object.fromEntries(c.routeUsage())).toEqual({ 'ns/web': { entries: 2, bytes: 2 * size, evictions: 0 }, 'ns/api': { entries: 1, bytes: size, evictions: 0 } });
    c.set(input('/d')); // evicts /a, the least recently used
    expect(c.routeUsage().get('ns/web')).toEqual({ entries: 2, bytes: 2 * size, evictions: 1 });
    c.set(input('/e')); // evicts /b of ns/api
    expect(c.routeUsage().get('ns/api')).toEqual({ entries: 0, bytes: 0, evictions: 1 });
    c.takeEvictions();
    expect(c.routeUsage().has('ns/api')).toBe(false);
    expect(c.routeUsage().get('ns/web')?.evictions).toBe(0);
    expect(c.purge({ route: 'ns/web' })).toBe(3);
    expect(c.routeUsage().size).toBe(0);
    expect(c.stats().bytes).toBe(0);
  });

  it('keeps the backend an entry came from', () => {
    const c = new ResponseCache({ maxBytes: 1 << 20, maxObjectBytes: 1 << 16 });
    expect(c.set(input('/a', { backend: 'ns/web:80' }))?.backend).toBe('ns/web:80');
    expect(c.set(input('/b'))?.backend).toBeNull();
  });
});
