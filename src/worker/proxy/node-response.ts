/**
 * The request path on node's HTTP servers (the HTTPS front with HTTP/2, node-front.ts,
 * docs/http2.md): NodeRequest and NodeResponse present a node request and response (HTTP/1.x
 * or HTTP/2, node:http2's compatibility API) as the part of uWS's HttpRequest and HttpResponse
 * that the request handler, Exchange, ResponseWriter and the cache use, so every request takes
 * the same path whichever front it came on: routing, the upstream client, the balancer, the
 * cache, metrics and the access log.
 *
 * What differs from uWS and how it is bridged:
 * - uWS writes fields as they come and takes `name: value\r\nName2: value2` runs in one
 *   writeHeader (headers.ts, cached.ts rely on it); node wants the head at once. The fields are
 *   collected, the runs split, and the head goes out with the first body write or the end.
 * - HTTP/2 forbids connection-specific fields (RFC 9113 §8.2.2): Connection, Keep-Alive,
 *   Proxy-Connection, Transfer-Encoding and Upgrade are dropped from an h2 response.
 * - node buffers every write it is given: tryEnd takes the whole piece, and reports
 *   backpressure (ok false) when node's buffer is over its high-water mark; onWritable runs on
 *   'drain'. A response therefore holds at most node's high-water mark plus one upstream read.
 * - An HTTP/2 request body has no Content-Length nor chunked framing of its own: one that has a
 *   body but no Content-Length is presented as `Transfer-Encoding: chunked`, which is what the
 *   upstream HTTP/1.1 request then carries.
 */
