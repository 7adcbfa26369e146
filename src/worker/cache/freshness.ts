/**
 * Freshness and age arithmetic for stored responses (RFC 9111 §4.2) and the stale windows of
 * RFC 5861. Times are epoch milliseconds from the caller's injected clock; lifetimes and ages are
 * whole seconds, as the Age header carries them.
 */
import { parseCacheControl } from './directives.js';
import { headerValue, parseHttpDate, type HeaderSource } from './headers.js';

/** CachedResponse is what the freshness and validation rules need of a stored response. */
export interface CachedResponse {
  readonly status: number;
  /** Stored header fields as `[name, value]` pairs (names lower case, hop-by-hop stripped). */
  readonly headers: HeaderSource;
  /** storedAt is response_time (§4.2.3): when the response (or the refreshing 304) arrived, epoch ms. */
  readonly storedAt: number;
  /** requestTime is request_time (§4.2.3): when the request that produced it was sent, epoch ms. */
  readonly requestTime: number;
  /** defaultTtlSeconds is the route's TTL at storage time, used only without explicit freshness. */
  readonly defaultTtlSeconds: number | null;
}

/**
 * freshnessLifetime returns the response's freshness lifetime in seconds (§4.2.1): s-maxage, then
 * max-age, then Expires − Date (Date absent: storedAt; an invalid Expires means already expired),
 * then the route's default TTL, else 0. The shared-cache order puts s-maxage first.
 */
export function freshnessLifetime(res: { readonly headers: HeaderSource; readonly storedAt?: number }, defaultTtlSeconds: number | null): number {
  const cc = parseCacheControl(headerValue(res.headers, 'cache-control'));
  if (cc.sMaxAge !== undefined) return cc.sMaxAge;
  if (cc.maxAge !== undefined) return cc.maxAge;
  const expiresRaw = headerValue(res.headers, 'expires');
  if (expiresRaw !== undefined) {
    const expires = parseHttpDate(expiresRaw);
    if (expires === null) return 0;
    const date = parseHttpDate(headerValue(res.headers, 'date')) ?? res.storedAt ?? null;
    if (date === null) return 0;
    // Expires − Date uses the origin's own clock on both sides, so skew between us and it cancels out.
    return Math.max(0, Math.floor((expires - date) / 1000));
  }
  return defaultTtlSeconds ?? 0;
}

/** hasExplicitFreshness reports whether the response carries s-maxage, max-age or Expires. */
export function hasExplicitFreshness(headers: HeaderSource): boolean {
  const cc = parseCacheControl(headerValue(headers, 'cache-control'));
  return cc.sMaxAge !== undefined || cc.maxAge !== undefined || headerValue(headers, 'expires') !== undefined;
}

/**
 * currentAge returns the entry's current age in whole seconds (§4.2.3): the corrected initial
 * age (the larger of the apparent age from Date and the Age header plus the response delay) plus
 * the time it has been resident here. A Date in the future (clock skew) gives an apparent age of 0,
 * never a negative one.
 */
export function currentAge(entry: CachedResponse, nowMs: number): number {
  const residentTime = Math.max(0, (nowMs - entry.storedAt) / 1000);
  return Math.floor(correctedInitialAge(entry) + residentTime);
}

/**
 * Per-entry memos: a stored entry is immutable (a 304 makes a new one), so what its headers say
 * is computed once, not on every hit (parsing the Date alone cost ~10% of a hit's CPU).
 */
const initialAges = new WeakMap<CachedResponse, number>();
const lifetimes = new WeakMap<CachedResponse, number>();

/** entryLifetime is freshnessLifetime(entry, entry.defaultTtlSeconds), memoised per entry object. */
export function entryLifetime(entry: CachedResponse): number {
  let l = lifetimes.get(entry);
  if (l === undefined) lifetimes.set(entry, (l = freshnessLifetime(entry, entry.defaultTtlSeconds)));
  return l;
}

/** correctedInitialAge is §4.2.3's corrected_initial_age in seconds, memoised per entry object. */
function correctedInitialAge(entry: CachedResponse): number {
  const memo = initialAges.get(entry);
  if (memo !== undefined) return memo;
  const ageRaw = headerValue(entry.headers, 'age');
  const first = ageRaw === undefined ? undefined : ageRaw.split(',')[0]?.trim();
  const ageValue = first !== undefined && /^\d+$/.test(first) ? Number(first) : 0;
  const date = parseHttpDate(headerValue(entry.headers, 'date')) ?? entry.storedAt;
  const apparentAge = Math.max(0, (entry.storedAt - date) / 1000);
  const responseDelay = Math.max(0, (entry.storedAt - entry.requestTime) / 1000);
  const corrected = Math.max(apparentAge, ageValue + responseDelay);
  initialAges.set(entry, corrected);
  return corrected;
}

/** isFresh reports whether the entry's freshness lifetime exceeds its current age (§4.2). */
export function isFresh(entry: CachedResponse, nowMs: number): boolean {
  return entryLifetime(entry) > currentAge(entry, nowMs);
}

/** stalenessSeconds returns how far past its freshness lifetime the entry is (0 while fresh). */
export function stalenessSeconds(entry: CachedResponse, nowMs: number): number {
  return Math.max(0, currentAge(entry, nowMs) - entryLifetime(entry));
}

/**
 * mayServeStale reports whether any stale use is allowed at all. must-revalidate,
 * proxy-revalidate and a response no-cache forbid it (§4.2.4). s-maxage implies proxy-revalidate
 * for a shared cache (§5.2.2.10), but an explicit stale-while-revalidate or stale-if-error next to
 * it is the origin's more specific permission (the common CDN idiom), so we honour the window.
 */
export function mayServeStale(entry: CachedResponse): boolean {
  const cc = parseCacheControl(headerValue(entry.headers, 'cache-control'));
  return !cc.mustRevalidate && !cc.proxyRevalidate && !cc.noCache;
}

/**
 * withinStaleWhileRevalidate reports whether a stale entry may be served while one background
 * revalidation runs (RFC 5861 §3): stale by no more than its stale-while-revalidate seconds.
 */
export function withinStaleWhileRevalidate(entry: CachedResponse, nowMs: number): boolean {
  const swr = parseCacheControl(headerValue(entry.headers, 'cache-control')).staleWhileRevalidate;
  if (swr === undefined || !mayServeStale(entry) || isFresh(entry, nowMs)) return false;
  return stalenessSeconds(entry, nowMs) <= swr;
}

/**
 * withinStaleIfError reports whether a stale entry may answer instead of an upstream error
 * (5xx or no connection) (RFC 5861 §4): stale by no more than its stale-if-error seconds.
 */
export function withinStaleIfError(entry: CachedResponse, nowMs: number): boolean {
  const sie = parseCacheControl(headerValue(entry.headers, 'cache-control')).staleIfError;
  if (sie === undefined || !mayServeStale(entry)) return false;
  return stalenessSeconds(entry, nowMs) <= sie;
}

/**
 * retentionSeconds returns how long after storage-relative freshness the entry is still worth
 * keeping: its lifetime plus the larger stale window (0 when stale use is forbidden). The store's
 * sweep drops entries whose age exceeds it.
 */
export function retentionSeconds(entry: CachedResponse): number {
  const lifetime = freshnessLifetime(entry, entry.defaultTtlSeconds);
  if (!mayServeStale(entry)) return lifetime;
  const cc = parseCacheControl(headerValue(entry.headers, 'cache-control'));
  return lifetime + Math.max(cc.staleWhileRevalidate ?? 0, cc.staleIfError ?? 0);
}
