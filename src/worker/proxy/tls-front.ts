/**
 * The HTTPS listener of a worker (issue 11, docs/tls.md).
 *
 * uWebSockets.js cannot change the certificate of a server name safely: `removeServerName`
 * frees the name's router while live connections still point at it. So certificates are never
 * swapped inside an app. An acceptor app owns the listen socket (SO_REUSEPORT, shared by
 * every worker) and hands each accepted socket to its child: one SSLApp per generation of
 * certificates, built whole (the default certificate, then each server name with its routes).
 * A new generation becomes the acceptor's only child at once, so every new connection gets the
 * new certificates; the old generation keeps serving the connections it has, and is closed once
 * it has had no request in flight for longer than a client may stay idle.
 */
import { statSync } from 'node:fs';
import type { Logger } from 'pino';
import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket, us_socket } from 'uWebSockets.js';
import { IngressError } from '../../shared/errors.js';
import type { HttpsSettings, WorkerConfig } from '../../shared/messages.js';
import type { TlsCertificate, TlsSnapshot } from '../../shared/snapshot.js';
import type { Uws } from '../../shared/uws-native.js';
import type { ProxyContext } from './exchange.js';
import type { Listener, RequestHandler } from './handler.js';
import { tuneClientTimeouts, type TunableApp } from './uws-apps.js';
import type { WebSocketProxy } from './websocket.js';

/** TlsFrontOptions configure a TlsFront. */
export interface TlsFrontOptions {
  readonly uws: Uws;
  readonly config: Pick<WorkerConfig, 'keepAliveTimeoutMs' | 'clientHeaderTimeoutMs'>;
  readonly https: HttpsSettings;
  readonly log: Logger;
  /** listener makes a fresh Listener (its own context) for a generation. */
  readonly listener: () => Listener;
  readonly handler: RequestHandler;
  /** Serves WebSocket upgrades on every generation's app. */
  readonly websockets: WebSocketProxy;
}

/** What an app has in this uWS build beyond its type declarations: the acceptor/child descriptors. */
type ChildApp = TunableApp & { getDescriptor(): number };
type Acceptor = TunableApp & { addChildAppDescriptor(descriptor: number): void; removeChildAppDescriptor(descriptor: number): void };

interface Generation {
  readonly tls: TlsSnapshot;
  readonly app: ChildApp;
  readonly descriptor: number;
  readonly listener: Listener;
  /** When a request was last seen in flight (performance.now()). */
  busyAt: number;
}

/** At most this many differently-cased SNI aliases per generation (see #build). */
const MAX_SNI_ALIASES = 256;

/** How often retired generations are checked (uWS's own timers tick every 4 s). */
const RETIRE_CHECK_MS = 4000;

