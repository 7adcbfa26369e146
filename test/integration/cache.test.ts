/**
 * The response cache through the real proxy (issue 6; docs/bad-input.md §I, rows 146–162):
 * uWS in front, undici to a node:http upstream that counts what reaches it, and a WorkerCache on
 * an injected clock so freshness is tested without sleeping.
 */
import http from 'node:http';
import type net from 'node:net';
import { request } from 'undici';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { encodeSnapshot } from '../../src/shared/codec.js';
import type { WorkerConfig } from '../../src/shared/messages.js';
import { NO_OVERRIDES, SNAPSHOT_VERSION, type Backend, type Route, type RoutingTable } from '../../src/shared/snapshot.js';
import { Coalescer } from '../../src/worker/cache/coalescer.js';
import { WorkerCache } from '../../src/worker/cache/worker-cache.js';
import { createProxyServer } from '../../src/worker/proxy/server.js';
import { WorkerState } from '../../src/worker/state.js';
import { WorkerStats } from '../../src/worker/stats.js';
import { collectingLogger, testWorkerConfig, type LogLine } from '../helpers/worker-config.js';
import { startRawUpstream } from '../helpers/echo.js';
import { startFlusso } from '../helpers/flusso.js';
import { rawRequest } from '../helpers/http.js';
import { endpointSlice, ingress, ingressClass, manifestDir, service } from '../helpers/manifests.js';

const config: WorkerConfig = testWorkerConfig({ upstreamMaxConnections: 64, cacheMaxBytes: 8 * 1024 * 1024 });

const cleanups: (() => Promise<void> | void)[] = [];
let logLines: LogLine[] = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  expect(logLines.filter((l) => l.code === 'ING_ERR_PROXY_INTERNAL')).toEqual([]);
  logLines = [];
});

// --- upstream ---------------------------------------------------------------------------------

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => void;

/** Origin is a node:http upstream whose answer per path the test sets, counting requests per path. */
interface Origin {
  readonly port: number;
  readonly hits: Map<string, number>;
  readonly seen: { method: string; url: string; headers: http.IncomingHttpHeaders }[];
  on(path: string, h: Handler): void;
  count(path: string): number;
}

async function origin(): Promise<Origin> {
  const handlers = new Map<string, Handler>();
  const hits = new Map<string, number>();
  const seen: Origin['seen'] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = req.url ?? '/';
      const path = url.split('?')[0] as string;
      hits.set(url, (hits.get(url) ?? 0) + 1);
      seen.push({ method: req.method ?? '', url, headers: req.headers });
      const h = handlers.get(path);
      if (h === undefined) {
        res.statusCode = 404;
        res.end('no handler');
        return;
      }
      h(req, res, Buffer.concat(chunks));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return {
    port: (server.address() as net.AddressInfo).port,
    hits,
    seen,
    on: (path, h) => handlers.set(path, h),
    count: (url) => hits.get(url) ?? 0,
  };
}

/** fixed answers with a body and the given fields (and the request number in X-N, to tell fetches apart). */
function fixed(body: string, fields: Record<string, string | string[]> = {}, status = 200): Handler {
  let n = 0;
  return (_req, res) => {
    res.statusCode = status;
    for (const [k, v] of Object.entries(fields)) res.setHeader(k, v);
    res.setHeader('x-n', String(++n));
    res.end(body);
  };
}

// --- proxy ------------------------------------------------------------------------------------

interface Proxy {
  readonly port: number;
  readonly cache: WorkerCache;
  readonly state: WorkerState;
  /** The injected clock, epoch ms: advance it to age entries. */
  clock: number;
}

function backendOf(id: string, port: number): Backend {
  return { id, service: id.split(':')[0] as string, servicePort: 80, endpoints: [{ address: '127.0.0.1', port, weight: 1, ready: true, terminating: false }], loadBalancer: 'round-robin' };
}

/** table routes `cached.test` (cache on, optional TTL), `other.test` (cache on) and `plain.test` (no cache) to one origin each. */
function table(port: number, opts: { ttl?: number | null; backendId?: string; otherPort?: number } = {}): RoutingTable {
  const id = opts.backendId ?? 'default/web:80';
  const cacheRoute = (host: string, source: string): Route => ({ match: 'Prefix', path: '/', backend: id, source, cache: { ttlSeconds: opts.ttl ?? null } });
  return {
    hosts: [
      { host: 'cached.test', routes: [cacheRoute('cached.test', 'default/cached')] },
      { host: 'other.test', routes: [cacheRoute('other.test', 'default/other')] },
      { host: 'plain.test', routes: [{ match: 'Prefix', path: '/', backend: id, source: 'default/plain' }] },
    ],
    defaultBackend: null,
    backends: [backendOf(id, port)],
  };
}

