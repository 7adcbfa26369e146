/**
 * The Controller ties one source to the compiler and the broadcaster: it keeps the newest
 * state of the source, compiles it on demand (the rebuild scheduler decides when), publishes
 * the table with the operator overrides, and keeps the diagnostics for the admin API.
 */
import type { Diagnostic } from '../shared/errors.js';
import type { RoutingTable } from '../shared/snapshot.js';
import type { SnapshotBroadcaster } from './broadcast.js';
import { compileSnapshot, type CompileOptions } from './compile/index.js';
import type { Logger } from './log.js';
import type { ControlPlaneMetrics } from './metrics/control-plane.js';
import type { OverrideStore } from './overrides.js';
import type { SourceUpdate } from './sources/source.js';

/** ControllerOptions wires a Controller. */
export interface ControllerOptions {
  readonly log: Logger;
  readonly compile: CompileOptions;
  readonly broadcaster: SnapshotBroadcaster;
  readonly overrides: OverrideStore;
  readonly metrics: ControlPlaneMetrics;
}

/** Controller compiles and publishes; see the module comment. */
export class Controller {
  readonly #opts: ControllerOptions;
  #latest: SourceUpdate | null = null;
  #table: RoutingTable | null = null;
  #diagnostics: readonly Diagnostic[] = [];
  #reported = new Set<string>();
  /** onCompiled hears the keys of the Ingresses we serve after every rebuild (status publishing). */
  onCompiled: ((ingresses: readonly string[]) => void) | undefined;

  constructor(opts: ControllerOptions) {
    this.#opts = opts;
  }

  /** diagnostics are the current problems: the source's and the compiler's. */
  get diagnostics(): readonly Diagnostic[] {
    return this.#diagnostics;
  }

  /** table is the last compiled routing table (null before the first rebuild). */
  get table(): RoutingTable | null {
    return this.#table;
  }

  /** accept stores the newest state of the source; rebuild() compiles it. */
  accept(update: SourceUpdate): void {
    this.#latest = update;
  }

  /** rebuild compiles the newest state and publishes it if it changed. */
  rebuild(): void {
    const update = this.#latest;
    if (!update) return;
    const { log, broadcaster, overrides, metrics } = this.#opts;
    const started = performance.now();
    const result = compileSnapshot(update.view, this.#opts.compile);
    const published = broadcaster.publish(result.table, overrides.current());
    const seconds = (performance.now() - started) / 1000;
    metrics.recordRebuild(seconds, published.changed);
    this.#table = result.table;
    this.#diagnostics = [...update.diagnostics, ...result.diagnostics];
    this.#reportNew(result.diagnostics);
    this.onCompiled?.(result.ingresses);
    log.info({ generation: published.generation, changed: published.changed, ingresses: result.ingresses.length, hosts: result.table.hosts.length, clusters: result.table.clusters.length, diagnostics: this.#diagnostics.length, bytes: published.bytes, durationMs: Math.round(seconds * 1e5) / 100 }, published.changed ? 'snapshot published' : 'snapshot unchanged');
  }

  /** publishOverrides sends the current table with the current overrides; returns the generation. */
  publishOverrides(): number {
    const { broadcaster, overrides } = this.#opts;
    if (this.#table === null) return broadcaster.generation;
    return broadcaster.publish(this.#table, overrides.current()).generation;
  }

  // Compile diagnostics are logged once each, not on every rebuild; the source logs its own.
  #reportNew(diagnostics: readonly Diagnostic[]): void {
    const now = new Set<string>();
    for (const d of diagnostics) {
      const key = `${d.code}|${d.object}|${d.message}`;
      now.add(key);
      if (!this.#reported.has(key)) this.#opts.log[d.severity === 'error' ? 'warn' : 'info']({ code: d.code, object: d.object, detail: d.message }, 'configuration diagnostic');
    }
    this.#reported = now;
  }
}
