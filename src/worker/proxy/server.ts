/**
 * The worker's front: uWebSockets.js in, Flusso's upstream client out (README.md "Architecture"). It
 * owns the plain-HTTP app and the HTTPS listener (tls-front.ts); both hand every request to
 * the same handler (handler.ts) with the Listener it came on.
 */
import type { Logger } from 'pino';
import type { us_listen_socket, us_socket } from 'uWebSockets.js';
import { IngressError } from '../../shared/errors.js';
import type { WorkerConfig } from '../../shared/messages.js';
import type { TlsSnapshot } from '../../shared/snapshot.js';
import { loadUws } from '../../shared/uws-native.js';
import type { AccessLog } from '../access-log.js';
import type { WorkerCache } from '../cache/worker-cache.js';
import type { WorkerState } from '../state.js';
import type { WorkerStats } from '../stats.js';
import { CachedRoutes } from './cached-route.js';
import type { ProxyContext } from './exchange.js';
import { createRequestHandler, type Listener } from './handler.js';
import { ConnLimiter } from './conn-limit.js';
import { ExternalAuthClient } from './external-auth.js';
import type { BasicAuthStore } from '../auth/basic-auth.js';
import { HashVerifier } from '../auth/verifier.js';
import type { RateLimiter } from '../ratelimit/limiter.js';
import { bodyDefaultsOf } from './request-body.js';
import { H2Sessions } from '../upstream/h2-sessions.js';
import { createH2Route } from './h2-proxy.js';
import { NodeTlsFront } from './node-front.js';
import { TlsFront } from './tls-front.js';
import { tuneClientTimeouts, type TunableApp } from './uws-apps.js';
import { WebSocketProxy } from './websocket.js';

/** ProxyServerOptions are the inputs of createProxyServer. */
export interface ProxyServerOptions {
  readonly state: WorkerState;
  readonly config: WorkerConfig;
  readonly log: Logger;
  /** Counts requests no route took (the routes' counters come with the state); none when metrics are off. */
  readonly stats?: WorkerStats;
  readonly accessLog?: AccessLog;
  /** The response cache for routes that enable it; none: cached routes are proxied as plain routes. */
  readonly cache?: WorkerCache;
  /** The rate limits of the routes that have one (docs/rate-limits.md); none: no route is limited. */
  readonly rateLimiter?: RateLimiter;
  /** The basic-auth credentials the primary sent (worker/auth/basic-auth.ts); none: basic-auth routes answer 503. */
  readonly basicAuth?: BasicAuthStore;
}

/** ProxyServer is a running (or ready to listen) proxy front. */
export interface ProxyServer {
  /**
   * listen binds `httpAddress:httpPort` and, when configured, `httpsAddress:httpsPort`
   * (SO_REUSEPORT, shared by every worker) and resolves the bound ports.
   */
  listen(): Promise<{ readonly http: number; readonly https: number | null }>;
  /** applyTls makes the HTTPS listener serve these certificates to new connections (same object: nothing to do). */
  applyTls(tls: TlsSnapshot | null): void;
  /**
   * drain stops accepting, makes every later response close its connection, and resolves
   * when no request is in flight or `timeoutMs` passed; then it closes every connection.
   */
  drain(timeoutMs: number): Promise<void>;
  /** close stops listening and closes every connection at once, in-flight requests included. */
  close(): void;
  /** inFlight is the number of proxied requests not yet completed or aborted, over every listener. */
  inFlight(): number;
  /** websockets is the number of proxied WebSockets open (or upgrading), over every listener. */
  websockets(): number;
}

/** How long WebSocket close frames get to go out after the drain before every connection is closed. */
const WEBSOCKET_CLOSE_GRACE_MS = 200;

/**
 * createProxyServer builds the uWS apps. It throws IngressError ING_ERR_UWS_NATIVE_MISSING
 * when the native binding does not load (shared/uws-native.ts).
 */
