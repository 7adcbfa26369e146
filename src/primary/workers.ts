/**
 * The worker pool's lifecycle: forks N node:cluster workers, restarts a crashed one with
 * exponential back-off (pool/restart-backoff.ts) or replaces it by a pre-forked spare, and
 * drains them on shutdown. What each worker is sent and serves is pool/distribution.ts; cache
 * purges and invalidations across workers are pool/cache-fan-out.ts (docs/architecture.md).
 */
import cluster from 'node:cluster';
import type { Logger } from 'pino';
import type { WireError } from '../shared/errors.js';
import type { StatsDelta } from '../shared/stats.js';
import type { BasicAuthCredentials } from '../shared/basic-auth.js';
import { RateShareTable } from './ratelimit/shares.js';
import { RATE_SHARE_INTERVAL_MS } from '../shared/rate-limit.js';
import { isWorkerMessage, type CachePurgeSelector, type WorkerConfig, type WorkerMessage } from '../shared/messages.js';
import { CacheFanOut, type CachePurgeResult } from './pool/cache-fan-out.js';
import { SnapshotDistribution } from './pool/distribution.js';
import { DEFAULT_BACKOFF, failuresAfterExit, restartDelayMs, type RestartBackoff } from './pool/restart-backoff.js';
import { newSlot, sendTo, type ForkedWorker, type Slot, type WorkerStatus } from './pool/slot.js';
import { readStderr, readStdout } from './pool/worker-output.js';

export type { CachePurgeResult } from './pool/cache-fan-out.js';
export type { ForkedWorker, WorkerStatus } from './pool/slot.js';
export { UNCORKED_WRITE_WARNING, readStderr } from './pool/worker-output.js';

/** WorkerPoolOptions configures a WorkerPool. */
export interface WorkerPoolOptions {
  readonly count: number;
  /** Absolute path of the worker entry module (dist/worker/main.js). */
  readonly exec: string;
  /** Environment variables every worker process gets on top of the primary's. */
  readonly env?: Readonly<Record<string, string>>;
  readonly config: WorkerConfig;
  readonly log: Logger;
  /** Backoff for restarts: first delay and cap. */
  readonly restartBaseMs?: number;
  readonly restartMaxMs?: number;
  /** A worker that lived this long before dying restarts at the base delay again. */
  readonly healthyAfterMs?: number;
  /** Called whenever readiness may have changed (ack, listen, exit). */
  readonly onChange?: () => void;
  /** Called with each worker's statistics flush. */
  readonly onStats?: (workerId: number, delta: StatsDelta) => void;
  /** Called when a worker process has exited (expectedly or not). */
  readonly onExit?: (workerId: number) => void;
  /** Called when a worker listens (the first time, and after each restart), with its pid. */
  readonly onListening?: (workerId: number, pid: number) => void;
  /** Called when a worker could not bind a listener (ING_ERR_LISTEN_FAILED; the message has the address and the OS reason). */
  readonly onListenFailed?: (workerId: number, error: WireError) => void;
  /** Starts one worker process; node:cluster's fork unless a test passes fakes. */
  readonly fork?: () => ForkedWorker;
  /**
   * Keep one spare worker forked and loaded (it said hello, has no init and does not listen):
   * a worker that exits is replaced by it at once instead of by a fork that must first load
   * Node.js and every module (`--spare-worker`, issue 14 item 8).
   */
  readonly spare?: boolean;
}

/** Spare is the pre-forked worker waiting to replace one that exits; `slot` is set once it has. */
interface Spare {
  readonly worker: ForkedWorker;
  slot: Slot | null;
  greeted: boolean;
}

/** WorkerPool owns the node:cluster workers: their processes, and through its parts what they serve. */
export class WorkerPool {
  readonly #opts: WorkerPoolOptions;
  readonly #backoff: RestartBackoff;
  readonly #forkWorker: () => ForkedWorker;
  readonly #slots: Slot[] = [];
  readonly #log: Logger;
  /** The last basic-auth credentials published (sent after each init); null: none yet. */
  #basicAuth: BasicAuthCredentials | null = null;
  readonly #distribution: SnapshotDistribution;
  readonly #cache: CacheFanOut;
  #stopping = false;
  readonly #useSpare: boolean;
  #spare: Spare | null = null;
  #spareTimer: NodeJS.Timeout | undefined;
  #spareFailures = 0;
  /** The workers' demand per rate-limit key, for their shares (ratelimit/shares.ts). */
  readonly #rates: RateShareTable;
  /** Runs while some worker reports rate-limit demand. */
  #rateTimer: NodeJS.Timeout | undefined;

