/**
 * Worker-side statistics: plain counters and typed arrays per route, bumped on the request
 * path with no allocation and no IPC, and flushed as one StatsDelta about once a second.
 */
import { CELL_SIZE, observe } from '../shared/ingress-nginx-stats.js';
import { METHODS, RouteTally, UNMATCHED, bucketIndex, methodIndex, type ProcessStats, type RouteStatsDelta, type StatsDelta } from '../shared/stats.js';

/**
 * RouteCounters counts the requests of one Ingress → Service pair in this worker. Its typed
 * arrays are allocated on the first request: with 10,000 routes most never see one, and
 * eager arrays cost a few kilobytes per route (issue #5: RSS per worker).
 */
export class RouteCounters {
  readonly ingress: string;
  readonly service: string;
  /** Host and path labels of the ingress-nginx-compatible family; null when it is off. */
  readonly host: string | null;
  readonly path: string | null;
  dirty = false;
  /**
   * pins counts the long-lived users (open WebSockets) still counting here: pinned counters are
   * kept, and flushed, even when a new snapshot no longer has their route.
   */
  pins = 0;
  #tally: RouteTally | null = null;
  /** Compat cells by StatusCounts row × method; allocated per cell on first use. */
  #cells: (Float64Array | undefined)[] | null = null;

  constructor(ingress: string, service: string, compat: { host: string; path: string | null } | null = null) {
    this.ingress = ingress;
    this.service = service;
    this.host = compat?.host ?? null;
    this.path = compat?.path ?? null;
    if (compat !== null) this.#cells = [];
  }

  /**
   * record counts one finished request. `upstreamSeconds` is the time to the upstream response
   * head, `upstreamEndSeconds` to the end of the upstream response; each is negative when no
   * upstream answered (or, for the end, when the response was not read to its end).
   */
  record(method: string, status: number, seconds: number, upstreamSeconds: number, bytesIn: number, bytesOut: number, upstreamEndSeconds = -1): void {
    const t = (this.#tally ??= new RouteTally());
    const m = methodIndex(method);
    const row = t.requests.index(status);
    t.requests.rows[row]![m]! += 1;
    const cells = this.#cells;
    if (cells !== null) observe((cells[row * METHODS.length + m] ??= new Float64Array(CELL_SIZE)), seconds, upstreamSeconds, upstreamEndSeconds, bytesIn, bytesOut);
    t.duration[bucketIndex(seconds)]! += 1;
    t.durationSum += seconds;
    if (upstreamSeconds >= 0) {
      t.upstream[bucketIndex(upstreamSeconds)]! += 1;
      t.upstreamSum += upstreamSeconds;
    }
    t.bytesIn += bytesIn;
    t.bytesOut += bytesOut;
    this.dirty = true;
  }

  /** recordUpstreamFailure counts a connect error or an upstream timeout. */
  recordUpstreamFailure(kind: 'connect' | 'timeout'): void {
    const t = (this.#tally ??= new RouteTally());
    if (kind === 'connect') t.connectErrors++;
    else t.timeouts++;
    this.dirty = true;
  }

  /** recordWebSocketOpened counts an upgrade the backend accepted. */
  recordWebSocketOpened(): void {
    (this.#tally ??= new RouteTally()).websocketsOpened++;
    this.dirty = true;
  }

  /** recordWebSocketClosed counts a proxied WebSocket (or an upgrade in progress) that ended. */
  recordWebSocketClosed(): void {
    (this.#tally ??= new RouteTally()).websocketsClosed++;
    this.dirty = true;
  }

  /** recordWebSocketMessage counts one message proxied client → backend ('in') or back ('out'). */
  recordWebSocketMessage(direction: 'in' | 'out'): void {
    const t = (this.#tally ??= new RouteTally());
    if (direction === 'in') t.websocketMessagesIn++;
    else t.websocketMessagesOut++;
    this.dirty = true;
  }

  /** take returns what was counted since the last take and zeroes it. */
  take(): RouteStatsDelta {
    const t = (this.#tally ??= new RouteTally());
    let delta = t.toDelta(this.ingress, this.service);
    t.reset();
    const cells = this.#cells;
    if (cells !== null) {
      const compat: number[] = [];
      for (let i = 0; i < cells.length; i++) {
        const cell = cells[i];
        if (cell === undefined || !cell.some((v) => v !== 0)) continue;
        compat.push(t.requests.keys[Math.floor(i / METHODS.length)] as number, i % METHODS.length);
        for (const v of cell) compat.push(v);
        cell.fill(0);
      }
      delta = { ...delta, host: this.host ?? '', ...(this.path === null ? {} : { path: this.path }), compat };
    }
    this.dirty = false;
    return delta;
  }
}

/** CompatOptions turn the ingress-nginx-compatible cells on; `path` adds the path label. */
export interface CompatOptions {
  readonly path: boolean;
}

/**
 * WorkerStats owns every RouteCounters of a worker, keyed by Ingress and Service (and, with
 * the ingress-nginx-compatible family on, host and path).
 */
export class WorkerStats {
  readonly #routes = new Map<string, RouteCounters>();
  #live: ReadonlySet<RouteCounters> | null = null;
  readonly #compat: CompatOptions | null;
  /** unmatched counts requests no route took (404s, refused framing). */
  readonly unmatched: RouteCounters;

  constructor(compat: CompatOptions | null = null) {
    this.#compat = compat;
    this.unmatched = new RouteCounters(UNMATCHED, UNMATCHED, compat === null ? null : { host: '', path: compat.path ? '' : null });
  }

  /**
   * counters returns the counters of one route, creating them once: a new snapshot with the
   * same Ingress and Service (host and path) keeps counting into the same object. `host` and
   * `path` matter only with the ingress-nginx-compatible family on.
   */
  counters(ingress: string, service: string, host = '', path = ''): RouteCounters {
    const compat = this.#compat;
    const key = compat === null ? `${ingress}\n${service}` : `${ingress}\n${service}\n${host}\n${compat.path ? path : ''}`;
    let c = this.#routes.get(key);
    if (c === undefined) {
      c = new RouteCounters(ingress, service, compat === null ? null : { host, path: compat.path ? path : null });
      this.#routes.set(key, c);
    }
    return c;
  }

  /**
   * retain tells which counters the current snapshot uses; the others are dropped once what
   * they counted has been flushed.
   */
  retain(live: ReadonlySet<RouteCounters>): void {
    this.#live = live;
    this.#prune();
  }

  /** flush collects every route that counted something since the last flush. */
  flush(inFlight: number, process: ProcessStats, websockets = 0): StatsDelta {
    const routes: RouteStatsDelta[] = [];
    if (this.unmatched.dirty) routes.push(this.unmatched.take());
    for (const c of this.#routes.values()) if (c.dirty) routes.push(c.take());
    this.#prune();
    return websockets === 0 ? { routes, inFlight, process } : { routes, inFlight, websockets, process };
  }

  #prune(): void {
    const live = this.#live;
    if (live === null) return;
    for (const [key, c] of this.#routes) if (!c.dirty && c.pins === 0 && !live.has(c)) this.#routes.delete(key);
  }
}
