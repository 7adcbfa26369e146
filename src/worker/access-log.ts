/**
 * The access log: one pino line per proxied request (or one in N), with the fields operators
 * know from ingress-nginx's log format (pino adds `time`). Header values come from the client, so they are logged
 * as JSON strings (pino escapes them) and truncated; nothing here runs unless the log is on.
 */
import type { Logger } from 'pino';

/** AccessRecord is what the proxy knows about a finished request. */
export interface AccessRecord {
  readonly requestId: string;
  readonly remoteAddress: string;
  readonly method: string;
  readonly host: string;
  /** Path and query as forwarded. */
  readonly path: string;
  readonly status: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** Seconds from the request head to the last response byte. */
  readonly requestTime: number;
  /** `ip:port` of the endpoint, or '' when no upstream was tried. */
  readonly upstreamAddress: string;
  /** The upstream's status, or 0 when it gave none. */
  readonly upstreamStatus: number;
  /** Seconds until the upstream response head, or -1. */
  readonly upstreamTime: number;
  /** The Ingress as `namespace/name`, or '' for an unrouted request. */
  readonly route: string;
}

const MAX_FIELD = 512;
const clip = (v: string): string => (v.length > MAX_FIELD ? `${v.slice(0, MAX_FIELD)}…` : v);

/** AccessLog writes access lines at the configured sampling rate. */
export class AccessLog {
  readonly #log: Logger;
  readonly #every: number;
  readonly #workerId: number;
  #count = 0;

  /** `every`: 0 = off, 1 = every request, N = one request in N. */
  constructor(log: Logger, every: number, workerId: number) {
    this.#log = log;
    this.#every = every;
    this.#workerId = workerId;
  }

  /** enabled tells the caller whether to gather a record at all. */
  get enabled(): boolean {
    return this.#every > 0;
  }

  /** write logs the record if the sampling picks it. */
  write(r: AccessRecord): void {
    if (this.#every === 0 || this.#count++ % this.#every !== 0) return;
    this.#log.info(
      {
        requestId: clip(r.requestId),
        remoteAddress: r.remoteAddress,
        method: r.method,
        host: clip(r.host),
        path: clip(r.path),
        status: r.status,
        bytesIn: r.bytesIn,
        bytesOut: r.bytesOut,
        requestTime: Math.round(r.requestTime * 1e6) / 1e6,
        upstreamAddress: r.upstreamAddress,
        upstreamStatus: r.upstreamStatus,
        upstreamTime: r.upstreamTime < 0 ? null : Math.round(r.upstreamTime * 1e6) / 1e6,
        route: r.route,
        workerId: this.#workerId,
      },
      'access',
    );
  }
}
