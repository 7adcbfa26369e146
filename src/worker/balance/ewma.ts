/**
 * EwmaBalancer: ingress-nginx's `load-balance: ewma` (its Lua balancer/ewma.lua; issue 15
 * group 5, docs/annotations.md "load-balance"). Each endpoint keeps an exponentially weighted
 * moving average of its response times that decays with time (DECAY_SECONDS): an observation
 * `rtt` after `td` seconds gives `ewma·w + rtt·(1−w)` with `w = e^(−td/10)`, and the score used to
 * choose is the average decayed to now. A request picks two eligible endpoints at random (power
 * of two choices) and takes the lower score; an endpoint never observed scores 0, so new endpoints
 * are tried at once. Eligibility, hashing and the endpoint list are the round-robin balancer's.
 * Pure: the clock and the random source are given, so a test feeds latencies deterministically.
 */
import { endpointKey } from '../../shared/keys.js';
import type { Endpoint } from '../../shared/snapshot.js';
import type { Balancer } from './balancer.js';
import { RoundRobinBalancer, type RoundRobinOptions } from './round-robin.js';

/** ingress-nginx's DECAY_TIME. */
export const DECAY_SECONDS = 10;

/** EwmaOptions adds the clock (seconds) and the random source ([0, 1)) to the round-robin options. */
export interface EwmaOptions<E extends Endpoint> extends RoundRobinOptions<E> {
  readonly now: () => number;
  readonly random?: () => number;
}

interface Average {
  ewma: number;
  at: number;
}

/** EwmaBalancer implements Balancer. */
export class EwmaBalancer<E extends Endpoint = Endpoint> implements Balancer<E> {
  readonly name = 'ewma';
  readonly #inner: RoundRobinBalancer<E>;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #averages = new Map<string, Average>();

  constructor(options: EwmaOptions<E>) {
    this.#inner = new RoundRobinBalancer(options);
    this.#now = options.now;
    this.#random = options.random ?? Math.random;
  }

  select(): E | null {
    const list = this.#inner.eligible();
    const n = list.length;
    if (n === 0) return null;
    if (n === 1) return list[0] as E;
    // Two distinct endpoints at random (ingress-nginx shuffles the first PICK_SET_SIZE = 2).
    const i = Math.min(n - 1, Math.floor(this.#random() * n));
    let j = Math.min(n - 2, Math.floor(this.#random() * (n - 1)));
    if (j >= i) j++;
    const a = list[i] as E;
    const b = list[j] as E;
    const now = this.#now();
    return this.score(b, now) < this.score(a, now) ? b : a;
  }

  /** score is `ep`'s average decayed to `now` (0 for an endpoint never observed). */
  score(ep: E, now = this.#now()): number {
    const avg = this.#averages.get(endpointKey(ep.address, ep.port));
    return avg === undefined ? 0 : avg.ewma * Math.exp(-Math.max(0, now - avg.at) / DECAY_SECONDS);
  }

  /** observe records a response time (seconds) of `ep`. */
  observe(ep: E, seconds: number): void {
    const key = endpointKey(ep.address, ep.port);
    const now = this.#now();
    const avg = this.#averages.get(key);
    if (avg === undefined) {
      this.#averages.set(key, { ewma: seconds, at: now });
      return;
    }
    const w = Math.exp(-Math.max(0, now - avg.at) / DECAY_SECONDS);
    avg.ewma = avg.ewma * w + seconds * (1 - w);
    avg.at = now;
  }

  selectByHash(keyHash: number): E | null {
    return this.#inner.selectByHash(keyHash);
  }

  add(endpoint: E): void {
    this.#inner.add(endpoint);
  }

  remove(key: string): void {
    this.#inner.remove(key);
    this.#averages.delete(key);
  }

  list(): readonly E[] {
    return this.#inner.list();
  }

  eligible(): readonly E[] {
    return this.#inner.eligible();
  }
}
