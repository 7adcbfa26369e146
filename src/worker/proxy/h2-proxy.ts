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
 * Failures answer a gRPC request as gRPC does (HTTP 200, trailers-only, grpc-status 14
 * UNAVAILABLE) and any other request with the usual status (503 no endpoint, 502 upstream failed).
 */
import { constants as h2, type ClientHttp2Stream, type Http2ServerRequest, type Http2ServerResponse, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { normalizeHost } from '../../shared/host.js';
import { normalizePath } from '../../shared/request-path.js';
import { sourceAllowed } from '../../shared/source-range.js';
import type { AccessLog } from '../access-log.js';
import type { BackendRuntime, WorkerState } from '../state.js';
import { H2Sessions } from '../upstream/h2-sessions.js';
import { ClientAddress } from './client-address.js';
import type { ClientAddressSettings } from '../../shared/client-address.js';
import { RequestHead, buildUpstreamHeaders } from './headers.js';
import type { Listener } from './handler.js';
import type { H2Route } from './node-front.js';
import { addressBytes, NodeRequest, type NodeReq, type NodeRes } from './node-response.js';
import { CLIENT_CLOSED, RequestRecord } from './request-record.js';

/** gRPC status UNAVAILABLE (https://grpc.github.io/grpc/core/md_doc_statuscodes.html). */
const GRPC_UNAVAILABLE = '14';

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
}

/** Routes whose unapplied annotations were logged. */
const warned = new WeakSet<object>();

/** hasH2 says, per routing generation's backend map, whether any backend speaks HTTP/2 (most have none: no routing twice). */
const hasH2 = new WeakMap<ReadonlyMap<string, BackendRuntime>, boolean>();

/** createH2Route returns the node front's hook that takes requests to HTTP/2 backends. */
export function createH2Route(o: H2ProxyOptions): H2Route {
  const head = new RequestHead();
  const client = new ClientAddress(o.clientAddress ?? null, head);
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
    const backend = match === null ? undefined : routing.backends.get(match.route.backend);
    if (match === null || backend?.protocol === undefined) return false;
    const route = match.route;
    // What this path does not apply is said once per route (docs/http2.md, "Limits").
    if ((route.policy !== undefined || route.headers !== undefined || route.rateLimit !== undefined || route.connLimit !== undefined || route.cache !== undefined || route.upstream !== undefined || route.requestBody !== undefined) && !warned.has(route)) {
      warned.add(route);
      o.log.warn({ route: route.source, code: 'ING_ERR_INGRESS_UNSUPPORTED' }, 'annotation policies, custom headers (custom-headers, add-headers, proxy-set-headers), rate limits, the cache, and the proxy-*-timeout, proxy-next-upstream and body annotations are not applied to a route whose backend speaks HTTP/2');
    }

    const grpc = (req.headers['content-type'] ?? '').startsWith('application/grpc');
    const method = req.method ?? 'GET';
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
    if (route.sourceRange !== undefined && !sourceAllowed(route.sourceRange, client.bytes())) {
      refuse(res, grpc, record);
      return true;
    }
    // auth-url and auth-type basic are not applied on this path: refused, never let through unchecked (docs/annotations.md).
    if (route.externalAuth !== undefined || route.basicAuth !== undefined) {
      fail(res, grpc, 503, 'authentication (auth-url, auth-type) is not applied to HTTP/2 backends', record);
      return true;
    }
    const endpoint = backend.balancer.select();
    if (endpoint === null) {
      fail(res, grpc, 503, 'no endpoint is ready', record);
      return true;
    }
    const length = head.contentLengthCount === 1 ? head.contentLength : null;
    const fields = buildUpstreamHeaders(head, { clientAddress, forwardedFor: client.forwardedFor(), port: client.port(l.port), proto: client.proto(l.scheme), contentLength: length });
    if (fields === null) return false; // a value that cannot be forwarded: the handler answers 400
    const headers: OutgoingHttpHeaders = { ':method': method, ':path': target, ':scheme': backend.protocol === 'h2' ? 'https' : 'http', ':authority': head.host };
    for (let i = 0; i < fields.length; i += 2) {
      const name = fields[i] as string;
      if (name === 'host' || name === 'transfer-encoding') continue;
      const had = headers[name];
      headers[name] = had === undefined ? (fields[i + 1] as string) : [...(Array.isArray(had) ? had : [String(had)]), fields[i + 1] as string];
    }
    if (grpc) headers.te = 'trailers';
    record.upstreamAddress = endpoint.key;
    proxy(o, req, res, backend.protocol, endpoint.address, endpoint.port, headers, grpc, record);
    return true;
  };
}

