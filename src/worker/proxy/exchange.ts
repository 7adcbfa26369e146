/**
 * Exchange: one proxied request, from the uWS handler's return to the last byte. It joins three
 * parts, each in its own module: the upstream client (upstream/client.ts) it is the handler of,
 * the ResponseWriter that writes to the client (response-writer.ts), and the RequestRecord that
 * metrics and the access log read when it ends (request-record.ts).
 *
 * What it decides itself: the request body's flow (client → upstream, pausing the client on
 * backpressure), what the response becomes (forwarded, bodiless, answered from the cache, a
 * failure), the retry on another endpoint after a connect failure, and the mapping of upstream
 * failures to statuses (errors.ts). Each upstream read is delivered inside one res.cork, so the
 * head and the first body bytes leave in one send.
 */
import type { Logger } from 'pino';
import type { HttpResponse } from 'uWebSockets.js';
import type { AccessLog } from '../access-log.js';
import type { BackendRuntime, UpstreamEndpoint } from '../state.js';
import type { RouteCounters } from '../stats.js';
import type { RouteUpstream } from '../../shared/upstream-policy.js';
import { BodyFraming, type UpstreamConnection, type UpstreamError, type UpstreamFailure, type UpstreamHandler, type RequestTimeouts } from '../upstream/client.js';
import { BodyMode, type ResponseHead } from '../upstream/parser.js';
import type { ProxyFailure } from './errors.js';
import { ErrorPageFetch, type ErrorPageRequest } from './error-pages.js';
import { BodyTimer, DEFAULT_BODY, exceedsLimit, type BodyPolicy } from './request-body.js';
import { RequestRecord, type AccessContext } from './request-record.js';
import { markClientClose, ResponseWriter, type WriterEvents } from './response-writer.js';
import { mayResend, reachedUpstream, upstreamPlanOf, type RetryPlan } from './upstream-policy.js';

export { closeField, markClientClose, writeOwnFields } from './response-writer.js';
export type { AccessContext } from './request-record.js';

/**
 * ProxyContext is the state an Exchange shares with its listener: the HTTP port has one, and
 * each generation of the HTTPS listener (tls-front.ts) has its own, so each knows its requests.
 */
export interface ProxyContext {
  readonly serverHeader: string;
  /** The Strict-Transport-Security value added to every response (HTTPS with --hsts), else null. */
  readonly hsts: string | null;
  readonly log: Logger;
  /** Set by drain(): every response from now on asks uWS to close the connection. */
  draining: boolean;
  inFlight: number;
  /** Called when inFlight reaches 0 while draining. */
  onIdle: (() => void) | null;
  /** The access log, or null when it is off. */
  readonly accessLog: AccessLog | null;
  /** The request-body defaults (the global flags; request-body.ts); absent: DEFAULT_BODY. */
  readonly body?: BodyPolicy;
}

/**
 * ExchangeCache is the response cache's view of one exchange on a cached route (proxy/cached.ts):
 * it labels the response, may answer from a stored entry instead of the upstream's answer, and
 * sees the body to store it. Every hook runs on the exchange's own path; none may throw.
 */
export interface ExchangeCache {
  /** The X-Cache-Status of what is sent (read when the head is written). */
  readonly status: string;
  /**
   * onHead sees the final upstream head (valid only during the call). It returns an entry to
   * send instead of the upstream's response (a 304 that refreshed the entry; a 5xx under
   * stale-if-error), or null to forward the upstream's response.
   */
  onHead(status: number, head: ResponseHead): object | null;
  /** onBody sees each forwarded body piece, valid only during the call (copy what is kept). */
  onBody(chunk: Buffer): void;
  /** onComplete runs when the upstream response ended cleanly, before the client's response ends. */
  onComplete(): void;
  /** onFailure runs when the upstream failed before any head: an entry to send instead (stale-if-error), or null. */
  onFailure(): object | null;
  /** write sends `entry` (returned by onHead or onFailure) on `res`, corked; returns the status and body bytes sent. */
  write(res: HttpResponse, entry: object, close: boolean): readonly [number, number];
  /** settle runs exactly once when the exchange is over, whatever happened. */
  settle(): void;
}

