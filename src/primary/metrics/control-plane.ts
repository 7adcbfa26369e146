/**
 * Control-plane metrics: snapshot generations (published and per worker), rebuilds and their
 * duration, diagnostics by code, worker restarts, ready endpoints per backend, and TLS
 * certificate expiry (tls.ts). They are read from the primary's own state at scrape time.
 */
import type { Diagnostic } from '../../shared/errors.js';
import type { RoutingTable } from '../../shared/snapshot.js';
import { splitObjectKey } from '../../shared/keys.js';
import type { WatchHealth } from '../sources/source.js';
import type { CertificateStatus } from '../tls/manager.js';
import type { WorkerStatus } from '../workers.js';
import type { ExpositionWriter } from './exposition.js';
import type { ReloadFigures } from './ingress-nginx.js';
import { renderTlsMetrics } from './tls.js';

/** REBUILD_BUCKETS_S are the rebuild-duration histogram bounds, seconds. */
const REBUILD_BUCKETS_S = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/** ControlPlaneState is what the control-plane metrics read at scrape time. */
export interface ControlPlaneState {
  readonly generation: number;
  readonly workers: readonly WorkerStatus[];
  readonly diagnostics: readonly Diagnostic[];
  readonly table: RoutingTable | null;
  /** The source's name (`file`, `kubernetes`) and the health of each of its watches. */
  readonly source: string;
  readonly watches: readonly WatchHealth[];
  /** The TLS manager's rows (TlsManager.certificates). */
  readonly certificates: readonly CertificateStatus[];
}

/** ControlPlaneMetrics records rebuilds and renders the control-plane families. */
export class ControlPlaneMetrics {
  readonly #rebuildCounts = new Float64Array(REBUILD_BUCKETS_S.length + 1);
  readonly #now: () => number;
  #rebuildSum = 0;
  #published = 0;
  #failed = 0;
  #lastFailed = false;
  #lastSuccessMs = 0;

  /** `now` is the wall clock (milliseconds) of the last-success timestamp; injected for tests. */
  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** recordRebuild counts one compile (published or found unchanged) and its duration. */
  recordRebuild(seconds: number, published: boolean): void {
    let i = 0;
    while (i < REBUILD_BUCKETS_S.length && seconds > (REBUILD_BUCKETS_S[i] as number)) i++;
    this.#rebuildCounts[i]! += 1;
    this.#rebuildSum += seconds;
    if (published) this.#published++;
    this.#lastFailed = false;
    if (published || this.#lastSuccessMs === 0) this.#lastSuccessMs = this.#now();
  }

  /** recordRebuildFailure counts a compile that failed (the last published snapshot keeps serving). */
  recordRebuildFailure(): void {
    this.#failed++;
    this.#lastFailed = true;
  }

  /** reloads are the rebuilds as ingress-nginx's reload metrics count them. */
  reloads(): ReloadFigures {
    return { published: this.#published, failed: this.#failed, lastFailed: this.#lastFailed, lastSuccessSeconds: Math.floor(this.#lastSuccessMs / 1000) };
  }

  /** render writes the control-plane families for `state`. */
  render(w: ExpositionWriter, state: ControlPlaneState): void {
    w.family('flusso_config_generation', 'gauge', 'Newest snapshot generation published by the primary.');
    w.sample('flusso_config_generation', [], state.generation);
    w.family('flusso_worker_config_generation', 'gauge', 'Snapshot generation each worker has acked.');
    for (const wk of state.workers) w.sample('flusso_worker_config_generation', [['worker', String(wk.id)]], wk.generation);
    w.family('flusso_worker_restarts_total', 'counter', 'Times each worker slot was restarted after an unexpected exit.');
    for (const wk of state.workers) w.sample('flusso_worker_restarts_total', [['worker', String(wk.id)]], wk.restarts);
    w.family('flusso_config_rebuilds_total', 'counter', 'Compiles of the routing table: published a new generation, found it unchanged, or failed (the last published snapshot keeps serving).');
    const count = this.#rebuildCounts.reduce((a, b) => a + b, 0);
    w.sample('flusso_config_rebuilds_total', [['result', 'published']], this.#published);
    w.sample('flusso_config_rebuilds_total', [['result', 'unchanged']], count - this.#published);
    w.sample('flusso_config_rebuilds_total', [['result', 'failed']], this.#failed);
    w.family('flusso_config_rebuild_duration_seconds', 'histogram', 'Time to compile and encode the routing table.');
    w.histogram('flusso_config_rebuild_duration_seconds', [], REBUILD_BUCKETS_S, this.#rebuildCounts, this.#rebuildSum);
    w.family('flusso_config_diagnostics', 'gauge', 'Current problems in the configured objects, by code and severity.');
    const byCode = new Map<string, number>();
    for (const d of state.diagnostics) byCode.set(`${d.code}\n${d.severity}`, (byCode.get(`${d.code}\n${d.severity}`) ?? 0) + 1);
    for (const [key, n] of [...byCode].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const [code, severity] = key.split('\n') as [string, string];
      w.sample('flusso_config_diagnostics', [['code', code], ['severity', severity]], n);
    }
    w.family('flusso_source_watch_up', 'gauge', 'Whether each watch of the object source has listed and is connected (1) or not (0).');
    for (const h of state.watches) w.sample('flusso_source_watch_up', [['source', state.source], ['watch', h.watch]], h.up ? 1 : 0);
    w.family('flusso_backend_ready_endpoints', 'gauge', 'Ready endpoints of each backend (Service port) in the published snapshot.');
    for (const c of state.table?.backends ?? []) {
      const svc = splitObjectKey(c.service);
      const ready = c.endpoints.reduce((n, e) => n + (e.ready ? 1 : 0), 0);
      w.sample('flusso_backend_ready_endpoints', [['namespace', svc.namespace], ['service', svc.name], ['port', String(c.servicePort)]], ready);
    }
    renderTlsMetrics(w, state.certificates);
  }
}
