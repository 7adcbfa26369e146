/**
 * Worker-side statistics: plain counters and typed arrays per route, bumped on the request
 * path with no allocation and no IPC, and flushed as one StatsDelta about once a second.
 */
import { RouteTally, STATUS_CLASSES, UNMATCHED, bucketIndex, methodIndex, statusClassIndex, type ProcessStats, type RouteStatsDelta, type StatsDelta } from '../shared/stats.js';

/**
 * RouteCounters counts the requests of one Ingress → Service pair in this worker. Its typed
 * arrays are allocated on the first request: with 10,000 routes most never see one, and
 * eager arrays cost a few kilobytes per route (issue #5: RSS per worker).
 */
export class RouteCounters {
  readonly ingress: string;
  readonly service: string;
  dirty = false;
  /**
   * pins counts the long-lived users (open WebSockets) still counting here: pinned counters are
   * kept, and flushed, even when a new snapshot no longer has their route.
   */
  pins = 0;
  #tally: RouteTally | null = null;

  constructor(ingress: string, service: string) {
    this.ingress = ingress;
    this.service = service;
  }

  /**
   * record counts one finished request. `upstreamSeconds` is the time to the upstream response
   * head, or a negative number when no upstream answered.
   */
  record(method: string, status: number, seconds: number, upstreamSeconds: number, bytesIn: number, bytesOut: number): void {
    const t = (this.#tally ??= new RouteTally());
    t.requests[methodIndex(method) * STATUS_CLASSES.length + statusClassIndex(status)]! += 1;
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
    const delta = t.toDelta(this.ingress, this.service);
    t.reset();
    this.dirty = false;
    return delta;
  }
}

/** WorkerStats owns every RouteCounters of a worker, keyed by Ingress and Service. */
export class WorkerStats {
  readonly #routes = new Map<string, RouteCounters>();
  #live: ReadonlySet<RouteCounters> | null = null;
  /** unmatched counts requests no route took (404s, refused framing). */
  readonly unmatched = new RouteCounters(UNMATCHED, UNMATCHED);

  /**
   * counters returns the counters of one route, creating them once: a new snapshot with the
   * same Ingress and Service keeps counting into the same object.
   */
  counters(ingress: string, service: string): RouteCounters {
    const key = `${ingress}\n${service}`;
    let c = this.#routes.get(key);
    if (c === undefined) {
      c = new RouteCounters(ingress, service);
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
