/**
 * RFC 9111 decisions for Flusso's shared, per-worker response cache: whether a request may use
 * the cache, whether a response may be stored, and how a stored response may be reused. Pure:
 * the caller passes `now` (epoch ms) from its injected clock. Freshness arithmetic lives in
 * freshness.ts and validators in validators.ts; both are re-exported here as one API.
 */
import { parseCacheControl, type CacheDirectives } from './directives.js';
import { currentAge, entryLifetime, freshnessLifetime, hasExplicitFreshness, isFresh, withinStaleWhileRevalidate, type CachedResponse } from './freshness.js';
import { headerValue, splitList, type HeaderSource } from './headers.js';
import { hasValidator } from './validators.js';

export { parseCacheControl, type CacheDirectives } from './directives.js';
export {
  currentAge, freshnessLifetime, hasExplicitFreshness, isFresh, mayServeStale, retentionSeconds, stalenessSeconds,
  withinStaleIfError, withinStaleWhileRevalidate, type CachedResponse,
} from './freshness.js';
export { clientConditionalMatch, conditionalHeaders, hasValidator, refreshFrom304 } from './validators.js';

/**
 * CacheStatus is the X-Cache-Status value of a cached route's response: HIT (fresh entry),
 * MISS (no entry), EXPIRED (stale entry replaced by a full upstream response), STALE (stale entry
 * served under stale-while-revalidate or stale-if-error), REVALIDATED (stale entry confirmed by a
 * 304), BYPASS (the request or route does not use the cache).
 */
export type CacheStatus = 'HIT' | 'MISS' | 'EXPIRED' | 'STALE' | 'REVALIDATED' | 'BYPASS';

/** CacheRequest is the request view the policy needs: the method exactly as received, and the headers. */
export interface CacheRequest {
  /** Case-sensitive (docs/bad-input.md row 39: a lowercase `get` is never GET). */
  readonly method: string;
  readonly headers: HeaderSource;
}

/** CacheResponse is the upstream response view the policy needs. */
export interface CacheResponse {
  readonly status: number;
  readonly headers: HeaderSource;
}

/** StorabilityOptions are the route's cache settings. */
export interface StorabilityOptions {
  /** The route's `flusso.dev/cache-ttl`, for responses without explicit freshness; null stores only explicit ones. */
  readonly defaultTtlSeconds: number | null;
  /** Store 5xx responses (with freshness) too; off by default. */
  readonly storeErrors?: boolean;
}

/** Storability is a storage verdict; `reason` is a short constant for logs and tests (`ok` when stored). */
export interface Storability {
  readonly store: boolean;
  readonly reason: string;
}

/** HEURISTIC_STATUSES are the statuses cacheable by default (RFC 9110 §15.1, RFC 9111 §4.2.2). */
export const HEURISTIC_STATUSES: ReadonlySet<number> = new Set([200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501]);

/** hasRequestBody reports whether the request frames a body: Content-Length > 0 (or unparsable) or any Transfer-Encoding. */
function hasRequestBody(headers: HeaderSource): boolean {
  if (headerValue(headers, 'transfer-encoding') !== undefined) return true;
  const cl = headerValue(headers, 'content-length');
  if (cl === undefined) return false;
  const t = cl.trim();
  return !/^\d+$/.test(t) || Number(t) > 0;
}

/**
 * isRequestCacheable reports whether a request may be answered from, or fill, the cache: GET or
 * HEAD (case-sensitive), no request `no-store`, and no body (docs/bad-input.md rows 154, 148, 156).
 */
export function isRequestCacheable(req: CacheRequest): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  if (hasRequestBody(req.headers)) return false;
  return !parseCacheControl(headerValue(req.headers, 'cache-control')).noStore;
}

/**
 * isUnsafeInvalidation reports whether a response to this request must invalidate the stored
 * entries of its target URI (RFC 9111 §4.4; docs/bad-input.md row 154): an unsafe method (anything but
 * GET, HEAD, OPTIONS, TRACE) answered with a 2xx or 3xx. Location/Content-Location targets are
 * left alone: they may point at another origin's entries.
 */
export function isUnsafeInvalidation(method: string, status: number): boolean {
  const safe = method === 'GET' || method === 'HEAD' || method === 'OPTIONS' || method === 'TRACE';
  return !safe && status >= 200 && status < 400;
}

/**
 * storability decides whether a response may be stored by a shared cache (RFC 9111 §3, §3.5).
 * Conservative on purpose: nothing is stored on heuristics or file extensions (docs/bad-input.md row 157);
 * a response needs explicit freshness or the route's default TTL. Only responses to GET are stored
 * (a HEAD is answered from the GET entry). Each refusal names its rule in `reason`.
 */
