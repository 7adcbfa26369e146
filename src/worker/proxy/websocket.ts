/**
 * WebSocket proxying (issue 12, docs/websocket.md). uWebSockets.js terminates the client's
 * WebSocket, so Flusso proxies messages, not frames: the upgrade is routed like any request (host,
 * path, balancer), an upstream WebSocket is opened with the `ws` library, and only when the
 * backend has accepted does the client get its 101, with the subprotocol the backend chose. A
 * backend that refuses gives the client its real status and body. Then messages (text and binary,
 * in order; fragments arrive reassembled), pings, and close codes with reasons cross both ways.
 *
 * Memory is bounded per connection: a message larger than `maxMessageBytes` closes the
 * connection (1009); toward the client, the upstream socket is paused while more than
 * `maxBufferedBytes` wait to be written; toward the backend, uWS cannot pause the client, so a
 * client that keeps sending while more than `maxBufferedBytes` wait for the backend is closed
 * with 1013 (try again later). A connection with no message either way for `idleTimeoutMs` is
 * closed with 1001. Open connections do not depend on the routing snapshot: config changes leave
 * them alone. On drain they get 1001 once the drain timeout is over.
 */
import { backendOrFallback } from './fallback.js';
import type { Logger } from 'pino';
import type { HttpRequest, HttpResponse, TemplatedApp, WebSocket as ClientSocket, WebSocketBehavior, us_socket_context_t } from 'uWebSockets.js';
import WebSocket from 'ws';
import { normalizeHost } from '../../shared/host.js';
import type { Uws } from '../../shared/uws-native.js';
import { isValidQuery, normalizePath } from '../../shared/request-path.js';
import type { UpstreamEndpoint, WorkerState } from '../state.js';
import type { RouteCounters } from '../stats.js';
import { sourceAllowed } from '../../shared/source-range.js';
import { backendOf } from './canary.js';
import { chooseEndpoint } from './endpoint-choice.js';
import { CONTENT_TYPE_TEXT, errorResponse, statusLine, type ProxyFailure } from './errors.js';
import type { RateLimiter } from '../ratelimit/limiter.js';
import { rateLimitedAnswer } from './rate-limit.js';
import { ClientAddress } from './client-address.js';
import type { ClientAddressSettings } from '../../shared/client-address.js';
import { connLimitedAnswer, type ConnLimiter, type Release } from './conn-limit.js';
import { authorizationOf, decideAccess, NO_AUTHORIZATION, type AccessDeps } from './access-gate.js';
import { withAuthFields, type AuthRequest } from './external-auth.js';
import { writeOwnFields } from './exchange.js';
import type { Listener } from './handler.js';
import { RequestHead, buildUpstreamHeaders } from './headers.js';
import { overrides, withProxySetFields, writeAnswerFields, writeRouteFields } from './custom-headers.js';
import { applyPolicy, statusLineOf, withRequestFields, type PolicyAnswer, type PolicyForward } from './policy.js';
import { guardRequest, type RequestLimits } from './request-guard.js';

/** WebSocketSettings are the limits of every proxied WebSocket (flags --websocket-*). */
export interface WebSocketSettings {
  readonly idleTimeoutMs: number;
  readonly maxMessageBytes: number;
  readonly maxBufferedBytes: number;
  /** How long the backend has to accept the upgrade (connect + 101). */
  readonly handshakeTimeoutMs: number;
}

/** WebSocketProxyOptions configure a WebSocketProxy. */
export interface WebSocketProxyOptions {
  readonly uws: Uws;
  readonly state: WorkerState;
  readonly settings: WebSocketSettings;
  /** The trusted-proxy settings (docs/client-address.md); absent: the socket's peer is the client. */
  readonly clientAddress?: ClientAddressSettings;
  readonly log: Logger;
  /** The counters of upgrades no route took; null when metrics are off. */
  readonly unmatched: RouteCounters | null;
  /** Flusso's own request-head limits, checked on an upgrade as on any request (request-guard.ts). */
  readonly limits: RequestLimits;
  /** The routes' rate limits (docs/rate-limits.md): an upgrade counts as a request; none: not applied. */
  readonly rateLimiter?: RateLimiter | null;
  /** `--rate-limit-status` (503 when absent). */
  readonly rateLimitStatus?: number;
  /** The routes' limit-connections (conn-limit.ts): an open WebSocket holds its place until it closes; none: not applied. */
  readonly connLimiter?: ConnLimiter | null;
  /** The routes' authentication (access-gate.ts); none: an upgrade on an authenticated route is refused (503). */
  readonly access?: AccessDeps | null;
}

