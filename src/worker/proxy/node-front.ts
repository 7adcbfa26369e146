/**
 * The HTTPS listener of a worker with `--http2 on` (issue 12, docs/http2.md): node:http2's
 * secure server with HTTP/1.1 allowed. ALPN gives `h2` to clients that offer it and HTTP/1.1
 * to the others (and to clients without ALPN). This uWS build has neither HTTP/2 nor ALPN, so
 * the port runs on node; every request still takes the one request path (handler.ts through
 * the adapters of node-response.ts), except those of a backend that speaks HTTP/2 upstream
 * (gRPC: h2-proxy.ts).
 *
 * WebSocket stays on uWS (websocket.ts): an HTTP/1.1 upgrade is tunnelled, decrypted, to a
 * plain uWS app of this worker that listens on loopback only. Each tunnel connects from a
 * loopback source address of its own (127.0.0.0/8 is all local on Linux), which that app maps
 * back to the client's address for X-Forwarded-For and the access log.
 *
 * Certificates: a SecureContext per certificate, chosen by SNI as the uWS front chooses
 * (exact name, then a one-label wildcard, else the default; case-insensitive, RFC 6066 §3).
 * A new snapshot of certificates swaps the lookup at once; connections already open keep the
 * context they were made with, so no generation needs retiring.
 */
import { readFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { createSecureServer, type Http2SecureServer, type Http2ServerRequest, type Http2ServerResponse, type Http2Session } from 'node:http2';
import type { IncomingMessage } from 'node:http';
import { createSecureContext, type SecureContext, type TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { HttpRequest, HttpResponse, TemplatedApp, WebSocketBehavior, us_listen_socket, us_socket } from 'uWebSockets.js';
import { IngressError } from '../../shared/errors.js';
import type { HttpsSettings, WorkerConfig } from '../../shared/messages.js';
import type { TlsCertificate, TlsSnapshot } from '../../shared/snapshot.js';
import type { Uws } from '../../shared/uws-native.js';
import { formatAddress } from './address.js';
import type { ProxyContext } from './exchange.js';
import type { Listener, RequestHandler } from './handler.js';
import { addressBytes, asUws, NodeRequest, NodeResponse, type NodeReq, type NodeRes } from './node-response.js';
import { readProxyHeader } from './proxy-protocol.js';
import { tuneClientTimeouts, type TunableApp } from './uws-apps.js';
import type { WebSocketProxy } from './websocket.js';

/** MAX_CONCURRENT_STREAMS bounds the streams of one HTTP/2 connection (nginx's http2_max_concurrent_streams). */
export const MAX_CONCURRENT_STREAMS = 128;
/** DEFAULT_HEAD_BYTES is --max-request-head-bytes's default, for a config without it. */
const DEFAULT_HEAD_BYTES = 32 * 1024;
/** STREAM_WINDOW_BYTES is each stream's receive window: what a client may send before Flusso reads. */
export const STREAM_WINDOW_BYTES = 65_535;

/** H2Route takes the requests that go to an HTTP/2 upstream (h2-proxy.ts); false: not one of them. */
export type H2Route = (req: NodeReq, res: NodeRes, listener: Listener, proxied: ArrayBuffer) => boolean;

/** NodeTlsFrontOptions configure a NodeTlsFront. */
export interface NodeTlsFrontOptions {
  readonly uws: Uws;
  readonly config: Pick<WorkerConfig, 'keepAliveTimeoutMs' | 'clientHeaderTimeoutMs' | 'maxRequestHeadBytes'>;
  readonly https: HttpsSettings;
  readonly log: Logger;
  /** The one listener every request of this port comes on. */
  readonly listener: Listener;
  readonly handler: RequestHandler;
  readonly websockets: WebSocketProxy;
  /** Routes requests to HTTP/2 upstreams; absent: every request takes the handler. */
  readonly h2?: H2Route;
  /** --use-proxy-protocol: every connection starts with a PROXY protocol header (v2 or v1), read before TLS (proxy-protocol.ts). */
  readonly proxyProtocol?: boolean;
}

const NO_ADDRESS = new ArrayBuffer(0);

/** connectionKey names a live TCP connection by its peer's address and port (the TLS socket over it has the same). */
function connectionKey(s: { readonly remoteAddress?: string | undefined; readonly remotePort?: number | undefined } | null | undefined): string {
  return `${s?.remoteAddress ?? ''}|${s?.remotePort ?? 0}`;
}

interface Contexts {
  readonly tls: TlsSnapshot;
  readonly byName: ReadonlyMap<string, SecureContext>;
  readonly byCertificate: ReadonlyMap<string, SecureContext>;
}

/** NodeTlsFront owns the HTTPS port when HTTP/2 is on. */
export class NodeTlsFront {
  readonly #o: NodeTlsFrontOptions;
  readonly #server: Http2SecureServer;
  readonly #sessions = new Set<Http2Session>();
  readonly #sockets = new Set<Socket>();
  readonly #tunnels = new Set<Socket>();
  /** Loopback source address of a tunnel → the client's address (uWS's binary form). */
  readonly #peers = new Map<string, { readonly peer: ArrayBuffer; readonly proxied: ArrayBuffer }>();
  /** With --use-proxy-protocol: each open connection's PROXY header address (connectionKey → 4/16 bytes, empty for LOCAL). */
  readonly #proxied = new Map<string, ArrayBuffer>();
  /** With --use-proxy-protocol: the plain TCP listener that reads each header and hands the connection to the TLS server. */
  #raw: Server | null = null;
  #nextPeer = 0;
  #contexts: Contexts | null = null;
  #inner: TunableApp | null = null;
  #innerSocket: us_listen_socket | null = null;
  #innerPort = 0;
  #listening = false;
  #closed = false;

  constructor(opts: NodeTlsFrontOptions) {
    this.#o = opts;
    const { https, config } = opts;
    this.#server = createSecureServer({
      allowHTTP1: true,
      minVersion: 'TLSv1.2',
      ciphers: https.ciphers,
      SNICallback: (name, cb) => cb(null, this.#contextFor(name)),
      settings: { maxConcurrentStreams: MAX_CONCURRENT_STREAMS, initialWindowSize: STREAM_WINDOW_BYTES, enablePush: false },
    });
    const server = this.#server as Http2SecureServer & { keepAliveTimeout: number; headersTimeout: number; requestTimeout: number; maxHeaderSize: number; ALPNProtocols: Buffer };
    // node:http2 offers h2 and http/1.1 and refuses the handshake of a client that offers only
    // http/1.0 (curl --http1.0 does). nginx accepts it, and so does this port: http/1.0 is
    // offered last, and such a connection is served as the HTTP/1.x it is.
    server.ALPNProtocols = Buffer.from('\x02h2\x08http/1.1\x08http/1.0', 'latin1');
    server.prependListener('secureConnection', (socket: TLSSocket) => {
      if (socket.alpnProtocol === 'http/1.0') (socket as { alpnProtocol: string | false }).alpnProtocol = 'http/1.1';
    });
    // HTTP/1.1 on this port keeps the uWS front's client timeouts (docs/runtime.md); an idle
    // HTTP/2 connection closes after the keep-alive timeout too.
    server.keepAliveTimeout = config.keepAliveTimeoutMs;
    server.headersTimeout = config.clientHeaderTimeoutMs;
    server.requestTimeout = 0; // request bodies have their own timeout (request-body.ts)
    // An HTTP/1.x head may be as large as on the uWS front (node's own default is 16 KiB); node's
    // HTTP/1 parser reads this from the server (the http2 options do not declare it).
    server.maxHeaderSize = config.maxRequestHeadBytes ?? DEFAULT_HEAD_BYTES;
    server.setTimeout(config.keepAliveTimeoutMs);
    server.on('request', (req: Http2ServerRequest | IncomingMessage, res: Http2ServerResponse) => this.#serve(req, res));
    server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.#tunnel(req, socket, head));
    server.on('session', (s: Http2Session) => {
      this.#sessions.add(s);
      s.on('close', () => this.#sessions.delete(s));
      s.on('error', () => s.destroy());
    });
    server.on('secureConnection', (socket: TLSSocket) => {
      // No client-initiated renegotiation (a CPU-exhaustion lever; nginx refuses it too): node
      // would allow three per ten minutes.
      socket.disableRenegotiation();
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    server.on('tlsClientError', (err: Error) => opts.log.debug({ err }, 'https handshake failed'));
    server.on('timeout', (s: Http2Session | Socket) => s.destroy());
  }

  /** listen binds the HTTPS port (SO_REUSEPORT, shared with every worker) and the loopback WebSocket app. */
  async listen(): Promise<number> {
    await this.#listenInner();
    const { https } = this.#o;
    const port = await new Promise<number>((resolve, reject) => {
      const onError = (err: Error): void => reject(new IngressError('ING_ERR_LISTEN_FAILED', `cannot listen on ${https.address || '*'}:${https.port} (HTTPS): ${err.message}`, { cause: err }));
      // With PROXY protocol a plain TCP server owns the port and hands each connection to the
      // TLS server once its header is read; else the TLS server listens itself.
      const front = this.#o.proxyProtocol === true ? (this.#raw = createServer((socket) => this.#acceptProxied(socket))) : this.#server;
      front.once('error', onError);
      front.listen({ port: https.port, ...(https.address === '' ? {} : { host: https.address }), exclusive: true, reusePort: true }, () => {
        front.off('error', onError);
        const a = front.address();
        resolve(typeof a === 'object' && a !== null ? a.port : https.port);
      });
    });
    this.#listening = true;
    this.#server.on('error', (err) => this.#o.log.error({ err, code: 'ING_ERR_PROXY_INTERNAL' }, 'https server error'));
    this.#o.listener.port = String(port);
    return port;
  }

  /** apply makes new connections get `tls`'s certificates; on a failure the current ones stay (ING_ERR_TLS_APPLY). */
  apply(tls: TlsSnapshot): void {
    if (this.#closed || this.#contexts?.tls === tls) return;
    const { log, https } = this.#o;
    const previous = this.#contexts?.byCertificate;
    const byCertificate = new Map<string, SecureContext>();
    const load = (c: TlsCertificate): SecureContext => {
      const known = byCertificate.get(c.id) ?? previous?.get(c.id);
      const ctx = known ?? createSecureContext({ cert: readFileSync(c.certFile), key: readFileSync(c.keyFile), ciphers: https.ciphers, minVersion: 'TLSv1.2' });
      byCertificate.set(c.id, ctx);
      return ctx;
    };
    try {
      load(tls.defaultCertificate);
      // The primary's ticket keys: a ticket another worker issued resumes here too (docs/tls.md).
      // Tickets are sealed and opened with the keys of this, the server's own context, whatever
      // SNI context the handshake switches to; a new context would otherwise get random ones.
      const ticketKeys = https.sessionTicketKeys === undefined ? {} : { ticketKeys: Buffer.from(https.sessionTicketKeys) };
      this.#server.setSecureContext({ cert: readFileSync(tls.defaultCertificate.certFile), key: readFileSync(tls.defaultCertificate.keyFile), ciphers: https.ciphers, minVersion: 'TLSv1.2', ...ticketKeys });
    } catch (err) {
      log.error({ err, code: 'ING_ERR_TLS_APPLY' }, 'cannot load the HTTPS certificates; new connections keep the previous ones');
      return;
    }
    const ids = new Map(tls.certificates.map((c) => [c.id, c]));
    const byName = new Map<string, SecureContext>();
    for (const { name, certificate } of tls.serverNames) {
      try {
        const c = ids.get(certificate);
        if (c === undefined) throw new Error(`no certificate ${certificate}`);
        byName.set(name.toLowerCase(), load(c));
      } catch (err) {
        log.error({ err, code: 'ING_ERR_TLS_APPLY', serverName: name }, 'cannot load a server name\'s certificate; it gets the default one');
      }
    }
    this.#contexts = { tls, byName, byCertificate };
    log.info({ serverNames: tls.serverNames.length, certificates: tls.certificates.length }, 'https certificates applied');
  }

  /** contexts are the contexts of this port's requests (one). */
  contexts(): ProxyContext[] {
    return [this.#o.listener.ctx];
  }

  /** stopAccepting closes the listen socket and asks HTTP/2 clients to go elsewhere (GOAWAY); open requests go on. */
  stopAccepting(): void {
    if (this.#listening) {
      this.#listening = false;
      if (this.#raw !== null) this.#raw.close();
      else this.#server.close();
    }
    for (const s of this.#sessions) if (!s.closed) s.close();
    if (this.#innerSocket !== null) {
      this.#o.uws.us_listen_socket_close(this.#innerSocket);
      this.#innerSocket = null;
    }
  }

  /** close closes the listener and every connection, tunnels included. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.stopAccepting();
    for (const s of this.#sessions) s.destroy();
    for (const s of this.#sockets) s.destroy();
    for (const t of this.#tunnels) t.destroy();
    this.#inner?.close();
    this.#inner = null;
  }

  #contextFor(servername: string): SecureContext | undefined {
    const c = this.#contexts;
    if (c === null) return undefined;
    const name = servername.toLowerCase();
    const exact = c.byName.get(name);
    if (exact !== undefined) return exact;
    const dot = name.indexOf('.');
    return (dot > 0 ? c.byName.get(`*${name.slice(dot)}`) : undefined) ?? c.byCertificate.get(c.tls.defaultCertificate.id);
  }

  /**
   * #acceptProxied reads a connection's PROXY protocol header (v2 or v1), then hands the connection to
   * the TLS server. One without a whole valid header is closed: there is no HTTP to answer with
   * before TLS, as nginx's `listen … ssl proxy_protocol` closes it.
   */
  #acceptProxied(socket: Socket): void {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    readProxyHeader(
      socket,
      this.#o.config.clientHeaderTimeoutMs,
      (source) => {
        const key = connectionKey(socket);
        this.#proxied.set(key, source);
        socket.once('close', () => this.#proxied.delete(key));
        this.#server.emit('connection', socket);
      },
      (reason) => this.#o.log.debug({ reason, peer: socket.remoteAddress }, 'https connection refused: PROXY protocol header'),
    );
  }

  /** #proxiedOf is the PROXY header address of `req`'s connection (empty: none, or LOCAL). */
  #proxiedOf(req: NodeReq): ArrayBuffer {
    return this.#raw === null ? NO_ADDRESS : (this.#proxied.get(connectionKey(req.socket)) ?? NO_ADDRESS);
  }

  #serve(req: NodeReq, res: NodeRes): void {
    const l = this.#o.listener;
    const proxied = this.#proxiedOf(req);
    try {
      if (this.#o.h2?.(req, res, l, proxied) === true) return;
    } catch (err) {
      this.#o.log.error({ err, code: 'ING_ERR_PROXY_INTERNAL' }, 'http2 upstream request failed');
      if (!res.headersSent) (res as Http2ServerResponse).writeHead(502).end();
      return;
    }
    const { req: ureq, res: ures } = asUws(new NodeRequest(req), new NodeResponse(req, res, proxied));
    this.#o.handler(ures, ureq, l);
  }

  /**
   * #listenInner starts the loopback uWS app that serves upgrades tunnelled from this port:
   * WebSocket through websocket.ts, anything else through the handler, as on the uWS front.
   */
  #listenInner(): Promise<void> {
    const { uws, listener, handler, websockets, config } = this.#o;
    const app = uws.App() as TunableApp;
    tuneClientTimeouts(app, config);
    this.#inner = app;
    const peered = (res: HttpResponse): HttpResponse => {
      const tunnel = this.#peers.get(formatAddress(res.getRemoteAddress()));
      if (tunnel !== undefined) {
        const r = res as HttpResponse & { getRemoteAddress(): ArrayBuffer; getProxiedRemoteAddress(): ArrayBuffer };
        r.getRemoteAddress = () => tunnel.peer;
        r.getProxiedRemoteAddress = () => tunnel.proxied;
      }
      return res;
    };
    // websocket.ts attaches its behaviour to the app it is given: hand it a view of this app
    // whose upgrade handler first gives `res` the client's address.
    const view = new Proxy(app, {
      get(target, key) {
        if (key === 'ws')
          return (pattern: string, behavior: WebSocketBehavior<unknown>) => {
            const upgrade = behavior.upgrade;
            return target.ws(pattern, upgrade === undefined ? behavior : { ...behavior, upgrade: (res, req, context) => upgrade(peered(res), req, context) });
          };
        const v = Reflect.get(target, key) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    }) as TemplatedApp;
    websockets.attach(view, listener);
    app.any('/*', (res: HttpResponse, req: HttpRequest) => handler(peered(res), req, listener));
    return new Promise((resolve, reject) => {
      app.listen('127.0.0.1', 0, (ls: us_listen_socket | false) => {
        if (ls === false) {
          reject(new IngressError('ING_ERR_LISTEN_FAILED', 'cannot listen on 127.0.0.1 (the HTTPS port\'s WebSocket tunnel)'));
          return;
        }
        this.#innerSocket = ls;
        this.#innerPort = uws.us_socket_local_port(ls as unknown as us_socket);
        resolve();
      });
    });
  }

  /** #peerAddress picks a loopback source address no open tunnel uses (127.1.0.0 – 127.254.255.255). */
  #peerAddress(): string {
    for (;;) {
      const n = this.#nextPeer;
      this.#nextPeer = (n + 1) % (254 * 65_536);
      const a = `127.${1 + (n >> 16)}.${(n >> 8) & 0xff}.${n & 0xff}`;
      if (!this.#peers.has(a)) return a;
    }
  }

  /** #tunnel hands an HTTP/1.1 upgrade, decrypted, to the loopback uWS app, and pipes both ways. */
  #tunnel(req: IncomingMessage, socket: Socket, head: Buffer): void {
    if (this.#innerPort === 0 || this.#closed) {
      socket.destroy();
      return;
    }
    const local = this.#peerAddress();
    this.#peers.set(local, { peer: addressBytes(socket.remoteAddress), proxied: this.#proxiedOf(req) });
    const up = connect({ host: '127.0.0.1', port: this.#innerPort, localAddress: local });
    this.#tunnels.add(up);
    let lines = `${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1\r\n`;
    const raw = req.rawHeaders;
    for (let i = 0; i + 1 < raw.length; i += 2) lines += `${raw[i]}: ${raw[i + 1]}\r\n`;
    up.write(`${lines}\r\n`, 'latin1');
    if (head.length > 0) up.write(head);
    up.setNoDelay(true);
    up.pipe(socket);
    socket.pipe(up);
    let done = false;
    const end = (): void => {
      if (done) return;
      done = true;
      this.#peers.delete(local);
      this.#tunnels.delete(up);
      up.destroy();
      socket.destroy();
    };
    up.on('error', end).on('close', end);
    socket.on('error', end).on('close', end);
  }
}