/** fail answers before any upstream byte: trailers-only UNAVAILABLE for gRPC, else `status`. */
function fail(res: NodeRes, grpc: boolean, status: number, message: string, record: RequestRecord): void {
  const r = res as Http2ServerResponse;
  if (r.headersSent) {
    cut(res);
    record.finish(r.statusCode, 0);
    return;
  }
  if (grpc) {
    // Fields set, then end() with no body: node sends one HEADERS frame with END_STREAM
    // (trailers-only). writeHead would send the head at once, without END_STREAM.
    r.statusCode = 200;
    r.setHeader('content-type', 'application/grpc');
    r.setHeader('grpc-status', GRPC_UNAVAILABLE);
    r.setHeader('grpc-message', encodeURIComponent(message));
    r.end();
    record.finish(200, 0);
    return;
  }
  const body = `${status} ${status === 503 ? 'Service Unavailable' : 'Bad Gateway'}\n`;
  r.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(body.length) });
  r.end(body);
  record.finish(status, body.length);
}

/** refuse answers a client its route's source range refuses: 403, or gRPC's PERMISSION_DENIED (7). */
function refuse(res: NodeRes, grpc: boolean, record: RequestRecord): void {
  const r = res as Http2ServerResponse;
  if (grpc) {
    r.statusCode = 200;
    r.setHeader('content-type', 'application/grpc');
    r.setHeader('grpc-status', '7');
    r.setHeader('grpc-message', 'forbidden');
    r.end();
    record.finish(200, 0);
    return;
  }
  const body = '403 Forbidden\n';
  r.writeHead(403, { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(body.length) });
  r.end(body);
  record.finish(403, body.length);
}

/** cut resets the client's stream (HTTP/2) or closes its connection (HTTP/1.1) mid-response. */
function cut(res: NodeRes): void {
  const stream = (res as Http2ServerResponse).stream as Http2ServerResponse['stream'] | undefined;
  if (stream !== undefined) stream.close(h2.NGHTTP2_INTERNAL_ERROR);
  else (res as ServerResponse).socket?.destroy();
}

function proxy(o: H2ProxyOptions, req: NodeReq, res: NodeRes, protocol: 'h2c' | 'h2', address: string, port: number, headers: OutgoingHttpHeaders, grpc: boolean, record: RequestRecord): void {
  const r = res as Http2ServerResponse;
  let up: ClientHttp2Stream;
  try {
    up = o.sessions.session(protocol, address, port).request(headers, { endStream: false });
  } catch (err) {
    o.log.warn({ err, upstream: record.upstreamAddress }, 'http2 upstream request failed');
    fail(res, grpc, 502, 'upstream connection failed', record);
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

  up.on('response', (h: IncomingHttpHeaders, flags: number) => {
    const status = Number(h[':status']);
    record.upstreamStatus = status;
    record.upstreamAt = performance.now();
    const out: OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(h)) if (k.charCodeAt(0) !== 58 && !DROP_RESPONSE.has(k) && v !== undefined) out[k] = v;
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
    if (!r.headersSent) fail(res, grpc, 502, up.rstCode === h2.NGHTTP2_REFUSED_STREAM ? 'upstream refused the stream' : 'upstream failed', record);
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