/** Connect is an admitted upgrade on its way to the backend (#connect). */
interface Connect {
  readonly res: HttpResponse;
  readonly l: Listener;
  readonly context: us_socket_context_t;
  readonly key: string;
  readonly protocols: string;
  readonly extensions: string;
  readonly counters: RouteCounters | null;
  readonly endpoint: UpstreamEndpoint;
  readonly decided: PolicyForward | null;
  readonly path: string;
  readonly query: string;
  readonly release: Release | null;
  /** The upstream handshake's fields. */
  readonly built: string[];
  /** How long the link may go without a message either way (the route's proxy-read-timeout); 0: the global idle timeout. */
  readonly idleMs: number;
  /** The route's custom-headers / add-headers fields for the 101 (custom-headers.ts); null: none. */
  readonly routeFields: readonly string[] | null;
}

/** Link is one proxied WebSocket: the client side (once upgraded) and the upstream side. */
interface Link {
  readonly upstream: WebSocket;
  readonly counters: RouteCounters | null;
  client: ClientSocket<Holder> | null;
  lastActivity: number;
  /** The route's idle timeout (ingress-nginx proxy-read-timeout, shared/upstream-policy.ts); 0: the global one. */
  readonly idleMs: number;
  /** The backend accepted and the client got its 101. */
  opened: boolean;
  clientClosed: boolean;
  upstreamClosed: boolean;
  paused: boolean;
  /** Gives back the limit-connections place (conn-limit.ts); null without one. */
  release: Release | null;
}

/**
 * Holder is the client socket's user data. uWS copies the properties of the object given to
 * `upgrade` onto its own, so the Link is carried by reference inside it.
 */
interface Holder {
  readonly link: Link;
}

/** Request fields the upgrade never forwards: ws writes its own handshake, uWS answers the client's. */
const HANDSHAKE_FIELDS = new Set(['sec-websocket-key', 'sec-websocket-version', 'sec-websocket-extensions', 'sec-websocket-protocol']);
/** Response fields of the backend's 101 (or refusal) that are not passed to the client. */
const NOT_RELAYED = new Set(['connection', 'upgrade', 'sec-websocket-accept', 'sec-websocket-extensions', 'sec-websocket-protocol', 'date', 'server', 'transfer-encoding', 'content-length', 'keep-alive']);
/** The most of a refusing backend's body passed on to the client. */
const MAX_REFUSAL_BODY = 64 * 1024;
const SWEEP_MS = 1000;

/** Close codes a WebSocket endpoint may send (RFC 6455 §7.4): not 1004-1006, 1015, nor unassigned ones. */
function sendableCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

/** WebSocketProxy owns every proxied WebSocket of a worker. */
export class WebSocketProxy {
  readonly #o: WebSocketProxyOptions;
  readonly #links = new Set<Link>();
  readonly #head = new RequestHead();
  #timer: NodeJS.Timeout | null = null;
  #draining = false;
  /** Called when the last WebSocket closes during a drain. */
  onIdle: (() => void) | null = null;

  /** The current upgrade's client address (client-address.ts), read from the head above. */
  readonly #client: ClientAddress;

  constructor(opts: WebSocketProxyOptions) {
    this.#o = opts;
    this.#client = new ClientAddress(opts.clientAddress ?? null, this.#head);
  }

  /** open is the number of proxied WebSockets (and upgrades waiting for the backend). */
  get open(): number {
    return this.#links.size;
  }