let generation = 0;

async function startProxy(routes: RoutingTable, cfg: Partial<WorkerConfig> = {}): Promise<Proxy> {
  const c = { ...config, ...cfg };
  const log = collectingLogger(logLines);
  const stats = new WorkerStats();
  const state = new WorkerState({ config: c, stats });
  expect(state.apply(encodeSnapshot({ version: SNAPSHOT_VERSION, generation: ++generation, table: routes, overrides: NO_OVERRIDES, tls: null })).ok).toBe(true);
  const p = { port: 0, cache: null as unknown as WorkerCache, state, clock: Date.parse('2026-11-26T12:00:00Z') };
  p.cache = new WorkerCache({ maxBytes: c.cacheMaxBytes, maxObjectBytes: c.cacheMaxObjectBytes, lockTimeoutMs: c.cacheLockTimeoutMs, now: () => p.clock });
  const server = createProxyServer({ state, config: c, log, stats, cache: p.cache });
  p.port = (await server.listen()).http;
  cleanups.push(async () => {
    server.close();
    await state.close();
  });
  return p;
}

interface Answer {
  status: number;
  cache: string | undefined;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  body: Buffer;
}

async function send(p: Proxy, host: string, path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  const res = await request(`http://127.0.0.1:${p.port}${path}`, {
    method: (init.method ?? 'GET') as 'GET',
    headers: { host, ...init.headers },
    ...(init.body === undefined ? {} : { body: init.body }),
  });
  const body = Buffer.from(await res.body.arrayBuffer());
  const cache = res.headers['x-cache-status'];
  return { status: res.statusCode, cache: Array.isArray(cache) ? cache.join('|') : cache, headers: res.headers, text: body.toString(), body };
}

const get = (p: Proxy, path: string, headers: Record<string, string> = {}, host = 'cached.test') => send(p, host, path, { headers });

async function setup(cfg: Partial<WorkerConfig> = {}, ttl: number | null = null) {
  const o = await origin();
  const p = await startProxy(table(o.port, { ttl }), cfg);
  return { o, p };
}

/**
 * watchFollowers counts the requests the coalescer parks behind a leader (Coalescer.join), and
 * `parked(n)` resolves once n have been parked: a latch for "every follower is waiting".
 */
function watchFollowers(): { count(): number; parked(n: number): Promise<void> } {
  const join = Coalescer.prototype.join;
  let followers = 0;
  const waiting: { n: number; resolve: () => void }[] = [];
  const spy = vi.spyOn(Coalescer.prototype, 'join').mockImplementation(function (this: Coalescer<unknown>, key: string) {
    const r = join.call(this, key);
    if (!r.leader && r.wait !== null) {
      followers++;
      for (const w of waiting.filter((x) => followers >= x.n)) w.resolve();
    }
    return r;
  });
  cleanups.push(() => spy.mockRestore());
  return {
    count: () => followers,
    parked: (n) => (followers >= n ? Promise.resolve() : new Promise((resolve) => waiting.push({ n, resolve }))),
  };
}

// --- tests ------------------------------------------------------------------------------------

