/**
 * HTTP/2 to the upstreams that speak it (issue 12: gRPC, appProtocol kubernetes.io/h2c;
 * docs/http2.md): one node:http2 session per endpoint per worker, shared by every request to it
 * (HTTP/2 multiplexes; the endpoint's SETTINGS_MAX_CONCURRENT_STREAMS bounds the streams and
 * nghttp2 queues the rest). A session that fails, is refused or receives GOAWAY is dropped and the
 * next request connects anew; an idle session closes after the upstream keep-alive timeout.
 */
import { connect, type ClientHttp2Session } from 'node:http2';

/** H2Protocol is how an endpoint is reached: h2c without TLS, h2 over TLS. */
export type H2Protocol = 'h2c' | 'h2';

/** H2SessionsOptions configure H2Sessions. */
export interface H2SessionsOptions {
  /** A session that is not connected after this long is destroyed (its requests fail). */
  readonly connectTimeoutMs: number;
  /** A session with no stream for this long is closed. */
  readonly idleTimeoutMs: number;
}

/** H2Sessions keeps the HTTP/2 sessions of one worker, by protocol and endpoint. */
export class H2Sessions {
  readonly #o: H2SessionsOptions;
  readonly #sessions = new Map<string, ClientHttp2Session>();

  constructor(opts: H2SessionsOptions) {
    if (!(opts.connectTimeoutMs > 0) || !(opts.idleTimeoutMs > 0)) throw new RangeError('H2Sessions: timeouts must be positive');
    this.#o = opts;
  }

  /** size is the number of sessions open or connecting. */
  get size(): number {
    return this.#sessions.size;
  }

  /** session returns the session to `address:port`, connecting when there is none usable. */
  session(protocol: H2Protocol, address: string, port: number): ClientHttp2Session {
    const key = `${protocol}|${address}|${port}`;
    const known = this.#sessions.get(key);
    if (known !== undefined && !known.closed && !known.destroyed) return known;
    const host = address.includes(':') ? `[${address}]` : address;
    // GRPCS as ingress-nginx does it by default (proxy_ssl_verify off): TLS without verifying the endpoint.
    const s = connect(`${protocol === 'h2' ? 'https' : 'http'}://${host}:${port}`, protocol === 'h2' ? { rejectUnauthorized: false } : {});
    this.#sessions.set(key, s);
    const forget = (): void => {
      if (this.#sessions.get(key) === s) this.#sessions.delete(key);
    };
    const timer = setTimeout(() => s.destroy(new Error(`connect to ${host}:${port} timed out`)), this.#o.connectTimeoutMs);
    s.once('connect', () => clearTimeout(timer));
    s.on('close', () => {
      clearTimeout(timer);
      forget();
    });
    s.on('goaway', forget);
    s.on('error', forget); // each stream of the session fails with the error too
    s.setTimeout(this.#o.idleTimeoutMs, () => {
      forget();
      s.close();
    });
    return s;
  }

  /** close closes every session (open streams finish). */
  close(): void {
    for (const s of this.#sessions.values()) s.close();
    this.#sessions.clear();
  }
}
