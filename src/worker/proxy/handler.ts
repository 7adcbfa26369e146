/**
 * The synchronous part of every request, on whichever listener it came (HTTP, or a generation
 * of the HTTPS listener): copy the head, check the framing this uWS build lets through, route,
 * redirect plain HTTP to HTTPS where the route asks, pick an endpoint and hand over to an
 * Exchange. Everything it answers itself (308/400/404/405/503) is written while uWS still has
 * the response corked.
 */
import { backendOrFallback } from './fallback.js';
import type { Logger } from 'pino';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import type { WorkerConfig } from '../../shared/messages.js';
import { normalizeHost } from '../../shared/host.js';
import { isValidQuery, normalizePath } from '../../shared/request-path.js';
import type { Route, RouteCache } from '../../shared/snapshot.js';
import type { AccessLog } from '../access-log.js';
import type { BackendRuntime, WorkerState } from '../state.js';
import type { RouteCounters } from '../stats.js';
import { ClientAddress } from './client-address.js';
import type { CachedRoutes, Pending } from './cached-route.js';
import { CONTENT_TYPE_TEXT, errorResponse, plainAnswer, statusLine, type ProxyFailure } from './errors.js';
import { Exchange, markClientClose, writeOwnFields, type ProxyContext } from './exchange.js';
import { RequestHead, buildUpstreamHeaders, type ForwardingInfo } from './headers.js';
import { RequestRecord } from './request-record.js';
import { endOwnAnswer } from './response-writer.js';
import { BodyFraming } from '../upstream/client.js';
import { guardRequest, type RequestLimits } from './request-guard.js';
import { joinFields, overrides, setRouteFields, withProxySetFields, writeAnswerFields, writeRouteFields } from './custom-headers.js';
import { applyPolicy, originOf, setResponseFields, statusLineOf, withRequestFields, type PolicyAnswer, type PolicyForward } from './policy.js';
import { bodyDefaultsOf, bodyPolicyOf, exceedsLimit } from './request-body.js';
import type { RateLimiter } from '../ratelimit/limiter.js';
import { rateLimitedAnswer } from './rate-limit.js';
import { connLimitedAnswer, type ConnLimiter, type Release } from './conn-limit.js';
import { ExternalAuthClient, HeldRequest, setAuthCookie, withAuthFields, type AuthRequest } from './external-auth.js';
import type { BasicAuthStore } from '../auth/basic-auth.js';
import type { HashVerifier } from '../auth/verifier.js';
import { authorizationOf, decideAccess, NO_AUTHORIZATION, type AccessDeps, type Gate } from './access-gate.js';
import { sourceAllowed } from '../../shared/source-range.js';
import { backendOf } from './canary.js';
import { chooseEndpoint } from './endpoint-choice.js';

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
  /** The routes' rate limits (docs/rate-limits.md); null: none applied. */
  readonly rateLimiter?: RateLimiter | null;
  /** The routes' limit-connections (conn-limit.ts); null: none applied. */
  readonly connLimiter?: ConnLimiter | null;
  /** The routes' auth-url checks (external-auth.ts); null: a route with auth-url is refused 503 (never let through unchecked). */
  readonly externalAuth?: ExternalAuthClient | null;
  /** The routes' auth-type basic (worker/auth/basic-auth.ts); null: such a route is refused 503. */
  readonly basicAuth?: { readonly store: BasicAuthStore; readonly verifier: HashVerifier } | null;
}

const ALLOW = 'GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS';

