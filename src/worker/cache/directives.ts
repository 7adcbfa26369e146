/**
 * Cache-Control parsing (RFC 9111 §5.2), tolerant the way deployed caches are: names are
 * case-insensitive, values may be quoted, the first occurrence of a valued directive wins, and
 * a directive whose number does not parse is ignored rather than failing the whole field.
 */
import { splitList } from './headers.js';

/** CacheDirectives is a parsed Cache-Control field (request or response); absent numbers are undefined. */
export interface CacheDirectives {
  readonly maxAge?: number;
  readonly sMaxAge?: number;
  readonly maxStale?: number;
  readonly minFresh?: number;
  readonly staleWhileRevalidate?: number;
  readonly staleIfError?: number;
  readonly noStore: boolean;
  /** no-cache, qualified or not: a qualified `no-cache="f"` is treated as unqualified (§5.2.2.4 allows it). */
  readonly noCache: boolean;
  /** private, qualified or not: a shared cache treats `private="f"` as `private` (conservative). */
  readonly private: boolean;
  readonly public: boolean;
  readonly mustRevalidate: boolean;
  readonly proxyRevalidate: boolean;
  readonly onlyIfCached: boolean;
  readonly noTransform: boolean;
  readonly immutable: boolean;
}

/** DELTA_SECONDS_MAX is the clamp of RFC 9111 §1.2.2: larger delta-seconds mean 2^31. */
export const DELTA_SECONDS_MAX = 2_147_483_648;

const NUMERIC: Readonly<Record<string, keyof CacheDirectives>> = {
  'max-age': 'maxAge',
  's-maxage': 'sMaxAge',
  'max-stale': 'maxStale',
  'min-fresh': 'minFresh',
  'stale-while-revalidate': 'staleWhileRevalidate',
  'stale-if-error': 'staleIfError',
};

const FLAGS: Readonly<Record<string, keyof CacheDirectives>> = {
  'no-store': 'noStore',
  'no-cache': 'noCache',
  private: 'private',
  public: 'public',
  'must-revalidate': 'mustRevalidate',
  'proxy-revalidate': 'proxyRevalidate',
  'only-if-cached': 'onlyIfCached',
  'no-transform': 'noTransform',
  immutable: 'immutable',
};

/** parseCacheControl parses a Cache-Control field value; an undefined or empty value gives no directives. */
export function parseCacheControl(value: string | undefined): CacheDirectives {
  const out: Record<string, number | boolean> = {
    noStore: false, noCache: false, private: false, public: false, mustRevalidate: false,
    proxyRevalidate: false, onlyIfCached: false, noTransform: false, immutable: false,
  };
  if (value === undefined) return out as unknown as CacheDirectives;
  for (const member of splitList(value)) {
    const eq = member.indexOf('=');
    const name = (eq < 0 ? member : member.slice(0, eq)).trim().toLowerCase();
    const flag = FLAGS[name];
    if (flag !== undefined) {
      out[flag] = true;
      continue;
    }
    const numeric = NUMERIC[name];
    if (numeric === undefined || eq < 0 || out[numeric] !== undefined) continue;
    const seconds = parseDelta(unquote(member.slice(eq + 1).trim()));
    if (seconds !== null) out[numeric] = seconds;
  }
  return out as unknown as CacheDirectives;
}

function unquote(v: string): string {
  return v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1).replace(/\\(.)/g, '$1') : v;
}

/** parseDelta parses delta-seconds (digits only), clamped per §1.2.2; null when it is not a number. */
function parseDelta(v: string): number | null {
  if (!/^\d+$/.test(v)) return null;
  const n = Number(v);
  return n > DELTA_SECONDS_MAX ? DELTA_SECONDS_MAX : n;
}
