/**
 * Hop-by-hop fields a cache must not store (RFC 9111 §3.1, RFC 9110 §7.6.1; docs/bad-input.md row 162).
 */
import { splitList, type HeaderPairs } from './headers.js';

/** HOP_BY_HOP lists the fields that are never stored, lower case. */
export const HOP_BY_HOP: readonly string[] = [
  'connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade',
  'proxy-authenticate', 'proxy-authorization',
];

const HOP: ReadonlySet<string> = new Set(HOP_BY_HOP);

/**
 * stripHopByHop returns the pairs without hop-by-hop fields and without the fields the Connection
 * header lists. Names keep the case they came in: a stored response replays them as the origin
 * wrote them, as the proxy forwards them on a miss (README.md, Response cache).
 */
export function stripHopByHop(headers: HeaderPairs): [string, string][] {
  const listed = new Set<string>();
  for (const [n, v] of headers) if (n.toLowerCase() === 'connection') for (const t of splitList(v)) listed.add(t.toLowerCase());
  const out: [string, string][] = [];
  for (const [n, v] of headers) {
    const lower = n.toLowerCase();
    if (!HOP.has(lower) && !listed.has(lower)) out.push([n, v]);
  }
  return out;
}
