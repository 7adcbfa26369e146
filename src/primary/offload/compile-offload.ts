/**
 * CompileOffload runs full compiles on one worker thread (piscina), so that compiling and
 * encoding 10,000 Ingresses does not stall the primary's event loop (the watch, the admin
 * server, scrapes). README.md "Architecture" and docs/huge-ingress.md say when it is used.
 *
 * What crosses the thread boundary, and why:
 * - in: only the objects that changed since the last task, because the thread keeps a mirror
 *   of the store; the whole set goes only for the first task, after a failure, or when the
 *   thread was replaced (it then answers `resync`). They go as an object batch (JSON texts
 *   written one per turn of the event loop, object-batch.ts), not as a structured clone: one
 *   Ingress with 15,000 paths would otherwise hold the loop for over 100 ms (issue 14).
 * - out: the encoded table and the encoded rest of the compiled state, as transferred
 *   ArrayBuffers (no copy, no per-object clone), plus the diagnostics and Ingress keys.
 *   The primary decodes the table only when something needs its objects (an endpoint
 *   update, the admin API, a scrape): publishing needs the bytes alone.
 */
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { CompileOptions } from '../compile/context.js';
import type { KubeKind, KubeObject } from '../model.js';
import { KUBE_KINDS } from '../model.js';
import type { CompileTaskInput, CompileTaskOutput } from './compile-task.js';
import { packObjects, type Pause } from './object-batch.js';

/** ObjectSource is what the mirror is fed from: an ObjectStore. */
export interface ObjectSource {
  get(kind: KubeKind, key: string): KubeObject | undefined;
  objects(): Iterable<KubeObject>;
}

/** ChangedObject names one object that changed (it may be gone now). */
export interface ChangedObject {
  readonly kind: KubeKind;
  readonly key: string;
}

/** CompileRunner runs one task on the thread (tests run it in-process). */
export type CompileRunner = (input: CompileTaskInput) => Promise<CompileTaskOutput>;

/** Compiled is a successful task's result. */
export type Compiled = Extract<CompileTaskOutput, { kind: 'compiled' }>;

/** A thread whose mirror weighed at least RECYCLE_MIN_WEIGHT is recycled once it weighs less than 1/RECYCLE_SHRINK of that. */
const RECYCLE_MIN_WEIGHT = 10_000;
const RECYCLE_SHRINK = 4;

const THREAD_ENTRY = fileURLToPath(new URL('./compile-thread.js', import.meta.url));

/** CompileOffload sends compiles to the thread, keeping its mirror in step; see the module comment. */
export class CompileOffload {
  readonly #run: CompileRunner | undefined;
  #pool: Piscina | undefined;
  /** The mirror version the thread holds after the last task; -1: unknown, send everything. */
  #version = -1;
  /** The most the thread's mirror weighed since it started. */
  #peakWeight = 0;

  /** Without a runner, tasks go to a piscina pool of one thread, created on first use. */
  constructor(run?: CompileRunner) {
    this.#run = run;
  }

  /**
   * compile brings the mirror up to date with `source` and compiles it. `changed` lists what
   * changed since the previous call (null: unknown, send every object). It rejects when the
   * thread fails; the next call then sends every object.
   */
  async compile(source: ObjectSource, changed: Iterable<ChangedObject> | null, opts: CompileOptions): Promise<Compiled> {
    const version = Math.max(this.#version, 0) + 1;
    const base = this.#version;
    this.#version = -1;
    let input = changed === null || base < 0 ? await fullInput(source, version, opts) : await deltaInput(source, changed, base, version, opts);
    let out = await this.#task(input);
    if (out.kind === 'resync') {
      input = await fullInput(source, version, opts);
      out = await this.#task(input);
    }
    if (out.kind !== 'compiled') throw new Error('compile thread asked for a resync after a reset');
    this.#version = version;
    this.#peakWeight = Math.max(this.#peakWeight, out.weight);
    if (this.#peakWeight >= RECYCLE_MIN_WEIGHT && out.weight * RECYCLE_SHRINK < this.#peakWeight) this.#recycle();
    return out;
  }

  /**
   * release ends the thread, if one runs: the owner compiles on its own event loop again (the
   * table became small), and the thread's memory should not stay taken meanwhile. A later task
   * starts a new thread with every object.
   */
  release(): void {
    this.#recycle();
  }

  /**
   * #recycle ends the thread after its mirror shrank to a fraction of its peak (a huge Ingress
   * deleted): a V8 heap keeps most of what it grew to, and a thread's memory goes back to the
   * system only when the thread ends. The next task starts a new thread with every object.
   */
  #recycle(): void {
    const pool = this.#pool;
    this.#pool = undefined;
    this.#version = -1;
    this.#peakWeight = 0;
    void pool?.destroy();
  }

  /** close stops the thread (pending tasks reject). */
  async close(): Promise<void> {
    const pool = this.#pool;
    this.#pool = undefined;
    this.#version = -1;
    await pool?.destroy();
  }

  #task(input: CompileTaskInput): Promise<CompileTaskOutput> {
    if (this.#run !== undefined) return this.#run(input);
    // One thread that stays (it holds the mirror); no idle timeout, no queue beyond one task.
    this.#pool ??= new Piscina({ filename: THREAD_ENTRY, name: 'compile', minThreads: 1, maxThreads: 1, idleTimeout: Number.MAX_SAFE_INTEGER });
    return this.#pool.run(input) as Promise<CompileTaskOutput>;
  }
}

/** nextTurn lets the event loop run (I/O first: setImmediate runs after the poll phase). */
export const nextTurn: Pause = () => new Promise((resolve) => setImmediate(resolve));

async function fullInput(source: ObjectSource, version: number, opts: CompileOptions): Promise<CompileTaskInput> {
  return { reset: true, base: 0, version, upserts: await packObjects(source.objects(), nextTurn), deletes: [], opts };
}

async function deltaInput(source: ObjectSource, changed: Iterable<ChangedObject>, base: number, version: number, opts: CompileOptions): Promise<CompileTaskInput> {
  const upserts: KubeObject[] = [];
  const deletes: [KubeKind, string][] = [];
  for (const { kind, key } of changed) {
    const obj = source.get(kind, key);
    if (obj === undefined) deletes.push([kind, key]);
    else upserts.push(obj);
  }
  return { reset: false, base, version, upserts: await packObjects(upserts, nextTurn), deletes, opts };
}

/** isKubeKind tells a SourceChange kind the store holds. */
export function isKubeKind(kind: string): kind is KubeKind {
  return (KUBE_KINDS as readonly string[]).includes(kind);
}