/** TlsFront owns the HTTPS acceptor and the generations of certificates behind it. */
export class TlsFront {
  readonly #o: TlsFrontOptions;
  readonly #acceptor: Acceptor;
  readonly #idleLimitMs: number;
  #listenSocket: us_listen_socket | null = null;
  #port = 0;
  #current: Generation | null = null;
  #retiring: Generation[] = [];
  #timer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(opts: TlsFrontOptions) {
    this.#o = opts;
    // The acceptor must be an SSLApp too: uWS hands each accepted socket to a child through the
    // acceptor's own template (TemplatedApp<SSL>::adoptSocket), and a plain acceptor adopts it
    // into the child's SSL context as a plain socket, which crashes the process (SIGSEGV) under
    // load. It needs no certificate of its own: it never handshakes while it has a child.
    this.#acceptor = opts.uws.SSLApp({}) as TemplatedApp as Acceptor;
    // A retired generation closes only when none of its connections can still be open: idle
    // keep-alive connections and half-sent heads are closed by uWS within these times.
    this.#idleLimitMs = Math.max(opts.config.keepAliveTimeoutMs, opts.config.clientHeaderTimeoutMs) + 2 * RETIRE_CHECK_MS;
  }

  /** listen binds the HTTPS port (shared with every worker) and resolves the bound port. */
  listen(): Promise<number> {
    const { https } = this.#o;
    return new Promise((resolve, reject) => {
      const onListen = (ls: us_listen_socket | false): void => {
        if (ls === false) {
          reject(new IngressError('ING_ERR_LISTEN_FAILED', `cannot listen on ${https.address || '*'}:${https.port} (HTTPS)`));
          return;
        }
        this.#listenSocket = ls;
        this.#port = this.#o.uws.us_socket_local_port(ls as unknown as us_socket);
        for (const g of this.#generations()) g.listener.port = String(this.#port);
        resolve(this.#port);
      };
      if (https.address === '') this.#acceptor.listen(https.port, onListen);
      else this.#acceptor.listen(https.address, https.port, onListen);
    });
  }

  /**
   * apply makes new connections get `tls`'s certificates. The same object as now does nothing.
   * When the new generation cannot be built the current one keeps serving, and the error is
   * logged (ING_ERR_TLS_APPLY).
   */
  apply(tls: TlsSnapshot): void {
    if (this.#closed || this.#current?.tls === tls) return;
    let next: Generation;
    try {
      next = this.#build(tls);
    } catch (err) {
      this.#o.log.error({ err, code: 'ING_ERR_TLS_APPLY' }, 'cannot load the HTTPS certificates; new connections keep the previous ones');
      return;
    }
    this.#acceptor.addChildAppDescriptor(next.descriptor);
    const previous = this.#current;
    this.#current = next;
    if (previous !== null) {
      this.#acceptor.removeChildAppDescriptor(previous.descriptor);
      previous.busyAt = performance.now();
      this.#retiring.push(previous);
      this.#timer ??= setInterval(() => this.#retire(), RETIRE_CHECK_MS).unref();
    }
    this.#o.log.info({ serverNames: tls.serverNames.length, certificates: tls.certificates.length, retiring: this.#retiring.length }, 'https certificates applied');
  }

  /** contexts are the contexts of every generation still serving (for in-flight counts and draining). */
  contexts(): ProxyContext[] {
    return this.#generations().map((g) => g.listener.ctx);
  }

  /** stopAccepting closes the listen socket; connections already accepted go on. */
  stopAccepting(): void {
    if (this.#listenSocket !== null) {
      this.#o.uws.us_listen_socket_close(this.#listenSocket);
      this.#listenSocket = null;
    }
  }

  /** close closes the listener and every connection of every generation. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.stopAccepting();
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#acceptor.close();
    for (const g of this.#generations()) g.app.close();
    this.#current = null;
    this.#retiring = [];
  }

  #generations(): Generation[] {
    return this.#current === null ? this.#retiring : [this.#current, ...this.#retiring];
  }

  /** #build makes one SSLApp serving `tls`, with the request handler on every server name. */
  #build(tls: TlsSnapshot): Generation {
    const { uws, https, log } = this.#o;
    // uWS crashes the process on a certificate or key file it cannot read: the primary
    // validated each pair before writing it, so here only check that the files are still there.
    const options = (c: TlsCertificate): Record<string, string> => {
      for (const file of [c.certFile, c.keyFile]) if (!isFile(file)) throw new Error(`certificate ${c.id}: ${file} is missing`);
      return { cert_file_name: c.certFile, key_file_name: c.keyFile, ssl_ciphers: https.ciphers };
    };
    const app = uws.SSLApp(options(tls.defaultCertificate)) as TemplatedApp as ChildApp;
    tuneClientTimeouts(app, this.#o.config);
    const listener = this.#o.listener();
    listener.port = String(this.#port);
    const handler = (res: HttpResponse, req: HttpRequest): void => this.#o.handler(res, req, listener);
    const routes = (target: TemplatedApp): void => {
      this.#o.websockets.attach(target, listener);
      target.any('/*', handler);
    };
    // The default router first: connections without SNI, or with a name no certificate claims.
    routes(app);
    const byId = new Map(tls.certificates.map((c) => [c.id, c]));
    const loaded = new Map<string, Record<string, string>>();
    for (const { name, certificate } of tls.serverNames) {
      const cert = byId.get(certificate);
      let opts: Record<string, string>;
      try {
        if (cert === undefined) throw new Error(`no certificate ${certificate}`);
        opts = options(cert);
      } catch (err) {
        // This name gets the default certificate; the others are unaffected.
        log.error({ err, code: 'ING_ERR_TLS_APPLY', serverName: name }, 'cannot load a server name\'s certificate; it gets the default one');
        continue;
      }
      // Each server name has a router of its own, which needs the routes (docs/tls.md).
      app.addServerName(name, opts);
      routes(app.domain(name));
      loaded.set(name, opts);
    }
    // Server names are case-insensitive (RFC 6066 §3) but uWS looks SNI up as sent. A name it
    // does not find comes here before the lookup is retried: a differently-cased variant of a
    // name we serve gets that name's certificate as an alias. Capped, so random casings cannot
    // grow the SNI tree without bound; past the cap such a client gets the default certificate.
    let aliases = 0;
    app.missingServerName((hostname: string) => {
      const lower = hostname.toLowerCase();
      if (lower === hostname || aliases >= MAX_SNI_ALIASES) return;
      const dot = lower.indexOf('.');
      const opts = loaded.get(lower) ?? (dot > 0 ? loaded.get(`*${lower.slice(dot)}`) : undefined);
      if (opts === undefined) return;
      aliases++;
      app.addServerName(hostname, opts);
      routes(app.domain(hostname));
    });
    return { tls, app, descriptor: app.getDescriptor(), listener, busyAt: performance.now() };
  }

  /** #retire closes retired generations that have been idle long enough. */
  #retire(): void {
    const now = performance.now();
    this.#retiring = this.#retiring.filter((g) => {
      if (g.listener.ctx.inFlight > 0) g.busyAt = now;
      else if (now - g.busyAt > this.#idleLimitMs) {
        g.app.close();
        return false;
      }
      return true;
    });
    if (this.#retiring.length === 0 && this.#timer !== null) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
