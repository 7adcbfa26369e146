/**
 * The worker pool: forks N node:cluster workers, gives each the current snapshot before it
 * listens, broadcasts new snapshots, tracks acked generations, restarts crashed workers with
 * exponential backoff, and drains them on shutdown. It also fans the response cache's admin
 * purges out to every worker and relays one worker's invalidations to the others (issue 6).
 */
import cluster from 'node:cluster';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { WireError } from '../shared/errors.js';
import type { StatsDelta } from '../shared/stats.js';
import { RateShareTable } from './ratelimit/shares.js';
import { isWorkerMessage, type CachePurgeSelector, type PrimaryMessage, type WorkerConfig, type WorkerMessage } from '../shared/messages.js';

/**
 * ClusterWorker is the part of a node:cluster Worker the pool uses; tests fork fakes of it.
 */
export interface ClusterWorker {
  readonly process: { readonly pid?: number | undefined; readonly stdout?: Readable | null; readonly stderr?: Readable | null; kill(signal?: NodeJS.Signals | number): boolean };
  send(message: PrimaryMessage): boolean;
  isConnected(): boolean;
  isDead(): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  once(event: 'exit', listener: (code: number | null, signal: string | null) => void): unknown;
}

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
  readonly waiting: Set<ClusterWorker>;
  readonly workers: number;
  purged: number;
  answered: number;
  readonly timer: NodeJS.Timeout;
  readonly resolve: (r: CachePurgeResult) => void;
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
  readonly fork?: () => ClusterWorker;
  /**
   * Keep one spare worker forked and loaded (it said hello, has no init and does not listen):
   * a worker that exits is replaced by it at once instead of by a fork that must first load
   * Node.js and every module (`--spare-worker`, issue 14 item 8).
   */
  readonly spare?: boolean;
}

/** Spare is the pre-forked worker waiting to replace one that exits; `slot` is set once it has. */
interface Spare {
  readonly worker: ClusterWorker;
  slot: Slot | null;
  greeted: boolean;
}

interface Slot {
  readonly id: number;
  worker: ClusterWorker | null;
  pid: number;
  generation: number;
  /** The generation this worker will serve once it has handled every message sent to it. */
  sent: number;
  /** The worker said hello and was sent its init: it handles messages from now on. */
  greeted: boolean;
  listening: boolean;
  restarts: number;
  failures: number;
  startedAt: number;
  restartTimer: NodeJS.Timeout | undefined;
  lastError: WireError | null;
  /** Its last attempt to listen failed (ING_ERR_LISTEN_FAILED), and it has not listened since. */
  listenError: WireError | null;
  node: string;
  /** Open WebSockets in its last statistics flush. */
  websockets: number;
}

/** UWS_STDOUT_NOISE matches the lines uWebSockets.js prints on its own when it sets up server names. */
const UWS_STDOUT_NOISE = /^(finding |Browsed to SNI: |Cannot browse to SNI: )/;
/**
 * UNCORKED_WRITE_WARNING is the line uWebSockets.js prints on stderr for every response write
 * outside a cork. The worker writes a WebSocket's 101 outside one on purpose: uWS 20.57 can lose
 * a socket upgraded inside a cork (docs/websocket.md, "The 101 outside a cork").
 */
export const UNCORKED_WRITE_WARNING = 'Warning: uWS.HttpResponse writes must be made from within a corked callback. See documentation for uWS.HttpResponse.cork and consult the user manual.';

/** WorkerPool owns the node:cluster workers and the snapshot they must serve. */
export class WorkerPool {
  readonly #opts: Required<Omit<WorkerPoolOptions, 'onChange' | 'onStats' | 'onExit' | 'onListening' | 'onListenFailed' | 'fork' | 'spare'>> & Pick<WorkerPoolOptions, 'onChange' | 'onStats' | 'onExit' | 'onListening' | 'onListenFailed'>;
  readonly #forkWorker: () => ClusterWorker;
  readonly #slots: Slot[] = [];
  readonly #log: Logger;
  readonly #purges = new Map<number, PendingPurge>();
  #purgeId = 0;
  /** The full snapshot of #generation; a function, because after a delta it is encoded only on demand. */
  #snapshot: (() => Uint8Array) | null = null;
  #generation = 0;
  #stopping = false;
  readonly #useSpare: boolean;
  #spare: Spare | null = null;
  #spareTimer: NodeJS.Timeout | undefined;
  #spareFailures = 0;
  /** The workers' demand per rate-limit key, for their shares (ratelimit/shares.ts). */
  readonly #rates: RateShareTable;

