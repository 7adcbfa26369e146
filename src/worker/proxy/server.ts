/**
 * The worker's HTTP front: uWebSockets.js in, undici out (ARCHITECTURE.md "Request pipeline").
 *
 * The synchronous part of each request lives here: copy the head, check the framing this uWS
 * build lets through, route, pick an endpoint and hand over to an Exchange. Everything it
 * answers itself (400/404/405/503) is written while uWS still has the response corked.
 */
import type { Logger } from 'pino';
import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket, us_socket } from 'uWebSockets.js';
import { IngressError } from '../../shared/errors.js';
import { loadUws } from '../../shared/uws-native.js';
import type { WorkerConfig } from '../../shared/messages.js';
import { normalizeHost } from '../../shared/host.js';
import { isValidQuery, normalizePath } from '../../shared/request-path.js';
import type { AccessLog } from '../access-log.js';
import type { WorkerCache } from '../cache/worker-cache.js';
import type { RouteCache, Route } from '../../shared/snapshot.js';
import type { ClusterRuntime, WorkerState } from '../state.js';
import type { RouteCounters, WorkerStats } from '../stats.js';
import { formatAddress } from './address.js';
import { CachedRoutes, type Pending } from './cached-route.js';
import { CONTENT_TYPE_TEXT, errorResponse, type ProxyFailure } from './errors.js';
import { Exchange, type ProxyContext } from './exchange.js';
import { RequestHead, buildUpstreamHeaders } from './headers.js';

/** ProxyServerOptions are the inputs of createProxyServer. */
export interface ProxyServerOptions {
  readonly state: WorkerState;
  readonly config: WorkerConfig;
  readonly log: Logger;
  /** Counts requests no route took (the routes' counters come with the state); none when metrics are off. */
  readonly stats?: WorkerStats;
  readonly accessLog?: AccessLog;
  /** The response cache for routes that enable it; none: cached routes are proxied as BYPASS-free plain routes. */
  readonly cache?: WorkerCache;
}

/** ProxyServer is a running (or ready to listen) proxy front. */
export interface ProxyServer {
  /** listen binds `httpAddress:httpPort` (SO_REUSEPORT, shared by every worker) and resolves the bound port. */
  listen(): Promise<number>;
  /**
   * drain stops accepting, makes every later response close its connection, and resolves
   * when no request is in flight or `timeoutMs` passed; then it closes every connection.
   */
  drain(timeoutMs: number): Promise<void>;
  /** close stops listening and closes every connection at once, in-flight requests included. */
  close(): void;
  /** inFlight is the number of proxied requests not yet completed or aborted. */
  inFlight(): number;
}

/** requestIdOf finds the X-Request-ID the upstream request carries (only for the access log). */
function requestIdOf(headers: readonly string[]): string {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === 'x-request-id') return headers[i + 1] ?? '';
  return '';
}

/** What this uWS build has beyond its type declarations: `close()` and the client timeouts (in seconds). */
type TunableApp = TemplatedApp & { close(): void; setIdleTimeout(seconds: number): void; setResponseTimeout(seconds: number): void };

const ALLOW = 'GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS';

/** headerPairs copies the client's head as pairs for the cache rules (only on cached routes). */
function headerPairs(head: RequestHead): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < head.names.length; i++) out.push([head.names[i] as string, head.values[i] as string]);
  return out;
}

/**
 * createProxyServer builds the uWS app. It throws IngressError ING_ERR_UWS_NATIVE_MISSING
 * when the native binding does not load (shared/uws-native.ts).
 */
