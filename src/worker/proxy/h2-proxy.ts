/**
 * Requests to backends that speak HTTP/2 (issue 12 item 3, docs/http2.md): gRPC
 * (`backend-protocol: GRPC`/`GRPCS`) and Service ports with appProtocol kubernetes.io/h2c. They
 * come on the HTTPS port's node front (node-front.ts) and go out on the worker's HTTP/2 sessions
 * (upstream/h2-sessions.ts), stream for stream: the request body and the response body flow with
 * backpressure both ways (each side paused while the other's buffer is full), response trailers
 * (grpc-status, grpc-message) are passed on, a trailers-only answer stays trailers-only, and a
 * client that resets its stream (a cancelled call, a deadline passed) resets the upstream stream.
 * grpc-timeout goes to the endpoint as sent, which enforces the deadline.
 *
 * The route's ingress-nginx annotations that make sense for a stream are applied here as the
 * HTTP/1.1 handler applies them (handler.ts), in nginx's phase order: the annotation policy
 * (redirects, rewrites, CORS), limit-rps/limit-rpm, limit-connections, the address lists, then
 * the canary and default-backend choice, then affinity: cookie or upstream-hash-by for the
 * endpoint; custom-headers/add-headers on every answer and
 * proxy-set-headers on the upstream request. The backend is spoken to in the route's own
 * protocol, a canary's or the default backend's too, as ingress-nginx's grpc_pass location
 * sends every upstream it balances to in the location's protocol.
 *
 * Failures answer a gRPC request as gRPC does (HTTP 200, trailers-only, grpc-status 14
 * UNAVAILABLE; a refusal PERMISSION_DENIED) and any other request with the usual status (503 no
 * endpoint or over a limit, 502 upstream failed, 403 refused).
 */
import { constants as h2, type ClientHttp2Stream, type Http2ServerRequest, type Http2ServerResponse, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { normalizeHost } from '../../shared/host.js';
import { unappliedOnHttp2 } from '../../shared/http2-backend.js';
import { normalizePath } from '../../shared/request-path.js';
import { sourceAllowed } from '../../shared/source-range.js';
import type { AccessLog } from '../access-log.js';
import type { BackendRuntime, WorkerState } from '../state.js';
import { H2Sessions } from '../upstream/h2-sessions.js';
import { ClientAddress } from './client-address.js';
import type { ClientAddressSettings } from '../../shared/client-address.js';
import type { RateLimiter } from '../ratelimit/limiter.js';
import { authorizationOf, decideAccess, NO_AUTHORIZATION, type AccessDeps } from './access-gate.js';
import { backendOf } from './canary.js';
import { chooseEndpoint } from './endpoint-choice.js';
import { authCookieFields, withAuthFields, type AuthRequest } from './external-auth.js';
import { connLimitedAnswer, type ConnLimiter, type Release } from './conn-limit.js';
import { joinFields, withProxySetFields } from './custom-headers.js';
import { CONTENT_TYPE_TEXT, plainAnswer, statusLine } from './errors.js';
import type { OwnFieldsContext } from './response-writer.js';
import { backendOrFallback } from './fallback.js';
import { RequestHead, buildUpstreamHeaders } from './headers.js';
import { applyPolicy, originOf, withRequestFields, type PolicyAnswer, type PolicyForward } from './policy.js';
import { rateLimitedAnswer } from './rate-limit.js';
import type { Listener } from './handler.js';
import type { H2Route } from './node-front.js';
import { addressBytes, NodeRequest, type NodeReq, type NodeRes } from './node-response.js';
import { CLIENT_CLOSED, RequestRecord } from './request-record.js';

/** gRPC status UNAVAILABLE (https://grpc.github.io/grpc/core/md_doc_statuscodes.html). */
const GRPC_UNAVAILABLE = '14';
/** gRPC status PERMISSION_DENIED. */
const GRPC_PERMISSION_DENIED = '7';

/** The answer to a request whose handling failed inside Flusso. */
const INTERNAL: PolicyAnswer = plainAnswer(500);

/**
 * grpcStatusOf is the gRPC status a client derives from an HTTP status
 * (https://github.com/grpc/grpc/blob/master/doc/http-grpc-status-mapping.md), for Flusso's own
 * answers to a gRPC call: what the call would have got from nginx's HTTP answer.
 */
function grpcStatusOf(status: number): string {
  switch (status) {
    case 400: return '13'; // INTERNAL
    case 401: return '16'; // UNAUTHENTICATED
    case 403: return GRPC_PERMISSION_DENIED;
    case 404: return '12'; // UNIMPLEMENTED
    case 429: case 502: case 503: case 504: return GRPC_UNAVAILABLE;
    default: return '2'; // UNKNOWN
  }
}

/** Response fields HTTP/2 forbids, and those Flusso sets itself. */
const DROP_RESPONSE: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'server', 'date']);