  constructor(opts: WorkerPoolOptions) {
    if (!Number.isInteger(opts.count) || opts.count < 1) throw new RangeError('count must be a positive integer');
    const { fork, spare, ...rest } = opts;
    this.#useSpare = spare === true;
    this.#rates = new RateShareTable({ workers: opts.count });
    this.#opts = { restartBaseMs: 100, restartMaxMs: 30_000, healthyAfterMs: 60_000, env: {}, ...rest };
    this.#log = opts.log;
    if (fork === undefined) {
      // A worker logs to fd 3, our own stdout; its fd 1 and 2 are pipes we read, because
      // uWebSockets.js prints lines of its own there (see #readStdout and #readStderr).
      cluster.setupPrimary({ exec: opts.exec, args: [], serialization: 'advanced', stdio: ['ignore', 'pipe', 'pipe', 1, 'ipc'] });
      const env = this.#opts.env;
      this.#forkWorker = () => cluster.fork(env);
    } else this.#forkWorker = fork;
  }

  /** generation is the newest generation published. */
  get generation(): number {
    return this.#generation;
  }

  /** start forks every worker; call after the first publish so none starts with an empty table. */
  start(): void {
    if (this.#snapshot === null) throw new Error('WorkerPool.start before the first publish');
    for (let id = 1; id <= this.#opts.count; id++) {
      const slot: Slot = { id, worker: null, pid: 0, generation: 0, sent: 0, greeted: false, listening: false, restarts: 0, failures: 0, startedAt: 0, restartTimer: undefined, lastError: null, listenError: null, node: '', websockets: 0 };
      this.#slots.push(slot);
      this.#fork(slot);
    }
    if (this.#useSpare) this.#forkSpare();
  }

  /** spareReady says a spare worker is forked and has said hello (for the admin API and tests). */
  get spareReady(): boolean {
    return this.#spare !== null && this.#spare.greeted;
  }

  /** publish makes `snapshot` (encoded once) current and sends the same bytes to every live worker. */
  publish(snapshot: Uint8Array, generation: number): void {
    this.#snapshot = () => snapshot;
    this.#generation = generation;
    for (const slot of this.#slots) {
      if (slot.worker && slot.listening) this.#sendSnapshot(slot);
    }
    this.#opts.onChange?.();
  }

  /**
   * publishEndpoints sends an EndpointsDelta (`generation` on top of `generation - 1`) to
   * every listening worker that will be at exactly that base; any other worker gets the full
   * snapshot, which `snapshot` encodes only if some worker needs it.
   */
  publishEndpoints(delta: Uint8Array, generation: number, snapshot: () => Uint8Array): void {
    let bytes: Uint8Array | undefined;
    this.#snapshot = () => (bytes ??= snapshot());
    const base = this.#generation;
    this.#generation = generation;
    for (const slot of this.#slots) {
      if (!slot.worker || !slot.listening) continue;
      if (slot.sent === base && base === generation - 1) {
        slot.sent = generation;
        this.#send(slot, { type: 'endpoints', delta });
      } else this.#sendSnapshot(slot);
    }
    this.#opts.onChange?.();
  }

  /** ready is true when every worker listens and has acked the newest generation. */
  ready(): boolean {
    if (this.#stopping || this.#slots.length === 0) return false;
    return this.#slots.every((s) => s.worker !== null && s.listening && s.generation === this.#generation);
  }

  /**
   * listenFailures lists the workers that cannot serve because their last attempt to bind a
   * listener failed (and they have not listened since): /healthz fails while there is one.
   */
  listenFailures(): { readonly id: number; readonly error: WireError }[] {
    return this.#slots.flatMap((s) => (s.listenError === null || s.listening ? [] : [{ id: s.id, error: s.listenError }]));
  }

  /** status describes every worker slot. */
  status(now = Date.now()): WorkerStatus[] {
    return this.#slots.map((s) => ({
      id: s.id,
      pid: s.pid,
      generation: s.generation,
      listening: s.listening,
      restarts: s.restarts,
      uptimeMs: s.worker ? now - s.startedAt : 0,
      lastError: s.lastError,
      node: s.node,
      websockets: s.worker ? s.websockets : 0,
    }));
  }

