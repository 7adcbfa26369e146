/**
 * Traffic totals: the primary adds up every worker's StatsDelta into cumulative counters per
 * Ingress → Service pair, and renders them. Series are created only for label values that came
 * from configured objects (or the fixed UNMATCHED value), so traffic cannot grow them.
 */
import { DURATION_BUCKETS_S, METHODS, RouteTally, STATUS_CLASSES, UNMATCHED, type ProcessStats, type StatsDelta } from '../../shared/stats.js';
import { statusClassOfKey, statusLabel, type StatusCounts } from '../../shared/status-counts.js';
import { splitObjectKey } from '../../shared/keys.js';
import type { ExpositionWriter, Labels } from './exposition.js';

const BUCKETS = DURATION_BUCKETS_S.length + 1;

/** RouteTotals is the cumulative tally of one Ingress → Service pair, with its labels. */
class RouteTotals extends RouteTally {
  readonly labels: Labels;
  readonly serviceLabels: Labels;

  constructor(ingress: string, service: string) {
    super();
    const ing = ingress === UNMATCHED ? { namespace: UNMATCHED, name: UNMATCHED } : splitObjectKey(ingress);
    const svc = service === UNMATCHED ? { namespace: UNMATCHED, name: UNMATCHED } : splitObjectKey(service);
    this.labels = [['namespace', ing.namespace], ['ingress', ing.name], ['service', svc.name]];
    this.serviceLabels = [['namespace', svc.namespace], ['service', svc.name]];
  }
}

/** ProcessSample is the newest ProcessStats of one process, with its in-flight gauge. */
interface ProcessSample {
  readonly stats: ProcessStats;
  readonly inFlight: number;
  readonly websockets: number;
}

/** ServiceTraffic is what byService counts for one Service. */
export interface ServiceTraffic {
  requests: number;
  errors: number;
  websocketsOpened: number;
  /** Opened and not yet closed; a worker that died took its count of closes with it, so this can stay high after a crash. */
  websocketsOpen: number;
  websocketMessagesIn: number;
  websocketMessagesOut: number;
}

/** statusOrder sorts an overflow row (`5xx`) after the exact codes of its class. */
const statusOrder = (key: number): number => (key >= 100 ? key : key * 100 + 99.5);

/** requestsAndErrors sums a route's requests and its 5xx answers. */
function requestsAndErrors(counts: StatusCounts): [number, number] {
  let requests = 0;
  let errors = 0;
  counts.rows.forEach((row, i) => {
    let n = 0;
    for (const v of row) n += v;
    requests += n;
    if (statusClassOfKey(counts.keys[i] as number) === STATUS_CLASSES.length - 1) errors += n;
  });
  return [requests, errors];
}

/** TrafficMetrics holds the cumulative traffic counters of all workers. */
export class TrafficMetrics {
  readonly #routes = new Map<string, RouteTotals>();
  readonly #processes = new Map<string, ProcessSample>();

  /** add merges one worker's delta; `worker` names the process (e.g. `worker-1`). */
  add(worker: string, delta: StatsDelta): void {
    for (const r of delta.routes) {
      const key = `${r.ingress}\n${r.service}`;
      let t = this.#routes.get(key);
      if (t === undefined) {
        t = new RouteTotals(r.ingress, r.service);
        this.#routes.set(key, t);
      }
      t.add(r);
    }
    this.#processes.set(worker, { stats: delta.process, inFlight: delta.inFlight, websockets: delta.websockets ?? 0 });
  }

  /** setProcess records the primary's own process gauges. */
  setProcess(name: string, stats: ProcessStats): void {
    this.#processes.set(name, { stats, inFlight: this.#processes.get(name)?.inFlight ?? 0, websockets: 0 });
  }

  /** forgetProcess drops the gauges of a process that is gone (a restarted worker reports anew). */
  forgetProcess(name: string): void {
    this.#processes.delete(name);
  }

  /** totals adds every route up: requests, 5xx answers, and the request-duration buckets. */
  totals(): { requests: number; errors: number; duration: Float64Array } {
    const duration = new Float64Array(BUCKETS);
    let requests = 0;
    let errors = 0;
    for (const t of this.#routes.values()) {
      const [n, e] = requestsAndErrors(t.requests);
      requests += n;
      errors += e;
      for (let i = 0; i < BUCKETS; i++) duration[i]! += t.duration[i] as number;
    }
    return { requests, errors, duration };
  }

  /**
   * byService adds the routes up per Service (`namespace/name`): requests and 5xx answers, and
   * the proxied WebSockets: opened, open now (opened − closed), messages in and out.
   */
  byService(): Map<string, ServiceTraffic> {
    const out = new Map<string, ServiceTraffic>();
    for (const [key, t] of this.#routes) {
      const service = key.slice(key.indexOf('\n') + 1);
      const f = out.get(service) ?? { requests: 0, errors: 0, websocketsOpened: 0, websocketsOpen: 0, websocketMessagesIn: 0, websocketMessagesOut: 0 };
      const [n, e] = requestsAndErrors(t.requests);
      f.requests += n;
      f.errors += e;
      f.websocketsOpened += t.websocketsOpened;
      f.websocketsOpen += Math.max(0, t.websocketsOpened - t.websocketsClosed);
      f.websocketMessagesIn += t.websocketMessagesIn;
      f.websocketMessagesOut += t.websocketMessagesOut;
      out.set(service, f);
    }
    return out;
  }