/** H2ProxyOptions configure createH2Route. */
export interface H2ProxyOptions {
  /** The trusted-proxy settings (docs/client-address.md); absent: the socket's peer is the client. */
  readonly clientAddress?: ClientAddressSettings;
  readonly state: WorkerState;
  readonly sessions: H2Sessions;
  readonly log: Logger;
  readonly accessLog: AccessLog | null;
  /** The pod-wide limit-rps/limit-rpm limiter the HTTP/1.1 handler uses (null: none). */
  readonly rateLimiter?: RateLimiter | null;
  /** --rate-limit-status (503 by default). */
  readonly rateLimitStatus?: number;
  /** The worker's limit-connections counts, shared with the HTTP/1.1 handler. */
  readonly connLimiter?: ConnLimiter | null;
  /** auth-type basic and auth-url, as the HTTP/1.1 handler runs them (absent: such routes answer 503, never open). */
  readonly access?: AccessDeps;
}

/** AuthCookie is an auth service's Set-Cookie for the response (external-auth.ts authCookieFields). */
interface AuthCookie {
  readonly cookie: string;
  readonly always: boolean;
}

/** Routes already looked at for annotations the HTTP/2 path does not apply (logged once per route). */
const warned = new WeakSet<object>();

/** hasH2 says, per routing generation's backend map, whether any backend speaks HTTP/2 (most have none: no routing twice). */
const hasH2 = new WeakMap<ReadonlyMap<string, BackendRuntime>, boolean>();

