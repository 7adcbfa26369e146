/**
 * The conformance echo backend: a node:http server that answers every request with a JSON
 * description of what it received, keeping the contract of the upstream Ingress conformance
 * echo image (test/fixtures/conformance/ingress-v1/SCENARIOS.md §3). Tests and the demo run one
 * per "pod"; the `service` and `pod` fields are how a response tells which backend served it.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** EchoIdentity is what the upstream harness passes as NAMESPACE, INGRESS_NAME, SERVICE_NAME, POD_NAME. */
export interface EchoIdentity {
  readonly namespace: string;
  readonly ingress: string;
  readonly service: string;
  readonly pod: string;
}

/** EchoServerOptions configures startEchoServer. */
export interface EchoServerOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly identity: EchoIdentity;
  /** Wait this long after the request body ends before answering (drain and timeout tests). */
  readonly responseDelayMs?: number;
  /** Called when a request's head arrives, before its body is read (tests wait on it). */
  readonly onRequest?: (method: string, target: string) => void;
}

/** EchoServer is a started echo backend. */
export interface EchoServer {
  readonly port: number;
  /** close stops listening, drops open connections and resolves once the server is closed. */
  close(): Promise<void>;
}

/** EchoPayload is the JSON body of an echo response (keys exactly as the upstream image writes them). */
export interface EchoPayload {
  readonly path: string;
  readonly host: string;
  readonly method: string;
  readonly proto: string;
  readonly headers: Record<string, string[]>;
  readonly namespace: string;
  readonly ingress: string;
  readonly service: string;
  readonly pod: string;
  /** Not in the upstream contract (extra keys are allowed): the request body size in bytes. */
  readonly bodyLength: number;
  /** Not in the upstream contract: hex SHA-256 of the request body. */
  readonly bodySha256: string;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * canonicalHeaderKey is Go's textproto.CanonicalMIMEHeaderKey: the first letter and every letter
 * after a hyphen upper-case, the rest lower-case. Like Go, a name holding a byte that is not a
 * token character is returned unchanged.
 */
export function canonicalHeaderKey(name: string): string {
  if (!TOKEN.test(name)) return name;
  let upper = true;
  let out = '';
  for (const ch of name) {
    out += upper ? ch.toUpperCase() : ch.toLowerCase();
    upper = ch === '-';
  }
  return out;
}

/**
 * echoHeaders groups the raw request headers the way Go's http.Request.Header does: canonical
 * names, one array entry per field line, Host left out (Go moves it to Request.Host).
 */
export function echoHeaders(rawHeaders: readonly string[]): Record<string, string[]> {
  const headers: Record<string, string[]> = {};
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = canonicalHeaderKey(rawHeaders[i] ?? '');
    if (name === 'Host') continue;
    (headers[name] ??= []).push(rawHeaders[i + 1] ?? '');
  }
  return headers;
}

/**
 * startEchoServer starts one echo backend on `host:port` and resolves once it listens.
 * `GET /health` answers `OK`; every other request gets 200 with an EchoPayload. Setting
 * `ECHO_LOG=1` in the environment prints the upstream image's per-request line to stdout.
 */
export function startEchoServer(opts: EchoServerOptions): Promise<EchoServer> {
  const logRequests = process.env.ECHO_LOG === '1';
  // Go's http.Server, which the upstream echo image runs, reads heads up to 1 MB (Node: 16 KiB).
  const server = createServer({ maxHeaderSize: 1024 * 1024 }, (req, res) => {
    handle(req, res, opts, logRequests);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: opts.host, port: opts.port }, () => {
      server.off('error', reject);
      const { port } = server.address() as AddressInfo;
      resolve({
        port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

function handle(req: IncomingMessage, res: ServerResponse, opts: EchoServerOptions, logRequests: boolean): void {
  opts.onRequest?.(req.method ?? '', req.url ?? '');
  const hash = createHash('sha256');
  let bodyLength = 0;
  req.on('data', (chunk: Buffer) => {
    bodyLength += chunk.length;
    hash.update(chunk);
  });
  // A client (or proxy) that resets mid-body just ends this exchange; nothing to answer.
  req.on('error', () => res.destroy());
  req.on('end', () => {
    const answer = (): void => {
      if (res.destroyed) return;
      const target = req.url ?? '';
      if (logRequests)
        process.stdout.write(
          `Echoing back request made to ${target} to client (${req.socket.remoteAddress ?? ''}:${req.socket.remotePort ?? ''})\n`,
        );
      // The upstream image registers /health on a Go ServeMux, which ignores the query string.
      if (target.split('?')[0] === '/health') {
        res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': '2' });
        res.end('OK');
        return;
      }
      const payload: EchoPayload = {
        path: target,
        host: req.headers.host ?? '',
        method: req.method ?? '',
        proto: `HTTP/${req.httpVersion}`,
        headers: echoHeaders(req.rawHeaders),
        namespace: opts.identity.namespace,
        ingress: opts.identity.ingress,
        service: opts.identity.service,
        pod: opts.identity.pod,
        bodyLength,
        bodySha256: hash.digest('hex'),
      };
      const body = Buffer.from(JSON.stringify(payload));
      res.writeHead(200, {
        'Content-Type': 'application/json',
        'X-Content-Type-Options': 'nosniff',
        'Content-Length': String(body.length),
      });
      res.end(body);
    };
    if (opts.responseDelayMs !== undefined && opts.responseDelayMs > 0) setTimeout(answer, opts.responseDelayMs);
    else answer();
  });
}
