/**
 * Validators: the conditional request a stale entry sends upstream, the client conditionals the
 * proxy answers with 304 itself, and the header merge a 304 applies to the entry (RFC 9111 §4.3,
 * RFC 9110 §13).
 */
import type { CachedResponse } from './freshness.js';
import { headerValue, parseHttpDate, splitList, type HeaderPairs, type HeaderSource } from './headers.js';
import { HOP_BY_HOP, stripHopByHop } from './hop-by-hop.js';

/** conditionalHeaders returns the validators to send upstream for a stale entry: If-None-Match and/or If-Modified-Since. */
export function conditionalHeaders(entry: CachedResponse): [string, string][] {
  const out: [string, string][] = [];
  const etag = headerValue(entry.headers, 'etag');
  if (etag !== undefined) out.push(['if-none-match', etag]);
  const lastModified = headerValue(entry.headers, 'last-modified');
  if (lastModified !== undefined && parseHttpDate(lastModified) !== null) out.push(['if-modified-since', lastModified]);
  return out;
}

/** hasValidator reports whether the entry can be revalidated (it has an ETag or a valid Last-Modified). */
export function hasValidator(entry: CachedResponse): boolean {
  return conditionalHeaders(entry).length > 0;
}

/** opaqueTag returns an entity-tag without its weak prefix, or null when it is not a quoted tag. */
function opaqueTag(tag: string): string | null {
  const t = tag.startsWith('W/') ? tag.slice(2) : tag;
  return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t : null;
}

/**
 * clientConditionalMatch reports whether the client's own validators match the entry, so the
 * proxy may answer 304 from the cache. If-None-Match uses the weak comparison (RFC 9110 §13.1.2),
 * accepts lists and `*`, and when present makes If-Modified-Since irrelevant (§13.1.3). For
 * If-Modified-Since the entry's Last-Modified is used, else its Date (RFC 9111 §4.3.2).
 */
export function clientConditionalMatch(reqHeaders: HeaderSource, entry: CachedResponse): boolean {
  const inm = headerValue(reqHeaders, 'if-none-match');
  if (inm !== undefined) {
    if (inm.trim() === '*') return true;
    const stored = headerValue(entry.headers, 'etag');
    const storedTag = stored === undefined ? null : opaqueTag(stored.trim());
    if (storedTag === null) return false;
    return splitList(inm).some((t) => opaqueTag(t) === storedTag);
  }
  const since = parseHttpDate(headerValue(reqHeaders, 'if-modified-since'));
  if (since === null) return false;
  const modified = parseHttpDate(headerValue(entry.headers, 'last-modified')) ?? parseHttpDate(headerValue(entry.headers, 'date'));
  return modified !== null && modified <= since;
}

/**
 * Fields a 304 never writes into the stored response: hop-by-hop ones, Content-Length (the 304
 * has no body; §3.2) and Set-Cookie, which belongs to the one client that triggered the
 * revalidation and must never be replayed to others (docs/bad-input.md row 149).
 */
const NOT_MERGED: ReadonlySet<string> = new Set<string>([...HOP_BY_HOP, 'content-length', 'set-cookie']);

/**
 * refreshFrom304 returns the entry updated by a 304 (§4.3.4): each field of the 304 replaces the
 * stored field of that name, the rest are kept, and response_time/request_time move to this
 * revalidation. It returns null when the 304 names a different strong validator than the entry's,
 * in which case the entry must not be updated and the caller fetches unconditionally.
 */
export function refreshFrom304<E extends CachedResponse>(entry: E, res304Headers: HeaderPairs, nowMs: number, requestTimeMs: number = nowMs): E | null {
  const incoming = stripHopByHop(res304Headers);
  const newTag = headerValue(incoming, 'etag');
  const oldTag = headerValue(entry.headers, 'etag');
  if (newTag !== undefined && !newTag.trim().startsWith('W/') && opaqueTag(newTag.trim()) !== (oldTag === undefined ? null : opaqueTag(oldTag.trim()))) return null;
  const replaced = new Set<string>();
  for (const [n] of incoming) if (!NOT_MERGED.has(n.toLowerCase())) replaced.add(n.toLowerCase());
  const stored = Array.isArray(entry.headers) ? (entry.headers as HeaderPairs) : recordToPairs(entry.headers);
  // Names keep their case: the stored ones as first received, the 304's as it wrote them.
  const headers: [string, string][] = [];
  for (const [n, v] of stored) if (!replaced.has(n.toLowerCase())) headers.push([n, v]);
  for (const [n, v] of incoming) if (replaced.has(n.toLowerCase())) headers.push([n, v]);
  return { ...entry, headers, storedAt: nowMs, requestTime: requestTimeMs };
}

function recordToPairs(headers: HeaderSource): HeaderPairs {
  const out: [string, string][] = [];
  for (const [n, v] of Object.entries(headers)) {
    if (typeof v === 'string') out.push([n, v]);
    else if (Array.isArray(v)) for (const x of v as string[]) out.push([n, x]);
  }
  return out;
}