  /**
   * purgeCache asks every worker that has its init to drop the cached responses `selector`
   * matches, and resolves when all have answered or `timeoutMs` passed. Not only listening ones:
   * a worker may serve (and cache) before its `listening` reaches us. One that has not said
   * hello yet has no state, serves nothing, and is neither asked nor counted.
   */
  purgeCache(selector: CachePurgeSelector, timeoutMs: number): Promise<CachePurgeResult> {
    const targets = this.#slots.filter((s) => s.worker !== null && s.greeted && s.worker.isConnected());
    if (targets.length === 0) return Promise.resolve({ purged: 0, workers: 0, answered: 0 });
    const id = ++this.#purgeId;
    return new Promise((resolve) => {
      const pending: PendingPurge = {
        waiting: new Set(),
        workers: targets.length,
        purged: 0,
        answered: 0,
        timer: setTimeout(() => this.#finishPurge(id), timeoutMs),
        resolve,
      };
      this.#purges.set(id, pending);
      for (const slot of targets) {
        // A send that fails leaves the worker out of `waiting`: it counts as not answered.
        if (this.#send(slot, { type: 'cache-purge', id, selector })) pending.waiting.add(slot.worker as ClusterWorker);
      }
      if (pending.waiting.size === 0) this.#finishPurge(id);
    });
  }

  /**
   * drain asks every worker to stop accepting and finish in-flight requests, and resolves once
   * all have exited; workers still alive `timeoutMs` + 2 s later are killed.
   */
  async drain(timeoutMs: number): Promise<void> {
    this.#stopping = true;
    this.#opts.onChange?.();
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
      this.#send(slot, { type: 'drain' });
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
  #attach(slot: Slot, worker: ClusterWorker, greeted: boolean): void {
    slot.worker = worker;
    slot.pid = worker.process.pid ?? 0;
    slot.greeted = false;
    slot.listening = false;
    slot.generation = 0;
    slot.startedAt = Date.now();
    if (greeted) this.#onMessage(slot, worker, { type: 'hello' });
  }

  #readOutput(workerId: number, worker: ClusterWorker): void {
    worker.on('error', (err) => this.#log.warn({ err, workerId }, 'worker IPC error'));
    if (worker.process.stdout) this.#readStdout(workerId, worker.process.stdout);
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
      const delayMs = this.#backoff(this.#spareFailures);
      this.#log.warn({ code: 'ING_ERR_WORKER_EXITED', pid: worker.process.pid, exitCode: code, signal, delayMs }, 'spare worker exited; forking another');
      this.#spareTimer = setTimeout(() => this.#forkSpare(), delayMs);
    });
    this.#readOutput(0, worker);
  }

  #backoff(failures: number): number {
    return Math.min(this.#opts.restartBaseMs * 2 ** (failures - 1), this.#opts.restartMaxMs);
  }

