/**
 * The opt-in ingress-nginx-compatible family (`--metrics-ingress-nginx-compat`): the
 * `nginx_ingress_controller_*` metrics with ingress-nginx's names, label names and default
 * buckets, so dashboards and alerts built for ingress-nginx keep working after a migration.
 * Request metrics come from the workers' compat cells (ingress-nginx-stats.ts), added up per
 * route, host (and path), status and method; controller metrics from the control plane and the
 * process group. docs/metrics.md maps each metric to Flusso's and says where they differ.
 */
import { COMPAT_HISTOGRAMS, CELL_SIZE, histogramCounts, requestsOf } from '../../shared/ingress-nginx-stats.js';
import { splitObjectKey } from '../../shared/keys.js';
import { COMPAT_STRIDE, METHODS, UNMATCHED, type StatsDelta } from '../../shared/stats.js';
import { StatusCounts, statusLabel } from '../../shared/status-counts.js';
import type { CertificateStatus } from '../tls/manager.js';
import type { ExpositionWriter, Labels } from './exposition.js';
import type { ProcessGroupFigures } from './runtime.js';

/** PREFIX is ingress-nginx's metric namespace. */
export const PREFIX = 'nginx_ingress_controller_';

/** IngressNginxOptions name the controller as ingress-nginx's constant labels do. */
export interface IngressNginxOptions {
  /** controller_namespace: the pod's namespace ($POD_NAMESPACE). */
  readonly controllerNamespace: string;
  /** controller_class: the IngressClass controller value we answer to (--controller-name). */
  readonly controllerClass: string;
  /** controller_pod: the pod's name ($POD_NAME, else the host name). */
  readonly controllerPod: string;
  /** Whether the request metrics carry the path label (--metrics-ingress-nginx-path). */
  readonly path: boolean;
}

/** ReloadFigures are the control plane's rebuilds as ingress-nginx's reload metrics see them. */
export interface ReloadFigures {
  /** Generations published (ingress-nginx: successful reloads). */
  readonly published: number;
  /** Compiles that failed (ingress-nginx: reload errors). */
  readonly failed: number;
  readonly lastFailed: boolean;
  /** Unix seconds of the last successful rebuild; 0 before the first. */
  readonly lastSuccessSeconds: number;
}

/** IngressNginxState is what the controller-level metrics read at scrape time. */
export interface IngressNginxState {
  readonly generation: number;
  readonly reloads: ReloadFigures;
  readonly certificates: readonly CertificateStatus[];
  readonly group: ProcessGroupFigures;
  /** Client connections established on the proxy ports now; undefined when not measurable. */
  readonly connections: number | undefined;
  /** Requests being answered now, over every worker. */
  readonly inFlight: number;
}

class CompatRoute {
  readonly labels: Labels;
  readonly statuses = new StatusCounts(METHODS.length);
  /** Cells by StatusCounts row × method. */
  readonly cells: (Float64Array | undefined)[] = [];

  constructor(labels: Labels) {
    this.labels = labels;
  }
}

const finite = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0);

/** IngressNginxMetrics adds up the compat cells and renders the family. */
export class IngressNginxMetrics {
  readonly #opts: IngressNginxOptions;
  readonly #routes = new Map<string, CompatRoute>();
  readonly #constLabels: Labels;

  constructor(opts: IngressNginxOptions) {
    this.#opts = opts;
    this.#constLabels = [['controller_class', opts.controllerClass], ['controller_namespace', opts.controllerNamespace], ['controller_pod', opts.controllerPod]];
  }

