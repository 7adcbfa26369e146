/**
 * ClientAddress decides the current request's client address once, on first use, and every part
 * of the request path reads it from here: the address lists, limit-rps / limit-rpm keys and
 * limit-whitelist, limit-connections, upstream-hash-by's `$remote_addr`, X-Forwarded-For and
 * X-Real-IP, the auth-url subrequest and the access log (docs/client-address.md).
 *
 * Without trusted-proxy settings it is the socket's peer, read once. With them, a trusted peer
 * (--proxy-real-ip-cidr) may name the client: in the --forwarded-for-header list, walked as
 * nginx's realip module does (shared/client-address.ts), or in the connection's PROXY protocol v2
 * header. It must be read while the request's head is (synchronously, in the handler): one
 * instance serves every request of a handler, like RequestHead.
 */
import type { HttpResponse } from 'uWebSockets.js';
import { forwardedAddress, isTrusted, type ClientAddressSettings } from '../../shared/client-address.js';
import { formatAddress } from './address.js';
import { forwardableValue, type ForwardingInfo, type RequestHead } from './headers.js';

/** The part of a uWS response the address is read from (node-response.ts has it too). */
type AddressSource = Pick<HttpResponse, 'getRemoteAddress' | 'getProxiedRemoteAddress'>;

/** ClientAddress holds the current request's client address (see the module comment). */
export class ClientAddress {
  readonly #settings: ClientAddressSettings | null;
  readonly #head: RequestHead;
  #res: AddressSource | null = null;
  #bytes: Uint8Array | null = null;
  #text: string | null = null;
  /** Set with the address when settings exist: the address the forwarding fields append, and the peer's say. */
  #peerText = '';
  #trustedPeer = false;

  constructor(settings: ClientAddressSettings | null, head: RequestHead) {
    this.#settings = settings;
    this.#head = head;
  }

  /** begin starts a request: nothing is read until something asks. */
  begin(res: AddressSource): void {
    this.#res = res;
    this.#bytes = null;
    this.#text = null;
  }

