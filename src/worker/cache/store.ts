/**
 * ResponseCache: the per-worker, in-memory, byte-bounded store (the original design's Cache; docs/architecture.md).
 * Pure bookkeeping: no timers and no clock of its own; the worker passes `now` to sweepExpired and
 * calls it periodically (the original design's `clean_expired`; docs/architecture.md).
 */
import { IngressError } from '../../shared/errors.js';
import { currentAge, retentionSeconds, type CachedResponse } from './freshness.js';
import { headerValue, type HeaderPairs, type HeaderSource } from './headers.js';
import { stripHopByHop } from './hop-by-hop.js';
import { varyKey } from './key.js';

/** CacheEntryInput is what the caller hands to ResponseCache.set. */
export interface CacheEntryInput {
  /** The primary key (key.ts primaryKey). */
  readonly key: string;
  /** The normalised host of the key, for purge by host. */
  readonly host: string;
  /** The forwarded path of the key, for purge by path prefix. */
  readonly path: string;
  /** The route (Ingress `namespace/name`) that produced it, for purge by Ingress; null when none. */
  readonly route: string | null;
  /** The backend (Service port) that produced it: an entry is used only while its route still points there. */
  readonly backend?: string;
  /** The request's headers, from which the entry's Vary key is computed. */
  readonly requestHeaders: HeaderSource;
  readonly status: number;
  /** The upstream response's fields; hop-by-hop ones are stripped on the way in. */
  readonly headers: HeaderPairs;
  readonly body: Buffer;
  /** response_time, epoch ms. */
  readonly storedAt: number;
  /** request_time, epoch ms. */
  readonly requestTime: number;
  readonly defaultTtlSeconds: number | null;
}

/** CacheEntry is a stored response. Treat it as immutable; replace it through set. */
export interface CacheEntry extends CachedResponse {
  readonly key: string;
  readonly varyKey: string;
  /** The stored Vary field (combined), undefined without one. */
  readonly vary: string | undefined;
  readonly host: string;
  readonly path: string;
  readonly route: string | null;
  readonly backend: string | null;
  readonly headers: HeaderPairs;
  readonly body: Buffer;
  /** Accounted bytes: body, header names and values, keys and a fixed per-entry overhead. */
  readonly size: number;
}

/** PurgeSelector selects entries to purge; given fields must all match, and `{}` selects every entry. */
export interface PurgeSelector {
  readonly host?: string;
  readonly pathPrefix?: string;
  readonly route?: string;
}

/** CacheStats are the store's counters since creation (gauges `entries` and `bytes` are current). */
export interface CacheStats {
  readonly entries: number;
  readonly bytes: number;
  /** get calls that found a variant (fresh or not). */
  readonly hits: number;
  /** get calls that found none. */
  readonly misses: number;
  /** Entries dropped to stay under maxBytes or maxVariantsPerKey. */
  readonly evictions: number;
  /** Entries dropped by purge or delete. */
  readonly purged: number;
  /** Entries dropped by sweepExpired. */
  readonly expired: number;
}

/** RouteUsage is what the store holds for one route (Ingress), and what it evicted of it. */
export interface RouteUsage {
  entries: number;
  bytes: number;
  /** Entries of this route evicted by the bound since the counter was last taken (takeEvictions). */
  evictions: number;
}

/** ResponseCacheOptions bound a ResponseCache. */
export interface ResponseCacheOptions {
  /** `--cache-max-bytes`: the worker's bound on accounted bytes. */
  readonly maxBytes: number;
  /** `--cache-max-object-bytes`: larger entries are refused (the caller streams them through). */
  readonly maxObjectBytes: number;
  /** Variants kept per primary key (a `Vary: User-Agent` origin would otherwise fill the cache with one URL); default 16. */
  readonly maxVariantsPerKey?: number;
}

/**
 * ENTRY_OVERHEAD_BYTES is the fixed heap cost of one entry beyond its bytes: the entry object,
 * the Buffer and ArrayBuffer objects and the body's malloc'd backing store, two Map slots, the
 * variants and header arrays, and the per-entry memos of the policy. PER_HEADER_BYTES is one
 * stored field's pair array and string headers. Both were measured on Node 20 (forced GC,
 * heapUsed + external, 20,000 entries of 100 B and 1 KiB with four stored fields: 1,284 B a
 * entry beyond the body) and rounded up, so the bound holds for what is really live. Keys are
 * counted twice (the LRU id and the entry both hold them), which overstates the usual case.
 */
