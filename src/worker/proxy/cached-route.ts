/**
 * A request on a route with the response cache on, from the handler to its answer: served from
 * an entry, parked behind another request's fetch of the same key, or sent upstream through an
 * Exchange with one of the sinks of cached.ts. server.ts captures the request (Pending) and
 * hands it here; this module never reads the shared request head.
 */
import type { ErrorPageRequest } from './error-pages.js';
import type { RouteUpstream } from '../../shared/upstream-policy.js';
import type { Logger } from 'pino';
import type { HttpResponse } from 'uWebSockets.js';
import type { AccessLog } from '../access-log.js';
import type { HeaderPairs } from '../cache/headers.js';
import { primaryKey } from '../cache/key.js';
import { conditionalHeaders, isRequestCacheable, reuseDecision, type CacheStatus } from '../cache/policy.js';
import type { CacheEntry } from '../cache/store.js';
import type { WorkerCache } from '../cache/worker-cache.js';
import type { Route, RouteCache } from '../../shared/snapshot.js';
import type { BackendRuntime } from '../state.js';
import type { RouteCounters } from '../stats.js';
import { BodyFraming, type UpstreamConnection, type UpstreamError, type UpstreamHandler } from '../upstream/client.js';
import type { ResponseHead } from '../upstream/parser.js';
import { BypassSink, FILL_DROPPED, FillSink, LabelSink, writeEntry, type CachedRequest } from './cached.js';
import { Exchange, buildRequestHead, type ExchangeCache, type ProxyContext } from './exchange.js';
import { RequestRecord } from './request-record.js';
import { writeFailure } from './response-writer.js';
import type { BodyPolicy } from './request-body.js';

/**
 * Pending is a cached route's request with everything it needs to go upstream later (a parked
 * request resumes after the handler returned, when the shared head holds another request).
 */
export interface Pending {
  readonly res: HttpResponse;
  readonly method: string;
  readonly target: string;
  readonly forwarded: string;
  readonly headers: string[];
  readonly backend: BackendRuntime | undefined;
  readonly body: BodyFraming;
  readonly counters: RouteCounters | null;
  readonly source: string;
  readonly host: string;
  readonly requestId: string;
  readonly clientAddress: string;
  /** The route's custom-http-errors (error-pages.ts); null: none. */
  readonly errorPages: ErrorPageRequest | null;
  readonly started: number;
  /** The route's request-body policy (request-body.ts). */
  readonly bodyPolicy: BodyPolicy;
  /** The route's upstream timeouts and retry rule (upstream-policy.ts); absent: the global ones. */
  readonly upstream?: RouteUpstream | undefined;
}

/** Methods that never invalidate cached entries (RFC 9111 §4.4). */
const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/**
 * BackgroundFetch is the upstream request of a background revalidation: the answer goes to the
 * sink (stored or merged), never to a client.
 */
class BackgroundFetch implements UpstreamHandler {
  readonly requestHead: string;
  readonly headRequest = false;
  readonly retryable = true;
  readonly bodyFraming = BodyFraming.None;
  readonly #sink: FillSink;
  readonly #log: Logger;
  #final = false;

  constructor(requestHead: string, sink: FillSink, log: Logger) {
    this.requestHead = requestHead;
    this.#sink = sink;
    this.#log = log;
  }

  onUpstreamStart(_conn: UpstreamConnection): void {}

  upstreamRead(run: () => void): void {
    run();
  }

  onUpstreamHead(head: ResponseHead): void {
    this.#final = true;
    this.#sink.onHead(head.status, head);
  }

