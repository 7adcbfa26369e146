/**
 * The Controller ties one source to the compiler and the broadcaster: it keeps the newest
 * state of the source, compiles it on demand (the rebuild scheduler decides when), publishes
 * the table with the operator overrides, and keeps the diagnostics for the admin API.
 *
 * When every change since the last rebuild is an EndpointSlice, the routes cannot have
 * changed: only the backends of the affected Services are resolved again (updateEndpoints)
 * and the broadcaster ships a small endpoints delta instead of the whole table.
 *
 * TLS (issue 11): after every full compile, and alone when only Secrets changed, the TLS manager
 * turns our Ingresses' spec.tls and their Secrets into the snapshot's certificates; a Secret
 * change never recompiles the routes.
 *
 * A full compile of a large table (by its paths, see OffloadPolicy) runs on the compile thread
 * (offload/) when one is given: the event loop stays free while it runs. Rebuilds never overlap: one asked for while an
 * offloaded compile runs waits for it and then runs on the newest state, so results are
 * published in the order the states were seen, and a failed compile keeps the last good table.
 */
import type { Diagnostic } from '../shared/errors.js';
import { boundDiagnostics } from './diagnostics.js';
import type { RoutingTable, TlsSnapshot } from '../shared/snapshot.js';
import type { SnapshotBroadcaster } from './broadcast.js';
import { compileState, updateEndpoints, type CompiledState, type CompileOptions } from './compile/index.js';
import type { Logger } from './log.js';
import type { ControlPlaneMetrics } from './metrics/control-plane.js';
import { isKubeKind, type ChangedObject, type CompileOffload, type ObjectSource } from './offload/compile-offload.js';
import { LazyCompiledState } from './offload/compiled-state.js';
import { weightOf } from './offload/object-batch.js';
import type { OverrideStore } from './overrides.js';
import type { SourceChange, SourceUpdate } from './sources/source.js';
import { keyOf, type ObjectView, type Ingress } from './model.js';
import type { TlsManager } from './tls/manager.js';
import { assembleBasicAuth } from './basic-auth.js';
import { referencedConfigMaps } from './compile/custom-headers-annotations.js';
import type { BasicAuthCredentials } from '../shared/basic-auth.js';

/**
 * OffloadPolicy says when full compiles go to the compile thread. The measure is the work, not
 * the number of objects (issue 14): one Ingress with 15,000 paths costs a compile what 15,000
 * one-path Ingresses do.
 */
export interface OffloadPolicy {
  readonly pool: CompileOffload;
  /** Offload when the Ingresses weigh at least this much in all: one per Ingress plus one per path (0: always). */
  readonly minWeight: number;
}

/** ControllerOptions wires a Controller. */
export interface ControllerOptions {
  readonly log: Logger;
  readonly compile: CompileOptions;
  readonly broadcaster: SnapshotBroadcaster;
  readonly overrides: OverrideStore;
  readonly metrics: ControlPlaneMetrics;
  /** Without it every compile runs on the event loop. */
  readonly offload?: OffloadPolicy;
  /** The TLS manager; without it snapshots carry no certificates. */
  readonly tls?: TlsManager;
  /** Hears the Secrets (`namespace/name`) the TLS manager and the basic-auth Ingresses needed after each assembly. */
  readonly onSecretsReferenced?: (keys: ReadonlySet<string>) => void;
  /** Hears the basic-auth credentials when they change (primary/basic-auth.ts), before the snapshot that needs them. */
  readonly onBasicAuth?: (credentials: BasicAuthCredentials) => void;
}

/** MAX_TRACKED_CHANGES bounds the changes kept for the compile thread's mirror; beyond, it gets everything. */
const MAX_TRACKED_CHANGES = 10_000;

