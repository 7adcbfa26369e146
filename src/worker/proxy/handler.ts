/**
 * The synchronous part of every request, on whichever listener it came (HTTP, or a generation
 * of the HTTPS listener): copy the head, check the framing this uWS build lets through, route,
 * redirect plain HTTP to HTTPS where the route asks, pick an endpoint and hand over to an
 * Exchange. Everything it answers itself (308/400/404/405/503) is written while uWS still has
 * the response corked.
 */
import type { Logger } from 'pino';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import type { WorkerConfig } from '../../shared/messages.js';
import { normalizeHost } from '../../shared/host.js';
import { isValidQuery, normalizePath } from '../../shared/request-path.js';
import type { Route, RouteCache } from '../../shared/snapshot.js';
import type { AccessLog } from '../access-log.js';
import type { ClusterRuntime, WorkerState } from '../state.js';
import type { RouteCounters } from '../stats.js';
import { formatAddress } from './address.js';
import type { CachedRoutes, Pending } from './cached-route.js';
import { CONTENT_TYPE_TEXT, errorResponse, type ProxyFailure } from './errors.js';
import { Exchange, markClientClose, writeOwnFields, type ProxyContext } from './exchange.js';
import { RequestHead, buildUpstreamHeaders } from './headers.js';

/** Listener is where a request came in: its scheme and port (for X-Forwarded-*), its context and cached routes. */
export interface Listener {
  readonly scheme: 'http' | 'https';
  /** The bound port as text; set once the listener listens. */
  port: string;
  readonly ctx: ProxyContext;
  /** The response cache's request path for this listener; null without a cache. */
  readonly cached: CachedRoutes | null;
}

/** RequestHandler serves one request that came on `listener`. */
export type RequestHandler = (res: HttpResponse, req: HttpRequest, listener: Listener) => void;

/** RequestHandlerOptions are what the handler shares across listeners. */
export interface RequestHandlerOptions {
  readonly state: WorkerState;
  readonly config: WorkerConfig;
  readonly log: Logger;
  readonly accessLog: AccessLog | null;
  /** The counters of requests no route took; null when metrics are off. */
  readonly unmatched: RouteCounters | null;
}

const ALLOW = 'GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS';

/**
 * Paths never redirected to HTTPS: ACME HTTP-01 challenges (cert-manager answers them on plain
 * HTTP before the host has a certificate), as ingress-nginx's `no-tls-redirect-locations` default.
 */
const NO_REDIRECT_PREFIX = '/.well-known/acme-challenge/';

const REDIRECT_LINE = '308 Permanent Redirect';
const REDIRECT_BODY = `${REDIRECT_LINE}\n`;

/** requestIdOf finds the X-Request-ID the upstream request carries (only for the access log). */
function requestIdOf(headers: readonly string[]): string {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === 'x-request-id') return headers[i + 1] ?? '';
  return '';
}

/** headerPairs copies the client's head as pairs for the cache rules (only on cached routes). */
function headerPairs(head: RequestHead): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < head.names.length; i++) out.push([head.names[i] as string, head.values[i] as string]);
  return out;
}

