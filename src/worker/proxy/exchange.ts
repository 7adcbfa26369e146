/**
 * Exchange: one proxied request, from the uWS handler's return to the last byte.
 *
 * uWS rules this class lives by (docs/runtime.md has what this uWS build does):
 * never touch `res` after it completed or aborted (explicit `#done`/`#aborted` flags); every
 * write outside the handler's synchronous part goes through `res.cork`; `res.resume()` only
 * after our own `res.pause()`; status and headers leave together with the first body chunk.
 *
 * On the undici side it is the dispatch handler itself (undici 8's controller API: one object
 * per request, no wrapper); it forwards the raw header Buffers undici keeps on the controller
 * (`controller.rawHeaders`), never the parsed object, so duplicates and exact bytes survive.
 */
import { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type { HttpResponse } from 'uWebSockets.js';
import type { AccessLog } from '../access-log.js';
import type { ClusterRuntime, UpstreamEndpoint } from '../state.js';
import type { RouteCounters } from '../stats.js';
import { CONTENT_TYPE_TEXT, errorResponse, isConnectError, statusLine, upstreamFailure, type ProxyFailure } from './errors.js';
import { filterResponseHead, type ResponseHead } from './headers.js';

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
}

/** AccessContext is what the access line needs beyond the exchange itself (only when the log is on). */
export interface AccessContext {
  readonly host: string;
  readonly clientAddress: string;
  readonly requestId: string;
  readonly route: string;
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
   * onHead sees the final upstream head (raw Buffers, as undici hands them). It returns an entry to
   * send instead of the upstream's response (a 304 that refreshed the entry; a 5xx under
   * stale-if-error), or null to forward the upstream's response.
   */
  onHead(status: number, raw: Buffer[]): object | null;
  /** onBody sees each forwarded body chunk. */
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

const X_CACHE_STATUS = 'x-cache-status';

/** isCacheStatusName reports whether a raw upstream field name is X-Cache-Status (the proxy sets its own). */
function isCacheStatusName(name: Buffer): boolean {
  return name.length === X_CACHE_STATUS.length && name.toString('latin1').toLowerCase() === X_CACHE_STATUS;
}

const STS = 'strict-transport-security';

/** isStsName reports whether a raw upstream field name is Strict-Transport-Security (replaced when the listener sets its own). */
function isStsName(name: Buffer): boolean {
  return name.length === STS.length && name.toString('latin1').toLowerCase() === STS;
}

/**
 * CLIENT_CLOSE marks a response whose request asked to close the connection (`Connection:
 * close`). uWS closes the connection after that response but writes no `Connection: close` of
 * its own when the client asked first; RFC 9112 §9.6 says the server should, and clients that
 * do not see it (wrk, some pools) send the next request into a closing connection.
 */
const CLIENT_CLOSE = Symbol('flusso.clientClose');

/** markClientClose records on `res` that its request carried `Connection: close`. */
export function markClientClose(res: HttpResponse): void {
  (res as HttpResponse & { [CLIENT_CLOSE]?: true })[CLIENT_CLOSE] = true;
}

/** closeField is the `Connection: close` line to add to `res`'s head ('' when none is due). */
export function closeField(res: HttpResponse): string {
  return (res as HttpResponse & { [CLIENT_CLOSE]?: true })[CLIENT_CLOSE] === true ? '\r\nConnection: close' : '';
}

/**
 * writeOwnFields writes the fields Flusso adds to every response it sends: Server, on an HTTPS
 * listener with --hsts the Strict-Transport-Security policy, and `Connection: close` when the
 * client asked for it. `res` must be corked.
 */
export function writeOwnFields(res: HttpResponse, ctx: Pick<ProxyContext, 'serverHeader' | 'hsts'>): HttpResponse {
  res.writeHeader('Server', ctx.serverHeader + closeField(res));
  if (ctx.hsts !== null) res.writeHeader('Strict-Transport-Security', ctx.hsts);
  return res;
}

/** CLIENT_CLOSED is the status counted for a request whose client left first (nginx's 499). */
const CLIENT_CLOSED = 499;

/** Methods that may be sent again to another endpoint after a connect error (nginx proxy_next_upstream). */
const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
const MAX_TRIES = 3;
const BODY_HIGH_WATER_MARK = 64 * 1024;
const CLIENT_ABORTED = new Error('client aborted');
const BAD_STATUS = new Error('upstream sent a status outside 100-599');
const BAD_HEAD = new Error('upstream head is not raw name/value pairs');

// What the corked trampoline runs (see #cork).
const OP_CHUNK = 1;
const OP_END = 2;
const OP_BODILESS = 3;
const OP_ERROR = 4;
const OP_WRITABLE = 5;
const OP_ENTRY = 6;