/** Controller compiles and publishes; see the module comment. */
export class Controller {
  readonly #opts: ControllerOptions;
  #latest: SourceUpdate | null = null;
  #compiled: CompiledState | LazyCompiledState | null = null;
  /** Services whose EndpointSlices changed since the last rebuild; null once anything else changed. */
  #pendingServices: Set<string> | null = null;
  /** Services (`namespace/name`) whose object or slices changed since the last rebuild; null: unknown. */
  #changedServices: Set<string> | null = null;
  /** Objects changed since the compile thread's last task (`kind key` → change); null: unknown. */
  #mirrorChanges: Map<string, ChangedObject> | null = null;
  #diagnostics: readonly Diagnostic[] = [];
  /** #compileDiagnostics and #tlsDiagnostics as #diagnostics lists them (with their files). */
  #ownDiagnostics: readonly Diagnostic[] = [];
  /** The compiler's (or the endpoint update's) and the TLS manager's part of #diagnostics. */
  #compileDiagnostics: readonly Diagnostic[] = [];
  #tlsDiagnostics: readonly Diagnostic[] = [];
  /** The basic-auth credentials last given to onBasicAuth, as JSON (to send only changes). */
  #credentials = '';
  /** Keys of our Ingresses after the last compile (what the TLS manager reads). */
  #ours: ReadonlySet<string> = new Set();
  /** A Secret changed since the last rebuild. */
  #secretsChanged = false;
  #reported = new Set<string>();
  /** The offloaded compile in flight, and whether another rebuild was asked for meanwhile. */
  #inFlight: Promise<void> | null = null;
  #again = false;
  #closed = false;
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
    const c = this.#compiled;
    if (c === null) return null;
    return c instanceof LazyCompiledState ? c.table() : c.table;
  }

  /** endpointsOnly is true when a rebuild is pending and only EndpointSlices changed since the last one. */
  get endpointsOnly(): boolean {
    return this.#compiled !== null && this.#pendingServices !== null && this.#pendingServices.size > 0;
  }

  /** accept stores the newest state of the source and notes what changed; rebuild() compiles it. */
  accept(update: SourceUpdate): void {
    this.#latest = update;
    this.#trackMirror(update.changes);
    this.#trackServices(update.changes);
    // A ConfigMap no Ingress or setting names as a header list (custom-headers-annotations.ts) changes nothing.
    const relevant = withoutIdleConfigMaps(update, this.#opts.compile);
    // Secrets only touch the certificates: they never make a rebuild a full compile.
    const changes = relevant?.filter((c) => c.kind !== 'Secret');
    if (changes !== undefined && changes.length !== relevant?.length) this.#secretsChanged = true;
    if (this.#pendingServices === null) return;
    if (changes === undefined || !changes.every(isEndpointChange)) {
      this.#pendingServices = null;
      return;
    }
    for (const change of changes) for (const service of change.services ?? []) this.#pendingServices.add(service);
  }

  /**
   * rebuild compiles the newest state (or only its changed endpoints) and publishes it if it
   * changed. On the event loop it is done when rebuild returns; an offloaded compile is done
   * when the promise resolves (it never rejects: failures are logged).
   */
  rebuild(): Promise<void> {
    if (this.#inFlight !== null) {
      this.#again = true;
      return this.#inFlight;
    }
    const update = this.#latest;
    if (!update || this.#closed) return Promise.resolve();
    const services = this.#pendingServices;
    this.#pendingServices = new Set();
    const changedServices = this.#changedServices;
    this.#changedServices = new Set();
    const compiled = this.#compiled;
    const secretsChanged = this.#secretsChanged;
    this.#secretsChanged = false;
    if (compiled !== null && services !== null) {
      this.#guarded(() => {
        if (services.size > 0 || !secretsChanged) this.#rebuildEndpoints(update, compiled instanceof LazyCompiledState ? compiled.state() : compiled, services);
        if (secretsChanged) this.refreshTls();
      });
      return Promise.resolve();
    }
    const source = this.#offloadSource(update.view);
    if (source === null) {
      // Too small for the thread: a thread still running from a larger table gives its memory back.
      this.#opts.offload?.pool.release();
      // Backends of Services nothing touched are taken from the last compile (decoded ones only).
      const previous = compiled !== null && !(compiled instanceof LazyCompiledState) && changedServices !== null ? { state: compiled, changedServices } : undefined;
      this.#guarded(() => this.#rebuildAll(update, previous));
      return Promise.resolve();
    }
    this.#inFlight = this.#rebuildOffloaded(update, source).finally(() => {
      this.#inFlight = null;
      if (this.#again) {
        this.#again = false;
        void this.rebuild();
      }
    });
    return this.#inFlight;
  }

  /**
   * refreshTls assembles the certificates again for the current Ingresses and Secrets (a Secret
   * changed, or time passed and certificates near their expiry) and publishes them if they changed.
   */
  refreshTls(): void {
    const update = this.#latest;
    if (update === null || this.#compiled === null || this.#opts.tls === undefined) return;
    const tls = this.#assembleTls(update);
    const published = this.#opts.broadcaster.publishTls(tls);
    this.#diagnostics = this.#combine(update);
    this.#reportNew();
    if (published.changed) this.#opts.log.info({ kind: 'tls', generation: published.generation, serverNames: tls?.serverNames.length, bytes: published.bytes }, 'certificates published');
  }

  /** #assembleTls runs the TLS manager over our Ingresses (null without one). */
  #assembleTls(update: SourceUpdate): TlsSnapshot | null {
    const manager = this.#opts.tls;
    const ours: Ingress[] = [];
    for (const ing of update.view.ingresses()) if (this.#ours.has(keyOf(ing))) ours.push(ing);
    // The basic-auth credentials come from Secrets too, and go out before the snapshot (primary/basic-auth.ts).
    const auth = assembleBasicAuth(ours, update.secrets);
    const json = JSON.stringify(auth.credentials);
    if (json !== this.#credentials) {
      this.#credentials = json;
      this.#opts.onBasicAuth?.(auth.credentials);
    }
    if (manager === undefined) {
      this.#tlsDiagnostics = auth.diagnostics;
      this.#opts.onSecretsReferenced?.(auth.referenced);
      return null;
    }
    const { snapshot, diagnostics } = manager.assemble(ours, update.secrets);
    this.#tlsDiagnostics = [...diagnostics, ...auth.diagnostics];
    this.#opts.onSecretsReferenced?.(auth.referenced.size === 0 ? manager.referencedSecrets : new Set([...manager.referencedSecrets, ...auth.referenced]));
    return snapshot;
  }

  /** publishOverrides sends the current table with the current overrides; returns the generation. */
  publishOverrides(): number {
    const { broadcaster, overrides } = this.#opts;
    if (this.#compiled === null) return broadcaster.generation;
    return broadcaster.publishOverrides(overrides.current()).generation;
  }

  /** close stops the compile thread; no rebuild publishes after it. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#inFlight;
    await this.#opts.offload?.pool.close();
  }

  /**
   * #guarded runs a rebuild on the event loop. The compiler turns bad input into diagnostics, so
   * a throw is a Flusso bug: once something is published, the last published snapshot keeps
   * serving, the failure is logged and counted, and the next rebuild is a full one. The first
   * compile has nothing to fall back on and throws to the start-up.
   */
  #guarded(rebuild: () => void): void {
    if (this.#compiled === null) return rebuild();
    const started = performance.now();
    try {
      rebuild();
    } catch (err) {
      this.#pendingServices = null;
      this.#changedServices = null;
      this.#opts.metrics.recordRebuildFailure();
      this.#opts.log.error({ err, code: 'ING_ERR_COMPILE_FAILED', durationMs: Math.round(performance.now() - started) }, 'compile failed; the last published snapshot keeps serving');
    }
  }

  #rebuildAll(update: SourceUpdate, previous?: { readonly state: CompiledState; readonly changedServices: ReadonlySet<string> }): void {
    const { broadcaster, overrides, metrics } = this.#opts;
    const started = performance.now();
    const result = compileState(update.view, this.#opts.compile, previous);
    this.#ours = new Set(result.ingresses);
    const published = broadcaster.publish(result.table, overrides.current(), this.#assembleTls(update));
    const seconds = (performance.now() - started) / 1000;
    metrics.recordRebuild(seconds, published.changed);
    this.#compiled = result;
    this.#finishFull(update, result.diagnostics, result.ingresses, result.table.hosts.length, result.table.backends.length, published, seconds, false);
  }

  async #rebuildOffloaded(update: SourceUpdate, source: ObjectSource): Promise<void> {
    const { log, broadcaster, overrides, metrics, offload } = this.#opts;
    const changes = this.#mirrorChanges;
    this.#mirrorChanges = new Map();
    const started = performance.now();
    let lazy: LazyCompiledState;
    try {
      lazy = new LazyCompiledState(await (offload as OffloadPolicy).pool.compile(source, changes === null ? null : changes.values(), this.#opts.compile));
    } catch (err) {
      // The mirror is in an unknown state: the pool resends everything next time. The routes
      // may have changed, so the next rebuild must be a full one too, resolving every backend.
      this.#pendingServices = null;
      this.#changedServices = null;
      if (this.#compiled === null && !this.#closed) {
        // Nothing serves yet (the first compile): compile here rather than start without routes.
        log.error({ err, code: 'ING_ERR_COMPILE_FAILED' }, 'compile thread failed; compiling on the event loop');
        this.#rebuildAll(this.#latest ?? update);
        return;
      }
      metrics.recordRebuildFailure();
      log.error({ err, code: 'ING_ERR_COMPILE_FAILED', durationMs: Math.round(performance.now() - started) }, 'compile failed; the last published snapshot keeps serving');
      return;
    }
    if (this.#closed) return;
    this.#ours = new Set(lazy.ingresses);
    const published = broadcaster.publishEncoded(lazy.tableBytes, () => lazy.table(), overrides.current(), this.#assembleTls(update));
    const seconds = (performance.now() - started) / 1000;
    metrics.recordRebuild(seconds, published.changed);
    this.#compiled = lazy;
    this.#finishFull(update, lazy.diagnostics, lazy.ingresses, undefined, undefined, published, seconds, true);
  }

  #finishFull(update: SourceUpdate, diagnostics: readonly Diagnostic[], ingresses: readonly string[], hosts: number | undefined, backends: number | undefined, published: { changed: boolean; generation: number; bytes: number }, seconds: number, offloaded: boolean): void {
    this.#compileDiagnostics = diagnostics;
    this.#diagnostics = this.#combine(update);
    this.#reportNew();
    this.onCompiled?.(ingresses);
    this.#opts.log.info({ kind: 'snapshot', generation: published.generation, changed: published.changed, offloaded, ingresses: ingresses.length, hosts, backends, diagnostics: this.#diagnostics.length, bytes: published.bytes, durationMs: Math.round(seconds * 1e5) / 100 }, published.changed ? 'snapshot published' : 'snapshot unchanged');
  }

  #rebuildEndpoints(update: SourceUpdate, previous: CompiledState, services: ReadonlySet<string>): void {
    const { log, broadcaster, metrics } = this.#opts;
    const started = performance.now();
    const { state, changed } = updateEndpoints(update.view, previous, services, this.#opts.compile.self);
    const published = broadcaster.publishEndpoints(state.table, changed);
    const seconds = (performance.now() - started) / 1000;
    metrics.recordRebuild(seconds, published.changed);
    this.#compiled = state;
    this.#compileDiagnostics = state.diagnostics;
    this.#diagnostics = this.#combine(update);
    if (state !== previous) this.#reportNew();
    const fields = { kind: 'endpoints', generation: published.generation, changed: published.changed, services: services.size, backends: changed.length, bytes: published.bytes, durationMs: Math.round(seconds * 1e5) / 100 };
    if (published.changed) log.info(fields, 'endpoints published');
    else log.debug(fields, 'endpoints unchanged');
  }

  /** #offloadSource is the view as an ObjectSource when this compile goes to the thread, else null. */
  #offloadSource(view: ObjectView): ObjectSource | null {
    const offload = this.#opts.offload;
    if (offload === undefined || !isObjectSource(view)) return null;
    if (offload.minWeight <= 0) return view;
    let weight = 0;
    for (const ing of view.ingresses()) if ((weight += weightOf(ing)) >= offload.minWeight) return view;
    return null;
  }

  /** #trackMirror notes what the compile thread's mirror must hear next time. */
  #trackMirror(changes: readonly SourceChange[] | undefined): void {
    if (this.#opts.offload === undefined) return;
    if (changes === undefined || this.#mirrorChanges === null) {
      this.#mirrorChanges = null;
      return;
    }
    for (const c of changes) {
      if (!isKubeKind(c.kind)) continue; // kinds the store does not hold (Secrets) never reach the compiler
      this.#mirrorChanges.set(`${c.kind} ${c.key}`, { kind: c.kind, key: c.key });
    }
    if (this.#mirrorChanges.size > MAX_TRACKED_CHANGES) this.#mirrorChanges = null;
  }

  /** #trackServices notes the Services whose backends the next full compile must resolve again. */
  #trackServices(changes: readonly SourceChange[] | undefined): void {
    if (changes === undefined || this.#changedServices === null) {
      this.#changedServices = null;
      return;
    }
    for (const c of changes) {
      if (c.kind === 'Service') this.#changedServices.add(c.key);
      else if (c.kind === 'EndpointSlice') for (const s of c.services ?? []) this.#changedServices.add(s);
    }
  }

  /**
   * #combine lists the source's diagnostics, then the compiler's and the TLS manager's; those
   * name the file their object comes from when the source reads files (SourceUpdate.fileOf).
   */
  #combine(update: SourceUpdate): readonly Diagnostic[] {
    const own = [...this.#compileDiagnostics, ...this.#tlsDiagnostics];
    const fileOf = update.fileOf;
    // Bounded (diagnostics.ts): what the API, the GUI, the metrics and the log lines carry.
    this.#ownDiagnostics = boundDiagnostics(fileOf === undefined ? own : own.map((d) => withFile(d, fileOf)));
    return [...boundDiagnostics(update.diagnostics), ...this.#ownDiagnostics];
  }

  // Compile and TLS diagnostics are logged once each, not on every rebuild; the source logs its own.
  #reportNew(): void {
    const now = new Set<string>();
    for (const d of this.#ownDiagnostics) {
      const key = `${d.code}|${d.object}|${d.message}`;
      now.add(key);
      if (!this.#reported.has(key)) this.#opts.log[d.severity === 'error' ? 'warn' : 'info']({ code: d.code, object: d.object, ...(d.file === undefined ? {} : { file: d.file }), detail: d.message }, 'configuration diagnostic');
    }
    this.#reported = now;
  }
}

/** withFile adds the file of a diagnostic's object, when it has none and the source knows it. */
function withFile(d: Diagnostic, fileOf: (object: string) => string | undefined): Diagnostic {
  if (d.file !== undefined) return d;
  const file = fileOf(d.object);
  return file === undefined ? d : { ...d, file };
}

/** withoutIdleConfigMaps drops the changes of ConfigMaps nothing names (they are many in a cluster, and change often). */
function withoutIdleConfigMaps(update: SourceUpdate, opts: CompileOptions): readonly SourceChange[] | undefined {
  const changes = update.changes;
  if (changes === undefined || !changes.some((c) => c.kind === 'ConfigMap')) return changes;
  const named = referencedConfigMaps(update.view.ingresses(), opts);
  return changes.filter((c) => c.kind !== 'ConfigMap' || named.has(c.key));
}

function isEndpointChange(change: SourceChange): boolean {
  return change.kind === 'EndpointSlice';
}

function isObjectSource(view: ObjectView): view is ObjectView & ObjectSource {
  const v = view as Partial<ObjectSource>;
  return typeof v.get === 'function' && typeof v.objects === 'function';
}
