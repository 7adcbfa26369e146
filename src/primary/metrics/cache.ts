/**
 * Response-cache metrics (issue 6): the primary adds up every worker's CacheStatsDelta. Response
 * and eviction counters are cumulative sums; entries and stored bytes are gauges, so only each
 * worker's newest figures count, summed across workers, and a worker that exits takes its
 * gauges with it. Label values are Ingress keys from the snapshot, never client input.
 */
import { CACHE_STATUSES, type CacheStatsDelta } from '../../shared/stats.js';
import { splitObjectKey } from '../../shared/keys.js';
import type { ExpositionWriter } from './exposition.js';

/** IngressCacheFigures are one Ingress's cache figures across every worker. */
export interface IngressCacheFigures {
  /** Responses since the primary started, indexed like CACHE_STATUSES. */
  readonly responses: readonly number[];
  readonly evictions: number;
  /** Gauges: summed over the workers' newest flushes. */
  readonly entries: number;
  readonly storedBytes: number;
}

/** CacheFigures are the cache figures of the whole pool. */
export interface CacheFigures {
  /** By Ingress (`namespace/name`), sorted. */
  readonly ingresses: ReadonlyMap<string, IngressCacheFigures>;
  readonly entries: number;
  readonly storedBytes: number;
  /** Sum of the bounds of the workers that report a cache. */
  readonly maxBytes: number;
  /** Workers whose newest flush carried cache figures. */
  readonly workers: number;
}

/** hitRatio is the share of cache lookups served from the cache (HIT, STALE, REVALIDATED among all but BYPASS), or null before any. */
export function hitRatio(responses: readonly number[]): number | null {
  let served = 0;
  let lookups = 0;
  CACHE_STATUSES.forEach((s, i) => {
    const n = responses[i] ?? 0;
    if (s === 'BYPASS') return;
    lookups += n;
    if (s === 'HIT' || s === 'STALE' || s === 'REVALIDATED') served += n;
  });
  return lookups === 0 ? null : served / lookups;
}

interface Counters {
  readonly responses: Float64Array;
  evictions: number;
}

interface WorkerGauges {
  readonly byIngress: ReadonlyMap<string, { readonly entries: number; readonly storedBytes: number }>;
  readonly entries: number;
  readonly storedBytes: number;
  readonly maxBytes: number;
}

const count = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0);
/** An Ingress key is `namespace/name` with both parts; anything else is not counted. */
const isIngressKey = (k: unknown): k is string => typeof k === 'string' && /^[^/\s]+\/[^/\s]+$/.test(k);

/** CacheMetrics holds the cache counters and the newest gauges of every worker. */
export class CacheMetrics {
  readonly #counters = new Map<string, Counters>();
  readonly #gauges = new Map<number, WorkerGauges>();

  /** add merges one worker's flush; `delta` undefined means that worker holds no cache now. */
  add(workerId: number, delta: CacheStatsDelta | undefined): void {
    if (delta === undefined) {
      this.#gauges.delete(workerId);
      return;
    }
    const byIngress = new Map<string, { entries: number; storedBytes: number }>();
    for (const r of delta.routes) {
      if (!isIngressKey(r.ingress)) continue;
      let c = this.#counters.get(r.ingress);
      if (c === undefined) {
        c = { responses: new Float64Array(CACHE_STATUSES.length), evictions: 0 };
        this.#counters.set(r.ingress, c);
      }
      for (let i = 0; i < CACHE_STATUSES.length; i++) c.responses[i]! += count(r.responses[i]);
      c.evictions += count(r.evictions);
      byIngress.set(r.ingress, { entries: count(r.entries), storedBytes: count(r.storedBytes) });
    }
    // An Ingress missing from this flush holds nothing in this worker: the map is replaced whole.
    this.#gauges.set(workerId, { byIngress, entries: count(delta.entries), storedBytes: count(delta.storedBytes), maxBytes: count(delta.maxBytes) });
  }

  /** forget drops the gauges of a worker that exited (its replacement starts with an empty cache). */
  forget(workerId: number): void {
    this.#gauges.delete(workerId);
  }

  /** figures sums everything up for the admin API. */
  figures(): CacheFigures {
    const keys = new Set(this.#counters.keys());
    for (const g of this.#gauges.values()) for (const k of g.byIngress.keys()) keys.add(k);
    const ingresses = new Map<string, IngressCacheFigures>();
    for (const key of [...keys].sort()) {
      const c = this.#counters.get(key);
      let entries = 0;
      let storedBytes = 0;
      for (const g of this.#gauges.values()) {
        const f = g.byIngress.get(key);
        entries += f?.entries ?? 0;
        storedBytes += f?.storedBytes ?? 0;
      }
      ingresses.set(key, { responses: c ? [...c.responses] : CACHE_STATUSES.map(() => 0), evictions: c?.evictions ?? 0, entries, storedBytes });
    }
    let entries = 0;
    let storedBytes = 0;
    let maxBytes = 0;
    for (const g of this.#gauges.values()) {
      entries += g.entries;
      storedBytes += g.storedBytes;
      maxBytes += g.maxBytes;
    }
    return { ingresses, entries, storedBytes, maxBytes, workers: this.#gauges.size };
  }

  /** render writes the cache families. */
  render(w: ExpositionWriter): void {
    const f = this.figures();
    const rows = [...f.ingresses].map(([key, v]) => {
      const { namespace, name } = splitObjectKey(key);
      return { labels: [['namespace', namespace], ['ingress', name]] as const, v };
    });
    w.family('flusso_cache_responses_total', 'counter', 'Responses of cached routes, by Ingress and X-Cache-Status.');
    for (const { labels, v } of rows) CACHE_STATUSES.forEach((s, i) => w.sample('flusso_cache_responses_total', [...labels, ['cache_status', s]], v.responses[i] ?? 0));
    w.family('flusso_cache_evictions_total', 'counter', 'Cached responses evicted to stay under --cache-max-bytes, by Ingress.');
    for (const { labels, v } of rows) w.sample('flusso_cache_evictions_total', labels, v.evictions);
    w.family('flusso_cache_entries', 'gauge', 'Cached responses held now, by Ingress, summed over workers.');
    for (const { labels, v } of rows) w.sample('flusso_cache_entries', labels, v.entries);
    w.family('flusso_cache_stored_bytes', 'gauge', 'Bytes (keys, headers and bodies) the cached responses hold now, by Ingress, summed over workers.');
    for (const { labels, v } of rows) w.sample('flusso_cache_stored_bytes', labels, v.storedBytes);
    w.family('flusso_cache_max_bytes', 'gauge', 'The bound on cached bytes (--cache-max-bytes), summed over the workers that run a cache.');
    w.sample('flusso_cache_max_bytes', [], f.maxBytes);
  }
}