/** ExchangeOptions describe one request to proxy. */
export interface ExchangeOptions {
  readonly ctx: ProxyContext;
  readonly res: HttpResponse;
  /** The method as the client sent it (case kept). */
  readonly method: string;
  /** Path and query as forwarded. */
  readonly target: string;
  /** The upstream request fields, `[name, value, …]` (headers.ts buildUpstreamHeaders). */
  readonly headers: readonly string[];
  readonly backend: BackendRuntime;
  readonly endpoint: UpstreamEndpoint;
  /** How the request body goes upstream (none, as it comes with its Content-Length, chunked). */
  readonly body: BodyFraming;
  readonly counters: RouteCounters | null;
  /** performance.now() when the request head was read. */
  readonly startedAt: number;
  /** The access line's context; null when the access log is off. */
  readonly access: AccessContext | null;
  /** The response cache's hooks on a cached route. */
  readonly cache?: ExchangeCache | null;
  /** The route's request-body policy (request-body.ts bodyPolicyOf); absent: the context's defaults. */
  readonly bodyPolicy?: BodyPolicy;
  /** Runs once when the exchange is over, however it ends (limit-connections gives its place back, conn-limit.ts). */
  readonly onFinish?: (() => void) | null;
  /** The route's timeouts and retry rule (ingress-nginx proxy-*-timeout, proxy-next-upstream*; upstream-policy.ts); absent: the global ones. */
  readonly upstream?: RouteUpstream | undefined;
  /** The route's custom-http-errors (error-pages.ts); absent or null: every upstream answer passes. */
  readonly errorPages?: ErrorPageRequest | null;
}

/** Methods that may be sent again (nginx proxy_next_upstream; RFC 9110 §9.2.2). */
const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
/** Endpoints tried per request after connect failures (nginx proxy_next_upstream_tries for ingress-nginx is 3). */
const MAX_TRIES = 3;
/** Request body bytes held while no connection took the request yet (beyond the policy's buffer); past this the client is paused. */
const QUEUED_BODY_BYTES = 64 * 1024;

/** FAILURE_OF maps an upstream failure before any response head to the answer. */
const FAILURE_OF: Readonly<Record<UpstreamFailure, ProxyFailure>> = {
  connect: 'upstream-error',
  'connect-timeout': 'upstream-timeout',
  'response-timeout': 'upstream-timeout',
  'idle-timeout': 'upstream-timeout',
  closed: 'upstream-error',
  protocol: 'upstream-error',
  saturated: 'no-endpoint',
  'pool-closed': 'upstream-error',
};

/**
 * buildRequestHead returns the whole upstream request head as one string (written once as
 * Latin-1: headers.ts already turned every value into its bytes as Latin-1 characters). Host
 * goes first, then `connection: keep-alive`, then the other fields in the client's order: the
 * bytes undici sent before, so upstreams see no change.
 */
export function buildRequestHead(method: string, target: string, headers: readonly string[], body: BodyFraming): string {
  let host = -1;
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] === 'host') {
      host = i;
      break;
    }
  }
  let head = `${method} ${target} HTTP/1.1\r\n`;
  if (host >= 0) head += `host: ${headers[host + 1] as string}\r\n`;
  head += 'connection: keep-alive\r\n';
  for (let i = 0; i < headers.length; i += 2) if (i !== host) head += `${headers[i] as string}: ${headers[i + 1] as string}\r\n`;
  if (body === BodyFraming.Chunked) head += 'transfer-encoding: chunked\r\n';
  return `${head}\r\n`;
}

/** Exchange forwards one request and streams the response back. */
export class Exchange implements UpstreamHandler, WriterEvents {
  readonly requestHead: string;
  readonly headRequest: boolean;
  readonly retryable: boolean;
  readonly bodyFraming: BodyFraming;
  /** The route's own upstream timeouts; null: the client's. */
  readonly timeouts: RequestTimeouts | null;

  readonly #ctx: ProxyContext;
  readonly #res: HttpResponse;
  readonly #backend: BackendRuntime;
  #endpoint: UpstreamEndpoint;
  /** When the request to the current endpoint was asked for (performance.now()), for load-balance: ewma. */
  #attemptAt = 0;
  #tried: string[] | null = null;
  readonly #w: ResponseWriter;
  readonly #record: RequestRecord;
  readonly #cache: ExchangeCache | null;
  readonly #counters: RouteCounters | null;
  readonly #onFinish: (() => void) | null;

  /** The connection carrying the request; null before one took it and after the response. */
  #conn: UpstreamConnection | null = null;
  #upstreamDone = false;
  /** A connection took the request (its head went upstream). */
  #upstreamStarted = false;
  /** Body bytes the upstream still owes for a Content-Length response; -1 for other framings. */
  #upstreamLeft = -1;
  /** The response is not forwarded (answered from the cache, or bodiless): its body is read and dropped. */
  #discard = false;