describe('cache: storing and serving', () => {
  it('serves a fresh response from the cache, with Age, once fetched (rows 158, 162)', async () => {
    const { o, p } = await setup();
    o.on('/a', fixed('alpha', { 'cache-control': 'max-age=60', connection: 'x-secret', 'x-secret': 'hop', 'keep-alive': 'timeout=5', etag: '"a1"' }));
    const first = await get(p, '/a');
    expect([first.status, first.cache, first.text, first.headers['x-n']]).toEqual([200, 'MISS', 'alpha', '1']);
    p.clock += 10_000;
    const second = await get(p, '/a');
    expect([second.status, second.cache, second.text, second.headers['x-n']]).toEqual([200, 'HIT', 'alpha', '1']);
    expect(Number(second.headers.age)).toBeGreaterThanOrEqual(10);
    expect(second.headers.etag).toBe('"a1"');
    expect(second.headers['x-secret']).toBeUndefined();
    expect(second.headers['keep-alive']).toBeUndefined();
    expect(second.headers.server).toBe('flusso-test');
    expect(o.count('/a')).toBe(1);
  });

  it('labels nothing on a route without the cache, and never caches it', async () => {
    const { o, p } = await setup();
    o.on('/a', fixed('alpha', { 'cache-control': 'max-age=60' }));
    const a = await get(p, '/a', {}, 'plain.test');
    const b = await get(p, '/a', {}, 'plain.test');
    expect([a.cache, b.cache, b.headers['x-n']]).toEqual([undefined, undefined, '2']);
  });

  it('stores a response without freshness only under the route TTL (rows 157, 158)', async () => {
    const noTtl = await setup();
    noTtl.o.on('/account/x.css', fixed('secret page'));
    await get(noTtl.p, '/account/x.css');
    expect((await get(noTtl.p, '/account/x.css')).cache).toBe('MISS');
    expect(noTtl.o.count('/account/x.css')).toBe(2);

    const withTtl = await setup({}, 30);
    withTtl.o.on('/x', fixed('x'));
    await get(withTtl.p, '/x');
    expect((await get(withTtl.p, '/x')).cache).toBe('HIT');
    withTtl.p.clock += 31_000;
    expect((await get(withTtl.p, '/x')).cache).toBe('EXPIRED');
    expect(withTtl.o.count('/x')).toBe(2);
  });

  it('never stores no-store, private, Set-Cookie or Vary: * responses (rows 147, 148, 149, 150)', async () => {
    const { o, p } = await setup({}, 60);
    o.on('/ns', fixed('ns', { 'cache-control': 'no-store' }));
    o.on('/priv', fixed('priv', { 'cache-control': 'private, max-age=60' }));
    o.on('/cookie', fixed('cookie', { 'cache-control': 'max-age=60', 'set-cookie': 'session=alice' }));
    o.on('/star', fixed('star', { 'cache-control': 'max-age=60', vary: '*' }));
    for (const path of ['/ns', '/priv', '/cookie', '/star']) {
      await get(p, path);
      const again = await get(p, path);
      expect([path, again.cache]).toEqual([path, 'MISS']);
      expect(o.count(path)).toBe(2);
    }
    // The second client got its own response, never alice's cookie from a stored one.
    expect((await get(p, '/cookie')).headers['x-n']).toBe('3');
  });

  it('honours a request no-store and no-cache (rows 148, 158)', async () => {
    const { o, p } = await setup();
    o.on('/a', fixed('alpha', { 'cache-control': 'max-age=60', etag: '"v"' }));
    expect((await get(p, '/a', { 'cache-control': 'no-store' })).cache).toBe('BYPASS');
    expect((await get(p, '/a')).cache).toBe('MISS');
    expect((await get(p, '/a')).cache).toBe('HIT');
    // no-cache: revalidate with the origin first; the origin's 200 replaces the entry.
    expect((await get(p, '/a', { 'cache-control': 'no-cache' })).cache).toBe('EXPIRED');
    expect(o.seen.at(-1)?.headers['if-none-match']).toBe('"v"');
    expect(o.count('/a')).toBe(3);
  });

  it('stores a request with Authorization only when the response allows it (row 146)', async () => {
    const { o, p } = await setup();
    o.on('/plain', fixed('for alice', { 'cache-control': 'max-age=60' }));
    o.on('/public', fixed('for all', { 'cache-control': 'public, max-age=60' }));
    o.on('/shared', fixed('for all', { 'cache-control': 's-maxage=60' }));
    const auth = { authorization: 'Bearer alice' };
    await get(p, '/plain', auth);
    expect((await get(p, '/plain')).cache).toBe('MISS');
    await get(p, '/public', auth);
    expect((await get(p, '/public')).cache).toBe('HIT');
    await get(p, '/shared', auth);
    expect((await get(p, '/shared')).cache).toBe('HIT');
  });

  it('keeps Vary variants apart on normalised values (row 150)', async () => {
    const { o, p } = await setup();
    o.on('/v', (req, res) => {
      res.setHeader('cache-control', 'max-age=60');
      res.setHeader('vary', 'Accept-Encoding');
      res.end(`enc=${req.headers['accept-encoding'] ?? '-'}`);
    });
    expect((await get(p, '/v', { 'accept-encoding': 'gzip, br' })).text).toBe('enc=gzip, br');
    expect((await get(p, '/v', { 'accept-encoding': 'identity' })).text).toBe('enc=identity');
    const again = await get(p, '/v', { 'accept-encoding': 'gzip,   br' });
    expect([again.cache, again.text]).toEqual(['HIT', 'enc=gzip, br']);
    expect((await get(p, '/v')).text).toBe('enc=-');
    expect(o.count('/v')).toBe(3);
  });

  it('never keys on, nor forwards, an untrusted X-Forwarded-Host (row 151)', async () => {
    const { o, p } = await setup();
    o.on('/r', (req, res) => {
      res.setHeader('cache-control', 'max-age=60');
      res.end(`go to https://${String(req.headers['x-forwarded-host'])}/login`);
    });
    const poisoned = await get(p, '/r', { 'x-forwarded-host': 'evil.example' });
    expect(poisoned.text).toBe('go to https://cached.test/login');
    const victim = await get(p, '/r');
    expect([victim.cache, victim.text]).toEqual(['HIT', 'go to https://cached.test/login']);
  });

  it('keys on host without the default port, and on the raw query (rows 152, 153)', async () => {
    const { o, p } = await setup();
    o.on('/k', (req, res) => {
      res.setHeader('cache-control', 'max-age=60');
      res.end(`${String(req.headers.host)} ${req.url ?? ''}`);
    });
    await get(p, '/k?a=1&b=2', {}, 'Cached.Test:80');
    expect((await get(p, '/k?a=1&b=2', {}, 'cached.test')).cache).toBe('HIT');
    expect((await get(p, '/k?b=2&a=1', {}, 'cached.test')).cache).toBe('MISS');
    const other = await get(p, '/k?a=1&b=2', {}, 'other.test');
    expect([other.cache, other.text]).toEqual(['MISS', 'other.test /k?a=1&b=2']);
  });

  it('answers HEAD from a GET entry without a body, and lets POST invalidate (row 154)', async () => {
    const { o, p } = await setup();
    o.on('/h', fixed('0123456789', { 'cache-control': 'max-age=60' }));
    await get(p, '/h');
    const head = await send(p, 'cached.test', '/h', { method: 'HEAD' });
    expect([head.status, head.cache, head.headers['content-length'], head.body.length]).toEqual([200, 'HIT', '10', 0]);
    const post = await send(p, 'cached.test', '/h', { method: 'POST', body: 'x' });
    expect(post.cache).toBe('BYPASS');
    expect((await get(p, '/h')).cache).toBe('MISS');
    expect(o.count('/h')).toBe(3);
    // A failed unsafe request invalidates nothing.
    o.on('/h', fixed('nope', {}, 500));
    await send(p, 'cached.test', '/h', { method: 'DELETE' });
    expect((await get(p, '/h')).cache).toBe('HIT');
  });

  it('a HEAD miss goes upstream as a HEAD, and a background GET fills the entry (as proxy_cache_convert_head)', async () => {
    const { o, p } = await setup();
    o.on('/h', fixed('0123456789', { 'cache-control': 'max-age=60' }));
    const head = await send(p, 'cached.test', '/h', { method: 'HEAD' });
    expect([head.status, head.cache, head.body.length]).toEqual([200, 'MISS', 0]);
    await expect.poll(() => p.cache.store.stats().entries).toBe(1);
    expect(o.seen.map((s) => s.method).sort()).toEqual(['GET', 'HEAD']);
    const again = await send(p, 'cached.test', '/h', { method: 'HEAD' });
    expect([again.cache, again.headers['content-length'], again.body.length]).toEqual(['HIT', '10', 0]);
    const get = await send(p, 'cached.test', '/h');
    expect([get.cache, get.text]).toEqual(['HIT', '0123456789']);
    expect(o.count('/h')).toBe(2);
  });

  it('stores neither errors, partial responses nor GETs with a body; Range bypasses (rows 155, 156)', async () => {
    const { o, p } = await setup({}, 60);
    o.on('/err', fixed('down', { 'cache-control': 'max-age=60' }, 503));
    o.on('/part', fixed('part', { 'cache-control': 'max-age=60', 'content-range': 'bytes 0-3/10' }, 206));
    o.on('/body', fixed('body', { 'cache-control': 'max-age=60' }));
    await get(p, '/err');
    expect((await get(p, '/err')).cache).toBe('MISS');
    await get(p, '/part');
    expect((await get(p, '/part')).cache).toBe('MISS');
    const withBody = await send(p, 'cached.test', '/body', { method: 'GET', body: 'payload' });
    expect(withBody.cache).toBe('BYPASS');
    expect((await get(p, '/body')).cache).toBe('MISS');
    const ranged = await get(p, '/body', { range: 'bytes=0-1' });
    expect(ranged.cache).toBe('BYPASS');
    expect(o.seen.at(-1)?.headers.range).toBe('bytes=0-1');
  });

  it('replays stored fields byte for byte, non-ASCII values and duplicates included', async () => {
    const { o, p } = await setup();
    o.on('/bytes', fixed('b', { 'cache-control': 'max-age=60', 'x-name': 'caf\u00e9', link: ['</a>; rel=preload', '</b>; rel=preload'] }));
    const miss = await get(p, '/bytes');
    const hit = await get(p, '/bytes');
    expect(hit.cache).toBe('HIT');
    expect(hit.headers['x-name']).toBe(miss.headers['x-name']);
    expect(/[^\x00-\x7f]/.test(hit.headers['x-name'] as string)).toBe(true); // the non-ASCII path was taken
    expect(hit.headers.link).toEqual(miss.headers.link);
  });

  it('replaces an upstream X-Cache-Status with its own', async () => {
    const { o, p } = await setup();
    o.on('/x', fixed('x', { 'cache-control': 'max-age=60', 'x-cache-status': 'HIT' }));
    const first = await get(p, '/x');
    expect(first.cache).toBe('MISS');
    expect((await get(p, '/x')).cache).toBe('HIT');
  });
});