/** createH2Route returns the node front's hook that takes requests to HTTP/2 backends. */
export function createH2Route(o: H2ProxyOptions): H2Route {
  const head = new RequestHead();
  const client = new ClientAddress(o.clientAddress ?? null, head);
  const rateLimiter = o.rateLimiter ?? null;
  const connLimiter = o.connLimiter ?? null;
  const limited = rateLimitedAnswer(o.rateLimitStatus ?? 503);
  const accessDeps: AccessDeps = o.access ?? { basicAuth: null, externalAuth: null, log: o.log };
  return (req, res, l, proxied) => {
    const routing = o.state.current;
    let any = hasH2.get(routing.backends);
    if (any === undefined) {
      any = [...routing.backends.values()].some((c) => c.protocol !== undefined);
      hasH2.set(routing.backends, any);
    }
    if (!any) return false;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = normalizePath(q < 0 ? url : url.slice(0, q));
    const rawHost = (req as Http2ServerRequest).headers[':authority'] ?? req.headers.host;
    const host = typeof rawHost === 'string' ? normalizeHost(rawHost) : null;
    if (path === null || host === null) return false; // the handler answers 400
    const match = routing.router.match(host, path);
    const own = match === null ? undefined : routing.backends.get(match.route.backend);
    if (match === null || own?.protocol === undefined) return false;
    const protocol = own.protocol;
    const route = match.route;
    // What this path does not apply is said once per route (docs/http2.md, "Limits").
    if (!warned.has(route)) {
      warned.add(route);
      const unapplied = unappliedOnHttp2(route);
      if (unapplied.length > 0) o.log.warn({ route: route.source, code: 'ING_ERR_INGRESS_UNSUPPORTED', unapplied }, 'the cache, custom-http-errors, and the proxy-*-timeout, proxy-next-upstream and body annotations are not applied to a route whose backend speaks HTTP/2');
    }

    const grpc = (req.headers['content-type'] ?? '').startsWith('application/grpc');
    const method = req.method ?? 'GET';
    const query = q < 0 ? '' : url.slice(q + 1);
    const target = q < 0 ? path : `${path}${url.slice(q)}`;
    head.reset();
    new NodeRequest(req).forEach(head.visit);
    // The client address as on every other path (client-address.ts), the PROXY header's included.
    const peer = addressBytes(req.socket?.remoteAddress);
    client.begin({ getRemoteAddress: () => peer, getProxiedRemoteAddress: () => proxied });
    const clientAddress = client.text();
    const record = new RequestRecord({
      method, target, counters: routing.counters.get(match.route) ?? null, accessLog: o.accessLog, startedAt: performance.now(),
      access: o.accessLog === null ? null : { host: String(rawHost), clientAddress, requestId: '', route: match.route.source },
    });
    // Server and HSTS as on every other answer of the port (response-writer.ts writeOwnFields), then
    // custom-headers / add-headers: on every answer of the route, Flusso's own included.
    const routeFields = withOwn(l.ctx, route.headers?.response);
    // The annotation policy, the limits and the address lists, in the HTTP/1.1 handler's order (handler.ts).
    let forward: PolicyForward | null = null;
    const policy = route.policy;
    if (policy !== undefined) {
      const decided = applyPolicy(policy, { method, scheme: l.scheme, hostField: head.host, host, path, query, target, origin: policy.cors === undefined ? '' : originOf(head.names, head.values) });
      if ('status' in decided) {
        answer(res, grpc, method, decided, routeFields, record);
        return true;
      }
      forward = decided;
    }
    if (route.rateLimit !== undefined && rateLimiter !== null && !rateLimiter.admit(route.rateLimit, clientAddress, client.bytes())) {
      answer(res, grpc, method, limited, routeFields, record);
      return true;
    }
    let place: Release | null = null;
    if (route.connLimit !== undefined && connLimiter !== null) {
      place = connLimiter.acquire(route.connLimit, clientAddress, client.bytes());
      if (place === null) {
        answer(res, grpc, method, connLimitedAnswer, routeFields, record);
        return true;
      }
      // Held until the stream is over, however it ends.
      const release = place;
      res.once('close', release);
      res.once('finish', release);
    }
    if (route.sourceRange !== undefined && !sourceAllowed(route.sourceRange, client.bytes())) {
      refuse(res, grpc, routeFields, record);
      return true;
    }
    // The upstream head, now: the shared head is the next request's once this one waits for an auth check.
    const hostField = head.host;
    const length = head.contentLengthCount === 1 ? head.contentLength : null;
    let fields = buildUpstreamHeaders(head, client.forwarding(clientAddress, l.scheme, l.port, length));
    if (fields === null) {
      place?.();
      return false; // a value that cannot be forwarded: the handler answers 400
    }
    // proxy-set-headers, then the policy's own request fields (as handler.ts).
    const set = route.headers?.request;
    if (set !== undefined) fields = withProxySetFields(fields, set, { target, path, host, query, scheme: l.scheme, clientAddress, names: head.names, values: head.values });
    if (forward?.requestFields != null) fields = withRequestFields(fields, forward.requestFields);
    const upstreamTarget = forward?.target ?? target;
    const baseFields = joinFields(forward?.responseFields, routeFields);

    /** send picks the backend and endpoint and proxies the stream, with the upstream fields `sent`. */
    const send = (names: readonly string[], values: readonly string[], sent: readonly string[], authCookie: AuthCookie | null): void => {
      const backends = o.state.current.backends;
      // A canary on this host and path may take the request (canary.ts); default-backend while the choice has no ready endpoint (fallback.ts).
      const chosen = route.canary === undefined ? backends.get(route.backend) : backends.get(backendOf(route, names, values));
      const backend = route.fallbackBackend === undefined ? chosen : backendOrFallback(route, chosen, backends);
      // affinity: cookie, then upstream-hash-by, else the balancer's turn (endpoint-choice.ts).
      const choice = backend === undefined ? null : chooseEndpoint(route, backend, { target, path, host, query, scheme: l.scheme, names, values, remoteAddress: () => clientAddress }, l.scheme === 'https');
      const endpoint = choice?.endpoint ?? null;
      if (endpoint === null) {
        fail(res, grpc, 503, 'no endpoint is ready', record, baseFields);
        return;
      }
      const headers: OutgoingHttpHeaders = { ':method': method, ':path': upstreamTarget, ':scheme': protocol === 'h2' ? 'https' : 'http', ':authority': hostField };
      for (let i = 0; i < sent.length; i += 2) {
        const name = sent[i] as string;
        if (name === 'transfer-encoding') continue;
        // upstream-vhost (a policy Host field) is the stream's :authority.
        if (name === 'host') {
          headers[':authority'] = sent[i + 1] as string;
          continue;
        }
        const had = headers[name];
        headers[name] = had === undefined ? (sent[i + 1] as string) : [...(Array.isArray(had) ? had : [String(had)]), sent[i + 1] as string];
      }
      if (grpc) headers.te = 'trailers';
      record.upstreamAddress = endpoint.key;
      // A new or re-issued affinity cookie goes beside the upstream's own Set-Cookie fields (withFields).
      const responseFields = choice?.cookie != null ? [...baseFields, 'Set-Cookie', choice.cookie] : baseFields;
      proxy(o, req, res, protocol, endpoint.address, endpoint.port, headers, grpc, record, responseFields, authCookie);
    };

    if (route.basicAuth === undefined && route.externalAuth === undefined) {
      send(head.names, head.values, fields, null);
      return true;
    }
    // auth-type basic, then auth-url, after the address lists: nginx's access phase (access-gate.ts).
    const access = decideAccess(route, authorizationOf(head.names, head.values), accessDeps);
    if ('answer' in access) {
      answer(res, grpc, method, access.answer, routeFields, record);
      return true;
    }
    const drop = access.dropAuthorization;
    if (access.gate === null) {
      send(head.names, head.values, drop ? withAuthFields(fields, NO_AUTHORIZATION) : fields, null);
      return true;
    }
    // The check runs while the request waits: its body stays unread (flow control holds the
    // client), and a client that leaves meanwhile ends it.
    const names = head.names.slice();
    const values = head.values.slice();
    const upstreamFields = fields;
    req.pause();
    let gone = false;
    const leftWhileChecked = (): void => {
      gone = true;
      record.finish(CLIENT_CLOSED, 0);
    };
    res.once('close', leftWhileChecked);
    const request: AuthRequest = {
      scheme: l.scheme, hostField, host, method, target, path, query, clientAddress, upstreamFields,
      field: (name) => {
        const i = names.indexOf(name);
        return i < 0 ? '' : (values[i] as string);
      },
    };
    access.gate(request, (verdict) => {
      if (gone) return;
      // From here the answer or the proxied stream accounts for the request (proxy's own close handling).
      res.off('close', leftWhileChecked);
      try {
        if (!verdict.allow) return answer(res, grpc, method, verdict.answer, routeFields, record);
        send(names, values, withAuthFields(upstreamFields, drop ? [...verdict.fields, ...NO_AUTHORIZATION] : verdict.fields), verdict.cookie === undefined ? null : { cookie: verdict.cookie, always: verdict.always === true });
      } catch (err) {
        o.log.error({ err, code: 'ING_ERR_PROXY_INTERNAL' }, 'http2 request after its auth check failed');
        if (!gone) answer(res, grpc, method, INTERNAL, routeFields, record);
      }
    });
    return true;
  };
}

