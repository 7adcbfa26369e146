/**
 * ingress-nginx `custom-http-errors` in the worker (docs/annotations.md, "Error pages"): when a
 * route's upstream answers one of its codes, the Exchange drops that answer (its body is read to
 * the end and the connection reused) and an ErrorPageFetch asks the Ingress's `default-backend`
 * what ingress-nginx's `@custom_<upstream>_<code>` location asks: the same method on `/` (with the
 * request's query, as nginx's rewrite keeps it), the
 * client's fields, and X-Code, X-Format (the client's Accept), X-Original-URI, X-Namespace,
 * X-Ingress-Name, X-Service-Name, X-Service-Port, X-Request-ID. That answer, whatever its status,
 * is the client's (`error_page CODE = @location`); no answer (the backend down, no endpoint)
 * gives Flusso's own 502 / 503 / 504. The request body is not sent again.
 */
import type { HttpResponse } from 'uWebSockets.js';
import type { RouteErrorPages } from '../../shared/snapshot.js';
import type { BackendRuntime } from '../state.js';
import { BodyFraming, type UpstreamConnection, type UpstreamError, type UpstreamHandler } from '../upstream/client.js';
import type { ResponseHead } from '../upstream/parser.js';
import type { ProxyFailure } from './errors.js';
import type { ResponseWriter } from './response-writer.js';

/** ErrorPageRequest is what a request on a route with custom-http-errors keeps for its error page. */
export interface ErrorPageRequest {
  readonly pages: RouteErrorPages;
  /** The worker's backends when the request came (the error backend is looked up at the intercept). */
  readonly backends: ReadonlyMap<string, BackendRuntime>;
  readonly method: string;
  /** The upstream request's fields (headers.ts buildUpstreamHeaders): the client's and X-Forwarded-*. */
  readonly fields: readonly string[];
  /** The target as the client sent it (X-Original-URI, nginx's `$request_uri`). */
  readonly originalUri: string;
}

/** Fields of the main request not sent to the error backend: the body's framing, and what the error request sets itself. */
const NOT_SENT: ReadonlySet<string> = new Set(['content-length', 'transfer-encoding', 'x-forwarded-for', 'x-request-id']);

/** errorPageHead builds the error backend's request head for an upstream answer of `code`. */
export function errorPageHead(r: ErrorPageRequest, code: number): string {
  const f = r.fields;
  let host = '';
  let accept = '';
  let requestId = '';
  let forwardedFor = '';
  let rest = '';
  for (let i = 0; i < f.length; i += 2) {
    const name = f[i] as string;
    const value = f[i + 1] as string;
    if (name === 'host') host = value;
    else if (name === 'x-request-id') requestId = value;
    else if (name === 'x-real-ip') forwardedFor = value;
    if (name === 'accept') accept = value;
    if (name !== 'host' && !NOT_SENT.has(name)) rest += `${name}: ${value}\r\n`;
  }
  const p = r.pages;
  // nginx's `rewrite (.*) / break` keeps the query: the error backend gets `/?query`.
  const q = r.originalUri.indexOf('?');
  const target = q < 0 ? '/' : `/${r.originalUri.slice(q)}`;
  return (
    `${r.method} ${target} HTTP/1.1\r\nhost: ${host}\r\nconnection: keep-alive\r\n${rest}` +
    `x-code: ${code}\r\n${field('x-format', accept)}x-original-uri: ${r.originalUri}\r\nx-namespace: ${p.namespace}\r\n` +
    `x-ingress-name: ${p.ingress}\r\nx-service-name: ${p.service}\r\nx-service-port: ${p.port}\r\n` +
    `${field('x-request-id', requestId)}${field('x-forwarded-for', forwardedFor)}\r\n`
  );
}

/** field is one header line, or none for an empty value (nginx's proxy_set_header sends no empty field). */
function field(name: string, value: string): string {
  return value === '' ? '' : `${name}: ${value}\r\n`;
}

/**
 * ErrorPageFetch is the error backend's request, written through the Exchange's ResponseWriter
 * (nothing of the upstream's answer was sent yet). The Exchange forwards abort and resume to it.
 */
export class ErrorPageFetch implements UpstreamHandler {
  readonly requestHead: string;
  readonly headRequest: boolean;
  readonly retryable: boolean;
  readonly bodyFraming = BodyFraming.None;
  readonly timeouts = null;
  readonly #res: HttpResponse;
  readonly #w: ResponseWriter;
  #conn: UpstreamConnection | null = null;
  #cancel: (() => void) | null = null;
  #discard = false;
  #done = false;

  constructor(res: HttpResponse, w: ResponseWriter, r: ErrorPageRequest, code: number) {
    this.#res = res;
    this.#w = w;
    this.requestHead = errorPageHead(r, code);
    this.headRequest = r.method === 'HEAD';
    this.retryable = r.method === 'GET' || r.method === 'HEAD';
  }

  /**
   * start sends the request to an endpoint of the error backend; without one the client gets 503,
   * as ingress-nginx's balancer answers an upstream with no endpoint. Runs inside the upstream's
   * read (corked).
   */
  start(backend: BackendRuntime | undefined): void {
    const endpoint = backend?.balancer.select() ?? null;
    if (endpoint === null) return this.#fail('no-endpoint');
    this.#cancel = () => endpoint.pool.cancel(this);
    endpoint.pool.request(this);
  }

  /** abort drops the error backend's request (the client left). */
  abort(): void {
    if (this.#done) return;
    this.#done = true;
    const conn = this.#conn;
    this.#conn = null;
    if (conn !== null) conn.abort();
    else this.#cancel?.();
  }

  /** resume reads on after the client's socket drained. */
  resume(): void {
    this.#conn?.resume();
  }

  onUpstreamStart(conn: UpstreamConnection): void {
    if (this.#done) conn.abort();
    else this.#conn = conn;
  }

  upstreamRead(run: () => void): void {
    if (this.#w.open) this.#res.cork(run);
    else run();
  }

  onUpstreamHead(head: ResponseHead): void {
    const w = this.#w;
    if (!w.open) return;
    if (w.forward(head, null)) this.#discard = true;
  }

  onUpstreamBody(buf: Buffer, start: number, end: number): boolean {
    if (this.#discard || !this.#w.open) return true;
    return this.#w.body(buf, start, end);
  }

  onUpstreamEnd(): void {
    this.#conn = null;
    this.#done = true;
    if (!this.#discard && this.#w.open) this.#w.end();
  }

  onUpstreamError(err: UpstreamError): void {
    this.#conn = null;
    this.#done = true;
    const w = this.#w;
    if (!w.open) return;
    if (w.headSent) w.cut();
    else this.#res.cork(() => this.#fail(err.failure === 'connect-timeout' || err.failure === 'response-timeout' || err.failure === 'idle-timeout' ? 'upstream-timeout' : err.failure === 'saturated' ? 'no-endpoint' : 'upstream-error'));
  }

  onUpstreamDrain(): void {}

  #fail(failure: ProxyFailure): void {
    this.#done = true;
    if (this.#w.open) this.#w.fail(failure, null);
  }
}
