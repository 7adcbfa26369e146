/**
 * RequestRecord: what one request was and how it ended, the one source metrics and the access log
 * both read (issue 13: accounting lived in three places and they differed). Every path that ends
 * a request (a proxied response, a cached answer, a refusal, a client that left) calls finish()
 * exactly once.
 */
import type { AccessLog } from '../access-log.js';
import type { RouteCounters } from '../stats.js';

/** CLIENT_CLOSED is the status counted for a request whose client left first (nginx's 499). */
export const CLIENT_CLOSED = 499;

/** AccessContext is what the access line needs beyond the request itself (only when the log is on). */
export interface AccessContext {
  readonly host: string;
  readonly clientAddress: string;
  readonly requestId: string;
  readonly route: string;
}

/** RequestRecordOptions describe the request as it came in. */
export interface RequestRecordOptions {
  readonly method: string;
  /** Path and query as forwarded (or as received, for answers given before routing). */
  readonly target: string;
  readonly counters: RouteCounters | null;
  readonly accessLog: AccessLog | null;
  /** The access line's context; null when the log is off. */
  readonly access: AccessContext | null;
  /** performance.now() when the request head was read. */
  readonly startedAt: number;
}

/** RequestRecord accumulates one request's facts and reports them once. */
export class RequestRecord {
  readonly method: string;
  readonly target: string;
  readonly startedAt: number;
  readonly #counters: RouteCounters | null;
  readonly #accessLog: AccessLog | null;
  readonly #access: AccessContext | null;
  /** `ip:port` of the endpoint last tried, or ''. */
  upstreamAddress = '';
  /** The upstream's status, or 0. */
  upstreamStatus = 0;
  /** performance.now() at the upstream response head, or -1. */
  upstreamAt = -1;
  /** performance.now() when the upstream response ended, or -1. */
  upstreamEndAt = -1;
  bytesIn = 0;
  #finished = false;

  constructor(o: RequestRecordOptions) {
    this.method = o.method;
    this.target = o.target;
    this.startedAt = o.startedAt;
    this.#counters = o.counters;
    this.#accessLog = o.accessLog;
    this.#access = o.access;
  }

  /** finished says finish() ran. */
  get finished(): boolean {
    return this.#finished;
  }

  /**
   * finish counts the request and writes its access line, once; `status` 0 means nothing was
   * sent (counted as 499 when the client left, the only way to end without an answer).
   */
  finish(status: number, bytesOut: number): void {
    if (this.#finished) return;
    this.#finished = true;
    const counters = this.#counters;
    const log = this.#accessLog;
    if (counters === null && log === null) return;
    const sent = status === 0 ? CLIENT_CLOSED : status;
    const now = performance.now();
    const seconds = (now - this.startedAt) / 1000;
    const upstreamSeconds = this.upstreamAt < 0 ? -1 : (this.upstreamAt - this.startedAt) / 1000;
    counters?.record(this.method, sent, seconds, upstreamSeconds, this.bytesIn, bytesOut, this.upstreamEndAt < 0 ? -1 : (this.upstreamEndAt - this.startedAt) / 1000);
    const a = this.#access;
    if (log === null || a === null) return;
    log.write({
      requestId: a.requestId,
      remoteAddress: a.clientAddress,
      method: this.method,
      host: a.host,
      path: this.target,
      status: sent,
      bytesIn: this.bytesIn,
      bytesOut,
      requestTime: seconds,
      upstreamAddress: this.upstreamAddress,
      upstreamStatus: this.upstreamStatus,
      upstreamTime: upstreamSeconds,
      route: a.route,
    });
  }
}