  /**
   * #readStdout reads what a worker writes to its stdout: not its log (that goes to fd 3), but
   * uWebSockets.js's own lines (`finding <name>`, `Browsed to SNI: <name>`, `Cannot browse to SNI:
   * <name>`), printed while it sets up TLS server names. Those are dropped; anything else is
   * logged as a warning rather than mixed into the JSON log.
   */
  #readStdout(workerId: number, stdout: Readable): void {
    createInterface({ input: stdout }).on('line', (line) => {
      if (line === '' || UWS_STDOUT_NOISE.test(line)) return;
      this.#log.warn({ workerId, line: line.slice(0, 500) }, 'worker wrote to stdout');
    });
  }

  #onMessage(slot: Slot, worker: ClusterWorker, m: unknown): void {
    if (slot.worker !== worker || !isWorkerMessage(m)) return;
    const msg: WorkerMessage = m;
    switch (msg.type) {
      case 'stats':
        slot.websockets = msg.delta.websockets ?? 0;
        this.#opts.onStats?.(slot.id, msg.delta);
        return;
      case 'cache-purged':
        this.#onPurged(worker, msg.id, msg.purged);
        return;
      case 'cache-invalidate':
        this.#relayInvalidate(slot, msg.keys);
        return;
      case 'rate-demand':
        // Pod-wide rate limits (docs/rate-limits.md): answer with this worker's shares of the keys it saw.
        if (typeof msg.counts === 'object' && msg.counts !== null) this.#send(slot, { type: 'rate-shares', shares: this.#rates.record(slot.id, msg.counts, performance.now()) });
        return;
      case 'hello':
        if (this.#snapshot) {
          slot.greeted = true;
          slot.sent = this.#generation;
          // Each limit is shared by `count` workers (docs/rate-limits.md).
          const config = { ...this.#opts.config, rateLimit: { status: this.#opts.config.rateLimit?.status ?? 503, workers: this.#opts.count } };
          this.#send(slot, { type: 'init', workerId: slot.id, config, snapshot: this.#snapshot() });
        }
        return;
      case 'listening':
        slot.listening = true;
        slot.generation = msg.generation;
        slot.sent = msg.generation;
        slot.node = msg.node;
        slot.listenError = null;
        this.#log.info({ workerId: slot.id, pid: slot.pid, generation: msg.generation, node: msg.node }, 'worker listening');
        this.#opts.onListening?.(slot.id, slot.pid);
        // A publish may have happened between init and listen: catch the worker up.
        if (msg.generation !== this.#generation) this.#sendSnapshot(slot);
        break;
      case 'ack':
        slot.generation = Math.max(slot.generation, msg.generation);
        slot.lastError = null;
        break;
      case 'reject':
        slot.lastError = msg.error;
        slot.sent = msg.current;
        if (msg.kind === 'endpoints') {
          // The worker keeps its state; the full snapshot brings it to the newest generation.
          this.#log.warn({ workerId: slot.id, code: msg.error.code, err: msg.error.message, current: msg.current }, 'worker rejected endpoints delta; sending the full snapshot');
          this.#sendSnapshot(slot);
        } else this.#log.error({ workerId: slot.id, code: msg.error.code, err: msg.error.message, current: msg.current }, 'worker rejected snapshot');
        break;
      case 'fatal':
        slot.lastError = msg.error;
        this.#log.error({ workerId: slot.id, code: msg.error.code, err: msg.error.message }, 'worker reported a fatal error');
        if (msg.error.code === 'ING_ERR_LISTEN_FAILED') {
          slot.listenError = msg.error;
          this.#opts.onListenFailed?.(slot.id, msg.error);
        }
        break;
    }
    this.#opts.onChange?.();
  }

  #onExit(slot: Slot, worker: ClusterWorker, code: number | null, signal: string | null): void {
    if (slot.worker !== worker) return;
    slot.worker = null;
    slot.websockets = 0;
    this.#rates.forget(slot.id);
    slot.greeted = false;
    slot.listening = false;
    // A purge this worker never answered stops waiting for it; it counts as not answered.
    for (const [id, p] of this.#purges) if (p.waiting.delete(worker) && p.waiting.size === 0) this.#finishPurge(id);
    this.#opts.onExit?.(slot.id);
    this.#opts.onChange?.();
    if (this.#stopping) return;
    const livedMs = Date.now() - slot.startedAt;
    slot.failures = livedMs >= this.#opts.healthyAfterMs ? 1 : slot.failures + 1;
    slot.restarts++;
    const delayMs = this.#backoff(slot.failures);
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

  #onPurged(worker: ClusterWorker, id: unknown, purged: unknown): void {
    const p = this.#purges.get(id as number);
    // A late answer (after the timeout) or one for a purge this worker was not asked finds nothing.
    if (p === undefined || !p.waiting.delete(worker)) return;
    if (typeof purged === 'number' && Number.isSafeInteger(purged) && purged >= 0) p.purged += purged;
    else this.#log.warn({ id, purged }, 'worker answered a cache purge with a malformed count');
    p.answered++;
    if (p.waiting.size === 0) this.#finishPurge(id as number);
  }

  #finishPurge(id: number): void {
    const p = this.#purges.get(id);
    if (p === undefined) return;
    this.#purges.delete(id);
    clearTimeout(p.timer);
    p.resolve({ purged: p.purged, workers: p.workers, answered: p.answered });
  }

  /**
   * #relayInvalidate forwards the keys one worker invalidated (after an unsafe request, RFC 9111
   * §4.4) to every other worker that has its init, so none keeps serving what the write
   * changed (one still starting may already take requests before its `listening` arrives).
   */
  #relayInvalidate(from: Slot, keys: unknown): void {
    if (!Array.isArray(keys) || keys.length === 0 || !keys.every((k) => typeof k === 'string')) return;
    const msg: PrimaryMessage = { type: 'cache-invalidate', keys: keys as string[] };
    for (const slot of this.#slots) if (slot !== from && slot.greeted) this.#send(slot, msg);
  }

  #sendSnapshot(slot: Slot): void {
    if (this.#snapshot === null) return;
    slot.sent = this.#generation;
    this.#send(slot, { type: 'snapshot', snapshot: this.#snapshot() });
  }

  /** #send returns whether the message was handed to the IPC channel. */
  #send(slot: Slot, msg: PrimaryMessage): boolean {
    const w = slot.worker;
    if (!w || !w.isConnected()) return false;
    try {
      w.send(msg);
      return true;
    } catch (err) {
      this.#log.warn({ err, workerId: slot.id }, 'could not send to worker');
      return false;
    }
  }
}

/**
 * readStderr passes a worker's stderr on to `out` line by line (crash reports, Node.js warnings),
 * except uWebSockets.js's warning about the 101 a worker writes outside a cork on purpose.
 */
export function readStderr(stderr: Readable, out: NodeJS.WritableStream): void {
  createInterface({ input: stderr, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) => {
    if (line !== UNCORKED_WRITE_WARNING) out.write(`${line}\n`);
  });
}
