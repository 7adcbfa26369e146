/**
 * Cache fan-out: each worker has its own response cache, so an admin purge goes to every worker
 * and its answers are summed, and the keys one worker invalidates after an unsafe request are
 * relayed to the others (docs/architecture.md, "Where each concept lives").
 */
import type { Logger } from 'pino';
import type { CachePurgeSelector, PrimaryMessage } from '../../shared/messages.js';
import { sendTo, type ForkedWorker, type Slot } from './slot.js';

/** CachePurgeResult is what a purge achieved across the pool. */
export interface CachePurgeResult {
  /** Entries dropped, summed over the workers that answered. */
  readonly purged: number;
  /** Workers the purge was sent to (every worker that has been given its init). */
  readonly workers: number;
  /** Workers that answered before the timeout; one that exited meanwhile did not. */
  readonly answered: number;
}

/** A purge waiting for its answers. */
interface PendingPurge {
  readonly waiting: Set<ForkedWorker>;
  readonly workers: number;
  purged: number;
  answered: number;
  readonly timer: NodeJS.Timeout;
  readonly resolve: (r: CachePurgeResult) => void;
}

/** CacheFanOut sends cache purges and invalidations to the workers and collects the answers. */
export class CacheFanOut {
  readonly #log: Logger;
  readonly #purges = new Map<number, PendingPurge>();
  #purgeId = 0;

  constructor(log: Logger) {
    this.#log = log;
  }

  /**
   * purge asks every worker that has its init to drop the cached responses `selector` matches,
   * and resolves when all have answered or `timeoutMs` passed. Not only listening ones: a worker
   * may serve (and cache) before its `listening` reaches us. One that has not said hello yet has
   * no state, serves nothing, and is neither asked nor counted.
   */
  purge(slots: readonly Slot[], selector: CachePurgeSelector, timeoutMs: number): Promise<CachePurgeResult> {
    const targets = slots.filter((s) => s.worker !== null && s.delivery.greeted && s.worker.isConnected());
    if (targets.length === 0) return Promise.resolve({ purged: 0, workers: 0, answered: 0 });
    const id = ++this.#purgeId;
    return new Promise((resolve) => {
      const pending: PendingPurge = {
        waiting: new Set(),
        workers: targets.length,
        purged: 0,
        answered: 0,
        timer: setTimeout(() => this.#finish(id), timeoutMs),
        resolve,
      };
      this.#purges.set(id, pending);
      for (const slot of targets) {
        // A send that fails leaves the worker out of `waiting`: it counts as not answered.
        if (sendTo(slot, { type: 'cache-purge', id, selector }, this.#log) && slot.worker !== null) pending.waiting.add(slot.worker);
      }
      if (pending.waiting.size === 0) this.#finish(id);
    });
  }

  /** purged takes a worker's answer to purge `id`; a late one, or one it was not asked, finds nothing. */
  purged(worker: ForkedWorker, id: unknown, purged: unknown): void {
    if (typeof id !== 'number') return;
    const p = this.#purges.get(id);
    if (p === undefined || !p.waiting.delete(worker)) return;
    if (typeof purged === 'number' && Number.isSafeInteger(purged) && purged >= 0) p.purged += purged;
    else this.#log.warn({ id, purged }, 'worker answered a cache purge with a malformed count');
    p.answered++;
    if (p.waiting.size === 0) this.#finish(id);
  }

  /** gone stops waiting for an exited worker: every purge it had not answered counts it as not answered. */
  gone(worker: ForkedWorker): void {
    for (const [id, p] of this.#purges) if (p.waiting.delete(worker) && p.waiting.size === 0) this.#finish(id);
  }

  /**
   * relayInvalidate forwards the keys one worker invalidated (after an unsafe request, RFC 9111
   * §4.4) to every other worker that has its init, so none keeps serving what the write
   * changed (one still starting may already take requests before its `listening` arrives).
   */
  relayInvalidate(from: Slot, slots: readonly Slot[], keys: unknown): void {
    if (!Array.isArray(keys) || keys.length === 0) return;
    const list: string[] = [];
    for (const k of keys) {
      if (typeof k !== 'string') return;
      list.push(k);
    }
    const msg: PrimaryMessage = { type: 'cache-invalidate', keys: list };
    for (const slot of slots) if (slot !== from && slot.delivery.greeted) sendTo(slot, msg, this.#log);
  }

  #finish(id: number): void {
    const p = this.#purges.get(id);
    if (p === undefined) return;
    this.#purges.delete(id);
    clearTimeout(p.timer);
    p.resolve({ purged: p.purged, workers: p.workers, answered: p.answered });
  }
}