export function createProxyServer(opts: ProxyServerOptions): ProxyServer {
  const uWS = loadUws();
  const { config } = opts;
  const log = opts.log.child({ component: 'proxy' });
  const accessLog = opts.accessLog?.enabled ? opts.accessLog : null;
  // limit-connections counts a client's requests on every listener and its WebSockets together (docs/rate-limits.md).
  const connLimiter = new ConnLimiter();
  // auth-url checks: one deadline for connection and answer, as a proxied request's (external-auth.ts).
  const externalAuth = new ExternalAuthClient({ timeoutMs: config.upstreamConnectTimeoutMs + config.upstreamResponseTimeoutMs, log });
  // auth-type basic: expensive hashes are checked on a thread of this worker, started on first use.
  const verifier = new HashVerifier();
  const basicAuth = opts.basicAuth === undefined ? null : { store: opts.basicAuth, verifier };
  const handler = createRequestHandler({ state: opts.state, config, log, accessLog, unmatched: opts.stats?.unmatched ?? null, rateLimiter: opts.rateLimiter ?? null, connLimiter, externalAuth, basicAuth });

  /** listener builds a Listener (its own context, so its requests are counted apart). */
  const listener = (scheme: 'http' | 'https', port: number, hsts: string | null): Listener => {
    const ctx: ProxyContext = { serverHeader: config.serverHeader, hsts, log, draining: false, inFlight: 0, onIdle: null, accessLog, body: bodyDefaultsOf(config) };
    return { scheme, port: String(port), ctx, cached: opts.cache === undefined ? null : new CachedRoutes(ctx, scheme, opts.cache, accessLog, log) };
  };

  const websockets = new WebSocketProxy({
    uws: uWS,
    state: opts.state,
    log,
    unmatched: opts.stats?.unmatched ?? null,
    rateLimiter: opts.rateLimiter ?? null,
    rateLimitStatus: config.rateLimit?.status ?? 503,
    ...(config.clientAddress === undefined ? {} : { clientAddress: config.clientAddress }),
    connLimiter,
    access: { basicAuth, externalAuth, log },
    limits: { targetBytes: config.maxRequestTargetBytes, fieldBytes: config.maxRequestFieldBytes, fields: config.maxRequestFields },
    settings: {
      idleTimeoutMs: config.websocketIdleTimeoutMs,
      maxMessageBytes: config.websocketMaxMessageBytes,
      maxBufferedBytes: config.websocketMaxBufferedBytes,
      handshakeTimeoutMs: config.upstreamConnectTimeoutMs + config.upstreamResponseTimeoutMs,
    },
  });

  const http = listener('http', config.httpPort, null);
  const app = uWS.App() as TunableApp;
  tuneClientTimeouts(app, config);
  websockets.attach(app, http);
  app.any('/*', (res, req) => handler(res, req, http));
  let listenSocket: us_listen_socket | null = null;

  // HTTP/2 upstreams (gRPC) are reached from the HTTP/2 front only (docs/http2.md).
  const h2Sessions = new H2Sessions({ connectTimeoutMs: config.upstreamConnectTimeoutMs, idleTimeoutMs: config.upstreamKeepAliveTimeoutMs });
  const tls =
    config.https === null
      ? null
      : config.https.http2 === true
        ? new NodeTlsFront({ uws: uWS, config, https: config.https, log, listener: listener('https', config.https.port, config.https.hsts), handler, websockets, h2: createH2Route({ state: opts.state, sessions: h2Sessions, log, accessLog, rateLimiter: opts.rateLimiter ?? null, rateLimitStatus: config.rateLimit?.status ?? 503, connLimiter, access: { basicAuth, externalAuth, log }, ...(config.clientAddress === undefined ? {} : { clientAddress: config.clientAddress }) }), proxyProtocol: config.clientAddress?.source === 'proxy-protocol' })
        : new TlsFront({
          uws: uWS,
          config,
          https: config.https,
          log,
          listener: () => listener('https', config.https?.port ?? 0, config.https?.hsts ?? null),
          handler,
          websockets,
        });

  const contexts = (): ProxyContext[] => [http.ctx, ...(tls?.contexts() ?? [])];

  let appClosed = false;
  function closeAll(): void {
    h2Sessions.close();
    externalAuth.close();
    verifier.close();
    if (listenSocket !== null) {
      uWS.us_listen_socket_close(listenSocket);
      listenSocket = null;
    }
    tls?.close();
    if (!appClosed) {
      appClosed = true;
      app.close();
    }
  }

  return {
    async listen() {
      const bound = await new Promise<number>((resolve, reject) => {
        const onListen = (ls: us_listen_socket | false): void => {
          if (ls === false) {
            reject(new IngressError('ING_ERR_LISTEN_FAILED', `cannot listen on ${config.httpAddress || '*'}:${config.httpPort}`));
            return;
          }
          listenSocket = ls;
          resolve(uWS.us_socket_local_port(ls as unknown as us_socket));
        };
        if (config.httpAddress === '') app.listen(config.httpPort, onListen);
        else app.listen(config.httpAddress, config.httpPort, onListen);
      });
      http.port = String(bound);
      const https = tls === null ? null : await tls.listen();
      return { http: bound, https };
    },

    applyTls(snapshot: TlsSnapshot | null): void {
      if (snapshot !== null) tls?.apply(snapshot);
    },

    drain(timeoutMs: number): Promise<void> {
      if (listenSocket !== null) {
        uWS.us_listen_socket_close(listenSocket);
        listenSocket = null;
      }
      tls?.stopAccepting();
      for (const ctx of contexts()) ctx.draining = true;
      websockets.drain();
      return new Promise((resolve) => {
        let timer: NodeJS.Timeout | null = null;
        let settled = false;
        const finish = (): void => {
          if (settled) return;
          settled = true;
          if (timer !== null) clearTimeout(timer);
          for (const ctx of contexts()) ctx.onIdle = null;
          websockets.onIdle = null;
          // WebSockets still open when the drain time is over get 1001 (going away); their close
          // frames go out before the apps close every connection.
          if (websockets.open > 0) {
            try {
              websockets.goingAway();
            } catch (err) {
              log.error({ err, code: 'ING_ERR_PROXY_INTERNAL' }, 'closing websockets at the end of the drain failed');
            }
            setTimeout(() => {
              closeAll();
              resolve();
            }, WEBSOCKET_CLOSE_GRACE_MS);
            return;
          }
          closeAll();
          resolve();
        };
        // HTTP requests in flight and open WebSockets both hold the drain.
        const total = (): number => contexts().reduce((n, ctx) => n + ctx.inFlight, 0) + websockets.open;
        if (total() === 0) return finish();
        timer = setTimeout(finish, timeoutMs);
        // The last response completes inside res.cork: let uWS uncork and send it before
        // app.close() drops every connection.
        const onIdle = (): void => {
          if (total() === 0) setImmediate(finish);
        };
        for (const ctx of contexts()) ctx.onIdle = onIdle;
        websockets.onIdle = onIdle;
      });
    },

    close(): void {
      for (const ctx of contexts()) ctx.draining = true;
      closeAll();
    },

    inFlight(): number {
      return contexts().reduce((n, ctx) => n + ctx.inFlight, 0);
    },

    websockets(): number {
      return websockets.open;
    },
  };
}