export const ENTRY_OVERHEAD_BYTES = 896;
const PER_HEADER_BYTES = 96;

/**
 * ResponseCache stores responses under a primary key with several Vary variants each, evicts the
 * least recently used entry (across all keys) to stay within maxBytes, and refuses objects over
 * maxObjectBytes. get honours Vary: a variant is returned only when the request's values of the
 * fields that variant's Vary names match the ones it was stored with.
 */
export class ResponseCache {
  readonly #maxBytes: number;
  readonly #maxObjectBytes: number;
  readonly #maxVariants: number;
  /** Every entry by `key + '\0' + varyKey`, in least-recently-used-first order (Map order). */
  readonly #lru = new Map<string, CacheEntry>();
  /** Entries by primary key: the variants. */
  readonly #byKey = new Map<string, CacheEntry[]>();
  /** Usage per route (entries with a null route are counted under ''). */
  readonly #routes = new Map<string, RouteUsage>();
  #bytes = 0;
  #hits = 0;
  #misses = 0;
  #evictions = 0;
  #purged = 0;
  #expired = 0;

  constructor(opts: ResponseCacheOptions) {
    const bad: string[] = [];
    if (!Number.isSafeInteger(opts.maxBytes) || opts.maxBytes <= 0) bad.push('maxBytes');
    if (!Number.isSafeInteger(opts.maxObjectBytes) || opts.maxObjectBytes <= 0 || opts.maxObjectBytes > opts.maxBytes) bad.push('maxObjectBytes');
    const variants = opts.maxVariantsPerKey ?? 16;
    if (!Number.isSafeInteger(variants) || variants <= 0) bad.push('maxVariantsPerKey');
    if (bad.length > 0) throw new IngressError('ING_ERR_CONFIG_INVALID', `invalid response cache options: ${bad.join(', ')}`);
    this.#maxBytes = opts.maxBytes;
    this.#maxObjectBytes = opts.maxObjectBytes;
    this.#maxVariants = variants;
  }

  /**
   * get returns the variant of `primary` that matches the request's Vary fields and marks it
   * recently used, or null. It does not judge freshness: policy.reuseDecision does.
   */
  get(primary: string, reqHeaders: HeaderSource): CacheEntry | null {
    const variants = this.#byKey.get(primary);
    if (variants !== undefined) {
      for (const e of variants) {
        if (e.vary === undefined || varyKey(e.vary, reqHeaders) === e.varyKey) {
          const id = idOf(e);
          if (this.#lru.size > 1) {
            this.#lru.delete(id);
            this.#lru.set(id, e);
          }
          this.#hits++;
          return e;
        }
      }
    }
    this.#misses++;
    return null;
  }

