/**
 * Cache keys. The primary key is the target URI as the upstream sees it; the secondary (Vary) key
 * holds the request fields the response says it varies on. Nothing else goes in: a key built from
 * unkeyed, untrusted fields (X-Forwarded-Host and friends) is how caches get poisoned, and such
 * fields are stripped before the upstream sees them (docs/bad-input.md rows 151–153).
 */
import { headerValue, splitList, type HeaderSource } from './headers.js';

/** KeyParts are the parts of a request's primary key. */
export interface KeyParts {
  /** `http` or `https` (case-insensitive): the two never share entries. */
  readonly scheme: string;
  /** The Host (authority) as received; lower-cased and stripped of the scheme's default port here. */
  readonly host: string;
  /** The path exactly as forwarded upstream (already normalised by the router), without the query. */
  readonly path: string;
  /** The raw query without `?`, kept byte for byte: `a=1&b=2` and `b=2&a=1` are different keys. */
  readonly query: string;
}

const DEFAULT_PORT: Readonly<Record<string, string>> = { http: '80', https: '443' };

/** normalizeHost lower-cases a host and drops the port when it is the scheme's default (`A.com:80` → `a.com`). */
export function normalizeHost(scheme: string, host: string): string {
  const lower = host.toLowerCase();
  const colon = lower.lastIndexOf(':');
  // A colon inside an IPv6 literal is not a port separator: the port follows the closing bracket.
  if (colon < 0 || colon < lower.lastIndexOf(']')) return lower;
  return lower.slice(colon + 1) === DEFAULT_PORT[scheme.toLowerCase()] ? lower.slice(0, colon) : lower;
}

/** primaryKey builds the primary key `scheme://host/path?query` (RFC 9111 §2: the target URI). */
export function primaryKey(parts: KeyParts): string {
  const scheme = parts.scheme.toLowerCase();
  const query = parts.query.startsWith('?') ? parts.query.slice(1) : parts.query;
  return `${scheme}://${normalizeHost(scheme, parts.host)}${parts.path}${query === '' ? '' : `?${query}`}`;
}

/** varyFields returns the field names a Vary value lists, lower-cased, de-duplicated and sorted; null for `*`. */
export function varyFields(varyHeader: string | undefined): string[] | null {
  if (varyHeader === undefined) return [];
  const names = new Set<string>();
  for (const n of splitList(varyHeader)) {
    if (n === '*') return null;
    names.add(n.toLowerCase());
  }
  return [...names].sort();
}

/**
 * varyKey builds the secondary key (RFC 9111 §4.1) from the request fields `varyHeader` names:
 * one `name:value` line per field in sorted name order, values trimmed with runs of whitespace
 * (and the space around commas) collapsed; an absent field is marked apart from an empty one.
 * Returns '' without Vary and null for `Vary: *`, which never matches any request.
 */
export function varyKey(varyHeader: string | undefined, reqHeaders: HeaderSource): string | null {
  const names = varyFields(varyHeader);
  if (names === null) return null;
  let out = '';
  for (const name of names) {
    const value = headerValue(reqHeaders, name);
    // Field values cannot hold a newline, so '\n' separates lines unambiguously.
    out += value === undefined ? `${name}\n` : `${name}:${value.trim().replace(/\s*,\s*/g, ',').replace(/\s+/g, ' ')}\n`;
  }
  return out;
}