function ignore(): void {}

/** RequestBody is the upstream request body, fed from uWS onData; reading it resumes the client. */
class RequestBody extends Readable {
  readonly #exchange: Exchange;

  constructor(exchange: Exchange) {
    super({ highWaterMark: BODY_HIGH_WATER_MARK });
    this.#exchange = exchange;
    // We destroy the body with an error on client abort; undici may have detached already,
    // and an unheard 'error' event would become an uncaught exception.
    this.on('error', ignore);
  }

  override _read(): void {
    this.#exchange.bodyWanted();
  }
}

/**
 * Exchange forwards one request with undici and streams the response back. It is the undici
 * dispatch handler itself (raw handler API, see the file comment), so a request costs one
 * object plus the closures uWS forces (onAborted, onData, onWritable).
 */
export class Exchange implements Dispatcher.DispatchHandler {
  static #target: Exchange | null = null;
  /** One shared cork callback for every exchange: cork runs it synchronously, so a slot suffices. */
  static readonly #runCorked = (): void => {
    const ex = Exchange.#target as Exchange;
    Exchange.#target = null;
    ex.#corked();
  };

  readonly #ctx: ProxyContext;
  readonly #res: HttpResponse;
  readonly #method: string;
  readonly #opts: Dispatcher.DispatchOptions;
  readonly #cluster: ClusterRuntime;
  #endpoint: UpstreamEndpoint;
  #tried: string[] | null = null;
  readonly #body: RequestBody | null;
  #bodyEnded = false;
  /** undici's controller of the current attempt (abort, pause, resume); null before it starts. */
  #upstream: Dispatcher.DispatchController | null = null;
  #upstreamAborted = false;

  #aborted = false; // the client went away: never touch res again
  #done = false; // the response completed (or was cut): never touch res again
  #finished = false; // counted out of inFlight
  #upstreamDone = false;
  #paused = false; // we paused the client socket (uWS: resume only after our own pause)
  #blocked = false; // a response write waits for onWritable
  #headSent = false;
  #writableAttached = false;

  #head: ResponseHead | null = null;
  #status = 0;
  #pending: Buffer | null = null; // unsent rest of a tryEnd chunk
  #pendingOffset = 0; // write offset at which #pending starts

  // Accounting: metrics counters and the access log read these at #finish.
  readonly #counters: RouteCounters | null;
  readonly #access: AccessContext | null;
  readonly #startedAt: number;
  #upstreamAt = -1;
  #sentStatus = 0;
  #bytesIn = 0;
  #bytesOut = 0;

  /** The response cache's hooks on a cached route, else null. */
  readonly #cache: ExchangeCache | null;
  #opEntry: object | null = null;

  #op = 0;
  #opChunk: Buffer | null = null;
  #opFailure: ProxyFailure = 'internal';
  #opOffset = 0;
  #opResult = true;

  constructor(
    ctx: ProxyContext,
    res: HttpResponse,
    method: string,
    target: string,
    headers: string[],
    cluster: ClusterRuntime,
    endpoint: UpstreamEndpoint,
    hasBody: boolean,
    counters: RouteCounters | null,
    startedAt: number,
    access: AccessContext | null,
    cache: ExchangeCache | null = null,
  ) {
    this.#cache = cache;
    this.#counters = counters;
    this.#startedAt = startedAt;
    this.#access = access;
    this.#ctx = ctx;
    this.#res = res;
    this.#method = method;
    this.#cluster = cluster;
    this.#endpoint = endpoint;
    this.#body = hasBody ? new RequestBody(this) : null;
    this.#opts = { path: target, method, headers, body: this.#body };
    ctx.inFlight++; // counted from construction, so every path out (#finish) balances it
  }

  /**
   * start attaches the uWS callbacks (synchronously, inside the handler: uWS drops body bytes
   * that arrive before onData is attached, and terminates the process if a handler returns
   * with neither a response nor onAborted), then dispatches the request.
   */
  start(): void {
    this.#res.onAborted(() => this.clientAborted());
    if (this.#body !== null) this.#res.onData((chunk, isLast) => this.clientData(chunk, isLast));
    this.#endpoint.pool.dispatch(this.#opts, this);
  }

  /** clientAborted runs when uWS reports the client connection gone (or our own res.close()). */
  clientAborted(): void {
    if (this.#aborted) return;
    this.#aborted = true;
    if (!this.#upstreamDone) this.#abort(CLIENT_ABORTED);
    this.#dropBody();
    this.#finish();
  }

  /** clientData copies a request body chunk (uWS detaches the ArrayBuffer after the callback). */
  clientData(chunk: ArrayBuffer, isLast: boolean): void {
    try {
      const body = this.#body;
      if (body === null || this.#bodyEnded || body.destroyed) return;
      this.#bytesIn += chunk.byteLength;
      if (chunk.byteLength > 0 && !body.push(Buffer.copyBytesFrom(new Uint8Array(chunk))) && !isLast) this.#pauseClient();
      if (isLast) {
        this.#bodyEnded = true;
        body.push(null);
      }
    } catch (err) {
      this.fail(err);
    }
  }

  /** bodyWanted runs when undici wants more request body: resume the client if we paused it. */
  bodyWanted(): void {
    if (this.#paused && !this.#aborted && !this.#done) {
      this.#paused = false;
      this.#res.resume();
    }
  }

  /** fail handles an exception thrown on this request's path: 502 if nothing was sent, else cut. */
  fail(err: unknown): void {
    this.#ctx.log.error({ err, code: 'ING_ERR_PROXY_INTERNAL' }, 'request handler failed');
    if (!this.#upstreamDone) this.#abort(err instanceof Error ? err : new Error(String(err)));
    if (this.#aborted || this.#done) return;
    if (!this.#headSent) this.#respond('internal');
    else this.#cut();
  }

  // --- undici dispatch handler ------------------------------------------------------------

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#upstream = controller;
    this.#upstreamAborted = false;
    if (this.#aborted) this.#abort(CLIENT_ABORTED);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number): void {
    if (this.#aborted || this.#done) return;
    try {
      if (statusCode >= 100 && statusCode < 200) return; // 1xx: wait for the final head
      if (statusCode < 100 || statusCode > 599) {
        this.#rejectUpstream(BAD_STATUS);
        return;
      }
      const rawHeaders = controller.rawHeaders as Buffer[];
      const head = filterResponseHead(rawHeaders);
      if (head === null) {
        this.#rejectUpstream(BAD_HEAD);
        return;
      }
      this.#head = head;
      this.#status = statusCode;
      this.#upstreamAt = performance.now();
      if (this.#cache !== null) {
        const entry = this.#cache.onHead(statusCode, rawHeaders);
        if (entry !== null) {
          // Answered from the cache: the upstream body (if any) is read and dropped (#done).
          this.#opEntry = entry;
          this.#cork(OP_ENTRY);
          return;
        }
      }
      if (this.#method === 'HEAD' || statusCode === 204 || statusCode === 304) this.#cork(OP_BODILESS);
    } catch (err) {
      this.fail(err);
    }
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#aborted || this.#done) return;
    try {
      this.#cache?.onBody(chunk);
      this.#opChunk = chunk;
      this.#cork(OP_CHUNK);
    } catch (err) {
      this.fail(err);
    }
  }

  onResponseEnd(): void {
    this.#upstreamDone = true;
    if (this.#aborted || this.#done) return;
    try {
      this.#cache?.onComplete();
      this.#cork(OP_END);
    } catch (err) {
      this.fail(err);
    }
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.#upstreamDone = true;
    if (this.#aborted || this.#done) return;
    try {
      if (this.#headSent) return this.#cut(); // after the head, only a cut is honest
      if (this.#retry(err)) return;
      this.#ctx.log.debug({ err, endpoint: this.#endpoint.key }, 'upstream request failed');
      const failure = upstreamFailure(err);
      if (failure === 'upstream-timeout') this.#counters?.recordUpstreamFailure('timeout');
      else if (isConnectError(err)) this.#counters?.recordUpstreamFailure('connect');
      const stale = this.#cache?.onFailure() ?? null;
      if (stale !== null) {
        this.#opEntry = stale;
        this.#cork(OP_ENTRY);
        return;
      }
      this.#respond(failure);
    } catch (caught) {
      this.fail(caught);
    }
  }

  // --- internals ---------------------------------------------------------------------------

  /** #retry sends a bodiless idempotent request to another endpoint after a connect error. */
  #retry(err: Error): boolean {
    if (this.#body !== null || !IDEMPOTENT.has(this.#method) || !isConnectError(err)) return false;
    const tried = (this.#tried ??= [this.#endpoint.key]);
    if (tried.length >= MAX_TRIES) return false;
    for (let i = 0; i < this.#cluster.size; i++) {
      const next = this.#cluster.balancer.select();
      if (next === null) return false;
      if (tried.includes(next.key)) continue;
      tried.push(next.key);
      this.#endpoint = next;
      this.#upstream = null;
      this.#upstreamAborted = false;
      this.#upstreamDone = false;
      next.pool.dispatch(this.#opts, this);
      return true;
    }
    return false;
  }

  #rejectUpstream(reason: Error): void {
    this.#respond('upstream-error');
    this.#abort(reason);
  }

  /** #abort aborts the upstream request once (undici then calls onResponseError, which we ignore once done). */
  #abort(reason: Error): void {
    if (this.#upstreamAborted || this.#upstream === null) return;
    this.#upstreamAborted = true;
    this.#upstream.abort(reason);
  }

  /** #pauseUpstream stops undici reading the response: it takes effect when the current callback returns. */
  #pauseUpstream(): void {
    this.#upstream?.pause();
  }

  #resumeUpstreamReading(): void {
    this.#upstream?.resume(); // a no-op unless paused
  }

  /** #cork runs #op inside res.cork through the shared trampoline (no closure per write). */
  #cork(op: number): void {
    this.#op = op;
    Exchange.#target = this;
    this.#res.cork(Exchange.#runCorked);
  }

  #corked(): void {
    const op = this.#op;
    // A paused socket neither reads nor writes: resume it before writing (we paused it).
    if (this.#paused) {
      this.#paused = false;
      this.#res.resume();
    }
    switch (op) {
      case OP_CHUNK: {
        const chunk = this.#opChunk as Buffer;
        this.#opChunk = null;
        this.#writeChunk(chunk);
        return;
      }
      case OP_END:
        this.#writeEnd();
        return;
      case OP_BODILESS:
        this.#writeBodiless();
        return;
      case OP_ERROR:
        this.#writeError();
        return;
      case OP_WRITABLE:
        this.#opResult = this.#writeRest(this.#opOffset);
        return;
      case OP_ENTRY: {
        const entry = this.#opEntry as object;
        this.#opEntry = null;
        const [status, bytes] = (this.#cache as ExchangeCache).write(this.#res, entry, this.#ctx.draining);
        this.#sentStatus = status;
        this.#bytesOut += bytes;
        this.#headSent = true;
        this.#complete();
        return;
      }
    }
  }

  #writeHead(): void {
    const res = this.#res;
    const head = this.#head as ResponseHead;
    res.writeStatus(statusLine(this.#status));
    this.#sentStatus = this.#status;
    const f = head.fields;
    const cache = this.#cache;
    const ownSts = this.#ctx.hsts !== null;
    if (cache === null && !ownSts) {
      for (let i = 0; i < f.length; i += 2) res.writeHeader(f[i] as Buffer, f[i + 1] as Buffer);
    } else {
      for (let i = 0; i < f.length; i += 2) {
        const name = f[i] as Buffer;
        if ((cache === null || !isCacheStatusName(name)) && (!ownSts || !isStsName(name))) res.writeHeader(name, f[i + 1] as Buffer);
      }
      if (cache !== null) res.writeHeader('X-Cache-Status', cache.status);
    }
    writeOwnFields(res, this.#ctx);
    this.#headSent = true;
  }

  #writeChunk(chunk: Buffer): void {
    const res = this.#res;
    this.#bytesOut += chunk.length;
    const first = !this.#headSent;
    if (first) this.#writeHead();
    const total = (this.#head as ResponseHead).contentLength;
    if (total < 0) {
      // Unknown length: chunked. write() buffers even when it reports backpressure.
      if (!res.write(chunk)) this.#block();
      return;
    }
    if (this.#pending !== null) {
      // undici delivered more while we wait for onWritable: queue it behind the unsent rest.
      const sent = res.getWriteOffset() - this.#pendingOffset;
      this.#pending = Buffer.concat([this.#pending.subarray(sent), chunk]);
      this.#pendingOffset += sent;
      return;
    }
    if (first && this.#ctx.draining && chunk.length === total) {
      res.end(chunk, true);
      this.#complete();
      return;
    }
    const offset = res.getWriteOffset();
    const [ok, done] = res.tryEnd(chunk, total);
    if (done) {
      this.#complete();
    } else if (!ok) {
      this.#pending = chunk;
      this.#pendingOffset = offset;
      this.#block();
    }
  }

  #writeEnd(): void {
    const res = this.#res;
    const total = (this.#head as ResponseHead | null)?.contentLength ?? -1;
    if (!this.#headSent) {
      if (this.#head === null || total > 0) return this.#cut(); // cannot happen with a sane undici; be safe
      this.#writeHead();
      res.end('', this.#ctx.draining); // uWS writes Content-Length: 0
      this.#complete();
    } else if (total < 0) {
      res.end(); // the terminating chunk (closeConnection here would corrupt the chunked body)
      this.#complete();
    }
    // Known length: the last tryEnd (maybe from onWritable) completes the response.
  }

  #writeBodiless(): void {
    const res = this.#res;
    const total = (this.#head as ResponseHead).contentLength;
    this.#writeHead();
    // endWithoutBody(n) writes `Content-Length: n` and no body (HEAD, 304). A 204 has no
    // Content-Length, and this binding takes a missing length only without any argument.
    if (total >= 0 && this.#status !== 204) res.endWithoutBody(total, this.#ctx.draining);
    else res.endWithoutBody();
    this.#complete();
  }

  #writeError(): void {
    const r = errorResponse(this.#opFailure);
    this.#sentStatus = r.status;
    this.#bytesOut += r.body.length;
    this.#res.writeStatus(r.statusLine).writeHeader('Content-Type', CONTENT_TYPE_TEXT);
    if (this.#cache !== null) this.#res.writeHeader('X-Cache-Status', this.#cache.status);
    writeOwnFields(this.#res, this.#ctx).end(r.body, this.#ctx.draining);
    this.#complete();
  }

  /** #writeRest retries the blocked write from onWritable; returns what uWS expects. */
  #writeRest(offset: number): boolean {
    const total = (this.#head as ResponseHead).contentLength;
    if (total < 0 || this.#pending === null) {
      this.#blocked = false;
      return true;
    }
    const [ok, done] = this.#res.tryEnd(this.#pending.subarray(offset - this.#pendingOffset), total);
    if (done || ok) {
      this.#pending = null;
      this.#blocked = false;
      if (done) this.#complete();
    }
    return ok;
  }

  #block(): void {
    this.#blocked = true;
    this.#pauseUpstream();
    if (!this.#writableAttached) {
      this.#writableAttached = true;
      this.#res.onWritable((offset) => this.#onWritable(offset));
    }
  }

  #onWritable(offset: number): boolean {
    if (this.#aborted || this.#done || !this.#blocked) return true;
    try {
      this.#opOffset = offset;
      this.#cork(OP_WRITABLE);
      const ok = this.#opResult;
      // Resume undici outside the cork: it may deliver the next chunk synchronously.
      if (!this.#blocked) this.#resumeUpstreamReading();
      return ok;
    } catch (err) {
      this.fail(err);
      return true;
    }
  }

  #respond(failure: ProxyFailure): void {
    this.#opFailure = failure;
    this.#cork(OP_ERROR);
  }

  /** #cut closes the client connection mid-response: the client sees a truncated body. */
  #cut(): void {
    this.#done = true;
    this.#res.close(); // runs onAborted synchronously: aborts upstream, drops the body
    this.#finish();
  }

  #pauseClient(): void {
    // Never pause while a response write waits: a paused socket gets no onWritable (deadlock).
    if (this.#paused || this.#blocked || this.#done || this.#aborted) return;
    this.#paused = true;
    this.#res.pause();
  }

  #complete(): void {
    this.#done = true;
    this.#dropBody();
    if (this.#blocked) {
      this.#blocked = false;
      this.#resumeUpstreamReading();
    }
    this.#finish();
  }

  /** #dropBody stops an unfinished request body: the upstream must not see a clean end. */
  #dropBody(): void {
    const body = this.#body;
    if (body !== null && !this.#bodyEnded && !body.destroyed) body.destroy(CLIENT_ABORTED);
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#cache?.settle();
    const ctx = this.#ctx;
    ctx.inFlight--;
    if (this.#counters !== null || ctx.accessLog !== null) this.#account();
    if (ctx.draining && ctx.inFlight === 0) ctx.onIdle?.();
  }

  /** #account counts the finished request and writes its access line. */
  #account(): void {
    const now = performance.now();
    const status = this.#sentStatus === 0 ? CLIENT_CLOSED : this.#sentStatus;
    const seconds = (now - this.#startedAt) / 1000;
    const upstreamSeconds = this.#upstreamAt < 0 ? -1 : (this.#upstreamAt - this.#startedAt) / 1000;
    this.#counters?.record(this.#method, status, seconds, upstreamSeconds, this.#bytesIn, this.#bytesOut);
    const a = this.#access;
    if (a === null || this.#ctx.accessLog === null) return;
    this.#ctx.accessLog.write({
      requestId: a.requestId,
      remoteAddress: a.clientAddress,
      method: this.#method,
      host: a.host,
      path: this.#opts.path,
      status,
      bytesIn: this.#bytesIn,
      bytesOut: this.#bytesOut,
      requestTime: seconds,
      upstreamAddress: this.#endpoint.key,
      upstreamStatus: this.#status,
      upstreamTime: upstreamSeconds,
      route: a.route,
    });
  }
}