  onUpstreamBody(buf: Buffer, start: number, end: number): boolean {
    if (this.#final) this.#sink.onBody(buf.subarray(start, end));
    return true;
  }

  onUpstreamEnd(): void {
    if (this.#final) this.#sink.onComplete();
    this.#sink.settle();
  }

  onUpstreamError(err: UpstreamError): void {
    this.#log.warn({ failure: err.failure, err: err.message }, 'background revalidation failed');
    this.#sink.settle();
  }

  onUpstreamDrain(): void {}
}

/** hasRange reports whether the request asks for part of the representation (never served from, or stored in, the cache). */
function hasRange(req: HeaderPairs): boolean {
  for (const [n] of req) if (n === 'range') return true;
  return false;
}

/** fillHeaders drops the client's conditionals and Range from the upstream head, and adds the entry's validators. */
function fillHeaders(headers: string[], validators: readonly (readonly [string, string])[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) if (!FILL_DROPPED.has(headers[i] as string)) out.push(headers[i] as string, headers[i + 1] as string);
  for (const [n, v] of validators) out.push(n, v);
  return out;
}

/** CachedRoutes answers the requests of cached routes for one proxy server. */
export class CachedRoutes {
  readonly #ctx: ProxyContext;
  readonly #cache: WorkerCache;
  readonly #accessLog: AccessLog | null;
  readonly #log: Logger;

  readonly #scheme: 'http' | 'https';

  /** `scheme` is the listener's: http and https responses are cached under different keys, as nginx's default key has $scheme. */
  constructor(ctx: ProxyContext, scheme: 'http' | 'https', cache: WorkerCache, accessLog: AccessLog | null, log: Logger) {
    this.#ctx = ctx;
    this.#scheme = scheme;
    this.#cache = cache;
    this.#accessLog = accessLog;
    this.#log = log;
  }

  /**
   * handle runs the synchronous part of a cached route's request (inside the uWS handler): it
   * answers, parks, or returns the Exchange to start; 'bad-request' when the head cannot be
   * forwarded faithfully (the caller refuses it). `pending(upstream)` captures the request, with
   * the upstream head built only when `upstream`.
   */
  handle(route: Route, rc: RouteCache, host: string, path: string, query: string, method: string, req: HeaderPairs, pending: (upstream: boolean) => Pending | null): Exchange | null | 'bad-request' {
    const c = this.#cache;
    const key = primaryKey({ scheme: this.#scheme, host, path, query });
    const r: CachedRequest = { cache: c, key, host, path, ingress: route.source, backend: route.backend, ttlSeconds: rc.ttlSeconds, method, req, own: this.#ctx };
    if (!isRequestCacheable({ method, headers: req }) || hasRange(req)) {
      const p = pending(true);
      if (p === null) return 'bad-request';
      c.count(route.source, 'BYPASS');
      return this.#forward(p, new BypassSink(c, key, !SAFE_METHODS.has(method)), false);
    }
    let entry = c.store.get(key, req);
    if (entry !== null && entry.backend !== route.backend) {
      // The route moved to another backend since this was stored: never serve the old backend's content.
      c.store.delete(key);
      entry = null;
    }
    const decision = entry === null ? null : reuseDecision(entry, req, c.now());
    if (entry !== null && (decision === 'hit' || decision === 'stale')) {
      const p = pending(decision === 'stale');
      if (p === null) return 'bad-request';
      if (decision === 'stale') this.#fetchInBackground(p, r, entry);
      this.#serveEntry(p, r, entry, decision === 'hit' ? 'HIT' : 'STALE');
      return null;
    }
    const p = pending(true);
    if (p === null) return 'bad-request';
    const validators = entry !== null && decision === 'revalidate' ? conditionalHeaders(entry) : [];
    if (method === 'HEAD') {
      // A HEAD is answered from a GET's entry, never stored itself: forward it, labelled, and
      // fill (or revalidate) the entry with a GET in the background, as nginx's
      // proxy_cache_convert_head does, so the next HEAD or GET finds it.
      this.#fetchInBackground(p, { ...r, method: 'GET' }, entry);
      c.count(route.source, entry === null ? 'MISS' : 'EXPIRED');
      return this.#forward(p, new LabelSink(c, key, entry === null ? 'MISS' : 'EXPIRED'), false);
    }
    const upstream: Pending = { ...p, headers: fillHeaders(p.headers, validators) };
    const joined = c.coalescer.join(key);
    if (joined.leader || joined.wait === null) {
      return this.#forward(upstream, new FillSink(r, entry, joined.leader), false);
    }
    this.#park(upstream, r, entry, joined.wait);
    return null;
  }

  /** serveEntry answers from the cache; `res` is corked (inside the handler, or by the caller). */
  #serveEntry(p: Pending, r: CachedRequest, entry: CacheEntry, status: CacheStatus): void {
    const c = r.cache;
    c.count(r.ingress, status);
    // Account first: `res` must not be touched once it ended.
    const bytes = p.method === 'HEAD' ? 0 : entry.body.length;
    this.#accountCached(p, entry.status, bytes);
    writeEntry(p.res, entry, status, p.method, r.req, c.now(), this.#ctx, this.#ctx.draining);
  }

  /** #accountCached counts an answer given here (from the cache, 503, or a parked client that left: status 0). */
  #accountCached(p: Pending, status: number, bytesOut: number): void {
    const access = this.#accessLog === null ? null : { host: p.host, clientAddress: p.clientAddress, requestId: p.requestId, route: p.source };
    new RequestRecord({ method: p.method, target: p.target, counters: p.counters, accessLog: this.#accessLog, access, startedAt: p.started }).finish(status, bytesOut);
  }

  /**
   * forward starts the upstream exchange of a cached route's request, or answers 503 (with the
   * sink's label) when the backend has no endpoint. `corked`: called outside the handler.
   */
  #forward(p: Pending, sink: ExchangeCache, corked: boolean): Exchange | null {
    const endpoint = p.backend === undefined ? null : p.backend.balancer.select();
    if (p.backend === undefined || endpoint === null) {
      const stale = sink.onFailure();
      const answer = (): void => {
        if (stale !== null) {
          const [status, bytes] = sink.write(p.res, stale, this.#ctx.draining);
          this.#accountCached(p, status, bytes);
        } else {
          // Account first: `res` must not be touched once it ended (its address is read).
          this.#accountCached(p, 503, '503 Service Unavailable\n'.length);
          writeFailure(p.res, 'no-endpoint', this.#ctx, { cacheStatus: sink.status, close: this.#ctx.draining });
        }
        sink.settle();
      };
      if (corked) p.res.cork(answer);
      else answer();
      return null;
    }
    const access = this.#accessLog === null ? null : { host: p.host, clientAddress: p.clientAddress, requestId: p.requestId, route: p.source };
    return new Exchange({ ctx: this.#ctx, res: p.res, method: p.method, target: p.forwarded, headers: p.headers, backend: p.backend, endpoint, body: p.body, counters: p.counters, startedAt: p.started, access, cache: sink, bodyPolicy: p.bodyPolicy, upstream: p.upstream, errorPages: p.errorPages });
  }

  /**
   * park holds a request while another fetches the same key; when that fetch stored something the
   * request is answered from it, else (or after --cache-lock-timeout) it goes upstream itself.
   */
  #park(p: Pending, r: CachedRequest, stale: CacheEntry | null, wait: Promise<true | null>): void {
    const c = r.cache;
    let parked = true;
    this.#ctx.inFlight++;
    const leave = (): void => {
      parked = false;
      this.#ctx.inFlight--;
      clearTimeout(timer);
      if (this.#ctx.draining && this.#ctx.inFlight === 0) this.#ctx.onIdle?.();
    };
    p.res.onAborted(() => {
      if (!parked) return;
      leave();
      this.#accountCached(p, 0, 0); // counted 499, with its access line, as every request that ends
    });
    const resume = (stored: true | null): void => {
      if (!parked) return;
      leave();
      let exchange: Exchange | null = null;
      try {
        const entry = stored === null ? null : c.store.get(r.key, r.req);
        if (entry !== null && entry.backend === r.backend && reuseDecision(entry, r.req, c.now()) === 'hit') {
          p.res.cork(() => this.#serveEntry(p, r, entry, 'HIT'));
          return;
        }
        exchange = this.#forward(p, new FillSink(r, stale, false), true);
        exchange?.start();
      } catch (err) {
        this.#log.error({ err, code: 'ING_ERR_PROXY_INTERNAL' }, 'parked request failed');
        // The client still gets an answer: through the exchange when there is one, else here.
        if (exchange !== null) exchange.fail(err);
        else {
          try {
            this.#accountCached(p, 502, '502 Bad Gateway\n'.length);
            p.res.cork(() => writeFailure(p.res, 'internal', this.#ctx, { cacheStatus: null, close: true }));
          } catch {
            // `res` already answered or was aborted: nothing is left to send.
          }
        }
      }
    };
    const timer = setTimeout(() => resume(null), c.lockTimeoutMs);
    void wait.then(resume);
  }

  /**
   * fetchInBackground refreshes a stale entry served under stale-while-revalidate, or fills the
   * entry a HEAD lacked: one GET per key (the coalescer's leader slot), conditional when there is
   * an entry, its answer stored or merged, and nothing sent to any client.
   */
  #fetchInBackground(p: Pending, r: CachedRequest, entry: CacheEntry | null): void {
    const c = r.cache;
    if (!c.coalescer.join(r.key).leader) return;
    const endpoint = p.backend?.balancer.select() ?? null;
    if (endpoint === null) {
      c.coalescer.fail(r.key);
      return;
    }
    const sink = new FillSink(r, entry, true, false);
    const headers = fillHeaders(p.headers, entry === null ? [] : conditionalHeaders(entry));
    endpoint.pool.request(new BackgroundFetch(buildRequestHead('GET', p.forwarded, headers, BodyFraming.None), sink, this.#log));
  }
}
