/**
 * A worker slot of the pool: one of the `--workers` places a node:cluster worker process fills,
 * kept across restarts (docs/architecture.md, "Process model"). The pool's three parts each own
 * their fields: the lifecycle (workers.ts) the process and its restarts, the distribution
 * (distribution.ts) what the worker was sent and serves, the cache fan-out (cache-fan-out.ts)
 * nothing but its messages.
 */
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { WireError } from '../../shared/errors.js';
import type { PrimaryMessage } from '../../shared/messages.js';

/**
 * ForkedWorker is the part of a node:cluster Worker the pool uses; tests fork fakes of it.
 */
export interface ForkedWorker {
  readonly process: { readonly pid?: number | undefined; readonly stdout?: Readable | null; readonly stderr?: Readable | null; kill(signal?: NodeJS.Signals | number): boolean };
  send(message: PrimaryMessage): boolean;
  isConnected(): boolean;
  isDead(): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  once(event: 'exit', listener: (code: number | null, signal: string | null) => void): unknown;
}

/** Delivery is what one slot's worker was sent and serves (owned by SnapshotDistribution). */
export interface Delivery {
  /** The worker said hello and was sent its init: it handles messages from now on. */
  greeted: boolean;
  /** It listens on the proxy ports. */
  listening: boolean;
  /** The newest generation it acknowledged. */
  generation: number;
  /** The generation it will serve once it has handled every message sent to it. */
  sent: number;
  /** Its last rejection (or fatal error); cleared by the next ack. */
  lastError: WireError | null;
}

/** Slot is one worker place of the pool. */
export interface Slot {
  readonly id: number;
  /** The process filling the slot; null between an exit and the restart. */
  worker: ForkedWorker | null;
  pid: number;
  startedAt: number;
  readonly delivery: Delivery;
  restarts: number;
  /** Exits in a row without a healthy life between them (restart-backoff.ts). */
  failures: number;
  restartTimer: NodeJS.Timeout | undefined;
  /** Its last attempt to listen failed (ING_ERR_LISTEN_FAILED), and it has not listened since. */
  listenError: WireError | null;
  /** The Node.js version the worker runs, from its `listening`. */
  node: string;
  /** Open WebSockets in its last statistics flush. */
  websockets: number;
}

/** newSlot is slot `id` before its first fork. */
export function newSlot(id: number): Slot {
  return {
    id,
    worker: null,
    pid: 0,
    startedAt: 0,
    delivery: { greeted: false, listening: false, generation: 0, sent: 0, lastError: null },
    restarts: 0,
    failures: 0,
    restartTimer: undefined,
    listenError: null,
    node: '',
    websockets: 0,
  };
}

/** WorkerStatus is what the admin API shows of one worker slot. */
export interface WorkerStatus {
  readonly id: number;
  readonly pid: number;
  readonly generation: number;
  readonly listening: boolean;
  readonly restarts: number;
  readonly uptimeMs: number;
  readonly lastError: WireError | null;
  /** The Node.js version the worker runs (`v24.x.y`); empty until it listens. */
  readonly node: string;
  /** Proxied WebSockets open in this worker, as of its last statistics flush (0 when it is not running). */
  readonly websockets: number;
}

/** sendTo hands `msg` to the slot's worker and returns whether the IPC channel took it. */
export function sendTo(slot: Slot, msg: PrimaryMessage, log: Logger): boolean {
  const w = slot.worker;
  if (!w || !w.isConnected()) return false;
  try {
    w.send(msg);
    return true;
  } catch (err) {
    log.warn({ err, workerId: slot.id }, 'could not send to worker');
    return false;
  }
}
