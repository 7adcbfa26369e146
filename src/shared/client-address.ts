/**
 * Which address is the client's (docs/client-address.md): the socket's peer, unless the settings
 * name trusted proxies, as ingress-nginx does with nginx's realip module (`use-forwarded-headers`
 * or `enable-real-ip` with `forwarded-for-header`, `use-proxy-protocol`, `proxy-real-ip-cidr`,
 * always `real_ip_recursive on`). Pure: the worker decides each request's address with it, the
 * explainer says why.
 */
import { firstListed, parseCidr } from './cidr.js';

/** ClientAddressSettings are the trusted-proxy settings a worker runs with. */
export interface ClientAddressSettings {
  /**
   * Where a trusted peer's client address comes from: `header` (the field `header` names, for
   * --use-forwarded-headers or --enable-real-ip), or `proxy-protocol` (the PROXY protocol v2
   * header of the connection, --use-proxy-protocol, which then also requires one on every connection),
   * or `none` (only --compute-full-forwarded-for is set: the peer is the client).
   */
  readonly source: 'header' | 'proxy-protocol' | 'none';
  /** The field holding the address list, lower case (--forwarded-for-header, X-Forwarded-For by default). */
  readonly header: string;
  /** --use-forwarded-headers: a trusted peer's X-Forwarded-Proto and X-Forwarded-Port are passed on (and decide the HTTPS redirect). */
  readonly passForwarded: boolean;
  /** --compute-full-forwarded-for: X-Forwarded-For is the client's list plus the peer, not the client address alone. */
  readonly computeFullForwardedFor: boolean;
  /** --proxy-real-ip-cidr: the peers trusted to say who the client is. */
  readonly trusted: readonly string[];
}

/** parseAddress reads one IPv4 or IPv6 address (no prefix); undefined when it is not one. */
export function parseAddress(text: string): Uint8Array | undefined {
  if (text.includes('/')) return undefined;
  return parseCidr(text)?.bytes;
}

/**
 * parseForwardedEntry reads one entry of an address list as nginx's ngx_parse_addr_port does: an
 * IPv4 or IPv6 address, else `address:port` (an IPv4 address before the first colon) or
 * `[address]:port` (IPv6 or IPv4 in the brackets), the port decimal and 1 to 65535. `[v6]` without
 * a port, port 0 and ports past 65535 are not addresses there, so the walk stops at them
 * (test/integration/client-address-differential.test.ts compares this with nginx).
 */
export function parseForwardedEntry(text: string): Uint8Array | undefined {
  const whole = parseAddress(text);
  if (whole !== undefined) return whole;
  let address: string;
  let port: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text.charCodeAt(close + 1) !== 0x3a) return undefined;
    address = text.slice(1, close);
    port = text.slice(close + 2);
  } else {
    const colon = text.indexOf(':');
    if (colon < 0) return undefined;
    address = text.slice(0, colon);
    port = text.slice(colon + 1);
  }
  if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535) return undefined;
  return parseAddress(address);
}

/** isTrusted says whether `address` is one of the trusted proxies. */
export function isTrusted(trusted: readonly string[], address: Uint8Array): boolean {
  return firstListed(trusted, address) !== null;
}

/**
 * forwardedAddress walks an address list (`value`, entries separated by commas and spaces) from
 * its right end, as nginx's realip module with `real_ip_recursive on`: while the address in hand
 * is a trusted proxy, the next entry to the left stands in for it. It stops at the first
 * untrusted address (the client), at an entry that is not an address (the last good one stays),
 * or at the list's start. Returns null when `peer` itself is not trusted or the list gives no
 * address: the peer is the client then.
 */
export function forwardedAddress(peer: Uint8Array, value: string, trusted: readonly string[]): Uint8Array | null {
  let address = peer;
  let found = false;
  let end = value.length;
  let p = 0;
  do {
    if (!isTrusted(trusted, address)) return found ? address : null;
    p = end - 1;
    while (p > 0 && isSeparator(value.charCodeAt(p))) {
      p--;
      end--;
    }
    while (p > 0) {
      if (isSeparator(value.charCodeAt(p))) {
        p++;
        break;
      }
      p--;
    }
    const entry = parseForwardedEntry(value.slice(p, end));
    if (entry === undefined) return found ? address : null;
    address = entry;
    found = true;
    end = p - 1;
  } while (p > 0);
  return address;
}

function isSeparator(c: number): boolean {
  return c === 0x20 || c === 0x2c;
}

/** invalidTrustedEntries returns the entries of a --proxy-real-ip-cidr list that are not CIDRs or addresses. */
export function invalidTrustedEntries(list: readonly string[]): string[] {
  return list.filter((e) => parseCidr(e) === undefined);
}

/** trustsEveryone says whether the list trusts every IPv4 or every IPv6 peer (a /0). */
export function trustsEveryone(list: readonly string[]): boolean {
  return list.some((e) => parseCidr(e)?.bits === 0);
}