/** Each listener's own fields (Server, Strict-Transport-Security), and those followed by a route's, made once. */
const ownFields = new WeakMap<OwnFieldsContext, { readonly own: readonly string[]; readonly withRoute: WeakMap<readonly string[], readonly string[]> }>();

/** withOwn is the listener's own fields followed by `route`'s (which win on a shared name: withFields sets in order). */
function withOwn(ctx: OwnFieldsContext, route: readonly string[] | undefined): readonly string[] {
  let o = ownFields.get(ctx);
  if (o === undefined) ownFields.set(ctx, (o = { own: ctx.hsts === null ? ['server', ctx.serverHeader] : ['server', ctx.serverHeader, 'strict-transport-security', ctx.hsts], withRoute: new WeakMap() }));
  if (route === undefined) return o.own;
  let both = o.withRoute.get(route);
  if (both === undefined) o.withRoute.set(route, (both = [...o.own, ...route]));
  return both;
}

/**
 * withFields sets name, value pairs `fields` (a route's custom headers, a policy's CORS fields)
 * on a response head in place of any of the same name; Set-Cookie goes beside the others.
 */
function withFields(out: OutgoingHttpHeaders, fields: readonly string[] | null): OutgoingHttpHeaders {
  if (fields === null) return out;
  for (let i = 0; i < fields.length; i += 2) {
    const name = (fields[i] as string).toLowerCase();
    const value = fields[i + 1] as string;
    const had = out[name];
    out[name] = name === 'set-cookie' && had !== undefined ? [...(Array.isArray(had) ? had : [String(had)]), value] : value;
  }
  return out;
}

