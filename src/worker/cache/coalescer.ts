/**
 * Request coalescing (issue 6 §4): concurrent misses for one key wait for a single upstream fetch.
 * Pure bookkeeping: no timers. The time bound is the caller's: a follower races `wait` against its
 * own timer and, when the timer wins, goes upstream itself; its slot stays counted until the
 * leader settles, which is what keeps the number of parked followers per key bounded.
 */
import { IngressError } from '../../shared/errors.js';

/**
 * JoinResult is join's answer: the leader fetches and must settle the key; a follower awaits
 * `wait` (null → go upstream itself); `wait: null` means the key is full, go upstream at once.
 */
export type JoinResult<T> =
  | { readonly leader: true }
  | { readonly leader: false; readonly wait: Promise<T | null> }
  | { readonly leader: false; readonly wait: null };

/** CoalescerOptions bound a Coalescer. */
export interface CoalescerOptions {
  /** Followers parked per key; later joiners are told to go upstream themselves. */
  readonly maxWaiters: number;
}

interface Flight<T> {
  waiters: number;
  settle: ((value: T | null) => void) | null;
  promise: Promise<T | null> | null;
}

/**
 * Coalescer tracks one in-flight fetch per key. The leader MUST call resolve or fail exactly once
 * (in a `finally`), or the key stays taken: every later joiner would wait on its own timer.
 */
export class Coalescer<T> {
  readonly #maxWaiters: number;
  readonly #flights = new Map<string, Flight<T>>();

  constructor(opts: CoalescerOptions) {
    if (!Number.isSafeInteger(opts.maxWaiters) || opts.maxWaiters < 0) {
      throw new IngressError('ING_ERR_CONFIG_INVALID', 'invalid coalescer options: maxWaiters');
    }
    this.#maxWaiters = opts.maxWaiters;
  }

  /** join makes the first caller for `key` its leader and the next ones followers, up to maxWaiters. */
  join(key: string): JoinResult<T> {
    const flight = this.#flights.get(key);
    if (flight === undefined) {
      this.#flights.set(key, { waiters: 0, settle: null, promise: null });
      return { leader: true };
    }
    if (flight.waiters >= this.#maxWaiters) return { leader: false, wait: null };
    flight.waiters++;
    if (flight.promise === null) flight.promise = new Promise<T | null>((resolve) => (flight.settle = resolve));
    return { leader: false, wait: flight.promise };
  }

  /** resolve hands `value` to every follower of `key`, frees the key and returns how many waited. */
  resolve(key: string, value: T): number {
    return this.#settle(key, value);
  }

  /** fail gives every follower of `key` null (each then goes upstream itself), frees the key and returns how many waited. */
  fail(key: string): number {
    return this.#settle(key, null);
  }

  /** inFlight returns how many keys have a leader fetching. */
  get inFlight(): number {
    return this.#flights.size;
  }

  /** waiters returns how many followers are parked on `key`. */
  waiters(key: string): number {
    return this.#flights.get(key)?.waiters ?? 0;
  }

  #settle(key: string, value: T | null): number {
    const flight = this.#flights.get(key);
    if (flight === undefined) return 0;
    this.#flights.delete(key);
    flight.settle?.(value);
    return flight.waiters;
  }
}