export function createProxyServer(opts: ProxyServerOptions): ProxyServer {
  const uWS = loadUws();

  const { state, config } = opts;
  const log = opts.log.child({ component: 'proxy' });
  const accessLog = opts.accessLog?.enabled ? opts.accessLog : null;
  const unmatched = opts.stats?.unmatched ?? null;
  const ctx: ProxyContext = { serverHeader: config.serverHeader, log, draining: false, inFlight: 0, onIdle: null, accessLog };
  const cachedRoutes = opts.cache === undefined ? null : new CachedRoutes(ctx, opts.cache, accessLog, log);
  const head = new RequestHead();
  let port = String(config.httpPort);
  let listenSocket: us_listen_socket | null = null;
  const app = uWS.App() as TunableApp;
  // Client timeouts, in whole seconds (uWS ticks every 4 s). In this uWS build the response
  // timeout is the idle time between requests on a keep-alive connection, and the idle timeout
  // the time a client has to send a request head, over which a body must average 16 KiB/s
  // (docs/runtime.md, "Client timeouts").
  app.setResponseTimeout(Math.ceil(config.keepAliveTimeoutMs / 1000));
  app.setIdleTimeout(Math.ceil(config.clientHeaderTimeoutMs / 1000));

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
  function reject(res: HttpResponse, failure: ProxyFailure, close: boolean): null {
    const r = errorResponse(failure);
    account(res, r.status, r.body.length, counters, method, target, routeSource, head.host, head.requestId, t0);
    res.writeStatus(r.statusLine);
    if (failure === 'method-not-allowed') res.writeHeader('Allow', ALLOW);
    res.writeHeader('Content-Type', CONTENT_TYPE_TEXT).writeHeader('Server', ctx.serverHeader).end(r.body, close || ctx.draining);
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
  function refuse(res: HttpResponse, failure: ProxyFailure): null {
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
        res.writeHeader('Content-Type', CONTENT_TYPE_TEXT).writeHeader('Server', ctx.serverHeader).end(r.body, true);
      });
    });
    return null;
  }

  /** route runs the synchronous part of a request; it returns the Exchange to start, or null if answered. */
  function route(res: HttpResponse, req: HttpRequest): Exchange | null {
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
      return refuse(res, 'bad-request');
    if (method === 'CONNECT' || method === 'TRACE') return refuse(res, 'method-not-allowed');
    const path = normalizePath(url);
    if (path === null || (query !== '' && !isValidQuery(query))) return refuse(res, 'bad-request');
    const host = normalizeHost(head.host);
    if (host === null) return refuse(res, 'bad-request');

    const routing = state.current;
    const match = routing.router.match(host, path);
    if (match === null) return reject(res, 'no-route', false);
    counters = routing.counters.get(match.route) ?? null;
    routeSource = match.route.source;
    const cluster = routing.clusters.get(match.route.cluster);
    const rc = match.route.cache;
    if (rc !== undefined && cachedRoutes !== null) return cached(res, match.route, rc, cluster, host, path, query);
    const endpoint = cluster === undefined ? null : cluster.balancer.select();
    if (cluster === undefined || endpoint === null) return reject(res, 'no-endpoint', false);

    const length = head.contentLengthCount === 1 ? Number(cl) : -1;
    const clientAddress = formatAddress(res.getRemoteAddress());
    const headers = buildUpstreamHeaders(head, {
      clientAddress,
      port,
      contentLength: length >= 0 ? String(length) : null,
    });
    if (headers === null) return refuse(res, 'bad-request');
    const hasBody = head.transferEncodingCount === 1 || length > 0;
    const forwarded = query === '' ? path : `${path}?${query}`;
    const access = accessLog === null ? null : { host: head.host, clientAddress, requestId: requestIdOf(headers), route: routeSource };
    return new Exchange(ctx, res, method, forwarded, headers, cluster, endpoint, hasBody, counters, t0, access);
  }

  /** cached runs a request on a route with the response cache on (proxy/cached-route.ts has the cases). */
  function cached(res: HttpResponse, route: Route, rc: RouteCache, cluster: ClusterRuntime | undefined, host: string, path: string, query: string): Exchange | null {
    const forwarded = query === '' ? path : `${path}?${query}`;
    // What the request is, captured now: the head is shared and a parked request resumes later.
    // The upstream head is built only when the request goes upstream (a hit needs none).
    const pending = (upstream: boolean): Pending | null => {
      const length = head.contentLengthCount === 1 ? Number(head.contentLength) : -1;
      const clientAddress = upstream || accessLog !== null ? formatAddress(res.getRemoteAddress()) : '';
      const built = upstream ? buildUpstreamHeaders(head, { clientAddress, port, contentLength: length >= 0 ? String(length) : null }) : [];
      if (built === null) return null;
      return {
        res, method, target, forwarded, headers: built, cluster, hasBody: head.transferEncodingCount === 1 || length > 0, counters,
        source: route.source, host: head.host, requestId: upstream ? requestIdOf(built) : head.requestId, clientAddress, started: t0,
      };
    };
    const answer = (cachedRoutes as CachedRoutes).handle(route, rc, host, path, query, method, headerPairs(head), pending);
    return answer === 'bad-request' ? refuse(res, 'bad-request') : answer;
  }

  app.any('/*', (res, req) => {
    let exchange: Exchange | null = null;
    try {
      exchange = route(res, req);
      exchange?.start();
    } catch (err) {
      if (exchange !== null) {
        exchange.fail(err);
        return;
      }
      log.error({ err, code: 'ING_ERR_PROXY_INTERNAL' }, 'request handler failed');
      try {
        reject(res, 'internal', true);
      } catch {
        // `res` had already answered or was aborted: uWS forbids touching it again (close()
        // would throw here too), and nothing is left to send.
      }
    }
  });

  let appClosed = false;
  function closeApp(): void {
    if (listenSocket !== null) {
      uWS.us_listen_socket_close(listenSocket);
      listenSocket = null;
    }
    if (!appClosed) {
      appClosed = true;
      app.close();
    }
  }

  return {
    listen(): Promise<number> {
      return new Promise((resolve, reject) => {
        const onListen = (ls: us_listen_socket | false): void => {
          if (ls === false) {
            reject(new IngressError('ING_ERR_LISTEN_FAILED', `cannot listen on ${config.httpAddress || '*'}:${config.httpPort}`));
            return;
          }
          listenSocket = ls;
          const bound = uWS.us_socket_local_port(ls as unknown as us_socket);
          port = String(bound);
          resolve(bound);
        };
        if (config.httpAddress === '') app.listen(config.httpPort, onListen);
        else app.listen(config.httpAddress, config.httpPort, onListen);
      });
    },

    drain(timeoutMs: number): Promise<void> {
      if (listenSocket !== null) {
        uWS.us_listen_socket_close(listenSocket);
        listenSocket = null;
      }
      ctx.draining = true;
      return new Promise((resolve) => {
        let timer: NodeJS.Timeout | null = null;
        let settled = false;
        const finish = (): void => {
          if (settled) return;
          settled = true;
          if (timer !== null) clearTimeout(timer);
          ctx.onIdle = null;
          closeApp();
          resolve();
        };
        if (ctx.inFlight === 0) return finish();
        timer = setTimeout(finish, timeoutMs);
        // The last response completes inside res.cork: let uWS uncork and send it before
        // app.close() drops every connection.
        ctx.onIdle = () => setImmediate(finish);
      });
    },

    close(): void {
      ctx.draining = true;
      closeApp();
    },

    inFlight(): number {
      return ctx.inFlight;
    },
  };
}
