/**
 * HTTP clients for integration tests. Every request uses a fresh connection, like the upstream
 * conformance harness (a new Go Transport per request); rawRequest writes bytes verbatim for
 * framing tests that no well-behaved client library would send.
 */
import { request as httpRequestNode, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequestNode } from 'node:https';
import { connect } from 'node:net';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { EchoPayload } from '../../src/demo/echo-server.js';

/** HttpRequestOptions describes one request. */
export interface HttpRequestOptions {
  readonly port: number;
  /** Where to connect; 127.0.0.1 by default. */
  readonly address?: string;
  /** The Host header; by default `<address>:<port>`, as Go sends when the URL names the address. */
  readonly host?: string;
  readonly method?: string;
  readonly path?: string;
  readonly headers?: Record<string, string | string[]>;
  readonly body?: string | Buffer;
  /** Give up after this long (default 10 s, the Go harness' client timeout). */
  readonly timeoutMs?: number;
  /** Speak HTTPS with this SNI name (omit `servername` for no SNI); the certificate is not verified but kept. */
  readonly tls?: { readonly servername?: string; readonly ca?: string };
}

/** HttpResponse is a response read to its end (or to the point the connection failed). */
export interface HttpResponse {
  readonly status: number;
  readonly httpVersion: string;
  /** Lower-cased names, as node:http gives them. */
  readonly headers: IncomingHttpHeaders;
  /** Name/value pairs as received. */
  readonly rawHeaders: readonly string[];
  readonly body: string;
  readonly bodyBytes: Buffer;
  /** The body parsed as the echo payload, when it is a JSON object. */
  readonly json?: EchoPayload;
  /** False when the connection ended before the body was complete. */
  readonly complete: boolean;
  /** Over HTTPS: the certificate the server presented, and whether it verified against `tls.ca`. */
  readonly peerCertificate?: PeerCertificate;
  readonly authorized?: boolean;
}

/** GO_USER_AGENT is what the upstream harness' requests carry. */
export const GO_USER_AGENT = 'Go-http-client/1.1';

/**
 * httpRequest sends one request on a new connection and resolves with the whole response.
 * It rejects when no response head arrives (refused, reset or timed out); a body cut short after
 * the head resolves with `complete: false`.
 */
export function httpRequest(opts: HttpRequestOptions): Promise<HttpResponse> {
  const address = opts.address ?? '127.0.0.1';
  const headers: Record<string, string | string[]> = { ...(opts.headers ?? {}) };
  if (opts.host !== undefined) headers.Host = opts.host;
  return new Promise((resolve, reject) => {
    const common = { host: address, port: opts.port, method: opts.method ?? 'GET', path: opts.path ?? '/', headers, agent: false, setHost: opts.host === undefined };
    const send = (cb: (res: IncomingMessage) => void): ClientRequest =>
      opts.tls === undefined
        ? httpRequestNode(common, cb)
        : httpsRequestNode({ ...common, rejectUnauthorized: false, ...(opts.tls.servername === undefined ? {} : { servername: opts.tls.servername }), ...(opts.tls.ca === undefined ? {} : { ca: opts.tls.ca }) }, cb);
    const req = send(
      (res) => {
        const tlsSocket = opts.tls === undefined ? null : (res.socket as TLSSocket);
        const peer = tlsSocket?.getPeerCertificate();
        const authorized = tlsSocket?.authorized;
        const chunks: Buffer[] = [];
        let settled = false;
        const finish = (complete: boolean): void => {
          if (settled) return;
          settled = true;
          const bodyBytes = Buffer.concat(chunks);
          const body = bodyBytes.toString('utf8');
          let json: EchoPayload | undefined;
          try {
            const parsed: unknown = JSON.parse(body);
            if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) json = parsed as EchoPayload;
          } catch {
            // Not JSON: Flusso's own pages.
          }
          resolve({
            status: res.statusCode ?? 0,
            httpVersion: res.httpVersion,
            headers: res.headers,
            rawHeaders: res.rawHeaders,
            body,
            bodyBytes,
            complete,
            ...(json === undefined ? {} : { json }),
            ...(peer === undefined ? {} : { peerCertificate: peer }),
            ...(authorized === undefined ? {} : { authorized }),
          });
        };
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => finish(res.complete));
        res.on('error', () => finish(false));
        res.on('close', () => finish(res.complete));
      },
    );
    req.setTimeout(opts.timeoutMs ?? 10_000, () => req.destroy(new Error(`no response within ${opts.timeoutMs ?? 10_000} ms`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** RawResult is what came back on a raw connection. */
export interface RawResult {
  readonly raw: string;
  /** True when the peer closed (FIN or reset); false when we stopped after the idle gap. */
  readonly closed: boolean;
}

/**
 * rawRequest writes `bytes` on a new connection and reads until the peer closes or nothing
 * arrives for `idleMs` (default 3 s), then drops the connection. `from` is the local address to
 * connect from (another loopback address, e.g. 127.0.0.2, stands for another client).
 */
export function rawRequest(port: number, bytes: string | Buffer, opts: { address?: string; from?: string; idleMs?: number } = {}): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: opts.address ?? '127.0.0.1', port, ...(opts.from === undefined ? {} : { localAddress: opts.from }) });
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      socket.destroy();
      resolve({ raw: Buffer.concat(chunks).toString('latin1'), closed });
    };
    const arm = (): void => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => finish(false), opts.idleMs ?? 3000);
    };
    socket.once('connect', () => {
      socket.write(bytes);
      arm();
    });
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      arm();
    });
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (!socket.connecting || chunks.length > 0) finish(true);
      else if (!done) {
        done = true;
        if (timer) clearTimeout(timer);
        reject(err);
      }
    });
  });
}

/** statusOf returns the status code of the first response in raw bytes, or 0. */
export function statusOf(raw: string): number {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(raw);
  return m ? Number(m[1]) : 0;
}

/**
 * countResponses counts status lines in raw bytes (a smuggled second request shows up as 2).
 * A status line may follow a body with no line break of its own, so match it anywhere.
 */
export function countResponses(raw: string): number {
  return raw.match(/HTTP\/1\.[01] \d{3} /g)?.length ?? 0;
}
