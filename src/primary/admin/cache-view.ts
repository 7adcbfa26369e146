/**
 * The data of `GET /api/v1/cache`: every Ingress whose routes are cached in the published
 * table, or that still has figures, with its policy, its responses by X-Cache-Status since the
 * primary started, its hit ratio, and the entries and bytes it holds now; plus the pool's
 * stored bytes against the bound.
 */
import { splitObjectKey } from '../../shared/keys.js';
import type { RoutingTable } from '../../shared/snapshot.js';
import { CACHE_STATUSES } from '../../shared/stats.js';
import { hitRatio, type CacheFigures } from '../metrics/cache.js';

/** CacheIngressRow is one Ingress in the cache view. */
export interface CacheIngressRow {
  readonly ingress: string;
  readonly namespace: string;
  readonly name: string;
  /** The cache policy of its routes in the published table; null when none is cached now. */
  readonly policy: { readonly ttlSeconds: number | null; readonly routes: number } | null;
  /** Responses by X-Cache-Status since the primary started. */
  readonly responses: Readonly<Record<(typeof CACHE_STATUSES)[number], number>>;
  /** HIT, STALE and REVALIDATED among every status but BYPASS; null before any lookup. */
  readonly hitRatio: number | null;
  readonly evictions: number;
  readonly entries: number;
  readonly storedBytes: number;
}

/** CacheView is the body of GET /api/v1/cache (without the generation). */
export interface CacheView {
  readonly workers: number;
  readonly entries: number;
  readonly storedBytes: number;
  readonly maxBytes: number;
  readonly ingresses: readonly CacheIngressRow[];
}

/** cacheView joins the published cache policies with the figures workers report. */
export function cacheView(table: RoutingTable | null, figures: CacheFigures): CacheView {
  const policies = new Map<string, { ttlSeconds: number | null; routes: number }>();
  const routes = [...(table?.hosts ?? []).flatMap((vh) => vh.routes), ...(table?.defaultBackend ? [table.defaultBackend] : [])];
  for (const r of routes) {
    if (r.cache === undefined) continue;
    const p = policies.get(r.source);
    // Every route of one Ingress carries the same policy (its annotations); count them.
    if (p === undefined) policies.set(r.source, { ttlSeconds: r.cache.ttlSeconds, routes: 1 });
    else p.routes++;
  }
  const keys = [...new Set([...policies.keys(), ...figures.ingresses.keys()])].sort();
  const zero = CACHE_STATUSES.map(() => 0);
  return {
    workers: figures.workers,
    entries: figures.entries,
    storedBytes: figures.storedBytes,
    maxBytes: figures.maxBytes,
    ingresses: keys.map((key) => {
      const f = figures.ingresses.get(key);
      const responses = f?.responses ?? zero;
      const { namespace, name } = splitObjectKey(key);
      return {
        ingress: key,
        namespace,
        name,
        policy: policies.get(key) ?? null,
        responses: Object.fromEntries(CACHE_STATUSES.map((s, i) => [s, responses[i] ?? 0])) as CacheIngressRow['responses'],
        hitRatio: hitRatio(responses),
        evictions: f?.evictions ?? 0,
        entries: f?.entries ?? 0,
        storedBytes: f?.storedBytes ?? 0,
      };
    }),
  };
}