/**
 * answer gives an answer of Flusso's own (a policy's redirect or CORS preflight, a limit): to a
 * gRPC call an error status as trailers-only UNAVAILABLE, else the status, its fields and body.
 */
function answer(res: NodeRes, grpc: boolean, method: string, a: PolicyAnswer, routeFields: readonly string[] | null, record: RequestRecord): void {
  if (grpc && a.status >= 400) {
    grpcAnswer(res as Http2ServerResponse, grpcStatusOf(a.status), statusLine(a.status), routeFields, record);
    return;
  }
  const r = res as Http2ServerResponse;
  const body = method === 'HEAD' ? '' : a.body;
  const out: OutgoingHttpHeaders = {};
  for (let i = 0; i < a.fields.length; i += 2) out[(a.fields[i] as string).toLowerCase()] = a.fields[i + 1] as string;
  // No Content-Length on a 204 or 304 (RFC 9110 §8.6): the CORS preflight is a 204.
  if (a.status !== 204 && a.status !== 304) out['content-length'] = String(Buffer.byteLength(a.body));
  r.statusCode = a.status;
  for (const [k, v] of Object.entries(withFields(out, routeFields))) r.setHeader(k, v as string | string[]);
  r.end(body);
  record.finish(a.status, Buffer.byteLength(body));
}

/** fail answers before any upstream byte: trailers-only UNAVAILABLE for gRPC, else `status`. */
function fail(res: NodeRes, grpc: boolean, status: number, message: string, record: RequestRecord, fields: readonly string[] | null): void {
  const r = res as Http2ServerResponse;
  if (r.headersSent) {
    cut(res);
    record.finish(r.statusCode, 0);
    return;
  }
  if (grpc) grpcAnswer(r, GRPC_UNAVAILABLE, message, fields, record);
  else textAnswer(r, status, fields, record);
}

/** refuse answers a client its route's source range refuses: 403, or gRPC's PERMISSION_DENIED (7). */
function refuse(res: NodeRes, grpc: boolean, fields: readonly string[] | null, record: RequestRecord): void {
  if (grpc) grpcAnswer(res as Http2ServerResponse, GRPC_PERMISSION_DENIED, 'forbidden', fields, record);
  else textAnswer(res as Http2ServerResponse, 403, fields, record);
}

/**
 * grpcAnswer ends a gRPC call before any upstream byte: fields set, then end() with no body, so
 * node sends one HEADERS frame with END_STREAM (trailers-only); writeHead would send the head at
 * once, without END_STREAM.
 */
function grpcAnswer(r: Http2ServerResponse, status: string, message: string, fields: readonly string[] | null, record: RequestRecord): void {
  const out = withFields({}, fields);
  out['content-type'] = 'application/grpc';
  out['grpc-status'] = status;
  out['grpc-message'] = encodeURIComponent(message);
  r.statusCode = 200;
  for (const [k, v] of Object.entries(out)) r.setHeader(k, v as string | string[]);
  r.end();
  record.finish(200, 0);
}

/** textAnswer answers `status` with its status line as a short text body, and the route's fields. */
function textAnswer(r: Http2ServerResponse, status: number, fields: readonly string[] | null, record: RequestRecord): void {
  const body = `${statusLine(status)}\n`;
  const out = withFields({ 'content-type': CONTENT_TYPE_TEXT }, fields);
  out['content-length'] = String(body.length);
  r.writeHead(status, out);
  r.end(body);
  record.finish(status, body.length);
}

