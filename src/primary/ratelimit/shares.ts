/**
 * RateShareTable is the primary's half of the pod-wide rate limits (issue 15 item 7,
 * docs/rate-limits.md). Workers report, every 100 ms, the requests each limit key saw; the table
 * keeps each worker's demand per key as a moving sum that decays with time constant `tauMs`,
 * and answers a worker with its share of each key it reported:
 *
 *   share(w) = (demand(w) + floor) / (Σ demand + workers × floor)
 *
 * The shares of a key over all workers sum to 1, so together the workers admit the limit;
 * `floor` keeps a worker that starts to see a key from being starved until its demand shows.
 * A key new to the table keeps even shares (1 / workers) for two report intervals.
 * Pure: the clock is passed in.
 */
import { RATE_SHARE_INTERVAL_MS } from '../../shared/rate-limit.js';

/** RateShareOptions configure a table. */
export interface RateShareOptions {
  readonly workers: number;
  /** Time constant of the demand's decay (default 400 ms). */
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
  /** key → worker id → demand, and when the key was first reported. */
  readonly #keys = new Map<string, { readonly since: number; readonly demand: Map<number, Demand> }>();
  #sweptAt = 0;

  constructor(opts: RateShareOptions) {
    if (!Number.isInteger(opts.workers) || opts.workers < 1) throw new RangeError(`RateShareTable: workers must be an integer ≥ 1, got ${opts.workers}`);
    this.#workers = opts.workers;
    this.#tauMs = opts.tauMs ?? 400;
    this.#floor = opts.floor ?? 0.5;
  }

  /** size is the number of keys held. */
  get size(): number {
    return this.#keys.size;
  }

  /** record adds `worker`'s counts at `now` and returns its shares of those keys. Bad counts are skipped. */
  record(worker: number, counts: Readonly<Record<string, unknown>>, now: number): Record<string, number> {
    const shares: Record<string, number> = {};
    for (const key of Object.keys(counts)) {
      const n = counts[key];
      if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) continue;
      let entry = this.#keys.get(key);
      if (entry === undefined) this.#keys.set(key, (entry = { since: now, demand: new Map() }));
      const perWorker = entry.demand;
      const d = perWorker.get(worker);
      if (d === undefined) perWorker.set(worker, { value: n, at: now });
      else {
        // Its own older demand decays from its last report on.
        d.value = (now <= d.at ? d.value : d.value * Math.exp(-(now - d.at) / this.#tauMs)) + n;
        d.at = now;
      }
      let total = 0;
      for (const other of perWorker.values()) total += this.#decayed(other, now);
      const mine = perWorker.get(worker)!.value;
      // Until every worker that sees the key has had the time to report it, the shares stay even:
      // the first reporter would else take nearly all of it while the others still hold 1 / workers.
      shares[key] = now - entry.since < 2 * RATE_SHARE_INTERVAL_MS ? 1 / this.#workers : (mine + this.#floor) / (total + this.#workers * this.#floor);
    }
    if (now - this.#sweptAt >= this.#tauMs) this.#sweep(now);
    return shares;
  }

  /** forget drops a worker's demand (it exited: its replacement starts with none). */
  forget(worker: number): void {
    for (const [key, { demand }] of this.#keys) if (demand.delete(worker) && demand.size === 0) this.#keys.delete(key);
  }

  /**
   * #decayed is a worker's demand as of `now`. Reports arrive every RATE_SHARE_INTERVAL_MS, so
   * for that long a worker's last report stands as it is: decaying it would weigh it against a
   * fresher report of another worker and hand out shares that sum to more than 1.
   */
  #decayed(d: Demand, now: number): number {
    const staleMs = now - d.at - RATE_SHARE_INTERVAL_MS;
    return staleMs <= 0 ? d.value : d.value * Math.exp(-staleMs / this.#tauMs);
  }

  /** #sweep drops demand that has decayed to nothing (keys no worker reports any more). */
  #sweep(now: number): void {
    this.#sweptAt = now;
    for (const [key, { demand }] of this.#keys) {
      for (const [w, d] of demand) if (this.#decayed(d, now) < 0.01) demand.delete(w);
      if (demand.size === 0) this.#keys.delete(key);
    }
  }
}
