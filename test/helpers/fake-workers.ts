/**
 * Fake node:cluster workers for WorkerPool tests: no processes, a record of every message the
 * pool sent each worker, and methods that play the worker's side (hello, listening, any
 * message, exit).
 */
import { EventEmitter } from 'node:events';
import type { PrimaryMessage, WorkerMessage } from '../../src/shared/messages.js';
import type { ForkedWorker } from '../../src/primary/workers.js';

/** FakeWorker is a ForkedWorker that records what it was sent. */
export class FakeWorker extends EventEmitter implements ForkedWorker {
  readonly sent: PrimaryMessage[] = [];
  readonly process: { readonly pid: number; kill(): boolean };
  #connected = true;

  constructor(pid: number) {
    super();
    this.process = { pid, kill: () => (this.exit(null, 'SIGKILL'), true) };
  }

  send(message: PrimaryMessage): boolean {
    this.sent.push(structuredClone(message));
    return true;
  }

  isConnected(): boolean {
    return this.#connected;
  }

  isDead(): boolean {
    return !this.#connected;
  }

  /** reply delivers a message from this worker to the pool. */
  reply(message: WorkerMessage | Record<string, unknown>): void {
    this.emit('message', message);
  }

  /** start plays a worker that says hello and then listens at `generation`. */
  start(generation: number): void {
    this.reply({ type: 'hello' });
    this.reply({ type: 'listening', generation, node: 'v24.0.0-fake' });
  }

  /** exit plays the process ending. */
  exit(code: number | null = 1, signal: string | null = null): void {
    if (!this.#connected) return;
    this.#connected = false;
    this.emit('exit', code, signal);
  }

  /** sentOf lists the messages of one type the pool sent this worker. */
  sentOf<T extends PrimaryMessage['type']>(type: T): Extract<PrimaryMessage, { type: T }>[] {
    return this.sent.filter((m): m is Extract<PrimaryMessage, { type: T }> => m.type === type);
  }
}

/** fakeCluster returns a fork function for WorkerPoolOptions and every worker it forked. */
export function fakeCluster(): { fork: () => FakeWorker; forked: FakeWorker[] } {
  const forked: FakeWorker[] = [];
  return {
    forked,
    fork: () => {
      const w = new FakeWorker(1000 + forked.length);
      forked.push(w);
      return w;
    },
  };
}
