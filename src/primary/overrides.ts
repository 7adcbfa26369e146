/**
 * Operator overrides set through the admin API or the GUI: drained endpoints and weight
 * overrides, keyed `backendId|ip:port`. They ride along in every snapshot, so they reach every
 * worker with the next broadcast and survive config changes (an override for an endpoint that
 * has left stays until cleared, and applies again if it comes back).
 */
import { NO_OVERRIDES, type Overrides } from '../shared/snapshot.js';

/** MAX_WEIGHT bounds a weight override. */
export const MAX_WEIGHT = 1000;

/** OverrideStore holds the overrides; `current()` returns one frozen object per change. */
export class OverrideStore {
  readonly #drained = new Set<string>();
  readonly #weights = new Map<string, number>();
  #current: Overrides = NO_OVERRIDES;

  /** current returns the overrides as the snapshot carries them (sorted, frozen; same object until a change). */
  current(): Overrides {
    return this.#current;
  }

  /** isDrained tells whether an endpoint is drained. */
  isDrained(key: string): boolean {
    return this.#drained.has(key);
  }

  /** weight returns the weight override of an endpoint, if any. */
  weight(key: string): number | undefined {
    return this.#weights.get(key);
  }

  /** drain stops new requests to an endpoint; returns whether anything changed. */
  drain(key: string): boolean {
    if (this.#drained.has(key)) return false;
    this.#drained.add(key);
    return this.#changed();
  }

  /** undrain lets an endpoint take requests again; returns whether anything changed. */
  undrain(key: string): boolean {
    if (!this.#drained.delete(key)) return false;
    return this.#changed();
  }

  /**
   * setWeight overrides an endpoint's weight (0 to MAX_WEIGHT, integer), or clears the override
   * with null; returns whether anything changed. Throws RangeError on a bad weight.
   */
  setWeight(key: string, weight: number | null): boolean {
    if (weight === null) return this.#weights.delete(key) ? this.#changed() : false;
    if (!Number.isInteger(weight) || weight < 0 || weight > MAX_WEIGHT) throw new RangeError(`weight must be an integer from 0 to ${MAX_WEIGHT}`);
    if (this.#weights.get(key) === weight) return false;
    this.#weights.set(key, weight);
    return this.#changed();
  }

  #changed(): true {
    const drained = [...this.#drained].sort();
    const weights = [...this.#weights].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    this.#current = Object.freeze({ drained: Object.freeze(drained), weights: Object.freeze(weights.map((w) => Object.freeze(w))) });
    return true;
  }
}
