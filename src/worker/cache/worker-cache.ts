/**
 * WorkerCache: one worker's response cache as the proxy uses it. It owns the byte-bounded store,
 * the coalescer for concurrent misses, the per-Ingress counters shipped with the stats flush, and
 * the operations the primary asks for (purge, invalidate). The HTTP side (what to serve, when to
 * go upstream) lives in proxy/cached.ts; the RFC 9111 rules in policy.ts.
 */
import type { CachePurgeSelector } from '../../shared/messages.js';
import { CACHE_STATUSES, type CacheStatsDelta, type RouteCacheDelta } from '../../shared/stats.js';
import { Coalescer } from './coalescer.js';
import type { CacheStatus } from './policy.js';
import { ResponseCache, type CacheEntry } from './store.js';

/** WorkerCacheOptions are the worker's cache settings (WorkerConfig cache*). */
export interface WorkerCacheOptions {
  readonly maxBytes: number;
  readonly maxObjectBytes: number;
  /** How long a request waits for another request's fetch of the same key (`--cache-lock-timeout`). */
  readonly lockTimeoutMs: number;
  /** Requests parked per key; later ones go upstream at once. */
  readonly maxWaiters?: number;
  /** The clock (epoch ms); injected by tests. */
  readonly now?: () => number;
}

const STATUS_INDEX: Readonly<Record<CacheStatus, number>> = Object.fromEntries(CACHE_STATUSES.map((s, i) => [s, i])) as Record<CacheStatus, number>;

/** WorkerCache is the per-worker response cache (see the file comment). */
export class WorkerCache {
  readonly store: ResponseCache;
  /** Resolves `true` when the leader stored a response for the key; followers then look again. */
  readonly coalescer: Coalescer<true>;
  readonly maxBytes: number;
  readonly maxObjectBytes: number;
  readonly lockTimeoutMs: number;
  readonly now: () => number;
  /** Called with the keys an unsafe request invalidated here, so the primary can tell the other workers. */
  onInvalidate: ((keys: readonly string[]) => void) | null = null;
  /** Responses per Ingress since the last flush, indexed like CACHE_STATUSES. */
  readonly #responses = new Map<string, number[]>();

  constructor(opts: WorkerCacheOptions) {
    this.store = new ResponseCache({ maxBytes: opts.maxBytes, maxObjectBytes: opts.maxObjectBytes });
    this.coalescer = new Coalescer<true>({ maxWaiters: opts.maxWaiters ?? 1024 });
    this.maxBytes = opts.maxBytes;
    this.maxObjectBytes = opts.maxObjectBytes;
    this.lockTimeoutMs = opts.lockTimeoutMs;
    this.now = opts.now ?? Date.now;
  }

  /** count records one response of a cached route with its X-Cache-Status. */
  count(ingress: string, status: CacheStatus): void {
    let r = this.#responses.get(ingress);
    if (r === undefined) this.#responses.set(ingress, (r = new Array<number>(CACHE_STATUSES.length).fill(0)));
    r[STATUS_INDEX[status]]! += 1;
  }

  /** purge drops the entries the selector matches (host compared without port) and returns how many went. */
  purge(selector: CachePurgeSelector): number {
    const host = selector.host?.toLowerCase().replace(/:\d+$/, '');
    const { pathPrefix, ingress } = selector;
    return this.store.purge(
      (e: CacheEntry) =>
        (host === undefined || e.host === host) &&
        (pathPrefix === undefined || e.path.startsWith(pathPrefix)) &&
        (ingress === undefined || e.route === ingress),
    );
  }

  /** invalidate drops every variant of the keys (an unsafe request succeeded) and returns how many went. */
  invalidate(keys: readonly string[]): number {
    let n = 0;
    for (const k of keys) n += this.store.delete(k);
    return n;
  }

  /** invalidateHere drops the key for an unsafe request answered here and tells the other workers. */
  invalidateHere(key: string): void {
    this.store.delete(key);
    this.onInvalidate?.([key]);
  }

  /** sweep drops the entries past their freshness and stale windows (the original design's clean_expired; docs/architecture.md). */
  sweep(): number {
    return this.store.sweepExpired(this.now());
  }

  /**
   * flush returns the figures since the last flush: every Ingress that holds entries or answered
   * since, and the worker's totals and bound (always, so the bound shows before the first entry).
   */
  flush(): CacheStatsDelta {
    const usage = this.store.routeUsage();
    const routes: RouteCacheDelta[] = [];
    const seen = new Set<string>();
    for (const [ingress, u] of usage) {
      if (ingress === '') continue;
      seen.add(ingress);
      routes.push({ ingress, responses: this.#responses.get(ingress) ?? new Array<number>(CACHE_STATUSES.length).fill(0), evictions: u.evictions, entries: u.entries, storedBytes: u.bytes });
    }
    for (const [ingress, responses] of this.#responses) {
      if (!seen.has(ingress)) routes.push({ ingress, responses, evictions: 0, entries: 0, storedBytes: 0 });
    }
    this.#responses.clear();
    this.store.takeEvictions();
    const s = this.store.stats();
    return { routes, entries: s.entries, storedBytes: s.bytes, maxBytes: this.maxBytes };
  }
}
