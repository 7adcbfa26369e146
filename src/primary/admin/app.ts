/**
 * The admin server on the admin port (loopback by default, never the proxy's port): the GUI,
 * the JSON API under /api/v1/, the live WebSocket feed, /metrics, /healthz and /readyz. It binds
 * its port exclusively, so a second process cannot silently share it (uWS defaults to
 * SO_REUSEPORT). No CORS headers are ever sent, no GET mutates, and mutations check the token
 * and the Origin.
 */
import type { HttpResponse, WebSocket, us_listen_socket } from 'uWebSockets.js';
import type { Logger } from 'pino';
import { IngressError } from '../../shared/errors.js';
import { formatListenFailure, probeListen } from '../../shared/listen-probe.js';
import { loadUws } from '../../shared/uws-native.js';
import type { LiveSample } from '../metrics/live.js';
import { CONTENT_TYPE as METRICS_CONTENT_TYPE } from '../metrics/exposition.js';
import { handleApi, MUTATIONS, type AdminContext } from './api.js';
import { bearerMatches, originAllowed, tokenFromProtocols, tokenMatches, WS_PROTOCOL } from './auth.js';
import type { GuiAssets } from './gui-assets.js';

/** LIBUS_LISTEN_EXCLUSIVE_PORT: no SO_REUSEPORT for this socket. */
const EXCLUSIVE_PORT = 1;
/** Largest mutation body accepted. */
const MAX_BODY_BYTES = 64 * 1024;

/** AdminServerOptions configures the admin server. */
export interface AdminServerOptions {
  readonly address: string;
  readonly port: number;
  readonly ctx: AdminContext;
  readonly token: string;
  readonly publicRead: boolean;
  readonly metrics: () => string;
  readonly history: () => readonly LiveSample[];
  readonly gui: GuiAssets;
  readonly log: Logger;
}

/** AdminServer is a started admin listener. */
export interface AdminServer {
  readonly port: number;
  /** publish pushes one live sample to every connected GUI. */
  publish(sample: LiveSample): void;
  close(): void;
}

interface Reply {
  readonly status: number;
  readonly type: string;
  readonly body: string | Uint8Array;
  readonly headers?: readonly (readonly [string, string])[];
}

const STATUS_TEXT: Record<number, string> = { 200: 'OK', 304: 'Not Modified', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 413: 'Content Too Large', 500: 'Internal Server Error', 501: 'Not Implemented', 503: 'Service Unavailable' };
const json = (status: number, body: unknown): Reply => ({ status, type: 'application/json', body: JSON.stringify(body) });
const text = (status: number, body: string): Reply => ({ status, type: 'text/plain; charset=utf-8', body });

function send(res: HttpResponse, r: Reply, head: boolean): void {
  res.cork(() => {
    res.writeStatus(`${r.status} ${STATUS_TEXT[r.status] ?? 'Unknown'}`);
    res.writeHeader('Content-Type', r.type).writeHeader('Cache-Control', 'no-store').writeHeader('X-Content-Type-Options', 'nosniff');
    for (const [k, v] of r.headers ?? []) res.writeHeader(k, v);
    if (head) res.endWithoutBody(typeof r.body === 'string' ? Buffer.byteLength(r.body) : r.body.byteLength);
    else res.end(r.body);
  });
}