  /**
   * proxyHeaderRefused says whether the connection's PROXY protocol header refuses the request:
   * one sent without --use-proxy-protocol (a client's address must never stand in for the peer's),
   * or none with it on the HTTP port (as nginx's `listen … proxy_protocol`, which takes no
   * connection without one). On the HTTPS port the header comes before TLS: the node:http2 front
   * closes a connection without one before any request (node-front.ts), and a LOCAL header (a
   * balancer's health check) names no address; the uWS front reads none (docs/client-address.md).
   */
  proxyHeaderRefused(res: AddressSource, scheme: 'http' | 'https'): boolean {
    const sent = res.getProxiedRemoteAddress().byteLength !== 0;
    if (this.#settings?.source !== 'proxy-protocol') return sent;
    return scheme === 'http' ? !sent : false;
  }

  /** bytes is the client address, 4 or 16 bytes. */
  bytes(): Uint8Array {
    if (this.#bytes === null) this.#decide();
    return this.#bytes as Uint8Array;
  }

  /** text is the client address as nginx's `$remote_addr` writes it. */
  text(): string {
    if (this.#text === null) {
      if (this.#settings === null) this.#text = formatAddress(this.#bytes === null ? (this.#res as AddressSource).getRemoteAddress() : (this.#bytes.buffer as ArrayBuffer));
      else {
        const b = this.bytes();
        this.#text = formatAddress(b.buffer.byteLength === b.length ? (b.buffer as ArrayBuffer) : b.slice().buffer);
      }
    }
    return this.#text;
  }

  /**
   * forwardedFor is the X-Forwarded-For value sent upstream: the client address, or with
   * --compute-full-forwarded-for and --use-forwarded-headers the client's own list followed by
   * the peer (the PROXY header's address with --use-proxy-protocol), as ingress-nginx's
   * `$full_x_forwarded_for`.
   */
  forwardedFor(): string {
    const address = this.text();
    const s = this.#settings;
    // ingress-nginx renders $full_x_forwarded_for only with use-forwarded-headers too
    // (`if and UseForwardedHeaders ComputeFullForwardedFor`); else it sends $remote_addr.
    if (s === null || !s.computeFullForwardedFor || !s.passForwarded) return address;
    const sent = this.#head.forwardedFor === '' ? null : forwardableValue(this.#head.forwardedFor);
    return sent === null ? this.#peerText : `${sent}, ${this.#peerText}`;
  }

  /**
   * originalForwardedFor is what X-Original-Forwarded-For carries when --forwarded-for-header
   * names another field than X-Forwarded-For: that field's first line ('' when absent), as
   * ingress-nginx sends `$http_<header>`; undefined with the default (headers.ts then sends the
   * client's X-Forwarded-For lines).
   */
  originalForwardedFor(): string | undefined {
    const s = this.#settings;
    if (s === null || s.header === 'x-forwarded-for') return undefined;
    const i = this.#head.names.indexOf(s.header);
    return i < 0 ? '' : (this.#head.values[i] as string);
  }

  /**
   * forwarding is what buildUpstreamHeaders (headers.ts) adds for the current request, whose
   * client address is `clientAddress` (text()), on a listener of `scheme` and `port`.
   */
  forwarding(clientAddress: string, scheme: string, port: string, contentLength: string | null): ForwardingInfo {
    if (this.#settings === null) return { clientAddress, port, proto: scheme, contentLength };
    const original = this.originalForwardedFor();
    return { clientAddress, forwardedFor: this.forwardedFor(), ...(original === undefined ? {} : { originalForwardedFor: original }), port: this.port(port), proto: this.proto(scheme), contentLength };
  }

  /** proto is X-Forwarded-Proto: the listener's scheme, or a trusted peer's X-Forwarded-Proto with --use-forwarded-headers. */
  proto(scheme: string): string {
    return this.#passed('x-forwarded-proto') ?? scheme;
  }

  /** port is X-Forwarded-Port: the listener's port, or a trusted peer's X-Forwarded-Port with --use-forwarded-headers. */
  port(port: string): string {
    return this.#passed('x-forwarded-port') ?? port;
  }

  /** #passed is a trusted peer's non-empty `name` field with --use-forwarded-headers, else null. */
  #passed(name: string): string | null {
    const s = this.#settings;
    if (s === null || !s.passForwarded) return null;
    this.bytes();
    if (!this.#trustedPeer) return null;
    const i = this.#head.names.indexOf(name);
    if (i < 0) return null;
    const v = forwardableValue(this.#head.values[i] as string);
    return v === null || v === '' ? null : v;
  }

  #decide(): void {
    const res = this.#res as AddressSource;
    const peerBuf = res.getRemoteAddress();
    const peer = new Uint8Array(peerBuf);
    const s = this.#settings;
    if (s === null) {
      this.#bytes = peer;
      return;
    }
    this.#trustedPeer = isTrusted(s.trusted, peer);
    if (s.source === 'proxy-protocol') {
      const proxied = res.getProxiedRemoteAddress();
      this.#peerText = formatAddress(proxied);
      this.#bytes = this.#trustedPeer && proxied.byteLength !== 0 ? new Uint8Array(proxied.slice(0)) : peer;
      return;
    }
    this.#peerText = formatAddress(peerBuf);
    if (s.source === 'none') {
      this.#bytes = peer;
      return;
    }
    const value = s.header === 'x-forwarded-for' ? this.#head.forwardedFor : this.#field(s.header);
    this.#bytes = (this.#trustedPeer && value !== '' ? forwardedAddress(peer, value, s.trusted) : null) ?? peer;
  }

  #field(name: string): string {
    const i = this.#head.names.indexOf(name);
    return i < 0 ? '' : (this.#head.values[i] as string);
  }
}