export function storability(req: CacheRequest, res: CacheResponse, opts: StorabilityOptions): Storability {
  if (req.method !== 'GET') return { store: false, reason: 'method' };
  if (hasRequestBody(req.headers)) return { store: false, reason: 'request-body' };
  const reqCc = parseCacheControl(headerValue(req.headers, 'cache-control'));
  if (reqCc.noStore) return { store: false, reason: 'request-no-store' };
  const cc = parseCacheControl(headerValue(res.headers, 'cache-control'));
  if (cc.noStore) return { store: false, reason: 'no-store' };
  if (cc.private) return { store: false, reason: 'private' };
  if (res.status === 206 || headerValue(res.headers, 'content-range') !== undefined) return { store: false, reason: 'partial' };
  if (res.status >= 500 && opts.storeErrors !== true) return { store: false, reason: 'error-status' };
  if (res.status < 200 || res.status === 304 || res.status > 599) return { store: false, reason: 'status' };
  if (headerValue(res.headers, 'set-cookie') !== undefined) return { store: false, reason: 'set-cookie' };
  const vary = headerValue(res.headers, 'vary');
  if (vary !== undefined && splitList(vary).some((v) => v === '*')) return { store: false, reason: 'vary-star' };
  if (headerValue(req.headers, 'authorization') !== undefined && !cc.public && cc.sMaxAge === undefined && !cc.mustRevalidate) {
    return { store: false, reason: 'authorization' };
  }
  const explicit = hasExplicitFreshness(res.headers);
  // Statuses outside the heuristic set (302, 307, 403, ...) may be stored only on the origin's explicit say-so.
  if (!HEURISTIC_STATUSES.has(res.status) && !explicit && !(res.status >= 500 && opts.storeErrors === true)) {
    return { store: false, reason: 'status' };
  }
  if (!explicit && opts.defaultTtlSeconds === null) return { store: false, reason: 'no-freshness' };
  // A response that is born stale and cannot be revalidated or served stale is dead weight. An
  // Expires without Date is measured from the arrival time, which only the caller knows: keep it.
  const undated = cc.sMaxAge === undefined && cc.maxAge === undefined && headerValue(res.headers, 'expires') !== undefined && headerValue(res.headers, 'date') === undefined;
  const lifetime = undated ? 1 : freshnessLifetime(res, opts.defaultTtlSeconds);
  const entryLike: CachedResponse = { status: res.status, headers: res.headers, storedAt: 0, requestTime: 0, defaultTtlSeconds: opts.defaultTtlSeconds };
  if (lifetime <= 0 && !hasValidator(entryLike) && cc.staleIfError === undefined && cc.staleWhileRevalidate === undefined) {
    return { store: false, reason: 'zero-lifetime' };
  }
  return { store: true, reason: 'ok' };
}

/**
 * ReuseDecision says how to use a stored entry: `hit` serve it (HIT); `stale` serve it now and
 * revalidate in the background (STALE); `revalidate` send conditionalHeaders upstream (304 →
 * REVALIDATED, 200 → EXPIRED); `fetch` a stale entry without validators, fetch in full (EXPIRED).
 * On an upstream error after `revalidate`/`fetch`, withinStaleIfError decides whether the entry
 * answers instead (STALE).
 */
export type ReuseDecision = 'hit' | 'stale' | 'revalidate' | 'fetch';

/**
 * reuseDecision chooses how to answer a request from an entry (RFC 9111 §4, §4.2.4, RFC 5861).
 * A response no-cache, a request no-cache or `max-age=0` (Pragma: no-cache without Cache-Control,
 * §5.4) and a request max-age/min-fresh the entry does not meet all force validation.
 */
export function reuseDecision(entry: CachedResponse, reqHeaders: HeaderSource, nowMs: number): ReuseDecision {
  const cc = entryDirectives(entry);
  const reqCcRaw = headerValue(reqHeaders, 'cache-control');
  const pragmaRaw = reqCcRaw === undefined ? headerValue(reqHeaders, 'pragma') : undefined;
  // The common case: a request with no cache directives of its own and a fresh entry.
  if (reqCcRaw === undefined && pragmaRaw === undefined && !cc.noCache && isFresh(entry, nowMs)) return 'hit';
  const reqCc = parseCacheControl(reqCcRaw);
  const pragmaNoCache = /(^|,)\s*no-cache\s*(,|$)/i.test(pragmaRaw ?? '');
  const age = currentAge(entry, nowMs);
  const lifetime = entryLifetime(entry);
  const clientWantsFresher =
    reqCc.noCache || pragmaNoCache ||
    (reqCc.maxAge !== undefined && age > reqCc.maxAge) ||
    (reqCc.minFresh !== undefined && lifetime - age < reqCc.minFresh);
  if (!cc.noCache && !clientWantsFresher && isFresh(entry, nowMs)) return 'hit';
  if (!clientWantsFresher && withinStaleWhileRevalidate(entry, nowMs)) return 'stale';
  return hasValidator(entry) ? 'revalidate' : 'fetch';
}

const directives = new WeakMap<CachedResponse, CacheDirectives>();

/** entryDirectives is the entry's parsed Cache-Control, memoised per (immutable) entry object. */
function entryDirectives(entry: CachedResponse): CacheDirectives {
  let d = directives.get(entry);
  if (d === undefined) directives.set(entry, (d = parseCacheControl(headerValue(entry.headers, 'cache-control'))));
  return d;
}