/** startAdminServer listens and serves the admin endpoints. */
export function startAdminServer(opts: AdminServerOptions): Promise<AdminServer> {
  const uWS = loadUws();
  const { ctx, token, log } = opts;
  const app = uWS.App();
  const sockets = new Set<WebSocket<unknown>>();

  const authorized = (authorization: string): boolean => bearerMatches(authorization, token);

  app.any('/*', (res, req) => {
    const method = req.getCaseSensitiveMethod();
    const path = req.getUrl();
    const query = new URLSearchParams(req.getQuery() ?? '');
    const authorization = req.getHeader('authorization');
    const origin = req.getHeader('origin');
    const host = req.getHeader('host');
    const head = method === 'HEAD';
    const read = method === 'GET' || head;

    if (path === '/healthz' && read) {
      // Alive unless workers cannot serve (a listener they cannot bind, a port shared with
      // another process): then a liveness probe restarts us, and the start-up checks say why.
      const problems = ctx.health?.() ?? [];
      return send(res, problems.length === 0 ? text(200, 'ok\n') : text(503, `unhealthy:\n${problems.map((p) => `  ${p}\n`).join('')}`), head);
    }
    if (path === '/readyz' && read) {
      const ready = ctx.ready();
      return send(res, json(ready ? 200 : 503, { ready, generation: ctx.generation(), workers: ctx.workers() }), head);
    }
    if (read && !path.startsWith('/api/') && path !== '/metrics') {
      const asset = opts.gui.get(path);
      if (asset === undefined) return send(res, text(404, '404 Not Found\n'), head);
      if (req.getHeader('if-none-match') === asset.etag) return send(res, { status: 304, type: asset.type, body: '', headers: [['ETag', asset.etag]] }, true);
      return send(res, { status: 200, type: asset.type, body: asset.body, headers: [['ETag', asset.etag], ['Content-Security-Policy', "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'"], ['X-Frame-Options', 'DENY'], ['Referrer-Policy', 'no-referrer']] }, head);
    }

    const mutation = MUTATIONS.has(path);
    if (mutation || !opts.publicRead) {
      if (!authorized(authorization)) return send(res, { ...json(401, { error: 'a bearer token is required: Authorization: Bearer <admin token>' }), headers: [['WWW-Authenticate', 'Bearer realm="flusso-admin"']] }, head);
    }
    if (path === '/metrics') {
      if (!read) return send(res, json(405, { error: 'use GET' }), head);
      return send(res, { status: 200, type: METRICS_CONTENT_TYPE, body: opts.metrics() }, head);
    }
    if (!mutation || method !== 'POST') {
      const reply = apiReply(method, path, query, undefined);
      if (!(reply instanceof Promise)) return send(res, reply, head);
      // Reads answer synchronously today; one that waits must still survive the client leaving.
      let gone = false;
      res.onAborted(() => {
        gone = true;
      });
      void reply.then((r) => {
        if (!gone) send(res, r, head);
      });
      return;
    }
    if (!originAllowed(origin, host)) return send(res, json(403, { error: 'cross-origin mutations are refused' }), false);

    // A mutation: read the JSON body (bounded), then answer.
    let aborted = false;
    let size = 0;
    const chunks: Buffer[] = [];
    res.onAborted(() => {
      aborted = true;
    });
    res.onData((chunk, last) => {
      if (aborted) return;
      size += chunk.byteLength;
      if (size > MAX_BODY_BYTES) {
        aborted = true;
        res.cork(() => res.writeStatus('413 Content Too Large').writeHeader('Content-Type', 'application/json').end(JSON.stringify({ error: 'body too large' }), true));
        return;
      }
      chunks.push(Buffer.copyBytesFrom(new Uint8Array(chunk)));
      if (!last) return;
      let body: unknown;
      try {
        const raw = Buffer.concat(chunks).toString('utf8');
        body = raw.trim() === '' ? {} : JSON.parse(raw);
      } catch {
        send(res, json(400, { error: 'the body is not valid JSON' }), false);
        return;
      }
      const finish = (reply: Reply): void => {
        // A purge waits for the workers: the client may have gone meanwhile (onAborted above).
        if (aborted) return;
        if (reply.status === 200) log.info({ path, body }, 'admin mutation');
        send(res, reply, false);
      };
      const reply = apiReply(method, path, query, body);
      if (reply instanceof Promise) void reply.then(finish);
      else finish(reply);
    });
  });

  function apiReply(method: string, path: string, query: URLSearchParams, body: unknown): Reply | Promise<Reply> {
    const failed = (err: unknown): Reply => {
      log.error({ err, path }, 'admin API handler failed');
      return json(500, { error: 'internal error' });
    };
    try {
      const r = handleApi(ctx, { method, path, query, body });
      return r instanceof Promise ? r.then((x) => json(x.status, x.body), failed) : json(r.status, r.body);
    } catch (err) {
      return failed(err);
    }
  }

  app.ws('/api/v1/live', {
    idleTimeout: 120,
    maxPayloadLength: 4096,
    sendPingsAutomatically: true,
    upgrade: (res, req, context) => {
      const offered = req.getHeader('sec-websocket-protocol');
      const key = req.getHeader('sec-websocket-key');
      const extensions = req.getHeader('sec-websocket-extensions');
      const origin = req.getHeader('origin');
      const host = req.getHeader('host');
      const presented = tokenFromProtocols(offered);
      if (!originAllowed(origin, host) || (!opts.publicRead && !tokenMatches(presented, token))) {
        res.writeStatus('401 Unauthorized').end('a valid token subprotocol is required\n', true);
        return;
      }
      // Answer with our protocol name, never echo the token back.
      res.upgrade({}, key, offered.includes(WS_PROTOCOL) ? WS_PROTOCOL : '', extensions, context);
    },
    open: (ws) => {
      sockets.add(ws);
      ws.send(JSON.stringify({ type: 'history', samples: opts.history() }));
    },
    message: () => {},
    close: (ws) => {
      sockets.delete(ws);
    },
  });

  return new Promise((resolve, reject) => {
    // The binding takes (host, port, options, cb); the bundled d.ts only declares (port, options, cb).
    const listen = app.listen as unknown as (host: string, port: number, options: number, cb: (token: us_listen_socket | false) => void) => void;
    listen.call(app, opts.address, opts.port, EXCLUSIVE_PORT, (listenSocket) => {
      if (!listenSocket) {
        // uWS says only `false`: a plain bind of the same address and port says why.
        const host = opts.address.includes(':') ? `[${opts.address}]` : opts.address;
        const message = `cannot bind the admin listener ${host}:${opts.port} (--admin-port / --admin-address)`;
        void probeListen(opts.address, opts.port)
          .catch(() => null)
          .then((failure) => reject(new IngressError('ING_ERR_LISTEN_FAILED', failure === null ? message : `${message}: ${formatListenFailure(failure)}`)));
        return;
      }
      resolve({
        port: uWS.us_socket_local_port(listenSocket),
        publish: (sample) => {
          const message = JSON.stringify({ type: 'sample', sample });
          for (const ws of sockets) ws.send(message);
        },
        close: () => {
          uWS.us_listen_socket_close(listenSocket);
          for (const ws of sockets) ws.end(1001, 'shutting down');
        },
      });
    });
  });
}
