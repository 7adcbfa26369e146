/**
 * Rebuild scheduling: a holdoff debounce with a maximum delay, as Contour does it (defaults
 * 100 ms / 500 ms). Bursts of changes give one rebuild; a steady trickle still rebuilds at
 * least every `maxDelayMs`. A caller may ask for a shorter holdoff for a cheap change (the
 * controller's endpoint deltas); a later call with the default lengthens it again.
 */

/** Timers is the clock the scheduler uses; injected so tests run on fake timers. */
export interface Timers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: Timers = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** RebuildScheduler calls `run` once per burst of `schedule()` calls. */
export class RebuildScheduler {
  readonly #run: () => void;
  readonly #holdoffMs: number;
  readonly #maxDelayMs: number;
  readonly #timers: Timers;
  #firstPendingAt = -1;
  #timer: unknown = undefined;

  constructor(run: () => void, opts: { holdoffMs?: number; maxDelayMs?: number; timers?: Timers } = {}) {
    this.#run = run;
    this.#holdoffMs = opts.holdoffMs ?? 100;
    this.#maxDelayMs = opts.maxDelayMs ?? 500;
    this.#timers = opts.timers ?? realTimers;
    if (this.#holdoffMs < 0 || this.#maxDelayMs < this.#holdoffMs) throw new RangeError('holdoffMs must be >= 0 and <= maxDelayMs');
  }

  /** schedule asks for a rebuild; it runs after `holdoffMs` of quiet, or at `maxDelayMs` at the latest. */
  schedule(holdoffMs = this.#holdoffMs): void {
    if (!(holdoffMs >= 0)) throw new RangeError('holdoffMs must be >= 0');
    const now = this.#timers.now();
    if (this.#firstPendingAt < 0) this.#firstPendingAt = now;
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    const delay = Math.max(0, Math.min(holdoffMs, this.#firstPendingAt + this.#maxDelayMs - now));
    this.#timer = this.#timers.setTimeout(() => this.#fire(), delay);
  }

  /** cancel drops a pending rebuild. */
  cancel(): void {
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#firstPendingAt = -1;
  }

  #fire(): void {
    this.#timer = undefined;
    this.#firstPendingAt = -1;
    this.#run();
  }
}
