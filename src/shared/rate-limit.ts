/**
 * Rate limits (issue 15 item 7, docs/rate-limits.md): what the compiler puts on a route for the
 * ingress-nginx `limit-*` annotations, and the IPC the primary and the workers use so that a limit
 * holds for the pod as a whole, whatever the number of workers.
 */

/** RouteRateLimit is one Ingress's limits, shared by all its routes; the key is `id` + the client address. */
export interface RouteRateLimit {
  /** The Ingress (`namespace/name`): its routes share one bucket per client address, as one ingress-nginx zone. */
  readonly id: string;
  /** `limit-rps` and/or `limit-rpm` as token buckets; a request needs a token from each. */
  readonly rates: readonly RateBucketSpec[];
  /** `limit-whitelist`: CIDRs (IPv4 and IPv6, as written after validation) that no limit applies to. */
  readonly whitelist: readonly string[];
}

/** RateBucketSpec is one token bucket: it refills at `perSecond` and holds at most `burst` tokens. */
export interface RateBucketSpec {
  readonly perSecond: number;
  /** The most requests admitted at once after a quiet time (nginx: 1 + burst, burst = rate × multiplier). */
  readonly burst: number;
}

/** RATE_SHARE_INTERVAL_MS is how often a worker reports its demand and gets its shares back. */
export const RATE_SHARE_INTERVAL_MS = 100;

/** RateDemandMessage (worker → primary): requests seen per limit key since the last report (admitted or not). */
export interface RateDemandMessage {
  readonly type: 'rate-demand';
  readonly counts: Readonly<Record<string, number>>;
}

/** RateSharesMessage (primary → worker, every interval): the worker's share (0–1) of each key it reported; others: 1 / workers. */
export interface RateSharesMessage {
  readonly type: 'rate-shares';
  readonly shares: Readonly<Record<string, number>>;
}
