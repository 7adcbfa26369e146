/**
 * The statistics contract between workers and the primary. Workers count in memory (typed
 * arrays, no IPC per request) and ship a StatsDelta about once a second; the primary adds the
 * deltas up and renders Prometheus metrics. Every label value comes from configured objects
 * (namespace, Ingress, Service) or from these fixed tables, never from raw client input, so
 * the number of series cannot grow with traffic; the exact status code is bounded per route
 * (status-counts.ts).
 */
import { CELL_SIZE } from './ingress-nginx-stats.js';
import { StatusCounts } from './status-counts.js';

/** METHODS are the method label values; anything else counts as OTHER. */
export const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'OTHER'] as const;

/** STATUS_CLASSES are the status-class label values, indexed by `Math.floor(status / 100) - 1`. */
export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

/**
 * DURATION_BUCKETS_S are the upper bounds (seconds) of the request and upstream duration
 * histograms; a last, implicit `+Inf` bucket follows.
 */
export const DURATION_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] as const;

/** UNMATCHED is the label value for requests that matched no route (namespace, ingress, service). */
export const UNMATCHED = '_unmatched';

/** methodIndex maps a request method to its index in METHODS. */
export function methodIndex(method: string): number {
  switch (method) {
    case 'GET': return 0;
    case 'HEAD': return 1;
    case 'POST': return 2;
    case 'PUT': return 3;
    case 'DELETE': return 4;
    case 'PATCH': return 5;
    case 'OPTIONS': return 6;
    default: return 7;
  }
}

/** statusClassIndex maps an HTTP status to its index in STATUS_CLASSES (out-of-range → 5xx). */
export function statusClassIndex(status: number): number {
  const c = Math.floor(status / 100) - 1;
  return c >= 0 && c < STATUS_CLASSES.length ? c : STATUS_CLASSES.length - 1;
}

/** bucketIndex returns the histogram bucket of a duration in seconds (DURATION_BUCKETS_S.length = +Inf). */
export function bucketIndex(seconds: number): number {
  const b = DURATION_BUCKETS_S;
  for (let i = 0; i < b.length; i++) if (seconds <= (b[i] as number)) return i;
  return b.length;
}

/** RouteStatsDelta is what one route (an Ingress → Service pair) counted since the last flush. */
export interface RouteStatsDelta {
  /** Labels as `namespace/ingress` and `namespace/service`; UNMATCHED for unrouted requests. */
  readonly ingress: string;
  readonly service: string;
  /**
   * With the ingress-nginx-compatible family on: the virtual host the route belongs to ('' for
   * the default backend and unmatched requests) and, with its path label on, the route's path.
   */
  readonly host?: string;
  readonly path?: string;
  /**
   * Request counts as flattened triples [status, method, count, …]: `status` is an exact code,
   * or a class digit 1 to 5 for the codes over the route's bound (StatusCounts); `method` an
   * index in METHODS.
   */
  readonly requests: readonly number[];
  /**
   * The ingress-nginx-compatible cells, flattened [status, method, CELL_SIZE figures, …]
   * (ingress-nginx-stats.ts); absent when the family is off.
   */
  readonly compat?: readonly number[];
  /** Request duration histogram counts per bucket (not cumulative), and the sum in seconds. */
  readonly duration: readonly number[];
  readonly durationSum: number;
  /** Upstream response time (until the response head) histogram and sum, for proxied requests. */
  readonly upstream: readonly number[];
  readonly upstreamSum: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly connectErrors: number;
  readonly timeouts: number;
  /** WebSockets upgraded and closed, and messages proxied client → backend (in) and back (out). */
  readonly websocketsOpened?: number;
  readonly websocketsClosed?: number;
  readonly websocketMessagesIn?: number;
  readonly websocketMessagesOut?: number;
}

/** ProcessStats are gauges of one process, sampled at flush time. */
export interface ProcessStats {
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  /** Event-loop delay over the last interval, seconds. */
  readonly eventLoopDelayP50: number;
  readonly eventLoopDelayP99: number;
  readonly eventLoopDelayMax: number;
  /** The process_* and nodejs_* figures (runtime-stats.ts); absent from older senders and tests. */
  readonly runtime?: RuntimeStats;
}

/**
 * RuntimeStats are what the standard `process_*` and `nodejs_*` metrics (as prom-client names
 * them) need from one process. Counters are cumulative since the process started.
 */
export interface RuntimeStats {
  readonly cpuUserSeconds: number;
  readonly cpuSystemSeconds: number;
  readonly startTimeSeconds: number;
  /** From /proc (Linux); absent elsewhere. */
  readonly virtualMemoryBytes?: number;
  readonly heapBytes?: number;
  readonly openFds?: number;
  readonly maxFds?: number;
  readonly heapTotalBytes: number;
  readonly externalBytes: number;
  /** v8 heap spaces as [name without `_space`, size, used, available]. */
  readonly heapSpaces: readonly (readonly [string, number, number, number])[];
  /** Lag of a setImmediate at the last sample, and the delay histogram of the last interval, seconds. */
  readonly eventLoopLag: number;
  readonly eventLoopMin: number;
  readonly eventLoopMean: number;
  readonly eventLoopStddev: number;
  readonly eventLoopP90: number;
  /** Resources keeping the event loop alive, by type. */
  readonly activeResources: readonly (readonly [string, number])[];
  /** GC pauses by kind: [kind, per-bucket counts of GC_BUCKETS_S with +Inf …, sum seconds]. */
  readonly gc: readonly (readonly [string, readonly number[], number])[];
  readonly nodeVersion: string;
}