  /** attach serves WebSocket upgrades on every path of `app`, for requests that came on `listener`. */
  attach(app: TemplatedApp, listener: Listener): void {
    const { settings } = this.#o;
    const behavior: WebSocketBehavior<Holder> = {
      compression: this.#o.uws.DISABLED,
      maxPayloadLength: settings.maxMessageBytes,
      maxBackpressure: Number.MAX_SAFE_INTEGER, // never drop: backpressure is handled below
      closeOnBackpressureLimit: false,
      idleTimeout: 0, // Flusso's own idle timeout counts messages both ways (#sweep)
      sendPingsAutomatically: false,
      upgrade: (res, req, context) => this.#upgrade(res, req, context, listener),
      open: (ws) => {
        ws.getUserData().link.client = ws;
      },
      message: (ws, message, isBinary) => this.#fromClient(ws.getUserData().link, message, isBinary),
      drain: (ws) => {
        const { link } = ws.getUserData();
        if (link.paused && ws.getBufferedAmount() <= settings.maxBufferedBytes / 2) {
          link.paused = false;
          link.upstream.resume();
        }
      },
      ping: (ws, message) => {
        const { link } = ws.getUserData();
        link.lastActivity = performance.now();
        if (link.upstream.readyState === WebSocket.OPEN) link.upstream.ping(Buffer.from(message.slice(0)));
      },
      close: (ws, code, message) => this.#clientClosed(ws.getUserData().link, code, Buffer.from(message.slice(0))),
    };
    app.ws('/*', behavior);
  }