import { isIPv4 } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { constants as h2, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';

/** NodeReq is a request of either protocol of node's HTTPS front. */
export type NodeReq = IncomingMessage | Http2ServerRequest;
/** NodeRes is a response of either protocol of node's HTTPS front. */
export type NodeRes = ServerResponse | Http2ServerResponse;

/** Fields HTTP/2 forbids in a message (RFC 9113 §8.2.2); lower case. */
const H2_FORBIDDEN: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

const EMPTY = new ArrayBuffer(0);

/** The peer address of each connection, in uWS's binary form. */
const peerBytes = new WeakMap<object, ArrayBuffer>();

/** addressBytes turns node's textual peer address into uWS's 4 or 16 bytes (formatAddress reads them). */
export function addressBytes(text: string | undefined): ArrayBuffer {
  if (text === undefined || text === '') return EMPTY;
  if (isIPv4(text)) return new Uint8Array(text.split('.').map(Number)).buffer;
  const out = new Uint8Array(16);
  let s = text;
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  // An embedded IPv4 tail (::ffff:1.2.3.4) is two groups.
  const lastColon = s.lastIndexOf(':');
  const tail = s.slice(lastColon + 1);
  if (isIPv4(tail)) {
    const [a, b, c, d] = tail.split('.').map(Number) as [number, number, number, number];
    s = `${s.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, rest] = s.split('::') as [string, string | undefined];
  const left = head === '' ? [] : head.split(':');
  const right = rest === undefined || rest === '' ? [] : rest.split(':');
  const groups = rest === undefined ? left : [...left, ...new Array<string>(8 - left.length - right.length).fill('0'), ...right];
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  return out.buffer;
}

/** NodeRequest is a node request seen as uWS's HttpRequest (only what the request path reads). */
export class NodeRequest {
  readonly #req: NodeReq;
  readonly #url: string;
  readonly #query: number;

  constructor(req: NodeReq) {
    this.#req = req;
    this.#url = req.url ?? '/';
    this.#query = this.#url.indexOf('?');
  }

  getCaseSensitiveMethod(): string {
    return this.#req.method ?? 'GET';
  }

  getMethod(): string {
    return this.getCaseSensitiveMethod().toLowerCase();
  }

  getUrl(): string {
    return this.#query < 0 ? this.#url : this.#url.slice(0, this.#query);
  }

  getQuery(): string {
    return this.#query < 0 ? '' : this.#url.slice(this.#query + 1);
  }

  getHeader(name: string): string {
    let found = '';
    this.forEach((k, v) => {
      if (found === '' && k === name) found = v;
    });
    return found;
  }

  /** forEach visits every field as uWS does: lower-case names, in order; h2's `:authority` as Host. */
  forEach(visit: (name: string, value: string) => void): void {
    const raw = this.#req.rawHeaders;
    const h2req = this.#req.httpVersionMajor === 2;
    let host = false;
    let length = false;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = (raw[i] as string).toLowerCase();
      if (h2req && name.charCodeAt(0) === 58 /* : */) continue;
      if (name === 'host') host = true;
      else if (name === 'content-length') length = true;
      visit(name, raw[i + 1] as string);
    }
    if (!h2req) return;
    const authority = (this.#req as Http2ServerRequest).headers[':authority'];
    if (!host && typeof authority === 'string') visit('host', authority);
    // A body without Content-Length (the stream did not end with the head) is sent on chunked.
    const stream = (this.#req as Http2ServerRequest).stream;
    if (!length && !stream.endAfterHeaders && !stream.readableEnded) visit('transfer-encoding', 'chunked');
  }
}

/**
 * NodeResponse is a node response seen as uWS's HttpResponse (only what the request path
 * calls). Like uWS, onAborted runs once when the client goes away before the response ended,
 * and close() runs it synchronously.
 */
export class NodeResponse {
  readonly #req: NodeReq;
  readonly #res: NodeRes;
  readonly #h2: boolean;
  #status = 200;
  #reason = '';
  #fields: [string, string][] = [];
  #headSent = false;
  #ended = false;
  #aborted = false;
  #offset = 0;
  #onAborted: (() => void) | null = null;
  #onWritable: ((offset: number) => boolean) | null = null;
  #onData: ((chunk: ArrayBuffer, isLast: boolean) => void) | null = null;
  #close = false;

  /** The connection's PROXY protocol header address (node-front.ts), empty without one. */
  readonly #proxied: ArrayBuffer;

  constructor(req: NodeReq, res: NodeRes, proxied: ArrayBuffer = EMPTY) {
    this.#proxied = proxied;
    this.#req = req;
    this.#res = res;
    this.#h2 = req.httpVersionMajor === 2;
    res.on('close', () => {
      if (!this.#ended) this.#abort();
    });
    res.on('drain', () => {
      const cb = this.#onWritable;
      if (cb !== null && !this.#ended && !this.#aborted) cb(this.#offset);
    });
  }

  /** ended says the response was ended (or cut) by the request path. */
  get ended(): boolean {
    return this.#ended;
  }

  onAborted(handler: () => void): this {
    this.#onAborted = handler;
    return this;
  }

  onWritable(handler: (offset: number) => boolean): this {
    this.#onWritable = handler;
    return this;
  }

  onData(handler: (chunk: ArrayBuffer, isLast: boolean) => void): this {
    const first = this.#onData === null;
    this.#onData = handler;
    if (first) {
      this.#req.on('data', (chunk: Buffer) => {
        const ab = chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength ? (chunk.buffer as ArrayBuffer) : (chunk.buffer.slice(chunk.byteOffset, chunk.byteOffset + chunk.byteLength) as ArrayBuffer);
        this.#onData?.(ab, false);
      });
      this.#req.on('end', () => this.#onData?.(EMPTY, true));
    }
    return this;
  }

  pause(): void {
    this.#req.pause();
  }

  resume(): void {
    this.#req.resume();
  }

  cork(run: () => void): this {
    run();
    return this;
  }

  getRemoteAddress(): ArrayBuffer {
    // Parsed once per connection: keep-alive and HTTP/2 clients send many requests on one.
    const socket = this.#req.socket as object | undefined;
    if (socket === undefined) return EMPTY;
    let bytes = peerBytes.get(socket);
    if (bytes === undefined) peerBytes.set(socket, (bytes = addressBytes(this.#req.socket?.remoteAddress)));
    return bytes;
  }

  getProxiedRemoteAddress(): ArrayBuffer {
    return this.#proxied;
  }

  getWriteOffset(): number {
    return this.#offset;
  }

  writeStatus(line: string | Uint8Array): this {
    const text = typeof line === 'string' ? line : Buffer.from(line).toString('latin1');
    const sp = text.indexOf(' ');
    this.#status = Number(sp < 0 ? text : text.slice(0, sp));
    this.#reason = sp < 0 ? '' : text.slice(sp + 1);
    return this;
  }

  /** writeHeader collects a field; a value may carry more `\r\nName: value` lines (uWS writes it verbatim). */
  writeHeader(name: string | Uint8Array, value: string | Uint8Array): this {
    const n = typeof name === 'string' ? name : Buffer.from(name).toString('latin1');
    const v = typeof value === 'string' ? value : Buffer.from(value).toString('latin1');
    if (v.indexOf('\r\n') < 0) {
      this.#field(n, v);
      return this;
    }
    const lines = v.split('\r\n');
    this.#field(n, lines[0] as string);
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i] as string;
      const colon = line.indexOf(':');
      if (colon > 0) this.#field(line.slice(0, colon), line.slice(colon + 1).trim());
    }
    return this;
  }

  write(chunk: string | Uint8Array | ArrayBuffer): boolean {
    if (this.#ended || this.#aborted) return true;
    this.#sendHead(-1);
    const buf = toBuffer(chunk);
    this.#offset += buf.length;
    return buf.length === 0 ? true : (this.#res as ServerResponse).write(buf);
  }

  tryEnd(chunk: string | Uint8Array | ArrayBuffer, total: number): [boolean, boolean] {
    if (this.#ended || this.#aborted) return [true, true];
    this.#sendHead(total);
    const buf = toBuffer(chunk);
    let ok = true;
    if (buf.length > 0) {
      this.#offset += buf.length;
      ok = (this.#res as ServerResponse).write(buf);
    }
    if (this.#offset >= total) {
      this.#ended = true;
      this.#res.end();
      return [true, true];
    }
    return [ok, false];
  }

  end(body?: string | Uint8Array | ArrayBuffer, closeConnection?: boolean): this {
    if (this.#ended || this.#aborted) return this;
    if (closeConnection === true) this.#close = true;
    const buf = body === undefined ? null : toBuffer(body);
    // A body given to end() has its length; end() alone closes a chunked body.
    this.#sendHead(buf === null ? (this.#headSent ? -1 : 0) : this.#headSent ? -1 : buf.length);
    this.#ended = true;
    if (buf !== null && buf.length > 0) {
      this.#offset += buf.length;
      this.#res.end(buf);
    } else this.#res.end();
    return this;
  }

  endWithoutBody(reportedContentLength?: number, closeConnection?: boolean): this {
    if (this.#ended || this.#aborted) return this;
    if (closeConnection === true) this.#close = true;
    if (reportedContentLength !== undefined) this.#fields.push(['content-length', String(reportedContentLength)]);
    this.#sendHead(-1);
    this.#ended = true;
    this.#res.end();
    return this;
  }

  /** close cuts the response: the client sees the connection (HTTP/1.1) or the stream (HTTP/2) reset. */
  close(): this {
    if (this.#aborted) return this;
    const res = this.#res;
    if (this.#h2) (res as Http2ServerResponse).stream.close(h2.NGHTTP2_INTERNAL_ERROR);
    else res.socket?.destroy();
    this.#abort();
    return this;
  }

  #abort(): void {
    if (this.#aborted) return;
    this.#aborted = true;
    const cb = this.#onAborted;
    this.#onAborted = null;
    cb?.();
  }

  #field(name: string, value: string): void {
    const lower = name.toLowerCase();
    if (lower === 'connection' && value.toLowerCase() === 'close') this.#close = true;
    if (this.#h2 && H2_FORBIDDEN.has(lower)) return;
    if (lower === 'content-length' || lower === 'date') return; // written from the body, as uWS does
    this.#fields.push([name, value]);
  }

  /** #sendHead writes the status and fields once; `length` is the body's Content-Length (-1: none). */
  #sendHead(length: number): void {
    if (this.#headSent) return;
    this.#headSent = true;
    const res = this.#res;
    const headers: Record<string, string | string[]> = {};
    for (const [n, v] of this.#fields) {
      const key = this.#h2 ? n.toLowerCase() : n;
      const had = headers[key];
      if (had === undefined) headers[key] = v;
      else if (Array.isArray(had)) had.push(v);
      else headers[key] = [had, v];
    }
    if (length >= 0 && this.#status !== 204 && this.#status !== 304 && !(this.#status >= 100 && this.#status < 200)) headers['content-length'] = String(length);
    if (!this.#h2 && this.#close) (res as ServerResponse).shouldKeepAlive = false;
    if (this.#h2) (res as Http2ServerResponse).writeHead(this.#status, headers);
    else (res as ServerResponse).writeHead(this.#status, this.#reason, headers);
  }
}

/**
 * toBuffer copies what is written: node keeps a written buffer until it is sent, while the
 * request path hands over pieces valid only during the call (the upstream read buffer is reused).
 */
function toBuffer(chunk: string | Uint8Array | ArrayBuffer): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk, 'latin1');
  return Buffer.copyBytesFrom(chunk instanceof ArrayBuffer ? new Uint8Array(chunk) : chunk);
}

/** asUws presents the adapters where the request path expects uWS objects. */
export function asUws(req: NodeRequest, res: NodeResponse): { req: HttpRequest; res: HttpResponse } {
  return { req: req as unknown as HttpRequest, res: res as unknown as HttpResponse };
}