/** Answers of the auth path (external-auth.ts) besides the check's own. */
const NO_ENDPOINT = plainAnswer(503);
const INTERNAL = plainAnswer(500);

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
  const rateLimiter = opts.rateLimiter ?? null;
  const connLimiter = opts.connLimiter ?? null;
  const externalAuth = opts.externalAuth ?? null;
  const accessDeps: AccessDeps = { basicAuth: opts.basicAuth ?? null, externalAuth, log };
  const limited = rateLimitedAnswer(opts.config.rateLimit?.status ?? 503);
  const redirectPort = opts.config.https?.redirectPort ?? 443;
  const redirectAuthoritySuffix = redirectPort === 443 ? '' : `:${redirectPort}`;
  const head = new RequestHead();
  const limits: RequestLimits = { targetBytes: opts.config.maxRequestTargetBytes, fieldBytes: opts.config.maxRequestFieldBytes, fields: opts.config.maxRequestFields };
  const bodyDefaults = bodyDefaultsOf(opts.config);

  // What the current request is, for counting and the access log of answers given here.
  let t0 = 0;
  let method = '';
  let target = '';
  let counters: RouteCounters | null = null;
  let routeSource = '';
  /** The current route's custom-headers / add-headers fields (custom-headers.ts), written on each of its answers; null: none. */
  let routeFields: readonly string[] | null = null;
  /** The current request's limit-connections place (conn-limit.ts): the Exchange gives it back, or the handler when no Exchange starts. */
  let place: Release | null = null;

  /** The current request's client address (client-address.ts): the socket's, or a trusted proxy's say. */
  const client = new ClientAddress(opts.config.clientAddress ?? null, head);
  const trustForwarded = opts.config.clientAddress?.passForwarded === true;

  /** forwarding is what buildUpstreamHeaders adds for the current request (X-Forwarded-*, X-Real-IP, Content-Length). */
  function forwarding(clientAddress: string, l: Listener, length: number): ForwardingInfo {
    return client.forwarding(clientAddress, l.scheme, l.port, length >= 0 ? String(length) : null);
  }

  /** account counts an answer the proxy gave itself and writes its access line, through the one RequestRecord. */
  function account(clientAddress: string, status: number, bytesOut: number, c: RouteCounters | null, m: string, tgt: string, source: string, host: string, requestId: string, started: number): void {
    const access = accessLog === null ? null : { host, clientAddress, requestId, route: source };
    new RequestRecord({ method: m, target: tgt, counters: c, accessLog, access, startedAt: started }).finish(status, bytesOut);
  }

  /**
   * later runs `write` corked one turn of the event loop from now, unless the client left first.
   * Every answer Flusso gives itself goes through it. Answered synchronously, uWS would go on to
   * parse, and hand us, a request pipelined behind this one in the same read; when uWS was made
   * to miss this request's body (a field with an empty name hides its Content-Length:
   * request-guard.ts), that "request" is the body, smuggled. While an answer is pending, uWS
   * refuses a pipelined request and closes the connection instead, so nothing behind a request
   * Flusso answers itself is ever routed.
   */
  function later(res: HttpResponse, write: () => void): void {
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    setImmediate(() => {
      if (!aborted) res.cork(write);
    });
  }

  /** reject answers a request the proxy refuses itself (one turn later, see `later`). */
  function reject(res: HttpResponse, l: Listener, failure: ProxyFailure, close: boolean): null {
    const r = errorResponse(failure);
    // The request's head is gone by then: keep what the answer's accounting needs.
    const [c, m, tgt, source, host, requestId, started, rf] = [counters, method, target, routeSource, head.host, head.requestId, t0, routeFields];
    const ca = accessLog === null ? '' : client.text();
    later(res, () => {
      account(ca, r.status, m === 'HEAD' ? 0 : r.body.length, c, m, tgt, source, host, requestId, started);
      res.writeStatus(r.statusLine);
      if (failure === 'method-not-allowed') res.writeHeader('Allow', ALLOW);
      if (!overrides(rf, 'content-type')) res.writeHeader('Content-Type', CONTENT_TYPE_TEXT);
      endOwnAnswer(writeOwnFields(writeRouteFields(res, rf), l.ctx), r.body, close || l.ctx.draining, m === 'HEAD');
    });
    return null;
  }

  /**
   * refuse answers a request that must not reach an upstream and closes the connection. The
   * answer is deferred by one turn of the event loop (`later`): this uWS build keeps parsing the
   * bytes it already read after a synchronous `end(body, true)` and would hand us the next,
   * pipelined (smuggled) request before it closes. A lone bad request still gets its answer and
   * the close.
   */
  function refuse(res: HttpResponse, l: Listener, failure: ProxyFailure): null {
    counters = unmatched;
    routeSource = '';
    routeFields = null;
    return reject(res, l, failure, true);
  }

  /** redirect answers 308 to the same target on https (ingress-nginx's ssl-redirect), one turn later (`later`). */
  function redirect(res: HttpResponse, l: Listener, host: string): null {
    const [c, m, tgt, source, clientHost, requestId, started, rf] = [counters, method, target, routeSource, head.host, head.requestId, t0, routeFields];
    const ca = accessLog === null ? '' : client.text();
    later(res, () => {
      account(ca, 308, m === 'HEAD' ? 0 : REDIRECT_BODY.length, c, m, tgt, source, clientHost, requestId, started);
      writeAnswerFields(res.writeStatus(REDIRECT_LINE), ['Location', `https://${host}${redirectAuthoritySuffix}${tgt}`, 'Content-Type', CONTENT_TYPE_TEXT], rf);
      endOwnAnswer(writeOwnFields(res, l.ctx), REDIRECT_BODY, l.ctx.draining, m === 'HEAD');
    });
    return null;
  }

  /** answer writes a response a route's annotation policy gives itself (policy.ts), one turn later (`later`). */
  function answer(res: HttpResponse, l: Listener, a: PolicyAnswer): null {
    const [c, m, tgt, source, clientHost, requestId, started, rf] = [counters, method, target, routeSource, head.host, head.requestId, t0, routeFields];
    const ca = accessLog === null ? '' : client.text();
    later(res, () => {
      account(ca, a.status, a.body.length, c, m, tgt, source, clientHost, requestId, started);
      res.writeStatus(statusLineOf(a.status));
      if (rf === null) for (let i = 0; i < a.fields.length; i += 2) res.writeHeader(a.fields[i] as string, a.fields[i + 1] as string);
      else writeAnswerFields(res, a.fields, rf);
      // A HEAD answer reports the body's length and sends none (RFC 9110 §9.3.2).
      if (m === 'HEAD') writeOwnFields(res, l.ctx).endWithoutBody(a.body.length, l.ctx.draining);
      else writeOwnFields(res, l.ctx).end(a.body, l.ctx.draining);
    });
    return null;
  }

  /** route runs the synchronous part of a request; it returns the Exchange to start, or null if answered. */
  function route(res: HttpResponse, req: HttpRequest, l: Listener): Exchange | null {
    // HttpRequest is stack-allocated: read everything now.
    t0 = performance.now();
    place = null;
    method = req.getCaseSensitiveMethod();
    const url = req.getUrl();
    const query: string = req.getQuery() || '';
    target = query === '' ? url : `${url}?${query}`;
    counters = unmatched;
    routeSource = '';
    routeFields = null;
    head.reset();
    req.forEach(head.visit);
    client.begin(res);
    // uWS closes after the response exactly when the (first) Connection field is `close`, in any
    // case; a list naming close (`keep-alive, close`) it keeps open (docs/runtime.md).
    if (head.connection.length === 5 && head.connection.toLowerCase() === 'close') markClientClose(res);
    // Flusso's own size limits, and the framing an empty-named field can hide (request-guard.ts).
    const guarded = guardRequest(method, target, head, limits);
    if (guarded !== null) return refuse(res, l, guarded);

    // Framing this uWS build accepts but must not reach an upstream (docs/bad-input.md §A, §D). It
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
      client.proxyHeaderRefused(res, l.scheme)
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
    const block = match.route.headers;
    if (block !== undefined) {
      routeFields = block.response ?? null;
      // A 502/504 Flusso gives in the upstream's place carries them too (response-writer.ts).
      if (routeFields !== null) setRouteFields(res, routeFields);
    }
    if (match.route.httpsRedirect === true && l.scheme === 'http' && (!trustForwarded || client.proto('http') === 'http') && !path.startsWith(NO_REDIRECT_PREFIX)) return redirect(res, l, host);
    // The route's ingress-nginx annotations (policy.ts, issue 15): an answer of Flusso's own, or changes on the way.
    let forward: PolicyForward | null = null;
    const policy = match.route.policy;
    if (policy !== undefined) {
      const decided = applyPolicy(policy, { method, scheme: l.scheme, hostField: head.host, host, path, query, target, origin: policy.cors === undefined ? '' : originOf(head.names, head.values) });
      if ('status' in decided) return answer(res, l, decided);
      if (decided.target !== null || decided.requestFields !== null || decided.responseFields !== null) forward = decided;
    }
    // limit-rps / limit-rpm after the redirects and the CORS preflight, as nginx's preaccess phase after rewrite (docs/rate-limits.md).
    if (match.route.rateLimit !== undefined && rateLimiter !== null && !rateLimiter.admit(match.route.rateLimit, client.text(), client.bytes())) return answer(res, l, limited);
    // limit-connections after limit-rps, as nginx runs limit_req before limit_conn in the preaccess phase (docs/rate-limits.md).
    if (match.route.connLimit !== undefined && connLimiter !== null) {
      place = connLimiter.acquire(match.route.connLimit, client.text(), client.bytes());
      if (place === null) return answer(res, l, connLimitedAnswer);
    }
    // allowlist-source-range / denylist-source-range after the limits, as nginx's access phase after preaccess (shared/source-range.ts).
    if (match.route.sourceRange !== undefined && !sourceAllowed(match.route.sourceRange, client.bytes())) return reject(res, l, 'forbidden', false);
    // A declared body over the route's limit never goes upstream (413; request-body.ts).
    const bodyPolicy = bodyPolicyOf(match.route, bodyDefaults);
    if (head.contentLengthCount === 1 && exceedsLimit(Number(cl), bodyPolicy)) return reject(res, l, 'body-too-large', true);
    // auth-type basic, then auth-url, after the address lists and the body size: nginx's access
    // phase runs access, auth_basic, auth_request in that order (worker/auth/basic-auth.ts, external-auth.ts).
    let dropAuthorization = false;
    if (match.route.basicAuth !== undefined || match.route.externalAuth !== undefined) {
      const access = decideAccess(match.route, authorizationOf(head.names, head.values), accessDeps);
      if ('answer' in access) return answer(res, l, access.answer);
      dropAuthorization = access.dropAuthorization;
      if (access.gate !== null) return authorize(res, l, match.route, access.gate, dropAuthorization, host, path, query, forward);
    }
    // A canary Ingress on this host and path may take the request (canary.ts).
    const chosen = routing.backends.get(match.route.canary === undefined ? match.route.backend : backendOf(match.route, head.names, head.values));
    // default-backend: the route's fallback while its own backend has no ready endpoint (fallback.ts).
    const backend = match.route.fallbackBackend === undefined ? chosen : backendOrFallback(match.route, chosen, routing.backends);
    const rc = match.route.cache;
    // A request holding a limit-connections place is proxied, never parked or served by the cache (docs/rate-limits.md).
    if (rc !== undefined && l.cached !== null && forward === null && place === null && !dropAuthorization) {
      // The cache writes the route's custom-headers / add-headers fields on hits and misses alike (cached.ts).
      if (routeFields !== null) setResponseFields(res, routeFields);
      return cached(res, l, match.route, rc, backend, host, path, query);
    }
    // The endpoint (endpoint-choice.ts): a route without affinity or upstream-hash-by takes the balancer's turn at once, building nothing.
    const choice = backend === undefined || (match.route.affinity === undefined && match.route.hashBy === undefined) ? null : chooseEndpoint(match.route, backend, { target, path, host, query, scheme: l.scheme, names: head.names, values: head.values, remoteAddress: () => client.text() }, l.scheme === 'https');
    const endpoint = backend === undefined ? null : choice === null ? backend.balancer.select() : choice.endpoint;
    if (backend === undefined || endpoint === null) return reject(res, l, 'no-endpoint', false);

    const length = head.contentLengthCount === 1 ? Number(cl) : -1;
    const clientAddress = client.text();
    let headers = buildUpstreamHeaders(head, forwarding(clientAddress, l, length));
    if (headers === null) return refuse(res, l, 'bad-request');
    if (dropAuthorization) headers = withAuthFields(headers, NO_AUTHORIZATION);
    // proxy-set-headers (custom-headers.ts), before the annotations' own request fields.
    if (block?.request !== undefined) headers = withProxySetFields(headers, block.request, { target, path, host, query, scheme: l.scheme, clientAddress, names: head.names, values: head.values });
    if (forward !== null && forward.requestFields !== null) headers = withRequestFields(headers, forward.requestFields);
    const responseFields = routeFields === null ? (forward?.responseFields ?? null) : joinFields(forward?.responseFields, routeFields);
    if (responseFields !== null) setResponseFields(res, responseFields);
    // A new or re-issued affinity cookie goes with the upstream's own Set-Cookie fields (policy.ts keeps those).
    if (choice?.cookie != null) setResponseFields(res, [...(responseFields ?? []), 'Set-Cookie', choice.cookie]);
    const body = head.transferEncodingCount === 1 ? BodyFraming.Chunked : length > 0 ? BodyFraming.Length : BodyFraming.None;
    const forwarded = forward?.target ?? (query === '' ? path : `${path}?${query}`);
    const access = accessLog === null ? null : { host: head.host, clientAddress, requestId: requestIdOf(headers), route: routeSource };
    const pages = match.route.errorPages;
    const errorPages = pages === undefined ? null : { pages, backends: routing.backends, method, fields: headers, originalUri: target };
    return new Exchange({ ctx: l.ctx, res, method, target: forwarded, headers, backend, endpoint, body, counters, startedAt: t0, access, bodyPolicy, onFinish: place, upstream: match.route.upstream, errorPages });
  }

  /**
   * authorize holds a request of a route with auth-url while the auth service is asked
   * (external-auth.ts), then sends it upstream with the auth response's fields, or answers what
   * the check decided. Everything the rest needs is captured now: the head is shared.
   */
  function authorize(res: HttpResponse, l: Listener, matched: Route, gate: Gate, dropAuthorization: boolean, host: string, path: string, query: string, forward: PolicyForward | null): null {
    const length = head.contentLengthCount === 1 ? Number(head.contentLength) : -1;
    const clientAddress = client.text();
    let headers = buildUpstreamHeaders(head, forwarding(clientAddress, l, length));
    if (headers === null) return refuse(res, l, 'bad-request');
    const block = matched.headers;
    if (block?.request !== undefined) headers = withProxySetFields(headers, block.request, { target, path, host, query, scheme: l.scheme, clientAddress, names: head.names, values: head.values });
    if (forward?.requestFields != null) headers = withRequestFields(headers, forward.requestFields);
    const rf = routeFields;
    const responseFields = rf === null ? (forward?.responseFields ?? null) : joinFields(forward?.responseFields, rf);
    const names = head.names.slice();
    const values = head.values.slice();
    const [c, m, tgt, source, clientHost, started] = [counters, method, target, routeSource, head.host, t0];
    const request: AuthRequest = {
      scheme: l.scheme, hostField: clientHost, host, method: m, target: tgt, path, query, clientAddress, upstreamFields: headers,
      field: (name) => {
        const i = names.indexOf(name);
        return i < 0 ? '' : (values[i] as string);
      },
    };
    // The request's limit-connections place is now this check's, then its Exchange's.
    const held = place;
    place = null;
    const body = head.transferEncodingCount === 1 ? BodyFraming.Chunked : length > 0 ? BodyFraming.Length : BodyFraming.None;
    const bodyPolicy = bodyPolicyOf(matched, bodyDefaults);
    const upstreamHeaders = headers;
    const access = accessLog === null ? null : { host: clientHost, clientAddress, requestId: requestIdOf(headers), route: source };
    // Counted in flight while it waits, so a draining worker waits for it too.
    const ctx = l.ctx;
    ctx.inFlight++;
    let counted = true;
    const settle = (): void => {
      if (!counted) return;
      counted = false;
      ctx.inFlight--;
      if (ctx.draining && ctx.inFlight === 0) ctx.onIdle?.();
    };
    const waiting = new HeldRequest(res, body !== BodyFraming.None, () => {
      held?.();
      settle();
    });
    /** say writes an answer of Flusso's own (the check's, or 503/500), corked; it closes the connection when body bytes may still come. */
    const say = (a: PolicyAnswer): void => {
      held?.();
      settle();
      const close = ctx.draining || waiting.unread;
      res.cork(() => {
        account(clientAddress, a.status, m === 'HEAD' ? 0 : a.body.length, c, m, tgt, source, clientHost, access?.requestId ?? '', started);
        res.writeStatus(statusLine(a.status));
        writeAnswerFields(res, a.fields, rf);
        if (m === 'HEAD') writeOwnFields(res, l.ctx).endWithoutBody(a.body.length, close);
        else writeOwnFields(res, l.ctx).end(a.body, close);
      });
    };
    gate(request, (verdict) => {
      if (waiting.aborted) return;
      try {
        if (!verdict.allow) return say(verdict.answer);
        const backends = state.current.backends;
        const backend = backendOrFallback(matched, backends.get(matched.backend), backends);
        const endpoint = backend === undefined ? null : backend.balancer.select();
        if (backend === undefined || endpoint === null) return say(NO_ENDPOINT);
        if (responseFields !== null) setResponseFields(res, responseFields);
        if (verdict.cookie !== undefined) setAuthCookie(res, verdict.cookie, verdict.always === true);
        const forwarded = forward?.target ?? (query === '' ? path : `${path}?${query}`);
        const sent = withAuthFields(upstreamHeaders, dropAuthorization ? [...verdict.fields, ...NO_AUTHORIZATION] : verdict.fields);
        const pages = matched.errorPages;
        const errorPages = pages === undefined ? null : { pages, backends, method: m, fields: sent, originalUri: tgt };
        const exchange = new Exchange({ ctx: l.ctx, res, method: m, target: forwarded, headers: sent, backend, endpoint, body, counters: c, startedAt: started, access, bodyPolicy, onFinish: held, upstream: matched.upstream, errorPages });
        res.cork(() => waiting.handOver(exchange));
        settle(); // the Exchange counts itself from here
      } catch (err) {
        log.error({ err, code: 'ING_ERR_PROXY_INTERNAL' }, 'request after its auth check failed');
        if (!waiting.aborted) say(INTERNAL);
      }
    });
    return null;
  }

  /** cached runs a request on a route with the response cache on (proxy/cached-route.ts has the cases). */
  function cached(res: HttpResponse, l: Listener, route: Route, rc: RouteCache, backend: BackendRuntime | undefined, host: string, path: string, query: string): Exchange | null {
    const forwarded = query === '' ? path : `${path}?${query}`;
    const bodyPolicy = bodyPolicyOf(route, bodyDefaults);
    // What the request is, captured now: the head is shared and a parked request resumes later.
    // The upstream head is built only when the request goes upstream (a hit needs none).
    const pending = (upstream: boolean): Pending | null => {
      const length = head.contentLengthCount === 1 ? Number(head.contentLength) : -1;
      const clientAddress = upstream || accessLog !== null ? client.text() : '';
      let built = upstream ? buildUpstreamHeaders(head, forwarding(clientAddress, l, length)) : [];
      if (built === null) return null;
      // proxy-set-headers (custom-headers.ts) on the request that goes upstream.
      const set = route.headers?.request;
      if (upstream && set !== undefined) built = withProxySetFields(built, set, { target, path, host, query, scheme: l.scheme, clientAddress, names: head.names, values: head.values });
      return {
        res, method, target, forwarded, headers: built, backend, body: head.transferEncodingCount === 1 ? BodyFraming.Chunked : length > 0 ? BodyFraming.Length : BodyFraming.None, counters,
        source: route.source, host: head.host, requestId: upstream ? requestIdOf(built) : head.requestId, clientAddress, started: t0, bodyPolicy, upstream: route.upstream,
        errorPages: route.errorPages === undefined || !upstream ? null : { pages: route.errorPages, backends: state.current.backends, method, fields: built, originalUri: target },
      };
    };
    const answer = (l.cached as CachedRoutes).handle(route, rc, host, path, query, method, headerPairs(head), pending);
    return answer === 'bad-request' ? refuse(res, l, 'bad-request') : answer;
  }

  return (res, req, l) => {
    let exchange: Exchange | null = null;
    try {
      exchange = route(res, req, l);
      if (exchange === null) place?.();
      exchange?.start();
    } catch (err) {
      if (exchange !== null) {
        exchange.fail(err);
        return;
      }
      place?.();
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