/** GC_BUCKETS_S are prom-client's default nodejs_gc_duration_seconds buckets. */
export const GC_BUCKETS_S = [0.001, 0.01, 0.1, 1, 2, 5] as const;

/** StatsDelta is one worker's flush. */
export interface StatsDelta {
  readonly routes: readonly RouteStatsDelta[];
  /**
   * Requests in flight right now (a gauge). This uWS build has no connection open/close hooks
   * for plain HTTP, so open connections cannot be counted; requests in flight can.
   */
  readonly inFlight: number;
  /** WebSockets open right now (a gauge; absent from workers that never had one). */
  readonly websockets?: number;
  readonly process: ProcessStats;
  /** The response cache's figures; absent when the worker has no cached route and never had one. */
  readonly cache?: CacheStatsDelta;
}

/** CACHE_STATUSES are the X-Cache-Status values, in the order RouteCacheDelta.responses counts them. */
export const CACHE_STATUSES = ['HIT', 'MISS', 'EXPIRED', 'STALE', 'REVALIDATED', 'BYPASS'] as const;

/** RouteCacheDelta is one Ingress's cache figures in one worker's flush. */
export interface RouteCacheDelta {
  /** `namespace/name` of the Ingress. */
  readonly ingress: string;
  /** Responses since the last flush, indexed like CACHE_STATUSES. */
  readonly responses: readonly number[];
  /** Entries evicted (LRU, to stay under the bound) since the last flush. */
  readonly evictions: number;
  /** Gauges, current: entries held for this Ingress and their accounted bytes. */
  readonly entries: number;
  readonly storedBytes: number;
}

/**
 * CacheStatsDelta is a worker's cache flush: every Ingress that has entries or counted something
 * since the last flush (an Ingress missing from a later flush holds nothing), and the totals.
 */
export interface CacheStatsDelta {
  readonly routes: readonly RouteCacheDelta[];
  /** Gauges, current, for the whole worker cache. */
  readonly entries: number;
  readonly storedBytes: number;
  readonly maxBytes: number;
}

const BUCKETS = DURATION_BUCKETS_S.length + 1;

/**
 * RouteTally is the set of figures kept per route, in the same layout on both sides: a worker
 * counts into one and ships it as a RouteStatsDelta; the primary adds deltas into another.
 */
export class RouteTally {
  readonly requests = new StatusCounts(METHODS.length);
  readonly duration = new Float64Array(BUCKETS);
  readonly upstream = new Float64Array(BUCKETS);
  durationSum = 0;
  upstreamSum = 0;
  bytesIn = 0;
  bytesOut = 0;
  connectErrors = 0;
  timeouts = 0;
  websocketsOpened = 0;
  websocketsClosed = 0;
  websocketMessagesIn = 0;
  websocketMessagesOut = 0;

  /** add adds a delta's figures to this tally. */
  add(d: RouteStatsDelta): void {
    addTriples(this.requests, d.requests);
    addInto(this.duration, d.duration);
    addInto(this.upstream, d.upstream);
    this.durationSum += d.durationSum;
    this.upstreamSum += d.upstreamSum;
    this.bytesIn += d.bytesIn;
    this.bytesOut += d.bytesOut;
    this.connectErrors += d.connectErrors;
    this.timeouts += d.timeouts;
    this.websocketsOpened += d.websocketsOpened ?? 0;
    this.websocketsClosed += d.websocketsClosed ?? 0;
    this.websocketMessagesIn += d.websocketMessagesIn ?? 0;
    this.websocketMessagesOut += d.websocketMessagesOut ?? 0;
  }

  /** toDelta copies the figures out as a delta for `ingress` and `service`. */
  toDelta(ingress: string, service: string): RouteStatsDelta {
    return {
      ingress,
      service,
      requests: this.requests.toTriples(),
      duration: Array.from(this.duration),
      durationSum: this.durationSum,
      upstream: Array.from(this.upstream),
      upstreamSum: this.upstreamSum,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      connectErrors: this.connectErrors,
      timeouts: this.timeouts,
      ...(this.websocketsOpened + this.websocketsClosed + this.websocketMessagesIn + this.websocketMessagesOut === 0
        ? {}
        : { websocketsOpened: this.websocketsOpened, websocketsClosed: this.websocketsClosed, websocketMessagesIn: this.websocketMessagesIn, websocketMessagesOut: this.websocketMessagesOut }),
    };
  }

  /** reset zeroes every figure. */
  reset(): void {
    this.requests.reset();
    this.duration.fill(0);
    this.upstream.fill(0);
    this.durationSum = this.upstreamSum = this.bytesIn = this.bytesOut = this.connectErrors = this.timeouts = 0;
    this.websocketsOpened = this.websocketsClosed = this.websocketMessagesIn = this.websocketMessagesOut = 0;
  }
}

/** addTriples adds [status, method, count] triples, skipping malformed ones (the input crossed IPC). */
function addTriples(target: StatusCounts, triples: readonly number[]): void {
  if (!Array.isArray(triples)) return;
  for (let i = 0; i + 2 < triples.length; i += 3) {
    const [status, method, n] = [triples[i], triples[i + 1], triples[i + 2]];
    if (typeof status !== 'number' || !Number.isInteger(method) || (method as number) < 0 || (method as number) >= METHODS.length || typeof n !== 'number' || !(n > 0)) continue;
    target.add(status, method as number, n);
  }
}

/** COMPAT_STRIDE is the length of one cell in RouteStatsDelta.compat: status, method, figures. */
export const COMPAT_STRIDE = 2 + CELL_SIZE;

function addInto(target: Float64Array, source: readonly number[]): void {
  const n = Math.min(target.length, source.length);
  for (let i = 0; i < n; i++) target[i]! += source[i] as number;
}