  /** add merges the compat cells of one worker's flush. */
  add(delta: StatsDelta): void {
    for (const r of delta.routes) {
      const compat = r.compat;
      if (!Array.isArray(compat) || typeof r.ingress !== 'string' || typeof r.service !== 'string') continue;
      const host = typeof r.host === 'string' ? r.host : '';
      const path = this.#opts.path && typeof r.path === 'string' ? r.path : '';
      const key = `${r.ingress}\n${r.service}\n${host}\n${path}`;
      let route = this.#routes.get(key);
      if (route === undefined) {
        route = new CompatRoute(this.#labelsOf(r.ingress, r.service, host, path));
        this.#routes.set(key, route);
      }
      for (let i = 0; i + COMPAT_STRIDE <= compat.length; i += COMPAT_STRIDE) {
        const [status, method] = [compat[i], compat[i + 1]];
        if (typeof status !== 'number' || !Number.isInteger(method) || (method as number) < 0 || (method as number) >= METHODS.length) continue;
        const cellIndex = route.statuses.index(status) * METHODS.length + (method as number);
        const cell = (route.cells[cellIndex] ??= new Float64Array(CELL_SIZE));
        for (let j = 0; j < CELL_SIZE; j++) cell[j]! += finite(compat[i + 2 + j]);
      }
    }
  }

  /** render writes every nginx_ingress_controller_* family. */
  render(w: ExpositionWriter, state: IngressNginxState): void {
    const c = this.#constLabels;
    const rows = this.#rows();
    w.family(`${PREFIX}requests`, 'counter', 'The total number of client requests');
    for (const { labels, cell } of rows) w.sample(`${PREFIX}requests`, labels, requestsOf(cell));
    for (const h of COMPAT_HISTOGRAMS) {
      const name = `${PREFIX}${h.name}`;
      w.family(name, 'histogram', h.help);
      for (const { labels, cell } of rows) {
        const { counts, sum } = histogramCounts(cell, h);
        if (counts.some((v) => v > 0)) w.histogram(name, labels, h.bounds, counts, sum);
      }
    }
    const r = state.reloads;
    w.family(`${PREFIX}config_hash`, 'gauge', 'Running configuration hash actually running (Flusso: the snapshot generation)').sample(`${PREFIX}config_hash`, c, state.generation);
    w.family(`${PREFIX}config_last_reload_successful`, 'gauge', 'Whether the last configuration reload attempt was successful').sample(`${PREFIX}config_last_reload_successful`, c, r.lastFailed ? 0 : 1);
    w.family(`${PREFIX}config_last_reload_successful_timestamp_seconds`, 'gauge', 'Timestamp of the last successful configuration reload.').sample(`${PREFIX}config_last_reload_successful_timestamp_seconds`, c, r.lastSuccessSeconds);
    w.family(`${PREFIX}success`, 'counter', 'Cumulative number of Ingress controller reload operations').sample(`${PREFIX}success`, c, r.published);
    w.family(`${PREFIX}errors`, 'counter', 'Cumulative number of Ingress controller errors during reload operations').sample(`${PREFIX}errors`, c, r.failed);
    this.#renderCertificates(w, state.certificates);
    this.#renderProcess(w, state);
  }

  #rows(): { labels: Labels; cell: Float64Array }[] {
    const out: { labels: Labels; cell: Float64Array }[] = [];
    const keys = [...this.#routes.keys()].sort();
    for (const key of keys) {
      const route = this.#routes.get(key) as CompatRoute;
      route.cells.forEach((cell, i) => {
        if (cell === undefined) return;
        const status = route.statuses.keys[Math.floor(i / METHODS.length)] as number;
        out.push({ labels: [...route.labels, ['method', METHODS[i % METHODS.length] as string], ['status', statusLabel(status)]], cell });
      });
    }
    return out;
  }

  #renderCertificates(w: ExpositionWriter, rows: readonly CertificateStatus[]): void {
    const name = `${PREFIX}ssl_expire_time_seconds`;
    w.family(name, 'gauge', 'Number of seconds since 1970 to the SSL Certificate expire.');
    // ingress-nginx labels this gauge with its own namespace and class, and only for named hosts.
    const fallback = rows.find((r) => r.host === '*')?.certificate;
    for (const r of rows) {
      if (r.host === '*') continue;
      const served = r.certificate ?? (r.serving === 'default' ? fallback : undefined);
      if (served === undefined) continue;
      w.sample(name, [['class', this.#opts.controllerClass], ['host', r.host], ['namespace', this.#opts.controllerNamespace]], Math.floor(Date.parse(served.notAfter) / 1000));
    }
  }

  #renderProcess(w: ExpositionWriter, state: IngressNginxState): void {
    const c = this.#constLabels;
    const g = state.group;
    const p = `${PREFIX}nginx_process_`;
    w.family(`${p}connections`, 'gauge', 'current number of client connections with state {active, reading, writing, waiting} (Flusso: active, writing, waiting)');
    if (state.connections !== undefined) {
      // writing: requests being answered; waiting: the other open connections (idle keep-alive).
      const writing = Math.min(state.inFlight, state.connections);
      w.sample(`${p}connections`, [...c, ['state', 'active']], state.connections);
      w.sample(`${p}connections`, [...c, ['state', 'waiting']], state.connections - writing);
      w.sample(`${p}connections`, [...c, ['state', 'writing']], writing);
    }
    w.family(`${p}cpu_seconds_total`, 'counter', 'Cpu usage in seconds (Flusso: primary and workers)').sample(`${p}cpu_seconds_total`, c, g.cpuUserSeconds + g.cpuSystemSeconds);
    w.family(`${p}num_procs`, 'gauge', 'number of processes').sample(`${p}num_procs`, c, g.processes);
    if (g.startTimeSeconds !== undefined) w.family(`${p}oldest_start_time_seconds`, 'gauge', 'start time in seconds since 1970/01/01').sample(`${p}oldest_start_time_seconds`, c, Math.floor(g.startTimeSeconds));
    w.family(`${p}resident_memory_bytes`, 'gauge', 'number of bytes of memory in use').sample(`${p}resident_memory_bytes`, c, g.residentMemoryBytes);
    if (g.virtualMemoryBytes > 0) w.family(`${p}virtual_memory_bytes`, 'gauge', 'number of bytes of memory in use').sample(`${p}virtual_memory_bytes`, c, g.virtualMemoryBytes);
    let requests = 0;
    for (const route of this.#routes.values()) for (const cell of route.cells) if (cell !== undefined) requests += requestsOf(cell);
    w.family(`${p}requests_total`, 'counter', 'total number of client requests').sample(`${p}requests_total`, c, requests);
  }

  #labelsOf(ingress: string, service: string, host: string, path: string): Labels {
    // ingress-nginx leaves namespace, ingress and service empty for requests no Ingress took.
    const unmatched = ingress === UNMATCHED;
    const ing = unmatched ? { namespace: '', name: '' } : splitObjectKey(ingress);
    const svc = unmatched || service === UNMATCHED ? '' : splitObjectKey(service).name;
    const labels: (readonly [string, string])[] = [...this.#constLabels, ['namespace', ing.namespace], ['ingress', ing.name], ['service', svc], ['host', host], ['canary', '']];
    if (this.#opts.path) labels.push(['path', path]);
    return labels;
  }
}

/**
 * countEstablished counts the TCP connections in /proc/net/tcp{,6} text that are established
 * (state 01) with a local port in `ports`: the clients connected to the proxy listeners.
 */
export function countEstablished(text: string, ports: ReadonlySet<number>): number {
  let n = 0;
  for (const line of text.split('\n')) {
    // "  0: 0100007F:1F90 0100007F:A1B2 01 …": sl, local address:port, remote, state.
    const f = line.trim().split(/\s+/);
    if (f.length < 4 || f[3] !== '01') continue;
    const local = f[1] as string;
    const port = Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16);
    if (ports.has(port)) n++;
  }
  return n;
}
