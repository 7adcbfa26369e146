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
 * parseForwardedEntry reads one entry of an address list as nginx's ngx_parse_addr_port does:
 * `a.b.c.d`, `a.b.c.d:port`, an IPv6 address, or `[v6]` with or without `:port`.
 */
export function parseForwardedEntry(text: string): Uint8Array | undefined {
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return undefined;
    const rest = text.slice(close + 1);
    if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return undefined;
    const a = parseAddress(text.slice(1, close));
    return a?.length === 16 ? a : undefined;
  }
  const colon = text.indexOf(':');
  if (colon >= 0 && colon === text.lastIndexOf(':')) {
    // One colon: an IPv4 address and a port.
    if (!/^\d{1,5}$/.test(text.slice(colon + 1))) return undefined;
    const a = parseAddress(text.slice(0, colon));
    return a?.length === 4 ? a : undefined;
  }
  return parseAddress(text);
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