  constructor(opts: WorkerPoolOptions) {
    if (!Number.isInteger(opts.count) || opts.count < 1) throw new RangeError('count must be a positive integer');
    const { fork, spare, restartBaseMs, restartMaxMs, healthyAfterMs } = opts;
    this.#useSpare = spare === true;
    this.#rates = new RateShareTable({ workers: opts.count });
    this.#opts = opts;
    this.#backoff = { baseMs: restartBaseMs ?? DEFAULT_BACKOFF.baseMs, maxMs: restartMaxMs ?? DEFAULT_BACKOFF.maxMs, healthyAfterMs: healthyAfterMs ?? DEFAULT_BACKOFF.healthyAfterMs };
    this.#log = opts.log;
    this.#distribution = new SnapshotDistribution(opts.log);
    this.#cache = new CacheFanOut(opts.log);
    if (fork === undefined) {
      // A worker logs to fd 3, our own stdout; its fd 1 and 2 are pipes we read, because
      // uWebSockets.js prints lines of its own there (pool/worker-output.ts).
      cluster.setupPrimary({ exec: opts.exec, args: [], serialization: 'advanced', stdio: ['ignore', 'pipe', 'pipe', 1, 'ipc'] });
      const env = opts.env ?? {};
      this.#forkWorker = () => cluster.fork(env);
    } else this.#forkWorker = fork;
  }

  /** generation is the newest generation published. */
  get generation(): number {
    return this.#distribution.generation;
  }