  // Request body.
  #queued: Buffer[] | null = null;
  #queuedBytes = 0;
  #bodyEnded = false;
  #bodyDropped = false;
  /** We paused the client socket (uWS: resume only after our own pause). */
  #paused = false;
  #finished = false;
  readonly #policy: BodyPolicy;
  /** The pool was asked for a connection (a buffered body asks once it is whole or over the buffer). */
  #requested = false;
  /** The client body timeout (request-body.ts); null for a bodiless request. */
  #bodyTimer: BodyTimer | null = null;
  /** The route's proxy-next-upstream rule; null: Flusso's own (#retry). */
  readonly #plan: RetryPlan | null;
  readonly #method: string;
  /** The whole request body as sent, kept on a route with a retry rule so another endpoint can get it; null: not kept. */
  #replay: Buffer[] | null = null;
  /** performance.now() of the first try, for proxy-next-upstream-timeout. */
  #firstTryAt = 0;
  /** custom-http-errors: what the error page needs; null on other routes. */
  readonly #errorPages: ErrorPageRequest | null;
  /** The error backend's request once an upstream answer was intercepted (it writes the response from then on). */
  #errorFetch: ErrorPageFetch | null = null;

  constructor(o: ExchangeOptions) {
    this.#ctx = o.ctx;
    this.#res = o.res;
    this.#backend = o.backend;
    this.#endpoint = o.endpoint;
    this.#cache = o.cache ?? null;
    this.#counters = o.counters;
    this.#onFinish = o.onFinish ?? null;
    this.bodyFraming = o.body;
    this.headRequest = o.method === 'HEAD';
    this.retryable = o.body === BodyFraming.None && IDEMPOTENT.has(o.method);
    this.requestHead = buildRequestHead(o.method, o.target, o.headers, o.body);
    this.#policy = o.bodyPolicy ?? o.ctx.body ?? DEFAULT_BODY;
    this.#method = o.method;
    this.#errorPages = o.errorPages ?? null;
    const u = o.upstream;
    if (u === undefined) {
      this.timeouts = null;
      this.#plan = null;
    } else {
      const plan = upstreamPlanOf(u);
      this.timeouts = plan.timeouts;
      this.#plan = plan.retry;
    }
    this.#w = new ResponseWriter(o.res, o.ctx, this);
    this.#w.headRequest = this.headRequest;
    this.#record = new RequestRecord({ method: o.method, target: o.target, counters: o.counters, accessLog: o.ctx.accessLog, access: o.access, startedAt: o.startedAt });
    this.#record.upstreamAddress = o.endpoint.key;
    o.ctx.inFlight++; // counted from construction, so every path out (#finish) balances it
  }

