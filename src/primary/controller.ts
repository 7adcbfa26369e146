/**
 * The Controller ties one source to the compiler and the broadcaster: it keeps the newest
 * state of the source, compiles it on demand (the rebuild scheduler decides when), publishes
 * the table with the operator overrides, and keeps the diagnostics for the admin API.
 *
 * When every change since the last rebuild is an EndpointSlice, the routes cannot have
 * changed: only the clusters of the affected Services are resolved again (updateEndpoints)
 * and the broadcaster ships a small endpoints delta instead of the whole table.
 */
import type { Diagnostic } from '../shared/errors.js';
import type { RoutingTable } from '../shared/snapshot.js';
import type { SnapshotBroadcaster } from './broadcast.js';
import { compileState, updateEndpoints, type CompiledState, type CompileOptions } from './compile/index.js';
import type { Logger } from './log.js';
import type { ControlPlaneMetrics } from './metrics/control-plane.js';
import type { OverrideStore } from './overrides.js';
import type { SourceChange, SourceUpdate } from './sources/source.js';

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
  #compiled: CompiledState | null = null;
  /** Services whose EndpointSlices changed since the last rebuild; null once anything else changed. */
  #pendingServices: Set<string> | null = null;
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
    return this.#compiled?.table ?? null;
  }

  /** endpointsOnly is true when a rebuild is pending and only EndpointSlices changed since the last one. */
  get endpointsOnly(): boolean {
    return this.#compiled !== null && this.#pendingServices !== null && this.#pendingServices.size > 0;
  }

  /** accept stores the newest state of the source and notes what changed; rebuild() compiles it. */
  accept(update: SourceUpdate): void {
    this.#latest = update;
    if (this.#pendingServices === null) return;
    if (update.changes === undefined || !update.changes.every(isEndpointChange)) {
      this.#pendingServices = null;
      return;
    }
    for (const change of update.changes) for (const service of change.services ?? []) this.#pendingServices.add(service);
  }

  /** rebuild compiles the newest state (or only its changed endpoints) and publishes it if it changed. */
  rebuild(): void {
    const update = this.#latest;
    if (!update) return;
    const services = this.#pendingServices;
    this.#pendingServices = new Set();
    if (this.#compiled !== null && services !== null) this.#rebuildEndpoints(update, this.#compiled, services);
    else this.#rebuildAll(update);
  }

  /** publishOverrides sends the current table with the current overrides; returns the generation. */
  publishOverrides(): number {
    const { broadcaster, overrides } = this.#opts;
    if (this.#compiled === null) return broadcaster.generation;
    return broadcaster.publish(this.#compiled.table, overrides.current()).generation;
  }

  #rebuildAll(update: SourceUpdate): void {
    const { log, broadcaster, overrides, metrics } = this.#opts;
    const started = performance.now();
    const result = compileState(update.view, this.#opts.compile);
    const published = broadcaster.publish(result.table, overrides.current());
    const seconds = (performance.now() - started) / 1000;
    metrics.recordRebuild(seconds, published.changed);
    this.#compiled = result;
    this.#diagnostics = [...update.diagnostics, ...result.diagnostics];
    this.#reportNew(result.diagnostics);
    this.onCompiled?.(result.ingresses);
    log.info({ kind: 'snapshot', generation: published.generation, changed: published.changed, ingresses: result.ingresses.length, hosts: result.table.hosts.length, clusters: result.table.clusters.length, diagnostics: this.#diagnostics.length, bytes: published.bytes, durationMs: Math.round(seconds * 1e5) / 100 }, published.changed ? 'snapshot published' : 'snapshot unchanged');
  }

  #rebuildEndpoints(update: SourceUpdate, previous: CompiledState, services: ReadonlySet<string>): void {
    const { log, broadcaster, metrics } = this.#opts;
    const started = performance.now();
    const { state, changed } = updateEndpoints(update.view, previous, services);
    const published = broadcaster.publishEndpoints(state.table, changed);
    const seconds = (performance.now() - started) / 1000;
    metrics.recordRebuild(seconds, published.changed);
    this.#compiled = state;
    this.#diagnostics = [...update.diagnostics, ...state.diagnostics];
    if (state !== previous) this.#reportNew(state.diagnostics);
    const fields = { kind: 'endpoints', generation: published.generation, changed: published.changed, services: services.size, clusters: changed.length, bytes: published.bytes, durationMs: Math.round(seconds * 1e5) / 100 };
    if (published.changed) log.info(fields, 'endpoints published');
    else log.debug(fields, 'endpoints unchanged');
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

function isEndpointChange(change: SourceChange): boolean {
  return change.kind === 'EndpointSlice';
}