/** cut resets the client's stream (HTTP/2) or closes its connection (HTTP/1.1) mid-response. */
function cut(res: NodeRes): void {
  const stream = (res as Http2ServerResponse).stream as Http2ServerResponse['stream'] | undefined;
  if (stream !== undefined) stream.close(h2.NGHTTP2_INTERNAL_ERROR);
  else (res as ServerResponse).socket?.destroy();
}

function proxy(o: H2ProxyOptions, req: NodeReq, res: NodeRes, protocol: 'h2c' | 'h2', address: string, port: number, headers: OutgoingHttpHeaders, grpc: boolean, record: RequestRecord, fields: readonly string[] | null, authCookie: AuthCookie | null): void {
  const r = res as Http2ServerResponse;
  let up: ClientHttp2Stream;
  try {
    up = o.sessions.session(protocol, address, port).request(headers, { endStream: false });
  } catch (err) {
    o.log.warn({ err, upstream: record.upstreamAddress }, 'http2 upstream request failed');
    fail(res, grpc, 502, 'upstream connection failed', record, fields);
    return;
  }
  let bytesOut = 0;
  let done = false;
  const finish = (status: number): void => {
    if (done) return;
    done = true;
    record.finish(status, bytesOut);
  };

  // Client → upstream, pausing the client while the upstream stream's buffer is full.
  req.on('data', (chunk: Buffer) => {
    record.bytesIn += chunk.length;
    if (!up.write(chunk)) req.pause();
  });
  up.on('drain', () => req.resume());
  req.on('end', () => {
    if (!up.destroyed) up.end();
  });
  req.resume(); // paused while an auth check ran

  up.on('response', (h: IncomingHttpHeaders, flags: number) => {
    const status = Number(h[':status']);
    record.upstreamStatus = status;
    record.upstreamAt = performance.now();
    const out: OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(h)) if (k.charCodeAt(0) !== 58 && !DROP_RESPONSE.has(k) && v !== undefined) out[k] = v;
    withFields(out, fields);
    if (authCookie !== null) withFields(out, authCookieFields(authCookie.cookie, authCookie.always, status));
    // A trailers-only answer (HEADERS with END_STREAM: gRPC's errors) stays one: the fields are
    // set and end() sends them with END_STREAM; writeHead would send them without.
    if ((flags & h2.NGHTTP2_FLAG_END_STREAM) !== 0) {
      r.statusCode = status;
      for (const [k, v] of Object.entries(out)) r.setHeader(k, v as string | string[]);
      r.end();
      finish(status);
      return;
    }
    r.writeHead(status, out);
  });
  // Upstream → client, pausing the upstream while the client's buffer is full.
  up.on('data', (chunk: Buffer) => {
    bytesOut += chunk.length;
    if (!(r as unknown as ServerResponse).write(chunk)) up.pause();
  });
  r.on('drain', () => up.resume());
  up.on('trailers', (t: IncomingHttpHeaders) => {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(t)) if (k.charCodeAt(0) !== 58 && v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : String(v);
    r.addTrailers(out);
  });
  up.on('end', () => {
    record.upstreamEndAt = performance.now();
    if (!r.writableEnded) r.end();
    finish(r.statusCode);
  });
  up.on('close', () => {
    if (done) return;
    // Reset or failed before its end: a reset that came from the client was handled below.
    if (!r.headersSent) fail(res, grpc, 502, up.rstCode === h2.NGHTTP2_REFUSED_STREAM ? 'upstream refused the stream' : 'upstream failed', record, fields);
    else {
      cut(res);
      finish(r.statusCode);
    }
    done = true;
  });
  up.on('error', (err) => o.log.debug({ err, upstream: record.upstreamAddress }, 'http2 upstream stream failed'));

  // The client went away, reset its stream, or its deadline passed: cancel the upstream call.
  const clientGone = (): void => {
    if (!up.destroyed) up.close(h2.NGHTTP2_CANCEL);
    if (!done) {
      done = true;
      record.finish(CLIENT_CLOSED, bytesOut);
    }
  };
  const stream = (r as Partial<Http2ServerResponse>).stream;
  if (stream !== undefined) {
    stream.on('close', () => {
      if (stream.rstCode !== h2.NGHTTP2_NO_ERROR || !r.writableEnded) clientGone();
    });
  } else r.on('close', () => {
    if (!r.writableEnded) clientGone();
  });
}