  /** inFlight is the number of requests being answered now, over every worker. */
  inFlight(): number {
    let n = 0;
    for (const p of this.#processes.values()) n += p.inFlight;
    return n;
  }

  /** totalRequests is the sum of every request counted (for tests and the GUI). */
  totalRequests(): number {
    let n = 0;
    for (const t of this.#routes.values()) n += t.requests.total();
    return n;
  }

  /** render writes every traffic family. */
  render(w: ExpositionWriter): void {
    // Sorted by key so a scrape lists series in a stable order.
    const routes = [...this.#routes.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, t]) => t);
    w.family('flusso_requests_total', 'counter', 'Requests answered, by route, method, status class and status (the first 16 codes of a route exactly, later ones as their class, e.g. 5xx); unmatched requests have the label value _unmatched.');
    for (const t of routes) {
      const rows = t.requests.keys.map((key, i) => ({ key, row: t.requests.rows[i] as Float64Array })).sort((a, b) => statusOrder(a.key) - statusOrder(b.key));
      for (let m = 0; m < METHODS.length; m++)
        for (const { key, row } of rows) {
          const v = row[m] as number;
          if (v > 0) w.sample('flusso_requests_total', [...t.labels, ['method', METHODS[m] as string], ['status_class', STATUS_CLASSES[statusClassOfKey(key)] as string], ['status', statusLabel(key)]], v);
        }
    }
    w.family('flusso_request_duration_seconds', 'histogram', 'Time from the request head to the last response byte.');
    for (const t of routes) w.histogram('flusso_request_duration_seconds', t.labels, DURATION_BUCKETS_S, t.duration, t.durationSum);
    w.family('flusso_upstream_response_seconds', 'histogram', 'Time from dispatching to the upstream until its response head.');
    for (const t of routes) if (t.upstream.some((v) => v > 0)) w.histogram('flusso_upstream_response_seconds', t.labels, DURATION_BUCKETS_S, t.upstream, t.upstreamSum);
    w.family('flusso_request_bytes_total', 'counter', 'Request body bytes received from clients.');
    for (const t of routes) w.sample('flusso_request_bytes_total', t.labels, t.bytesIn);
    w.family('flusso_response_bytes_total', 'counter', 'Response body bytes sent to clients.');
    for (const t of routes) w.sample('flusso_response_bytes_total', t.labels, t.bytesOut);
    w.family('flusso_upstream_connect_errors_total', 'counter', 'Upstream connections refused, reset or unreachable before a response.');
    for (const t of routes) if (t.labels[2]?.[1] !== UNMATCHED) w.sample('flusso_upstream_connect_errors_total', t.labels, t.connectErrors);
    w.family('flusso_upstream_timeouts_total', 'counter', 'Upstream connect or response-head timeouts.');
    for (const t of routes) if (t.labels[2]?.[1] !== UNMATCHED) w.sample('flusso_upstream_timeouts_total', t.labels, t.timeouts);

    const ws = routes.filter((t) => t.websocketsOpened > 0);
    w.family('flusso_websocket_connections_total', 'counter', 'WebSocket upgrades the backend accepted, by route.');
    for (const t of ws) w.sample('flusso_websocket_connections_total', t.labels, t.websocketsOpened);
    w.family('flusso_websocket_closed_total', 'counter', 'Proxied WebSockets that ended, by route.');
    for (const t of ws) w.sample('flusso_websocket_closed_total', t.labels, t.websocketsClosed);
    w.family('flusso_websocket_messages_total', 'counter', 'WebSocket messages proxied, by route and direction (in: client to backend).');
    for (const t of ws) {
      w.sample('flusso_websocket_messages_total', [...t.labels, ['direction', 'in']], t.websocketMessagesIn);
      w.sample('flusso_websocket_messages_total', [...t.labels, ['direction', 'out']], t.websocketMessagesOut);
    }

    const processes = [...this.#processes.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    w.family('flusso_in_flight_requests', 'gauge', 'Requests being proxied right now, per worker.');
    for (const [name, p] of processes) if (name !== 'primary') w.sample('flusso_in_flight_requests', [['process', name]], p.inFlight);
    w.family('flusso_open_websockets', 'gauge', 'Proxied WebSockets open right now, per worker.');
    for (const [name, p] of processes) if (name !== 'primary') w.sample('flusso_open_websockets', [['process', name]], p.websockets);
    w.family('flusso_process_resident_memory_bytes', 'gauge', 'Resident set size per process.');
    for (const [name, p] of processes) w.sample('flusso_process_resident_memory_bytes', [['process', name]], p.stats.rssBytes);
    w.family('flusso_process_heap_used_bytes', 'gauge', 'V8 heap in use per process.');
    for (const [name, p] of processes) w.sample('flusso_process_heap_used_bytes', [['process', name]], p.stats.heapUsedBytes);
    w.family('flusso_event_loop_delay_seconds', 'gauge', 'Event-loop delay per process over the last interval (stat p50, p99, max).');
    for (const [name, p] of processes) {
      w.sample('flusso_event_loop_delay_seconds', [['process', name], ['stat', 'p50']], p.stats.eventLoopDelayP50);
      w.sample('flusso_event_loop_delay_seconds', [['process', name], ['stat', 'p99']], p.stats.eventLoopDelayP99);
      w.sample('flusso_event_loop_delay_seconds', [['process', name], ['stat', 'max']], p.stats.eventLoopDelayMax);
    }
  }
}
