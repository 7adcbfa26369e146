/**
 * CompileOffload runs full compiles on one worker thread (piscina), so that compiling and
 * encoding 10,000 Ingresses does not stall the primary's event loop (the watch, the admin
 * server, scrapes). See docs in ARCHITECTURE.md "Where piscina fits".
 *
 * What crosses the thread boundary, and why:
 * - in: only the objects that changed since the last task (structured clone of a few objects),
 *   because the thread keeps a mirror of the store; the whole set goes only for the first
 *   task, after a failure, or when the thread was replaced (it then answers `resync`).
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

/** ObjectSource is what the mirror is fed from: a ClusterStore. */
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

const THREAD_ENTRY = fileURLToPath(new URL('./compile-thread.js', import.meta.url));

/** CompileOffload sends compiles to the thread, keeping its mirror in step; see the module comment. */
export class CompileOffload {
  readonly #run: CompileRunner | undefined;
  #pool: Piscina | undefined;
  /** The mirror version the thread holds after the last task; -1: unknown, send everything. */
  #version = -1;

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
    let input = changed === null || this.#version < 0 ? fullInput(source, version, opts) : deltaInput(source, changed, this.#version, version, opts);
    this.#version = -1;
    let out = await this.#task(input);
    if (out.kind === 'resync') {
      input = fullInput(source, version, opts);
      out = await this.#task(input);
    }
    if (out.kind !== 'compiled') throw new Error('compile thread asked for a resync after a reset');
    this.#version = version;
    return out;
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

function fullInput(source: ObjectSource, version: number, opts: CompileOptions): CompileTaskInput {
  return { reset: true, base: 0, version, upserts: [...source.objects()], deletes: [], opts };
}

function deltaInput(source: ObjectSource, changed: Iterable<ChangedObject>, base: number, version: number, opts: CompileOptions): CompileTaskInput {
  const upserts: KubeObject[] = [];
  const deletes: [KubeKind, string][] = [];
  for (const { kind, key } of changed) {
    const obj = source.get(kind, key);
    if (obj === undefined) deletes.push([kind, key]);
    else upserts.push(obj);
  }
  return { reset: false, base, version, upserts, deletes, opts };
}

/** isKubeKind tells a SourceChange kind the store holds. */
export function isKubeKind(kind: string): kind is KubeKind {
  return (KUBE_KINDS as readonly string[]).includes(kind);
}