  /**
   * start attaches the uWS callbacks (synchronously, inside the handler: uWS drops body bytes
   * that arrive before onData is attached, and terminates the process if a handler returns
   * with neither a response nor onAborted), then sends the request: at once when it has no body
   * or the policy buffers none, else once the body is whole or over the buffer (request-body.ts).
   */
  start(): void {
    this.#res.onAborted(() => this.clientAborted());
    if (this.bodyFraming === BodyFraming.None) {
      this.#request();
      return;
    }
    this.#res.onData((chunk, isLast) => this.clientData(chunk, isLast));
    this.#bodyTimer = new BodyTimer(this.#policy.timeoutMs, () => this.#refuseBody('body-timeout'));
    this.#bodyTimer.arm();
    if (this.#policy.bufferBytes === 0) this.#request();
  }

  /** streamingBody: the body is still arriving (read by the pool when it gives a connection). */
  get streamingBody(): boolean {
    return this.bodyFraming !== BodyFraming.None && !this.#bodyEnded;
  }

  /** clientAborted runs when uWS reports the client connection gone (or after our own res.close()). */
  clientAborted(): void {
    const w = this.#w;
    if (w.aborted) return;
    w.aborted = true;
    this.#dropUpstream();
    this.#errorFetch?.abort();
    this.#finish();
  }

  /** clientData forwards a request body piece (uWS detaches the ArrayBuffer after the callback: copied). */
  clientData(chunk: ArrayBuffer, isLast: boolean): void {
    try {
      if (this.#bodyEnded || this.#bodyDropped) return;
      this.#record.bytesIn += chunk.byteLength;
      // Content-Length was checked before (handler.ts); a chunked body is checked as it comes.
      if (exceedsLimit(this.#record.bytesIn, this.#policy)) {
        this.#refuseBody('body-too-large');
        return;
      }
      if (isLast) this.#bodyTimer?.disarm();
      else this.#bodyTimer?.arm();
      if (chunk.byteLength > 0) {
        const copy = Buffer.copyBytesFrom(new Uint8Array(chunk));
        const conn = this.#conn;
        if (conn !== null) {
          if (!conn.writeBody(copy) && !isLast) this.#pauseClient();
        } else {
          (this.#queued ??= []).push(copy);
          this.#queuedBytes += copy.length;
          const buffer = this.#policy.bufferBytes;
          if (!isLast && !this.#requested && this.#queuedBytes >= buffer) this.#request(); // over the buffer: stream
          if (this.#queuedBytes > Math.max(QUEUED_BODY_BYTES, buffer) && !isLast && this.#conn === null) this.#pauseClient();
        }
      }
      if (isLast) {
        this.#bodyEnded = true;
        if (this.#requested) this.#conn?.endBody();
        else this.#request(); // the whole body is here: the connection takes it in one go
      }
    } catch (err) {
      this.fail(err);
    }
  }

  /** fail handles an exception thrown on this request's path: 502 if nothing was sent, else cut. */
  fail(err: unknown): void {
    this.#ctx.log.error({ err, code: 'ING_ERR_PROXY_INTERNAL' }, 'request handler failed');
    this.#dropUpstream();
    const w = this.#w;
    if (!w.open) {
      this.#finish();
      return;
    }
    if (w.headSent) w.cut();
    else this.#res.cork(() => w.fail('internal', this.#cache?.status ?? null));
  }

  // --- UpstreamHandler -----------------------------------------------------------------------

  onUpstreamStart(conn: UpstreamConnection): void {
    this.#conn = conn;
    this.#upstreamStarted = true;
    if (this.#w.aborted) {
      this.#dropUpstream();
      return;
    }
    const queued = this.#queued;
    // The whole body is here: keep it for another endpoint when the route may retry (it is at most the body buffer).
    if (this.#plan !== null && this.#bodyEnded) this.#replay = queued ?? [];
    if (queued !== null) {
      this.#queued = null;
      this.#queuedBytes = 0;
      let ok = true;
      for (const piece of queued) ok = conn.writeBody(piece);
      if (ok) this.#resumeClient();
    }
    if (this.#bodyEnded) conn.endBody();
  }

  upstreamRead(run: () => void): void {
    if (this.#w.open) {
      // A paused socket neither reads nor writes: resume the client before writing (we paused it).
      this.#resumeClient();
      this.#res.cork(run);
    } else run();
  }

  onUpstreamHead(head: ResponseHead): void {
    // proxy-next-upstream http_XXX: this answer is dropped and the request goes on, unless this is the last try.
    const plan = this.#plan;
    if (plan !== null && plan.statuses.has(head.status) && !this.#w.aborted && this.#resendable(plan, true)) {
      const conn = this.#conn;
      this.#conn = null;
      this.#upstreamDone = true;
      conn?.abort();
      if (this.#next(plan)) return;
      this.#conn = conn; // cannot happen (#resendable checked); forward the answer anyway
      this.#upstreamDone = false;
    }
    const record = this.#record;
    record.upstreamAt = performance.now();
    // load-balance: ewma learns each endpoint's time to the response head (balance/ewma.ts).
    const balancer = this.#backend.balancer;
    if (balancer.observe !== undefined) balancer.observe(this.#endpoint, (record.upstreamAt - this.#attemptAt) / 1000);
    record.upstreamStatus = head.status;
    // When the upstream response is whole (for metrics): at its head without a body; with a
    // Content-Length at its last byte, which can end the client's response before onUpstreamEnd.
    if (head.bodyMode === BodyMode.None) record.upstreamEndAt = record.upstreamAt;
    this.#upstreamLeft = head.bodyMode === BodyMode.Length ? head.contentLength : -1;
    const w = this.#w;
    if (!w.open) return;
    try {
      // custom-http-errors: this answer is dropped (its body read to the end) and the error backend's goes out instead (error-pages.ts).
      const pages = this.#errorPages;
      if (pages !== null && pages.pages.codes.includes(head.status)) {
        this.#discard = true;
        const fetch = new ErrorPageFetch(this.#res, w, pages, head.status);
        this.#errorFetch = fetch;
        fetch.start(pages.backends.get(pages.pages.backend));
        return;
      }
      const cache = this.#cache;
      if (cache !== null) {
        const entry = cache.onHead(head.status, head);
        if (entry !== null) {
          // Answered from the cache: the upstream body (if any) is read and dropped.
          this.#discard = true;
          const [status, bytes] = cache.write(this.#res, entry, this.#ctx.draining);
          w.sent(status, bytes);
          return;
        }
      }
      if (w.forward(head, cache?.status ?? null)) this.#discard = true;
    } catch (err) {
      this.fail(err);
    }
  }

  onUpstreamBody(buf: Buffer, start: number, end: number): boolean {
    if (this.#upstreamLeft > 0 && (this.#upstreamLeft -= end - start) <= 0) this.#record.upstreamEndAt = performance.now();
    const w = this.#w;
    if (this.#discard || !w.open) return true;
    try {
      const cache = this.#cache;
      if (cache !== null) cache.onBody(buf.subarray(start, end));
      return w.body(buf, start, end);
    } catch (err) {
      this.fail(err);
      return true;
    }
  }

  onUpstreamEnd(): void {
    if (this.#record.upstreamEndAt < 0) this.#record.upstreamEndAt = performance.now();
    this.#upstreamDone = true;
    this.#conn = null;
    const w = this.#w;
    try {
      if (this.#discard || !w.open) return;
      this.#cache?.onComplete();
      w.end();
    } catch (err) {
      this.fail(err);
    }
  }

  onUpstreamError(err: UpstreamError): void {
    this.#upstreamDone = true;
    this.#conn = null;
    const w = this.#w;
    // An intercepted answer's body failing matters to no one: the error page is the response.
    if (!w.open || this.#errorFetch !== null) return;
    try {
      this.#resumeClient(); // a paused socket neither reads nor writes
      this.#ctx.log.warn({ failure: err.failure, code: err.code || undefined, endpoint: this.#endpoint.key, afterHead: err.afterHead, err: err.message }, 'upstream request failed');
      this.#countFailure(err.failure);
      if (w.headSent) {
        w.cut(); // after the head, only a cut is honest
        return;
      }
      if (this.#retry(err.failure)) return;
      const stale = this.#cache?.onFailure() ?? null;
      this.#res.cork(() => {
        if (stale !== null) {
          const [status, bytes] = (this.#cache as ExchangeCache).write(this.#res, stale, this.#ctx.draining);
          w.sent(status, bytes);
        } else w.fail(FAILURE_OF[err.failure], this.#cache?.status ?? null);
      });
    } catch (caught) {
      this.fail(caught);
    }
  }

  onUpstreamDrain(): void {
    this.#resumeClient();
  }

  // --- WriterEvents ------------------------------------------------------------------------

  onResponseDone(): void {
    // The client's response is whole (or cut): the request body is no longer forwarded. An
    // upstream body still coming (the answer came from the cache, or was bodiless) is read and
    // dropped, and the connection reused when it completes.
    this.#bodyDropped = true;
    this.#queued = null;
    this.#finish();
  }

  onResponseWritable(): void {
    this.#conn?.resume();
    this.#errorFetch?.resume();
  }

  // --- internals ---------------------------------------------------------------------------

  /** #request asks the endpoint's pool for a connection (once). */
  #request(): void {
    if (this.#requested) return;
    this.#requested = true;
    if (this.#plan !== null || this.#backend.balancer.observe !== undefined) {
      // The first try's start (proxy-next-upstream-timeout) and this try's (the EWMA balancer's latency).
      const now = performance.now();
      this.#firstTryAt = now;
      this.#attemptAt = now;
    }
    this.#endpoint.pool.request(this);
  }

  /**
   * #refuseBody ends a request whose body cannot be taken: 408 (no body bytes for the body
   * timeout) or 413 (a chunked body over the limit). The upstream request is dropped (a buffered
   * body never reached it) and the client connection closed, since the rest of its body is
   * unread; after the response head only a cut is left.
   */
  #refuseBody(failure: 'body-timeout' | 'body-too-large'): void {
    if (this.#bodyEnded || this.#finished) return;
    this.#bodyTimer?.disarm();
    this.#dropUpstream();
    const w = this.#w;
    if (!w.open) return;
    this.#ctx.log.debug({ failure, bytesIn: this.#record.bytesIn, endpoint: this.#endpoint.key }, 'request body refused');
    if (!this.#upstreamStarted) this.#record.upstreamAddress = ''; // never sent: no upstream in the access line
    if (w.headSent) {
      w.cut();
      return;
    }
    this.#resumeClient(); // a paused socket neither reads nor writes
    markClientClose(this.#res);
    this.#res.cork(() => w.fail(failure, this.#cache?.status ?? null, true));
  }

  #countFailure(failure: UpstreamFailure): void {
    const counters = this.#counters;
    if (counters === null) return;
    if (failure === 'connect') counters.recordUpstreamFailure('connect');
    else if (failure === 'connect-timeout' || failure === 'response-timeout' || failure === 'idle-timeout') counters.recordUpstreamFailure('timeout');
  }

  /**
   * #retry sends the request to another endpoint after `failure`: on a route with a
   * proxy-next-upstream rule when the rule says so (#resendable), else (Flusso's own rule) a
   * bodiless idempotent request after a connect failure (nothing was sent), up to MAX_TRIES.
   */
  #retry(failure: UpstreamFailure): boolean {
    const plan = this.#plan;
    if (plan !== null) return plan.failures.has(failure) && this.#resendable(plan, reachedUpstream(failure)) && this.#next(plan);
    if (!this.retryable || (failure !== 'connect' && failure !== 'connect-timeout')) return false;
    return this.#next(null);
  }

  /**
   * #resendable says whether the route's rule lets this request go to another endpoint now: the
   * body is none or kept whole (#replay), the method may go again (upstream-policy.ts mayResend),
   * a try is left (proxy-next-upstream-tries; 0: each endpoint once) and
   * proxy-next-upstream-timeout has not passed since the first try.
   */
  #resendable(plan: RetryPlan, reached: boolean): boolean {
    if (this.bodyFraming !== BodyFraming.None && this.#replay === null) return false;
    if (!mayResend(plan, this.#method, reached)) return false;
    const tried = this.#tried?.length ?? 1;
    if (tried >= (plan.tries === 0 ? this.#backend.size : plan.tries) || tried >= this.#backend.size) return false;
    return plan.timeoutMs === 0 || performance.now() - this.#firstTryAt < plan.timeoutMs;
  }

  /** #next sends the request to an endpoint not tried yet; false when there is none (or, without a plan, MAX_TRIES were made). */
  #next(plan: RetryPlan | null): boolean {
    const tried = (this.#tried ??= [this.#endpoint.key]);
    if (plan === null && tried.length >= MAX_TRIES) return false;
    for (let i = 0; i < this.#backend.size; i++) {
      const next = this.#backend.balancer.select();
      if (next === null) return false;
      if (tried.includes(next.key)) continue;
      tried.push(next.key);
      this.#endpoint = next;
      this.#record.upstreamAddress = next.key;
      this.#upstreamDone = false;
      this.#upstreamLeft = -1;
      if (this.#replay !== null) this.#queued = [...this.#replay];
      if (this.#backend.balancer.observe !== undefined) this.#attemptAt = performance.now();
      next.pool.request(this);
      return true;
    }
    return false;
  }

  /** #dropUpstream abandons the upstream side: the connection is closed, a queued request withdrawn. */
  #dropUpstream(): void {
    this.#bodyDropped = true;
    this.#queued = null;
    if (this.#upstreamDone) return;
    this.#upstreamDone = true;
    const conn = this.#conn;
    this.#conn = null;
    if (conn !== null) conn.abort();
    else this.#endpoint.pool.cancel(this);
  }

  #pauseClient(): void {
    // Never pause while a response write waits: a paused socket gets no onWritable (deadlock).
    const w = this.#w;
    if (this.#paused || w.blocked || !w.open) return;
    this.#paused = true;
    this.#bodyTimer?.disarm(); // the client is not slow while we hold it
    this.#res.pause();
  }

  #resumeClient(): void {
    if (this.#paused && this.#w.open) {
      this.#paused = false;
      if (!this.#bodyEnded && !this.#bodyDropped) this.#bodyTimer?.arm();
      this.#res.resume();
    }
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#bodyTimer?.disarm();
    this.#cache?.settle();
    this.#onFinish?.();
    const ctx = this.#ctx;
    ctx.inFlight--;
    const w = this.#w;
    this.#record.finish(w.aborted && !w.done ? 0 : w.status, w.bytesOut);
    if (ctx.draining && ctx.inFlight === 0) ctx.onIdle?.();
  }
}