/** createRequestHandler builds the handler every listener calls. */
export function createRequestHandler(opts: RequestHandlerOptions): RequestHandler {
  const { state, log, accessLog, unmatched } = opts;
  const redirectPort = opts.config.https?.redirectPort ?? 443;
  const redirectAuthoritySuffix = redirectPort === 443 ? '' : `:${redirectPort}`;
  const head = new RequestHead();

  // What the current request is, for counting and the access log of answers given here.
  let t0 = 0;
  let method = '';
  let target = '';
  let counters: RouteCounters | null = null;
  let routeSource = '';

  /** account counts an answer the proxy gave itself and writes its access line. */
  function account(res: HttpResponse, status: number, bytesOut: number, c: RouteCounters | null, m: string, tgt: string, source: string, host: string, requestId: string, started: number): void {
    const seconds = (performance.now() - started) / 1000;
    c?.record(m, status, seconds, -1, 0, bytesOut);
    accessLog?.write({ requestId, remoteAddress: formatAddress(res.getRemoteAddress()), method: m, host, path: tgt, status, bytesIn: 0, bytesOut, requestTime: seconds, upstreamAddress: '', upstreamStatus: 0, upstreamTime: -1, route: source });
  }

  /** reject answers a request the proxy refuses itself; we are inside the handler, so corked. */
  function reject(res: HttpResponse, l: Listener, failure: ProxyFailure, close: boolean): null {
    const r = errorResponse(failure);
    account(res, r.status, r.body.length, counters, method, target, routeSource, head.host, head.requestId, t0);
    res.writeStatus(r.statusLine);
    if (failure === 'method-not-allowed') res.writeHeader('Allow', ALLOW);
    writeOwnFields(res.writeHeader('Content-Type', CONTENT_TYPE_TEXT), l.ctx).end(r.body, close || l.ctx.draining);
    return null;
  }

  /**
   * refuse answers a request that must not reach an upstream and closes the connection. The
   * answer is deliberately deferred by one turn of the event loop: this uWS build keeps parsing
   * the bytes it already read after a synchronous `end(body, true)` and hands us the next,
   * pipelined (smuggled) request before it closes. While our response is pending, uWS treats a
   * pipelined request as async pipelining and closes the socket at once, so nothing behind a
   * refused request is ever routed; a lone bad request still gets its 400 and the close.
   */
  function refuse(res: HttpResponse, l: Listener, failure: ProxyFailure): null {
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    // The request's head is gone by then: keep what the answer's accounting needs.
    const [m, tgt, host, requestId, started] = [method, target, head.host, head.requestId, t0];
    setImmediate(() => {
      if (aborted) return;
      const r = errorResponse(failure);
      // Account first: once the response has ended, `res` must not be touched (its address is read).
      account(res, r.status, r.body.length, unmatched, m, tgt, '', host, requestId, started);
      res.cork(() => {
        res.writeStatus(r.statusLine);
        if (failure === 'method-not-allowed') res.writeHeader('Allow', ALLOW);
        writeOwnFields(res.writeHeader('Content-Type', CONTENT_TYPE_TEXT), l.ctx).end(r.body, true);
      });
    });
    return null;
  }

  /** redirect answers 308 to the same target on https (ingress-nginx's ssl-redirect); corked. */
  function redirect(res: HttpResponse, l: Listener, host: string): null {
    account(res, 308, REDIRECT_BODY.length, counters, method, target, routeSource, head.host, head.requestId, t0);
    res.writeStatus(REDIRECT_LINE).writeHeader('Location', `https://${host}${redirectAuthoritySuffix}${target}`);
    writeOwnFields(res.writeHeader('Content-Type', CONTENT_TYPE_TEXT), l.ctx).end(REDIRECT_BODY, l.ctx.draining);
    return null;
  }

  /** route runs the synchronous part of a request; it returns the Exchange to start, or null if answered. */
  function route(res: HttpResponse, req: HttpRequest, l: Listener): Exchange | null {
    // HttpRequest is stack-allocated: read everything now.
    t0 = performance.now();
    method = req.getCaseSensitiveMethod();
    const url = req.getUrl();
    const query: string = req.getQuery() || '';
    target = query === '' ? url : `${url}?${query}`;
    counters = unmatched;
    routeSource = '';
    head.reset();
    req.forEach(head.visit);
    // uWS closes after the response exactly when the (first) Connection field is `close`, in any
    // case; a list naming close (`keep-alive, close`) it keeps open (docs/runtime.md).
    if (head.connection.length === 5 && head.connection.toLowerCase() === 'close') markClientClose(res);

    // Framing this uWS build accepts but must not reach an upstream (catalogue §A, §D). It
    // answers a missing or duplicate Host, Content-Length with Transfer-Encoding, and a
    // malformed Content-Length itself (400); it lets through duplicate Content-Length fields,
    // any Transfer-Encoding (which it decodes as chunked), and a PROXY protocol v2 header that
    // a client sent: its address must never stand in for the peer's, so the request is refused.
    const cl = head.contentLength;
    if (
      head.contentLengthCount > 1 ||
      head.transferEncodingCount > 1 ||
      (head.transferEncodingCount === 1 && head.transferEncoding.trim().toLowerCase() !== 'chunked') ||
      (head.contentLengthCount === 1 && !/^\d{1,15}$/.test(cl)) ||
      res.getProxiedRemoteAddress().byteLength !== 0
    )
      return refuse(res, l, 'bad-request');
    if (method === 'CONNECT' || method === 'TRACE') return refuse(res, l, 'method-not-allowed');
    const path = normalizePath(url);
    if (path === null || (query !== '' && !isValidQuery(query))) return refuse(res, l, 'bad-request');
    const host = normalizeHost(head.host);
    if (host === null) return refuse(res, l, 'bad-request');

    const routing = state.current;
    const match = routing.router.match(host, path);
    if (match === null) return reject(res, l, 'no-route', false);
    counters = routing.counters.get(match.route) ?? null;
    routeSource = match.route.source;
    if (match.route.httpsRedirect === true && l.scheme === 'http' && !path.startsWith(NO_REDIRECT_PREFIX)) return redirect(res, l, host);
    const cluster = routing.clusters.get(match.route.cluster);
    const rc = match.route.cache;
    if (rc !== undefined && l.cached !== null) return cached(res, l, match.route, rc, cluster, host, path, query);
    const endpoint = cluster === undefined ? null : cluster.balancer.select();
    if (cluster === undefined || endpoint === null) return reject(res, l, 'no-endpoint', false);

    const length = head.contentLengthCount === 1 ? Number(cl) : -1;
    const clientAddress = formatAddress(res.getRemoteAddress());
    const headers = buildUpstreamHeaders(head, { clientAddress, port: l.port, proto: l.scheme, contentLength: length >= 0 ? String(length) : null });
    if (headers === null) return refuse(res, l, 'bad-request');
    const hasBody = head.transferEncodingCount === 1 || length > 0;
    const forwarded = query === '' ? path : `${path}?${query}`;
    const access = accessLog === null ? null : { host: head.host, clientAddress, requestId: requestIdOf(headers), route: routeSource };
    return new Exchange(l.ctx, res, method, forwarded, headers, cluster, endpoint, hasBody, counters, t0, access);
  }

  /** cached runs a request on a route with the response cache on (proxy/cached-route.ts has the cases). */
  function cached(res: HttpResponse, l: Listener, route: Route, rc: RouteCache, cluster: ClusterRuntime | undefined, host: string, path: string, query: string): Exchange | null {
    const forwarded = query === '' ? path : `${path}?${query}`;
    // What the request is, captured now: the head is shared and a parked request resumes later.
    // The upstream head is built only when the request goes upstream (a hit needs none).
    const pending = (upstream: boolean): Pending | null => {
      const length = head.contentLengthCount === 1 ? Number(head.contentLength) : -1;
      const clientAddress = upstream || accessLog !== null ? formatAddress(res.getRemoteAddress()) : '';
      const built = upstream ? buildUpstreamHeaders(head, { clientAddress, port: l.port, proto: l.scheme, contentLength: length >= 0 ? String(length) : null }) : [];
      if (built === null) return null;
      return {
        res, method, target, forwarded, headers: built, cluster, hasBody: head.transferEncodingCount === 1 || length > 0, counters,
        source: route.source, host: head.host, requestId: upstream ? requestIdOf(built) : head.requestId, clientAddress, started: t0,
      };
    };
    const answer = (l.cached as CachedRoutes).handle(route, rc, host, path, query, method, headerPairs(head), pending);
    return answer === 'bad-request' ? refuse(res, l, 'bad-request') : answer;
  }

  return (res, req, l) => {
    let exchange: Exchange | null = null;
    try {
      exchange = route(res, req, l);
      exchange?.start();
    } catch (err) {
      if (exchange !== null) {
        exchange.fail(err);
        return;
      }
      log.error({ err, code: 'ING_ERR_PROXY_INTERNAL' }, 'request handler failed');
      try {
        reject(res, l, 'internal', true);
      } catch {
        // `res` had already answered or was aborted: uWS forbids touching it again (close()
        // would throw here too), and nothing is left to send.
      }
    }
  };
}