describe('cache: validation and stale use', () => {
  it('revalidates a stale entry with its validators; a 304 refreshes it (row 158)', async () => {
    const { o, p } = await setup();
    let n = 0;
    o.on('/e', (req, res) => {
      n++;
      res.setHeader('cache-control', 'max-age=10');
      res.setHeader('etag', '"e1"');
      res.setHeader('x-n', String(n));
      if (req.headers['if-none-match'] === '"e1"') {
        res.statusCode = 304;
        res.end();
        return;
      }
      res.end('entity');
    });
    await get(p, '/e');
    p.clock += 11_000;
    const revalidated = await get(p, '/e');
    expect([revalidated.status, revalidated.cache, revalidated.text, revalidated.headers['x-n']]).toEqual([200, 'REVALIDATED', 'entity', '2']);
    expect(o.seen.at(-1)?.headers['if-none-match']).toBe('"e1"');
    const hit = await get(p, '/e');
    expect([hit.cache, hit.headers['x-n']]).toEqual(['HIT', '2']);
    expect(n).toBe(2);
  });

  it('answers a client whose validators match with 304, and never forwards its conditionals on a fill', async () => {
    const { o, p } = await setup();
    o.on('/c', fixed('entity', { 'cache-control': 'max-age=60', etag: '"c1"', 'last-modified': 'Tue, 24 Nov 2026 10:00:00 GMT' }));
    const miss = await get(p, '/c', { 'if-none-match': '"c1"' });
    expect([miss.status, miss.text]).toEqual([200, 'entity']);
    expect(o.seen.at(-1)?.headers['if-none-match']).toBeUndefined();
    const notModified = await get(p, '/c', { 'if-none-match': 'W/"c1"' });
    expect([notModified.status, notModified.cache, notModified.headers.etag, notModified.body.length]).toEqual([304, 'HIT', '"c1"', 0]);
    const since = await get(p, '/c', { 'if-modified-since': 'Wed, 25 Nov 2026 10:00:00 GMT' });
    expect(since.status).toBe(304);
    const changed = await get(p, '/c', { 'if-none-match': '"other"' });
    expect([changed.status, changed.text]).toEqual([200, 'entity']);
    expect(o.count('/c')).toBe(1);
  });

  it('counts Age and the origin Date, and treats a Date in the future as age 0 (row 158)', async () => {
    const { o, p } = await setup();
    const date = new Date(p.clock).toUTCString();
    o.on('/aged', fixed('aged', { 'cache-control': 'max-age=100', age: '95', date }));
    o.on('/skew', fixed('skew', { 'cache-control': 'max-age=100', date: new Date(p.clock + 3600_000).toUTCString() }));
    await get(p, '/aged');
    p.clock += 6_000;
    expect((await get(p, '/aged')).cache).toBe('EXPIRED');
    await get(p, '/skew');
    p.clock += 6_000;
    const skew = await get(p, '/skew');
    expect([skew.cache, skew.headers.age]).toEqual(['HIT', '6']);
  });

  it('serves stale under stale-while-revalidate and refreshes in the background (RFC 5861)', async () => {
    const { o, p } = await setup();
    let version = 1;
    o.on('/swr', (_req, res) => {
      res.setHeader('cache-control', 'max-age=10, stale-while-revalidate=30');
      res.end(`v${version}`);
    });
    await get(p, '/swr');
    version = 2;
    p.clock += 15_000;
    const stale = await get(p, '/swr');
    expect([stale.cache, stale.text]).toEqual(['STALE', 'v1']);
    await expect.poll(() => o.count('/swr')).toBe(2);
    await expect.poll(async () => (await get(p, '/swr')).text).toBe('v2');
    expect((await get(p, '/swr')).cache).toBe('HIT');
    p.clock += 100_000;
    expect((await get(p, '/swr')).cache).toBe('EXPIRED');
  });

  it('answers with the stale entry when the origin fails, within stale-if-error (RFC 5861)', async () => {
    const { o, p } = await setup();
    let fail = false;
    o.on('/sie', (_req, res) => {
      res.setHeader('cache-control', 'max-age=10, stale-if-error=60');
      if (fail) {
        res.statusCode = 502;
        res.end('broken');
      } else res.end('good');
    });
    await get(p, '/sie');
    fail = true;
    p.clock += 20_000;
    const stale = await get(p, '/sie');
    expect([stale.status, stale.cache, stale.text]).toEqual([200, 'STALE', 'good']);
    p.clock += 60_000;
    const tooOld = await get(p, '/sie');
    expect([tooOld.status, tooOld.cache]).toEqual([502, 'EXPIRED']);
  });

  it('answers with the stale entry when no endpoint answers, within stale-if-error', async () => {
    const o = await origin();
    o.on('/sie', fixed('good', { 'cache-control': 'max-age=10, stale-if-error=60' }));
    const p = await startProxy(table(o.port));
    await get(p, '/sie');
    // Route the same backend to a port nothing listens on.
    const dead = await origin();
    const deadPort = dead.port;
    await cleanups.splice(cleanups.length - 1, 1)[0]?.();
    expect(p.state.apply(encodeSnapshot({ version: SNAPSHOT_VERSION, generation: ++generation, table: table(deadPort), overrides: NO_OVERRIDES, tls: null })).ok).toBe(true);
    p.clock += 20_000;
    const stale = await get(p, '/sie');
    expect([stale.status, stale.cache, stale.text]).toEqual([200, 'STALE', 'good']);
    p.clock += 60_000;
    const gone = await get(p, '/sie');
    expect([gone.status, gone.cache]).toEqual([502, 'EXPIRED']);
  });
});

