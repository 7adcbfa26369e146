/**
 * Snapshot and delta distribution: which routing table each worker is sent, and which it
 * serves (docs/architecture.md, "The snapshot and delta protocol"). A full snapshot is encoded
 * once and the same bytes go to every worker; an EndpointsDelta goes only to a worker that will
 * be exactly at its base, any other gets the full snapshot.
 */
import type { Logger } from 'pino';
import type { WireError } from '../../shared/errors.js';
import { sendTo, type Slot } from './slot.js';

/**
 * routeEndpoints decides what a worker gets for the delta from `base` to `generation`: the delta
 * when the worker will be at `base` once it has handled what it was sent (`sent`) and the delta
 * is one step, else the full snapshot (a worker behind, ahead after a restart, or a gap).
 */
export function routeEndpoints(sent: number, base: number, generation: number): 'delta' | 'snapshot' {
  return sent === base && base === generation - 1 ? 'delta' : 'snapshot';
}

/** SnapshotDistribution holds the current snapshot and brings every slot's worker to it. */
export class SnapshotDistribution {
  readonly #log: Logger;
  /** The full snapshot of #generation; a function, because after a delta it is encoded only on demand. */
  #snapshot: (() => Uint8Array) | null = null;
  #generation = 0;

  constructor(log: Logger) {
    this.#log = log;
  }

  /** generation is the newest generation published. */
  get generation(): number {
    return this.#generation;
  }

  /** published says a first snapshot exists (workers may start). */
  get published(): boolean {
    return this.#snapshot !== null;
  }

  /** publish makes `snapshot` (encoded once) current and sends the same bytes to every listening worker. */
  publish(snapshot: Uint8Array, generation: number, slots: Iterable<Slot>): void {
    this.#snapshot = () => snapshot;
    this.#generation = generation;
    for (const slot of slots) if (slot.worker && slot.delivery.listening) this.#sendSnapshot(slot);
  }

  /**
   * publishEndpoints sends an EndpointsDelta (`generation` on top of the current generation) to
   * every listening worker routeEndpoints gives it to; any other gets the full snapshot, which
   * `snapshot` encodes only if some worker needs it.
   */
  publishEndpoints(delta: Uint8Array, generation: number, snapshot: () => Uint8Array, slots: Iterable<Slot>): void {
    let bytes: Uint8Array | undefined;
    this.#snapshot = () => (bytes ??= snapshot());
    const base = this.#generation;
    this.#generation = generation;
    for (const slot of slots) {
      if (!slot.worker || !slot.delivery.listening) continue;
      if (routeEndpoints(slot.delivery.sent, base, generation) === 'delta') {
        slot.delivery.sent = generation;
        sendTo(slot, { type: 'endpoints', delta }, this.#log);
      } else this.#sendSnapshot(slot);
    }
  }

  /** started resets a slot for a new worker process: nothing sent, nothing served. */
  started(slot: Slot): void {
    Object.assign(slot.delivery, { greeted: false, listening: false, generation: 0 });
  }

  /** gone marks a slot whose worker exited: it neither listens nor takes messages (its generation stays for the status). */
  gone(slot: Slot): void {
    slot.delivery.greeted = false;
    slot.delivery.listening = false;
  }

  /** greet answers a worker's hello: the snapshot bytes its init carries, or null before the first publish. */
  greet(slot: Slot): Uint8Array | null {
    if (this.#snapshot === null) return null;
    slot.delivery.greeted = true;
    slot.delivery.sent = this.#generation;
    return this.#snapshot();
  }

  /** listening records a worker that listens at `generation`, and catches it up if a publish came meanwhile. */
  listening(slot: Slot, generation: number): void {
    Object.assign(slot.delivery, { listening: true, generation, sent: generation });
    if (generation !== this.#generation) this.#sendSnapshot(slot);
  }

  /** ack records that a worker serves `generation`. */
  ack(slot: Slot, generation: number): void {
    slot.delivery.generation = Math.max(slot.delivery.generation, generation);
    slot.delivery.lastError = null;
  }

  /**
   * reject records a worker that refused a snapshot or delta and still serves `current`. A
   * refused delta is followed by the full snapshot; a refused snapshot is logged and the worker
   * keeps its table until the next publish.
   */
  reject(slot: Slot, current: number, kind: 'snapshot' | 'endpoints' | undefined, error: WireError): void {
    slot.delivery.lastError = error;
    slot.delivery.sent = current;
    if (kind === 'endpoints') {
      this.#log.warn({ workerId: slot.id, code: error.code, err: error.message, current }, 'worker rejected endpoints delta; sending the full snapshot');
      this.#sendSnapshot(slot);
    } else this.#log.error({ workerId: slot.id, code: error.code, err: error.message, current }, 'worker rejected snapshot');
  }

  /** ready is true when every slot's worker listens and serves the newest generation. */
  ready(slots: readonly Slot[]): boolean {
    return slots.length > 0 && slots.every((s) => s.worker !== null && s.delivery.listening && s.delivery.generation === this.#generation);
  }

  #sendSnapshot(slot: Slot): void {
    if (this.#snapshot === null) return;
    slot.delivery.sent = this.#generation;
    sendTo(slot, { type: 'snapshot', snapshot: this.#snapshot() }, this.#log);
  }
}