  /**
   * set stores (or replaces) the variant and returns it, evicting least recently used entries
   * until the bound holds; it returns null, storing nothing, when the entry exceeds
   * maxObjectBytes or its Vary is `*`. Callers check policy.storability first.
   */
  set(input: CacheEntryInput): CacheEntry | null {
    const headers = stripHopByHop(input.headers);
    const vary = headerValue(headers, 'vary');
    const vk = varyKey(vary, input.requestHeaders);
    if (vk === null) return null;
    let size = ENTRY_OVERHEAD_BYTES + input.body.length + 2 * (input.key.length + vk.length) + input.host.length + input.path.length + (input.route?.length ?? 0) + (input.backend?.length ?? 0);
    for (const [n, v] of headers) size += n.length + v.length + PER_HEADER_BYTES;
    if (size > this.#maxObjectBytes) return null;
    const entry: CacheEntry = {
      key: input.key, varyKey: vk, vary, host: input.host, path: input.path, route: input.route, backend: input.backend ?? null,
      status: input.status, headers, body: ownBuffer(input.body),
      storedAt: input.storedAt, requestTime: input.requestTime, defaultTtlSeconds: input.defaultTtlSeconds, size,
    };
    this.#remove(idOf(entry));
    const existing = this.#byKey.get(entry.key);
    while (existing !== undefined && existing.length >= this.#maxVariants) this.#evict(idOf(existing[0] as CacheEntry));
    // #evict drops the list from #byKey when it empties, so look it up again.
    let variants = this.#byKey.get(entry.key);
    if (variants === undefined) this.#byKey.set(entry.key, (variants = []));
    variants.push(entry);
    this.#lru.set(idOf(entry), entry);
    this.#bytes += size;
    const usage = this.#usage(entry.route ?? '');
    usage.entries++;
    usage.bytes += size;
    while (this.#bytes > this.#maxBytes) {
      const oldest = this.#lru.keys().next();
      if (oldest.done === true) break;
      this.#evict(oldest.value);
    }
    return entry;
  }

  /** delete drops every variant of `primary` (an unsafe request invalidated it) and returns how many went. */
  delete(primary: string): number {
    const variants = this.#byKey.get(primary);
    if (variants === undefined) return 0;
    const ids = variants.map(idOf);
    for (const id of ids) this.#remove(id);
    this.#purged += ids.length;
    return ids.length;
  }

  /** purge drops the entries the selector or predicate matches and returns how many went. */
  purge(which: PurgeSelector | ((entry: CacheEntry) => boolean)): number {
    const match = typeof which === 'function' ? which : selectorMatcher(which);
    let n = 0;
    for (const [id, e] of [...this.#lru]) {
      if (match(e)) {
        this.#remove(id);
        n++;
      }
    }
    this.#purged += n;
    return n;
  }

  /**
   * sweepExpired drops entries older than their freshness lifetime plus their stale windows
   * (freshness.retentionSeconds) and returns how many went. O(entries); call it from a timer.
   */
  sweepExpired(nowMs: number): number {
    let n = 0;
    for (const [id, e] of [...this.#lru]) {
      if (currentAge(e, nowMs) > retentionSeconds(e)) {
        this.#remove(id);
        n++;
      }
    }
    this.#expired += n;
    return n;
  }

  /** stats returns the current counters. */
  stats(): CacheStats {
    return {
      entries: this.#lru.size, bytes: this.#bytes, hits: this.#hits, misses: this.#misses,
      evictions: this.#evictions, purged: this.#purged, expired: this.#expired,
    };
  }

  /** routeUsage returns the usage of every route that holds entries or had some evicted since takeEvictions. */
  routeUsage(): ReadonlyMap<string, Readonly<RouteUsage>> {
    return this.#routes;
  }

  /** takeEvictions zeroes the per-route eviction counters (after a stats flush read them) and forgets empty routes. */
  takeEvictions(): void {
    for (const [route, u] of this.#routes) {
      u.evictions = 0;
      if (u.entries === 0) this.#routes.delete(route);
    }
  }

  #usage(route: string): RouteUsage {
    let u = this.#routes.get(route);
    if (u === undefined) this.#routes.set(route, (u = { entries: 0, bytes: 0, evictions: 0 }));
    return u;
  }

  #evict(id: string): void {
    const e = this.#lru.get(id);
    if (e !== undefined && this.#remove(id)) {
      this.#evictions++;
      this.#usage(e.route ?? '').evictions++;
    }
  }

  #remove(id: string): boolean {
    const e = this.#lru.get(id);
    if (e === undefined) return false;
    this.#lru.delete(id);
    this.#bytes -= e.size;
    const usage = this.#routes.get(e.route ?? '');
    if (usage !== undefined) {
      usage.entries--;
      usage.bytes -= e.size;
      if (usage.entries === 0 && usage.evictions === 0) this.#routes.delete(e.route ?? '');
    }
    const variants = this.#byKey.get(e.key);
    if (variants !== undefined) {
      const i = variants.indexOf(e);
      if (i >= 0) variants.splice(i, 1);
      if (variants.length === 0) this.#byKey.delete(e.key);
    }
    return true;
  }
}

/** idOf is the entry's LRU id: the key alone without Vary (most entries), else key NUL varyKey. */
function idOf(e: CacheEntry): string {
  return e.varyKey === '' ? e.key : `${e.key}\0${e.varyKey}`;
}

function selectorMatcher(s: PurgeSelector): (e: CacheEntry) => boolean {
  const host = s.host?.toLowerCase();
  return (e) =>
    (host === undefined || e.host === host) &&
    (s.pathPrefix === undefined || e.path.startsWith(s.pathPrefix)) &&
    (s.route === undefined || e.route === s.route);
}

/**
 * ownBuffer copies a body that is a view into a larger allocation (Node's 8 KiB pool, or a
 * concatenation buffer), so that the bytes the cache accounts are the bytes it keeps alive.
 */
function ownBuffer(body: Buffer): Buffer {
  if (body.byteOffset === 0 && body.buffer.byteLength === body.length) return body;
  const copy = Buffer.allocUnsafeSlow(body.length);
  body.copy(copy);
  return copy;
}