  /** start forks every worker; call after the first publish so none starts with an empty table. */
  start(): void {
    if (!this.#distribution.published) throw new Error('WorkerPool.start before the first publish');
    for (let id = 1; id <= this.#opts.count; id++) {
      const slot = newSlot(id);
      this.#slots.push(slot);
      this.#fork(slot);
    }
    if (this.#useSpare) this.#forkSpare();
  }

  /**
   * #sendShares gives every worker its shares of the rate-limit keys it reported, all computed
   * at one instant so that each key's shares sum to 1 (ratelimit/shares.ts); it stops when no
   * worker reports any demand.
   */
  #sendShares(): void {
    const shares = this.#rates.shares(performance.now());
    for (const slot of this.#slots) {
      const mine = shares.get(slot.id);
      if (mine !== undefined) sendTo(slot, { type: 'rate-shares', shares: mine }, this.#log);
    }
    if (this.#rates.size === 0 || this.#stopping) {
      clearInterval(this.#rateTimer);
      this.#rateTimer = undefined;
    }
  }

  /** spareReady says a spare worker is forked and has said hello (for the admin API and tests). */
  get spareReady(): boolean {
    return this.#spare !== null && this.#spare.greeted;
  }

  /** publishBasicAuth sends every worker the credentials of the routes with auth-type basic, and every worker that starts later. */
  publishBasicAuth(credentials: BasicAuthCredentials): void {
    this.#basicAuth = credentials;
    for (const slot of this.#slots) sendTo(slot, { type: 'basic-auth', credentials }, this.#log);
  }

  /** publish makes `snapshot` (encoded once) current and sends the same bytes to every live worker. */
  publish(snapshot: Uint8Array, generation: number): void {
    this.#distribution.publish(snapshot, generation, this.#slots);
    this.#opts.onChange?.();
  }

  /**
   * publishEndpoints sends an EndpointsDelta (`generation` on top of `generation - 1`) to
   * every listening worker that will be at exactly that base; any other worker gets the full
   * snapshot, which `snapshot` encodes only if some worker needs it.
   */
  publishEndpoints(delta: Uint8Array, generation: number, snapshot: () => Uint8Array): void {
    this.#distribution.publishEndpoints(delta, generation, snapshot, this.#slots);
    this.#opts.onChange?.();
  }

  /** ready is true when every worker listens and has acked the newest generation. */
  ready(): boolean {
    return !this.#stopping && this.#distribution.ready(this.#slots);
  }

  /**
   * listenFailures lists the workers that cannot serve because their last attempt to bind a
   * listener failed (and they have not listened since): /healthz fails while there is one.
   */
  listenFailures(): { readonly id: number; readonly error: WireError }[] {
    return this.#slots.flatMap((s) => (s.listenError === null || s.delivery.listening ? [] : [{ id: s.id, error: s.listenError }]));
  }

  /** status describes every worker slot. */
  status(now = Date.now()): WorkerStatus[] {
    return this.#slots.map((s) => ({
      id: s.id,
      pid: s.pid,
      generation: s.delivery.generation,
      listening: s.delivery.listening,
      restarts: s.restarts,
      uptimeMs: s.worker ? now - s.startedAt : 0,
      lastError: s.delivery.lastError,
      node: s.node,
      websockets: s.worker ? s.websockets : 0,
    }));
  }

  /** purgeCache asks every worker that has its init to drop what `selector` matches (pool/cache-fan-out.ts). */
  purgeCache(selector: CachePurgeSelector, timeoutMs: number): Promise<CachePurgeResult> {
    return this.#cache.purge(this.#slots, selector, timeoutMs);
  }
  /**
   * drain asks every worker to stop accepting and finish in-flight requests, and resolves once
   * all have exited; workers still alive `timeoutMs` + 2 s later are killed.
   */
  async drain(timeoutMs: number): Promise<void> {
    this.#stopping = true;
    this.#opts.onChange?.();
    clearInterval(this.#rateTimer);
    const exits: Promise<void>[] = [];
    clearTimeout(this.#spareTimer);
    const spare = this.#spare;
    if (spare !== null && !spare.worker.isDead()) {
      // A spare has no init: it exits at once on `drain` (worker/main.ts).
      exits.push(new Promise((resolve) => spare.worker.once('exit', () => resolve())));
      try {
        spare.worker.send({ type: 'drain' });
      } catch {
        spare.worker.process.kill('SIGTERM');
      }
    }
    for (const slot of this.#slots) {
      clearTimeout(slot.restartTimer);
      const w = slot.worker;
      if (!w) continue;
      exits.push(new Promise((resolve) => w.once('exit', () => resolve())));
      sendTo(slot, { type: 'drain' }, this.#log);
    }
    const all = Promise.all(exits).then(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs + 2000);
    });
    const outcome = await Promise.race([all, deadline]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      for (const slot of this.#slots) {
        if (slot.worker && !slot.worker.isDead()) {
          this.#log.warn({ workerId: slot.id, pid: slot.pid }, 'worker did not drain in time; killing it');
          slot.worker.process.kill('SIGKILL');
        }
      }
      if (spare !== null && !spare.worker.isDead()) spare.worker.process.kill('SIGKILL');
      await all;
    }
  }

  #fork(slot: Slot): void {
    slot.restartTimer = undefined;
    const worker = this.#forkWorker();
    this.#attach(slot, worker, false);
    worker.on('message', (m: unknown) => this.#onMessage(slot, worker, m));
    worker.once('exit', (code, signal) => this.#onExit(slot, worker, code, signal));
    this.#readOutput(slot.id, worker);
  }

  /** #attach makes `worker` the slot's process; `greeted`: it said hello already (an adopted spare). */
  #attach(slot: Slot, worker: ForkedWorker, greeted: boolean): void {
    slot.worker = worker;
    slot.pid = worker.process.pid ?? 0;
    slot.startedAt = Date.now();
    this.#distribution.started(slot);
    if (greeted) this.#onMessage(slot, worker, { type: 'hello' });
  }

  #readOutput(workerId: number, worker: ForkedWorker): void {
    worker.on('error', (err) => this.#log.warn({ err, workerId }, 'worker IPC error'));
    if (worker.process.stdout) readStdout(workerId, worker.process.stdout, this.#log);
    if (worker.process.stderr) readStderr(worker.process.stderr, process.stderr);
  }

  /**
   * #forkSpare forks the spare: it loads Node.js and every module and says hello, and then
   * waits, without an init, until a slot adopts it (#onExit). Its messages and exit go to the
   * slot once adopted; a spare that exits before is forked again with the restart back-off.
   */
  #forkSpare(): void {
    this.#spareTimer = undefined;
    if (this.#stopping || this.#spare !== null) return;
    const worker = this.#forkWorker();
    const spare: Spare = { worker, slot: null, greeted: false };
    this.#spare = spare;
    worker.on('message', (m: unknown) => {
      if (spare.slot !== null) this.#onMessage(spare.slot, worker, m);
      else if (isWorkerMessage(m) && m.type === 'hello') {
        spare.greeted = true;
        this.#log.info({ pid: worker.process.pid }, 'spare worker ready');
      }
    });
    worker.once('exit', (code, signal) => {
      if (spare.slot !== null) {
        this.#onExit(spare.slot, worker, code, signal);
        return;
      }
      if (this.#spare === spare) this.#spare = null;
      if (this.#stopping) return;
      this.#spareFailures++;
      const delayMs = restartDelayMs(this.#spareFailures, this.#backoff);
      this.#log.warn({ code: 'ING_ERR_WORKER_EXITED', pid: worker.process.pid, exitCode: code, signal, delayMs }, 'spare worker exited; forking another');
      this.#spareTimer = setTimeout(() => this.#forkSpare(), delayMs);
    });
    this.#readOutput(0, worker);
  }

  #onMessage(slot: Slot, worker: ForkedWorker, m: unknown): void {
    if (slot.worker !== worker || !isWorkerMessage(m)) return;
    const msg: WorkerMessage = m;
    switch (msg.type) {
      case 'stats':
        slot.websockets = msg.delta.websockets ?? 0;
        this.#opts.onStats?.(slot.id, msg.delta);
        return;
      case 'cache-purged':
        this.#cache.purged(worker, msg.id, msg.purged);
        return;
      case 'cache-invalidate':
        this.#cache.relayInvalidate(slot, this.#slots, msg.keys);
        return;
      case 'rate-demand':
        // Pod-wide rate limits (docs/rate-limits.md): the shares go out every interval, computed together (#sendShares).
        if (typeof msg.counts === 'object' && msg.counts !== null) {
          this.#rates.record(slot.id, msg.counts, performance.now());
          this.#rateTimer ??= setInterval(() => this.#sendShares(), RATE_SHARE_INTERVAL_MS).unref();
        }
        return;
      case 'hello': {
        const snapshot = this.#distribution.greet(slot);
        if (snapshot === null) return;
        // Each limit is shared by `count` workers (docs/rate-limits.md).
        const config = { ...this.#opts.config, rateLimit: { status: this.#opts.config.rateLimit?.status ?? 503, workers: this.#opts.count } };
        sendTo(slot, { type: 'init', workerId: slot.id, config, snapshot }, this.#log);
        // The basic-auth credentials follow the snapshot (docs/annotations.md "Basic authentication").
        if (this.#basicAuth !== null) sendTo(slot, { type: 'basic-auth', credentials: this.#basicAuth }, this.#log);
        return;
      }
      case 'listening':
        slot.node = msg.node;
        slot.listenError = null;
        this.#log.info({ workerId: slot.id, pid: slot.pid, generation: msg.generation, node: msg.node }, 'worker listening');
        this.#opts.onListening?.(slot.id, slot.pid);
        this.#distribution.listening(slot, msg.generation);
        break;
      case 'ack':
        this.#distribution.ack(slot, msg.generation);
        break;
      case 'reject':
        this.#distribution.reject(slot, msg.current, msg.kind, msg.error);
        break;
      case 'fatal':
        slot.delivery.lastError = msg.error;
        this.#log.error({ workerId: slot.id, code: msg.error.code, err: msg.error.message }, 'worker reported a fatal error');
        if (msg.error.code === 'ING_ERR_LISTEN_FAILED') {
          slot.listenError = msg.error;
          this.#opts.onListenFailed?.(slot.id, msg.error);
        }
        break;
    }
    this.#opts.onChange?.();
  }

  #onExit(slot: Slot, worker: ForkedWorker, code: number | null, signal: string | null): void {
    if (slot.worker !== worker) return;
    slot.worker = null;
    slot.websockets = 0;
    this.#rates.forget(slot.id);
    this.#distribution.gone(slot);
    // A purge this worker never answered stops waiting for it; it counts as not answered.
    this.#cache.gone(worker);
    this.#opts.onExit?.(slot.id);
    this.#opts.onChange?.();
    if (this.#stopping) return;
    slot.failures = failuresAfterExit(slot.failures, Date.now() - slot.startedAt, this.#backoff);
    slot.restarts++;
    const delayMs = restartDelayMs(slot.failures, this.#backoff);
    const spare = this.#spare;
    if (spare !== null) {
      // The spare takes over at once; the back-off paces the fork of the next spare instead, so
      // a crash loop still forks no faster than it would without one.
      this.#log.warn({ code: 'ING_ERR_WORKER_EXITED', workerId: slot.id, pid: slot.pid, exitCode: code, signal, restarts: slot.restarts, spare: spare.worker.process.pid, delayMs }, 'worker exited; the spare replaces it');
      this.#spare = null;
      spare.slot = slot;
      this.#attach(slot, spare.worker, spare.greeted);
      clearTimeout(this.#spareTimer);
      this.#spareTimer = setTimeout(() => this.#forkSpare(), delayMs);
      return;
    }
    this.#log.warn({ code: 'ING_ERR_WORKER_EXITED', workerId: slot.id, pid: slot.pid, exitCode: code, signal, restarts: slot.restarts, delayMs }, 'worker exited; restarting');
    slot.restartTimer = setTimeout(() => {
      if (!this.#stopping) this.#fork(slot);
    }, delayMs);
  }
}