describe('cache: bounds, coalescing, moves and purges', () => {
  it('coalesces concurrent misses into one upstream fetch (rows 160; issue 6 §4)', async () => {
    const { o, p } = await setup();
    const followers = watchFollowers();
    // The leader's answer waits until the 49 others are parked behind it (a latch, not a delay).
    o.on('/slow', (_req, res) => {
      res.setHeader('cache-control', 'max-age=60');
      void followers.parked(49).then(() => res.end('slow body'));
    });
    const answers = await Promise.all(Array.from({ length: 50 }, () => get(p, '/slow')));
    expect(followers.count()).toBe(49);
    expect(answers.every((a) => a.status === 200 && a.text === 'slow body')).toBe(true);
    expect(o.count('/slow')).toBe(1);
    const labels = answers.map((a) => a.cache);
    expect(labels.filter((l) => l === 'MISS')).toHaveLength(1);
    expect(labels.filter((l) => l === 'HIT')).toHaveLength(49);
  });

  it('lets a waiter go upstream itself after the lock timeout', async () => {
    const { o, p } = await setup({ cacheLockTimeoutMs: 50 });
    const followers = watchFollowers();
    // Nothing is answered until all three requests reached the origin: the two followers only
    // get there by giving up on the leader at the lock timeout.
    const held: http.ServerResponse[] = [];
    o.on('/stuck', (_req, res) => {
      res.setHeader('cache-control', 'max-age=60');
      held.push(res);
      if (held.length === 3) for (const r of held) r.end('late');
    });
    const answers = await Promise.all(Array.from({ length: 3 }, () => get(p, '/stuck')));
    expect(answers.map((a) => a.text)).toEqual(['late', 'late', 'late']);
    expect(o.count('/stuck')).toBe(3);
    expect(followers.count()).toBe(2);
  });

  it('waiters go upstream themselves when the leader got nothing storable', async () => {
    const { o, p } = await setup();
    const followers = watchFollowers();
    // The leader's answer waits until the four others are parked behind it; theirs go at once.
    let first = true;
    o.on('/private', (_req, res) => {
      res.setHeader('cache-control', 'private');
      if (!first) return void res.end('mine');
      first = false;
      void followers.parked(4).then(() => res.end('mine'));
    });
    const answers = await Promise.all(Array.from({ length: 5 }, () => get(p, '/private')));
    expect(followers.count()).toBe(4);
    expect(answers.map((a) => a.text)).toEqual(['mine', 'mine', 'mine', 'mine', 'mine']);
    expect(o.count('/private')).toBe(5);
  });

  it('keeps the store under --cache-max-bytes and streams larger objects through (rows 159; issue 6 §3)', async () => {
    const { o, p } = await setup({ cacheMaxBytes: 64 * 1024, cacheMaxObjectBytes: 16 * 1024 });
    const body = 'x'.repeat(4096);
    o.on('/obj', fixed(body, { 'cache-control': 'max-age=60' }));
    const big = Buffer.alloc(100 * 1024, 7).toString();
    o.on('/big', fixed(big, { 'cache-control': 'max-age=60' }));
    for (let i = 0; i < 40; i++) await get(p, `/obj?i=${i}`);
    const s = p.cache.store.stats();
    expect(s.bytes).toBeLessThanOrEqual(64 * 1024);
    expect(s.evictions).toBeGreaterThan(0);
    expect((await get(p, '/obj?i=39')).cache).toBe('HIT');
    expect((await get(p, '/obj?i=0')).cache).toBe('MISS');
    const first = await get(p, '/big');
    const second = await get(p, '/big');
    expect([first.cache, second.cache, second.body.length]).toEqual(['MISS', 'MISS', 100 * 1024]);
    expect(second.text).toBe(big);
  });

  it('drops what a route cached once the route moves to another backend (row 161)', async () => {
    const a = await origin();
    const b = await origin();
    a.on('/m', fixed('from a', { 'cache-control': 'max-age=600' }));
    b.on('/m', fixed('from b', { 'cache-control': 'max-age=600' }));
    const p = await startProxy(table(a.port));
    await get(p, '/m');
    expect((await get(p, '/m')).text).toBe('from a');
    expect(p.state.apply(encodeSnapshot({ version: SNAPSHOT_VERSION, generation: ++generation, table: table(b.port, { backendId: 'default/web-v2:80' }), overrides: NO_OVERRIDES, tls: null })).ok).toBe(true);
    const moved = await get(p, '/m');
    expect([moved.cache, moved.text]).toEqual(['MISS', 'from b']);
  });

  it('purges by host, path prefix and Ingress', async () => {
    const { o, p } = await setup();
    o.on('/p/1', fixed('1', { 'cache-control': 'max-age=60' }));
    o.on('/q/2', fixed('2', { 'cache-control': 'max-age=60' }));
    const fill = async () => {
      for (const host of ['cached.test', 'other.test']) for (const path of ['/p/1', '/q/2']) await get(p, path, {}, host);
    };
    await fill();
    expect(p.cache.store.stats().entries).toBe(4);
    expect(p.cache.purge({ host: 'Other.Test:8080' })).toBe(2);
    expect(p.cache.purge({ pathPrefix: '/p/' })).toBe(1);
    expect(p.cache.purge({ ingress: 'default/cached' })).toBe(1);
    expect((await get(p, '/q/2')).cache).toBe('MISS');
    await fill();
    expect(p.cache.purge({})).toBe(4);
  });

  it('flushes per-Ingress figures for the metrics', async () => {
    const { o, p } = await setup();
    o.on('/f', fixed('f', { 'cache-control': 'max-age=60' }));
    await get(p, '/f');
    await get(p, '/f');
    await send(p, 'cached.test', '/f', { method: 'POST', body: 'x' });
    const d = p.cache.flush();
    const route = d?.routes.find((r) => r.ingress === 'default/cached');
    // CACHE_STATUSES order: HIT, MISS, EXPIRED, STALE, REVALIDATED, BYPASS.
    expect(route?.responses).toEqual([1, 1, 0, 0, 0, 1]);
    expect([d?.maxBytes, route?.entries]).toEqual([config.cacheMaxBytes, 0]);
    expect(p.cache.flush()?.routes).toEqual([]);
  });
});

