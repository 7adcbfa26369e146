/**
 * RateShareTable is the primary's half of the pod-wide rate limits (issue 15 item 7,
 * docs/rate-limits.md). Workers report, every RATE_SHARE_INTERVAL_MS, the requests each limit key
 * saw; the table keeps each worker's demand per key as a moving sum that decays with time
 * constant `tauMs`. Every interval the primary computes, at one instant, every worker's share of
 * every key it holds:
 *
 *   share(w) = (demand(w) + floor) / (Σ demand + workers × floor)
 *
 * Computed together from one set of values, the shares of a key sum to exactly 1, so the workers
 * together admit the limit. `floor` keeps a worker that starts to see a key from being starved
 * until its demand shows. A key new to the table keeps even shares (1 / workers) for two report
 * intervals, until every worker that sees it has reported it. Pure: the clock is passed in.
 */
import { RATE_SHARE_INTERVAL_MS } from '../../shared/rate-limit.js';

/** RateShareOptions configure a table. */
export interface RateShareOptions {
  readonly workers: number;
  /** Time constant of the demand's decay (default 200 ms). */
  readonly tauMs?: number;
  /** Demand every worker is assumed to have (default 0.5 request). */
  readonly floor?: number;
}

interface Demand {
  value: number;
  at: number;
}

/** RateShareTable turns the workers' demand reports into their shares. */
export class RateShareTable {
  readonly #workers: number;
  readonly #tauMs: number;
  readonly #floor: number;
  /** key → when it was first reported, and worker id → demand. */
  readonly #keys = new Map<string, { readonly since: number; readonly demand: Map<number, Demand> }>();

  constructor(opts: RateShareOptions) {
    if (!Number.isInteger(opts.workers) || opts.workers < 1) throw new RangeError(`RateShareTable: workers must be an integer ≥ 1, got ${opts.workers}`);
    this.#workers = opts.workers;
    this.#tauMs = opts.tauMs ?? 200;
    this.#floor = opts.floor ?? 0.5;
  }

  /** size is the number of keys held. */
  get size(): number {
    return this.#keys.size;
  }

  /** record adds `worker`'s counts at `now`. Counts that are not non-negative numbers are skipped. */
  record(worker: number, counts: Readonly<Record<string, unknown>>, now: number): void {
    for (const key of Object.keys(counts)) {
      const n = counts[key];
      if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) continue;
      let entry = this.#keys.get(key);
      if (entry === undefined) this.#keys.set(key, (entry = { since: now, demand: new Map() }));
      const d = entry.demand.get(worker);
      if (d === undefined) entry.demand.set(worker, { value: n, at: now });
      else {
        // Its own older demand decays from its last report on.
        d.value = (now <= d.at ? d.value : d.value * Math.exp(-(now - d.at) / this.#tauMs)) + n;
        d.at = now;
      }
    }
  }

  /**
   * shares computes, at `now`, each worker's share of every key it has demand for (worker id →
   * key → share), and forgets the demand that has decayed to nothing.
   */
  shares(now: number): Map<number, Record<string, number>> {
    const out = new Map<number, Record<string, number>>();
    for (const [key, { since, demand }] of this.#keys) {
      let total = 0;
      for (const [w, d] of demand) {
        const v = this.#decayed(d, now);
        if (v < 0.01 && now - d.at > RATE_SHARE_INTERVAL_MS) demand.delete(w);
        else total += v;
      }
      if (demand.size === 0) {
        this.#keys.delete(key);
        continue;
      }
      const even = now - since < 2 * RATE_SHARE_INTERVAL_MS;
      for (const [w, d] of demand) {
        let mine = out.get(w);
        if (mine === undefined) out.set(w, (mine = {}));
        mine[key] = even ? 1 / this.#workers : (this.#decayed(d, now) + this.#floor) / (total + this.#workers * this.#floor);
      }
    }
    return out;
  }

  /** forget drops a worker's demand (it exited: its replacement starts with none). */
  forget(worker: number): void {
    for (const [key, { demand }] of this.#keys) if (demand.delete(worker) && demand.size === 0) this.#keys.delete(key);
  }

  /**
   * #decayed is a worker's demand as of `now`. A report stands as it is for one interval (the
   * worker's next one is not due yet); after that it decays.
   */
  #decayed(d: Demand, now: number): number {
    const staleMs = now - d.at - RATE_SHARE_INTERVAL_MS;
    return staleMs <= 0 ? d.value : d.value * Math.exp(-staleMs / this.#tauMs);
  }
}