  /** goingAway closes every WebSocket with 1001 (the drain timeout is over). */
  goingAway(): void {
    for (const link of [...this.#links]) {
      try {
        const client = link.client;
        if (client !== null && !link.clientClosed) client.cork(() => client.end(1001, 'server going away'));
        else this.#forget(link);
        if (!link.upstreamClosed) {
          link.upstreamClosed = true;
          if (link.upstream.readyState === WebSocket.CONNECTING) link.upstream.terminate();
          else link.upstream.close(1001, 'proxy going away');
        }
      } catch (err) {
        // One connection that cannot be closed cleanly must not hold the drain of the others.
        this.#o.log.error({ err, code: 'ING_ERR_PROXY_INTERNAL' }, 'cannot close a websocket at the end of the drain');
        this.#forget(link);
      }
    }
  }

  /** drain marks the start of a drain: no new upgrades; onIdle runs when the last one closes. */
  drain(): void {
    this.#draining = true;
  }

  #upgrade(res: HttpResponse, req: HttpRequest, context: us_socket_context_t, l: Listener): void {
    const head = this.#head;
    head.reset();
    req.forEach(head.visit);
    const client = this.#client;
    client.begin(res);
    const url = req.getUrl();
    const query: string = req.getQuery() || '';
    const key = req.getHeader('sec-websocket-key');
    const protocols = req.getHeader('sec-websocket-protocol');
    const extensions = req.getHeader('sec-websocket-extensions');
    const { state, log, unmatched } = this.#o;

    // A draining worker takes no new WebSocket: 503, so the client retries on another replica.
    if (this.#draining) return this.#answer(res, l, 'no-endpoint', unmatched);
    const path = normalizePath(url);
    const host = normalizeHost(head.host);
    const guarded = guardRequest(req.getCaseSensitiveMethod(), target(url, query), head, this.#o.limits);
    if (guarded !== null) return this.#answer(res, l, guarded, unmatched);
    // An upgrade carries no body: any framing field makes it a request to refuse, not to route.
    if (path === null || host === null || (query !== '' && !isValidQuery(query)) || head.contentLengthCount > 0 || head.transferEncodingCount > 0 || client.proxyHeaderRefused(res, l.scheme))
      return this.#answer(res, l, 'bad-request', unmatched);
    const routing = state.current;
    const match = routing.router.match(host, path);
    if (match === null) return this.#answer(res, l, 'no-route', unmatched);
    const counters = routing.counters.get(match.route) ?? null;
    if (match.route.httpsRedirect === true && l.scheme === 'http' && client.proto('http') === 'http') {
      counters?.record('GET', 308, 0, -1, 0, 0);
      res.writeStatus('308 Permanent Redirect').writeHeader('Location', `https://${host}${target(path, query)}`);
      writeOwnFields(res, l.ctx).end();
      return;
    }
    // The order is the plain request's (handler.ts), nginx's phases: the redirects, then limit-rps,
    // limit-connections, the address lists, then the authentication. The route's ingress-nginx
    // annotations (policy.ts, issue 15): redirects answer the upgrade; a rewrite, upstream-vhost or
    // X-Forwarded-Prefix apply to the handshake as to any request.
    const policy = match.route.policy;
    const decided = policy === undefined ? null : applyPolicy(policy, { method: 'GET', scheme: l.scheme, hostField: head.host, host, path, query, target: target(url, query), origin: '' });
    if (decided !== null && 'status' in decided) {
      counters?.record('GET', decided.status, 0, -1, 0, decided.body.length);
      res.writeStatus(statusLineOf(decided.status));
      writeAnswerFields(res, decided.fields, match.route.headers?.response ?? null);
      writeOwnFields(res, l.ctx).end(decided.body);
      return;
    }
    const limiter = this.#o.rateLimiter ?? null;
    if (match.route.rateLimit !== undefined && limiter !== null && !limiter.admit(match.route.rateLimit, client.text(), client.bytes())) {
      const a = rateLimitedAnswer(this.#o.rateLimitStatus ?? 503);
      counters?.record('GET', a.status, 0, -1, 0, a.body.length);
      writeOwnFields(res.writeStatus(statusLine(a.status)).writeHeader('Content-Type', CONTENT_TYPE_TEXT), l.ctx).end(a.body, true);
      return;
    }
    // limit-connections: the WebSocket holds a place for as long as it is open, as nginx's limit_conn (docs/rate-limits.md).
    let release: Release | null = null;
    const connLimiter = this.#o.connLimiter ?? null;
    if (match.route.connLimit !== undefined && connLimiter !== null) {
      release = connLimiter.acquire(match.route.connLimit, client.text(), client.bytes());
      if (release === null) {
        const a = connLimitedAnswer;
        counters?.record('GET', a.status, 0, -1, 0, a.body.length);
        writeOwnFields(res.writeStatus(statusLine(a.status)).writeHeader('Content-Type', CONTENT_TYPE_TEXT), l.ctx).end(a.body, true);
        return;
      }
    }
    if (match.route.sourceRange !== undefined && !sourceAllowed(match.route.sourceRange, client.bytes())) {
      release?.();
      return this.#answer(res, l, 'forbidden', counters);
    }
    const chosen = routing.backends.get(match.route.canary === undefined ? match.route.backend : backendOf(match.route, head.names, head.values));
    const backend = match.route.fallbackBackend === undefined ? chosen : backendOrFallback(match.route, chosen, routing.backends);
    // The handshake's endpoint is picked as any request's: affinity, then upstream-hash-by (endpoint-choice.ts).
    const choice = backend === undefined ? null : chooseEndpoint(match.route, backend, { target: target(url, query), path, host, query, scheme: l.scheme, names: head.names, values: head.values, remoteAddress: () => client.text() }, l.scheme === 'https');
    const endpoint = choice?.endpoint ?? null;
    if (endpoint === null) {
      release?.();
      return this.#answer(res, l, 'no-endpoint', counters);
    }

    const clientAddress = client.text();
    let built = buildUpstreamHeaders(head, client.forwarding(clientAddress, l.scheme, l.port, null));
    if (built === null) {
      release?.();
      return this.#answer(res, l, 'bad-request', counters);
    }
    // proxy-set-headers apply to the upstream handshake as to any request (custom-headers.ts).
    const set = match.route.headers?.request;
    if (set !== undefined) built = withProxySetFields(built, set, { target: target(url, query), path, host, query, scheme: l.scheme, clientAddress, names: head.names, values: head.values });
    if (decided !== null && decided.requestFields !== null) built = withRequestFields(built, decided.requestFields);
    // A new or re-issued affinity cookie goes on the answer to the handshake, beside the backend's own Set-Cookie fields.
    const own = match.route.headers?.response ?? null;
    const routeFields = choice?.cookie != null ? [...(own ?? []), 'Set-Cookie', choice.cookie] : own;
    const connect: Connect = { res, l, context, key, protocols, extensions, counters, endpoint, decided, path, query, release, built, idleMs: match.route.upstream?.readTimeoutMs ?? 0, routeFields };
    const r = match.route;
    if (r.basicAuth === undefined && r.externalAuth === undefined) return this.#connect(connect);
    // auth-type basic and auth-url: the upgrade waits for them like any request, and is refused as one (access-gate.ts).
    const refuse = (a: PolicyAnswer): void => {
      release?.();
      counters?.record('GET', a.status, 0, -1, 0, a.body.length);
      res.writeStatus(statusLine(a.status));
      writeAnswerFields(res, a.fields, r.headers?.response ?? null);
      writeOwnFields(res, l.ctx).end(a.body);
    };
    const access = this.#o.access == null ? { answer: connLimitedAnswer } : decideAccess(r, authorizationOf(head.names, head.values), this.#o.access);
    if ('answer' in access) return refuse(access.answer);
    const drop = access.dropAuthorization;
    if (access.gate === null) return this.#connect({ ...connect, built: drop ? withAuthFields(built, NO_AUTHORIZATION) : built });
    let gone = false;
    res.onAborted(() => {
      gone = true;
      release?.();
    });
    const names = head.names.slice();
    const values = head.values.slice();
    const request: AuthRequest = {
      scheme: l.scheme, hostField: head.host, host, method: 'GET', target: target(url, query), path, query, clientAddress, upstreamFields: built,
      field: (name) => {
        const i = names.indexOf(name);
        return i < 0 ? '' : (values[i] as string);
      },
    };
    const upstreamFields = built;
    access.gate(request, (v) => {
      if (gone) return;
      if (!v.allow) {
        res.cork(() => refuse(v.answer));
        return;
      }
      this.#connect({ ...connect, built: withAuthFields(upstreamFields, drop ? [...v.fields, ...NO_AUTHORIZATION] : v.fields) });
    });
  }

  /** #connect opens the upstream WebSocket for an admitted upgrade and answers the client when the backend does. */
  #connect(c: Connect): void {
    const { res, l, context, key, protocols, extensions, counters, endpoint, decided, path, query, release, built, idleMs, routeFields } = c;
    const { log } = this.#o;
    const headers: Record<string, string | string[]> = {};
    for (let i = 0; i < built.length; i += 2) {
      const name = built[i] as string;
      if (HANDSHAKE_FIELDS.has(name)) continue;
      const value = built[i + 1] as string;
      const had = headers[name];
      headers[name] = had === undefined ? value : Array.isArray(had) ? [...had, value] : [had, value];
    }
    const authority = endpoint.address.includes(':') ? `[${endpoint.address}]:${endpoint.port}` : `${endpoint.address}:${endpoint.port}`;
    const offered = protocols === '' ? [] : protocols.split(',').map((p) => p.trim()).filter((p) => p !== '');
    const upstream = new WebSocket(`ws://${authority}${decided?.target ?? target(path, query)}`, offered, {
      headers,
      perMessageDeflate: false,
      maxPayload: this.#o.settings.maxMessageBytes,
      handshakeTimeout: this.#o.settings.handshakeTimeoutMs,
      followRedirects: false,
      skipUTF8Validation: false,
    });
    const link: Link = { upstream, counters, client: null, lastActivity: performance.now(), idleMs, opened: false, clientClosed: false, upstreamClosed: false, paused: false, release };
    this.#links.add(link);
    // The route may leave the routing table while this WebSocket lives: keep its counters flushed.
    if (counters !== null) counters.pins++;
    this.#timer ??= setInterval(() => this.#sweep(), SWEEP_MS).unref();
    const started = performance.now();
    let aborted = false;
    let answered = false;
    res.onAborted(() => {
      aborted = true;
      if (!answered) {
        link.upstreamClosed = true;
        upstream.terminate();
        this.#forget(link);
        counters?.record('GET', 499, (performance.now() - started) / 1000, -1, 0, 0);
      }
    });
    let chosen = '';
    let relayed: [string, string][] = [];
    upstream.on('upgrade', (response) => {
      chosen = typeof response.headers['sec-websocket-protocol'] === 'string' ? response.headers['sec-websocket-protocol'] : '';
      relayed = relayedFields(response.rawHeaders);
    });
    upstream.on('open', () => {
      if (aborted) return;
      answered = true;
      counters?.record('GET', 101, (performance.now() - started) / 1000, (performance.now() - started) / 1000, 0, 0);
      counters?.recordWebSocketOpened();
      link.opened = true;
      // Not corked, on purpose: when uWS 20.57 upgrades inside res.cork and the socket's memory
      // is reallocated in place, the end of the cork takes the new WebSocket for the old HTTP
      // response, may close it (the client sees 1006 right after its 101) and arms the HTTP idle
      // timer on it. Uncorked, the 101 goes out in a few small writes; uWS warns on stderr for
      // each, and the primary drops exactly that line (docs/websocket.md, "The 101 outside a cork").
      res.writeStatus('101 Switching Protocols');
      // nginx's more_set_headers runs on the 101 too: the route's fields replace the backend's.
      for (const [n, v] of relayed) if (!overrides(routeFields, n.toLowerCase())) res.writeHeader(n, v);
      writeRouteFields(res, routeFields);
      res.upgrade<Holder>({ link }, key, chosen, extensions, context);
      this.#wireUpstream(link);
    });
    upstream.on('unexpected-response', (_request, response) => {
      // The backend refused the upgrade: the client gets its status, fields and (some of its) body.
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        if (size < MAX_REFUSAL_BODY) chunks.push(chunk.subarray(0, MAX_REFUSAL_BODY - size));
        size += chunk.length;
      });
      const finish = (): void => {
        link.upstreamClosed = true;
        upstream.terminate();
        this.#forget(link);
        if (aborted || answered) return;
        answered = true;
        const status = response.statusCode ?? 502;
        const body = Buffer.concat(chunks);
        counters?.record('GET', status, (performance.now() - started) / 1000, (performance.now() - started) / 1000, 0, body.length);
        res.cork(() => {
          res.writeStatus(`${status} ${response.statusMessage ?? ''}`.trimEnd());
          // The route's fields (and an affinity cookie) on the backend's refusal too, as on its 101.
          for (const [n, v] of relayedFields(response.rawHeaders)) if (!overrides(routeFields, n.toLowerCase())) res.writeHeader(n, v);
          writeRouteFields(res, routeFields);
          writeOwnFields(res, l.ctx).end(body);
        });
      };
      response.on('end', finish);
      response.on('error', finish);
    });
    upstream.on('error', (err) => {
      if (answered || aborted) {
        // After the upgrade, 'close' follows (1006) and closes the client the same way.
        log.debug({ err, endpoint: endpoint.key }, 'websocket upstream error');
        return;
      }
      answered = true;
      link.upstreamClosed = true;
      this.#forget(link);
      const timedOut = /timed out/i.test(err.message);
      counters?.recordUpstreamFailure(timedOut ? 'timeout' : 'connect');
      log.debug({ err, endpoint: endpoint.key }, 'websocket upstream failed');
      const failure: ProxyFailure = timedOut ? 'upstream-timeout' : 'upstream-error';
      const r = errorResponse(failure);
      counters?.record('GET', r.status, (performance.now() - started) / 1000, -1, 0, r.body.length);
      res.cork(() => writeOwnFields(res.writeStatus(r.statusLine).writeHeader('Content-Type', CONTENT_TYPE_TEXT), l.ctx).end(r.body));
    });
  }