// Issue 16 item 7: a HIT sent the stored field names lower-case while a MISS forwarded the
// origin's own case. The rule now: field names go out as the origin wrote them, HIT or MISS.
describe('cache: field names through the CLI', () => {
  /** ORIGIN_HEAD is the origin's answer, byte for byte: names in mixed, upper and lower case. */
  const ORIGIN_HEAD = [
    'HTTP/1.1 200 OK',
    'Cache-Control: max-age=600',
    'X-MiXeD-Case: 1',
    'content-TYPE: text/plain',
    'ETag: "v1"',
    'x-lower: 2',
    'X-UPPER: 3',
    'Content-Length: 5',
  ].join('\r\n');
  const ORIGIN_NAMES = ['Cache-Control', 'X-MiXeD-Case', 'content-TYPE', 'ETag', 'x-lower', 'X-UPPER'];
  /** Fields whose value differs per answer, or that only a cached answer has. */
  const PER_ANSWER = new Set(['date', 'age', 'x-cache-status']);

  /** fieldsOf splits a raw response into its status and its field names as sent, in order. */
  const fieldsOf = (raw: string): { status: string; names: string[]; cache: string | undefined } => {
    const head = raw.slice(0, raw.indexOf('\r\n\r\n')).split('\r\n');
    const fields = head.slice(1).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()] as const);
    return { status: head[0] as string, names: fields.map(([n]) => n), cache: fields.find(([n]) => n.toLowerCase() === 'x-cache-status')?.[1] };
  };
  const stable = (names: readonly string[]): string[] => names.filter((n) => !PER_ANSWER.has(n.toLowerCase())).sort();

  it('a HIT and a 304 from the cache send the field names in the case the MISS forwarded them: the origin\'s', async () => {
    let fetches = 0;
    const upstream = await startRawUpstream((socket) => {
      let pending = '';
      socket.on('data', (chunk: Buffer) => {
        pending += chunk.toString('latin1');
        for (let end = pending.indexOf('\r\n\r\n'); end >= 0; end = pending.indexOf('\r\n\r\n')) {
          pending = pending.slice(end + 4);
          fetches++;
          socket.write(`${ORIGIN_HEAD}\r\n\r\nhello`);
        }
      });
    });
    cleanups.push(() => upstream.close());
    const dir = await manifestDir();
    const ing = ingress('default', 'names', { host: 'names.test', paths: [{ path: '/', service: 'origin', port: 'http' }] });
    await dir.write('00-class.yaml', [ingressClass('flusso')]);
    await dir.write('10-names.yaml', [
      { ...ing, metadata: { name: 'names', namespace: 'default', annotations: { 'flusso.dev/cache': 'true' } } },
      service('default', 'origin', [{ name: 'http', port: 80, targetPort: upstream.port }]),
      endpointSlice('default', 'origin', ['127.0.0.1'], upstream.port, { portName: 'http' }),
    ]);
    // One worker: each worker has its own cache, and the second request must find the first's entry.
    const flusso = await startFlusso({ manifestsDir: dir.dir, workers: 1 });
    cleanups.push(async () => void (await flusso.stop()));
    const ask = async (extra = ''): Promise<ReturnType<typeof fieldsOf>> => {
      const r = await rawRequest(flusso.httpPort, `GET /page HTTP/1.1\r\nHost: names.test\r\n${extra}Connection: close\r\n\r\n`);
      expect(r.closed, r.raw).toBe(true);
      return fieldsOf(r.raw);
    };

    const miss = await ask();
    const hit = await ask();
    const notModified = await ask('If-None-Match: "v1"\r\n');
    expect([miss.status, miss.cache, hit.status, hit.cache, notModified.status, notModified.cache]).toEqual(['HTTP/1.1 200 OK', 'MISS', 'HTTP/1.1 200 OK', 'HIT', 'HTTP/1.1 304 Not Modified', 'HIT']);
    expect(fetches).toBe(1);
    // Every origin name arrives exactly as written on the MISS, and the HIT sends the very same names.
    for (const name of ORIGIN_NAMES) expect(miss.names, miss.names.join(', ')).toContain(name);
    expect(stable(hit.names)).toEqual(stable(miss.names));
    // A 304 carries the validators and freshness fields (RFC 9110 §15.4.5), in the origin's case too.
    expect(notModified.names).toEqual(expect.arrayContaining(['Cache-Control', 'ETag']));
    expect(notModified.names.filter((n) => ['cache-control', 'etag'].includes(n.toLowerCase())).sort()).toEqual(['Cache-Control', 'ETag']);
  });
});
