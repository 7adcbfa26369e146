/**
 * The live feed behind the GUI's overview charts: once a second, the change in the traffic
 * totals becomes one sample (requests/s, error rate, p50/p99 latency estimated from the
 * duration histogram), kept in a short ring for clients that connect later.
 */
import { DURATION_BUCKETS_S } from '../../shared/stats.js';

/** LiveSample is one point of the overview charts. */
export interface LiveSample {
  /** Unix time, milliseconds. */
  readonly t: number;
  readonly rps: number;
  /** Share of 5xx answers among the requests of the interval, 0..1. */
  readonly errorRate: number;
  /** Latency quantiles, seconds (0 when the interval had no requests). */
  readonly p50: number;
  readonly p99: number;
  readonly generation: number;
}

/** Totals are cumulative traffic figures as TrafficMetrics.totals() gives them. */
export interface Totals {
  readonly requests: number;
  readonly errors: number;
  readonly duration: Float64Array;
}

/** LiveFeed turns successive Totals into samples. */
export class LiveFeed {
  readonly #ring: LiveSample[] = [];
  readonly #capacity: number;
  #last: Totals | null = null;
  #lastAt = 0;

  constructor(capacity = 300) {
    this.#capacity = capacity;
  }

  /** history returns the retained samples, oldest first. */
  history(): readonly LiveSample[] {
    return this.#ring;
  }

  /** sample records the totals at time `now` (ms) and returns the new sample (null for the first call). */
  sample(now: number, totals: Totals, generation: number): LiveSample | null {
    const last = this.#last;
    const lastAt = this.#lastAt;
    this.#last = { requests: totals.requests, errors: totals.errors, duration: Float64Array.from(totals.duration) };
    this.#lastAt = now;
    if (last === null || now <= lastAt) return null;
    const seconds = (now - lastAt) / 1000;
    const requests = totals.requests - last.requests;
    const errors = totals.errors - last.errors;
    const buckets = totals.duration.map((v, i) => v - (last.duration[i] ?? 0));
    const s: LiveSample = {
      t: now,
      rps: round(requests / seconds),
      errorRate: requests > 0 ? round(errors / requests) : 0,
      p50: quantile(buckets, 0.5),
      p99: quantile(buckets, 0.99),
      generation,
    };
    this.#ring.push(s);
    if (this.#ring.length > this.#capacity) this.#ring.shift();
    return s;
  }
}

/**
 * quantile estimates a quantile from per-bucket counts by linear interpolation inside the
 * bucket, as Prometheus' histogram_quantile does; the +Inf bucket reports the last bound.
 */
export function quantile(buckets: ArrayLike<number>, q: number): number {
  let total = 0;
  for (let i = 0; i < buckets.length; i++) total += buckets[i] as number;
  if (total <= 0) return 0;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < buckets.length; i++) {
    const n = buckets[i] as number;
    if (seen + n >= rank && n > 0) {
      if (i >= DURATION_BUCKETS_S.length) return DURATION_BUCKETS_S[DURATION_BUCKETS_S.length - 1] as number;
      const lower = i === 0 ? 0 : (DURATION_BUCKETS_S[i - 1] as number);
      const upper = DURATION_BUCKETS_S[i] as number;
      return round(lower + ((upper - lower) * (rank - seen)) / n);
    }
    seen += n;
  }
  return DURATION_BUCKETS_S[DURATION_BUCKETS_S.length - 1] as number;
}

function round(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}