  /** #wireUpstream passes the backend's messages, pings and close to the client. */
  #wireUpstream(link: Link): void {
    const { upstream } = link;
    const max = this.#o.settings.maxBufferedBytes;
    upstream.on('message', (data: Buffer, isBinary: boolean) => {
      const client = link.client;
      if (client === null || link.clientClosed) return;
      link.lastActivity = performance.now();
      // Outside uWS's own callbacks every write is corked, or uWS may lose it (docs/websocket.md).
      client.cork(() => client.send(data, isBinary));
      link.counters?.recordWebSocketMessage('out');
      if (!link.paused && client.getBufferedAmount() > max) {
        link.paused = true;
        upstream.pause();
      }
    });
    upstream.on('ping', (data: Buffer) => {
      link.lastActivity = performance.now();
      const client = link.client;
      if (client !== null && !link.clientClosed) client.cork(() => client.ping(data));
    });
    upstream.on('close', (code: number, reason: Buffer) => {
      this.#o.log.debug({ code, clientClosed: link.clientClosed }, 'websocket upstream closed');
      link.upstreamClosed = true;
      const client = link.client;
      if (client !== null && !link.clientClosed) {
        client.cork(() => {
          if (code === 1006) client.close();
          else if (sendableCode(code)) client.end(code, reason);
          else client.end();
        });
      }
      this.#forget(link);
    });
  }

  #fromClient(link: Link, message: ArrayBuffer, isBinary: boolean): void {
    link.lastActivity = performance.now();
    const { upstream } = link;
    if (upstream.readyState !== WebSocket.OPEN) return;
    // The ArrayBuffer is uWS's and neutered after this call: send a copy.
    upstream.send(Buffer.from(message.slice(0)), { binary: isBinary, compress: false });
    link.counters?.recordWebSocketMessage('in');
    if (upstream.bufferedAmount > this.#o.settings.maxBufferedBytes) {
      // uWS cannot stop reading a WebSocket client: bound the memory by closing instead.
      link.client?.end(1013, 'backend is not reading');
    }
  }

  #clientClosed(link: Link, code: number, reason: Buffer): void {
    link.clientClosed = true;
    this.#o.log.debug({ code, idleMs: Math.round(performance.now() - link.lastActivity) }, 'websocket client closed');
    const { upstream } = link;
    if (!link.upstreamClosed) {
      link.upstreamClosed = true;
      if (upstream.readyState === WebSocket.CONNECTING || code === 1006) upstream.terminate();
      else if (sendableCode(code)) upstream.close(code, reason);
      else upstream.close();
    }
    this.#forget(link);
  }

  #forget(link: Link): void {
    if (!this.#links.delete(link)) return;
    link.release?.();
    if (link.opened) link.counters?.recordWebSocketClosed();
    if (link.counters !== null) link.counters.pins--;
    if (this.#links.size === 0) {
      if (this.#timer !== null) {
        clearInterval(this.#timer);
        this.#timer = null;
      }
      if (this.#draining) this.onIdle?.();
    }
  }

  /** #sweep closes connections idle for longer than the idle timeout (1001 both ways). */
  #sweep(): void {
    const now = performance.now();
    const limit = now - this.#o.settings.idleTimeoutMs;
    for (const link of [...this.#links]) {
      const client = link.client;
      if (link.lastActivity >= (link.idleMs === 0 ? limit : now - link.idleMs) || client === null || link.clientClosed) continue;
      try {
        client.cork(() => client.end(1001, 'idle timeout'));
      } catch (err) {
        this.#o.log.error({ err, code: 'ING_ERR_PROXY_INTERNAL' }, 'cannot close an idle websocket');
        this.#forget(link);
      }
    }
  }

  /** #answer refuses an upgrade with an error status, as the HTTP path would. */
  #answer(res: HttpResponse, l: Listener, failure: ProxyFailure, counters: RouteCounters | null): void {
    const r = errorResponse(failure);
    counters?.record('GET', r.status, 0, -1, 0, r.body.length);
    // Every refusal closes: the connection was asking to leave HTTP, its next bytes are not a request.
    writeOwnFields(res.writeStatus(r.statusLine).writeHeader('Content-Type', CONTENT_TYPE_TEXT), l.ctx).end(r.body, true);
  }
}

function target(path: string, query: string): string {
  return query === '' ? path : `${path}?${query}`;
}

/** relayedFields are the backend's response fields the client gets (not the handshake's own). */
function relayedFields(raw: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    if (!NOT_RELAYED.has(name.toLowerCase())) out.push([name, raw[i + 1] as string]);
  }
  return out;
}
