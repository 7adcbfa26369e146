/**
 * RateLimiter is a worker's part of the pod-wide rate limits (issue 15 item 7,
 * docs/rate-limits.md). Each key (an Ingress's limit and a client address) has one token bucket
 * per rate, refilled at `share` × the rate and holding `share` × the burst (at least one token),
 * where `share` is this worker's part of the key's demand across the pod, as the primary last
 * said (RateSharesMessage), or 1 / workers before it has. The shares of a key sum to 1, so the
 * pod admits the limit, whatever the number of workers. Pure: the clock is injected.
 */
import { firstListed } from '../../shared/cidr.js';
import type { RouteRateLimit } from '../../shared/rate-limit.js';

/** RateLimiterOptions configure a limiter. */
export interface RateLimiterOptions {
  /** How many workers share each limit (≥ 1). */
  readonly workers: number;
  /** Milliseconds on a monotonic clock. */
  readonly now: () => number;
}

/** The buckets of one key. */
interface KeyState {
  /** The key as the primary knows it: `<limit id> <client>`. */
  readonly key: string;
  readonly client: string;
  readonly limit: RouteRateLimit;
  /** Tokens per bucket, in the order of limit.rates. */
  readonly tokens: Float64Array;
  /** When the tokens were last refilled. */
  last: number;
  share: number;
  /** Requests seen since the last demand report, admitted or not. */
  seen: number;
}

/** RateLimiter decides, per request, whether a rate-limited route admits it. */
export class RateLimiter {
  readonly #workers: number;
  readonly #now: () => number;
  readonly #keys = new Map<string, KeyState>();
  /**
   * The same states by limit id, then client: a request looks its key up with the two strings it
   * already has (the client's text is memoised per address), instead of joining them into a new
   * string that would be hashed afresh every time.
   */
  readonly #byLimit = new Map<string, Map<string, KeyState>>();

  constructor(opts: RateLimiterOptions) {
    if (!Number.isInteger(opts.workers) || opts.workers < 1) throw new RangeError(`RateLimiter: workers must be an integer ≥ 1, got ${opts.workers}`);
    this.#workers = opts.workers;
    this.#now = opts.now;
  }

  /** size is the number of keys held. */
  get size(): number {
    return this.#keys.size;
  }

  /**
   * admit takes a token from every bucket of the key (`limit`, `client`) and says whether it
   * could; `address` is the client's raw address (4 or 16 bytes), checked against the whitelist.
   */
  admit(limit: RouteRateLimit, client: string, address: Uint8Array): boolean {
    if (limit.rates.length === 0) return true;
    if (limit.whitelist.length > 0 && firstListed(limit.whitelist, address) !== null) return true;
    const now = this.#now();
    let clients = this.#byLimit.get(limit.id);
    if (clients === undefined) this.#byLimit.set(limit.id, (clients = new Map()));
    let k = clients.get(client);
    if (k === undefined || k.limit !== limit) {
      // A new key, or the Ingress's limit changed: start full, with the share the key had.
      const share = k?.share ?? 1 / this.#workers;
      const key = k?.key ?? `${limit.id} ${client}`;
      k = { key, client, limit, tokens: new Float64Array(limit.rates.length), last: now, share, seen: 0 };
      for (let i = 0; i < limit.rates.length; i++) k.tokens[i] = capacity(limit.rates[i]!.burst, share);
      this.#keys.set(key, k);
      clients.set(client, k);
    } else this.#refill(k, now);
    k.seen++;
    for (let i = 0; i < k.tokens.length; i++) if (k.tokens[i]! < 1) return false;
    for (let i = 0; i < k.tokens.length; i++) k.tokens[i]! -= 1;
    return true;
  }

  /** takeDemand returns the requests seen per key since the last call (null when none) and resets them. */
  takeDemand(): Record<string, number> | null {
    let out: Record<string, number> | null = null;
    for (const [key, k] of this.#keys) {
      if (k.seen === 0) continue;
      (out ??= {})[key] = k.seen;
      k.seen = 0;
    }
    return out;
  }

  /** setShares applies the primary's shares (0–1) for the keys it names; a bucket over its new size is trimmed. */
  setShares(shares: Readonly<Record<string, number>>): void {
    const now = this.#now();
    for (const key of Object.keys(shares)) {
      const k = this.#keys.get(key);
      const share = shares[key];
      if (k === undefined || typeof share !== 'number' || !(share >= 0 && share <= 1)) continue;
      this.#refill(k, now);
      k.share = share;
      for (let i = 0; i < k.tokens.length; i++) k.tokens[i] = Math.min(k.tokens[i]!, capacity(k.limit.rates[i]!.burst, share));
    }
  }

  /** sweep drops the keys whose buckets have refilled completely (forgetting them changes nothing). */
  sweep(): void {
    const now = this.#now();
    for (const k of this.#keys.values()) {
      if (k.seen > 0) continue;
      this.#refill(k, now);
      let full = true;
      for (let i = 0; i < k.tokens.length; i++) if (k.tokens[i]! < capacity(k.limit.rates[i]!.burst, k.share)) full = false;
      if (full) this.#forget(k);
    }
  }

  #forget(k: KeyState): void {
    this.#keys.delete(k.key);
    const clients = this.#byLimit.get(k.limit.id);
    clients?.delete(k.client);
    if (clients?.size === 0) this.#byLimit.delete(k.limit.id);
  }

  #refill(k: KeyState, now: number): void {
    const elapsedMs = now - k.last;
    if (elapsedMs <= 0) return;
    k.last = now;
    for (let i = 0; i < k.tokens.length; i++) {
      const spec = k.limit.rates[i]!;
      k.tokens[i] = Math.min(capacity(spec.burst, k.share), k.tokens[i]! + (spec.perSecond * k.share * elapsedMs) / 1000);
    }
  }

}

/**
 * capacity is a worker's bucket size for `share` of a burst. It is never below one token, or a
 * worker with a small share could admit nothing at all; so with many workers the pod may admit
 * a few requests more than the burst at once (at most one per worker; docs/rate-limits.md).
 */
function capacity(burst: number, share: number): number {
  return Math.max(1, burst * share);
}
