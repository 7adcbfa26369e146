/**
 * Request-target checks and path normalisation (docs/bad-input.md §B rows 42–44, §H).
 *
 * The rule for §H: the path used for matching is the path forwarded upstream, so a backend
 * can never see a different resource than the one the route was chosen for.
 */

/**
 * normalizePath returns the path to match and forward, or null when the request must be
 * refused with 400.
 *
 * Refused: a path not starting with `/`; `#` (a fragment never belongs in a request); raw
 * control bytes, spaces, DEL or non-ASCII; a `%` not followed by two hex digits.
 *
 * Then, in one linear pass each:
 * 1. percent-encoded unreserved characters (ALPHA DIGIT `-` `.` `_` `~`, RFC 3986 §2.3) are
 *    decoded, once; every other escape stays as written, so `%2F` is never a separator,
 *    `%252e` stays `%252e`, and overlong UTF-8 such as `%c0%ae` never becomes a dot;
 * 2. dot segments are removed (RFC 3986 §5.2.4): `/a/../b` → `/b`, `/foo/.` → `/foo/`.
 * Slashes are not merged (`//a` stays `//a`), and `\` is an ordinary character.
 *
 * A path that needs none of this is returned as the same string.
 */
export function normalizePath(raw: string): string | null {
  const n = raw.length;
  if (n === 0 || raw.charCodeAt(0) !== 0x2f) return null;
  let dirty = false;
  for (let i = 1; i < n; i++) {
    const c = raw.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c === 0x23 /* # */) return null;
    if (c === 0x25 /* % */) {
      if (i + 2 >= n || hexValue(raw.charCodeAt(i + 1)) < 0 || hexValue(raw.charCodeAt(i + 2)) < 0) return null;
      dirty = true;
      i += 2;
    } else if (c === 0x2e /* . */ && raw.charCodeAt(i - 1) === 0x2f) {
      dirty = true;
    }
  }
  if (!dirty) return raw;
  return removeDotSegments(decodeUnreserved(raw));
}

/**
 * isValidQuery checks the raw query (without `?`): printable ASCII only and no `#`.
 * The query is forwarded as sent, never normalised.
 */
export function isValidQuery(query: string): boolean {
  for (let i = 0; i < query.length; i++) {
    const c = query.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c === 0x23) return false;
  }
  return true;
}

function decodeUnreserved(raw: string): string {
  let out = '';
  let from = 0;
  for (let i = raw.indexOf('%'); i >= 0; i = raw.indexOf('%', i)) {
    const v = (hexValue(raw.charCodeAt(i + 1)) << 4) | hexValue(raw.charCodeAt(i + 2));
    if (isUnreserved(v)) {
      out += raw.slice(from, i) + String.fromCharCode(v);
      from = i + 3;
    }
    i += 3;
  }
  return from === 0 ? raw : out + raw.slice(from);
}

function removeDotSegments(path: string): string {
  if (!path.includes('/.')) return path;
  const segments = path.split('/');
  const out: string[] = [];
  // segments[0] is the empty string before the leading slash.
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i] as string;
    const last = i === segments.length - 1;
    if (s === '.') {
      if (last) out.push('');
    } else if (s === '..') {
      out.pop();
      if (last) out.push('');
    } else {
      out.push(s);
    }
  }
  return '/' + out.join('/');
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

function isUnreserved(v: number): boolean {
  return (
    (v >= 0x41 && v <= 0x5a) || (v >= 0x61 && v <= 0x7a) || (v >= 0x30 && v <= 0x39) ||
    v === 0x2d || v === 0x2e || v === 0x5f || v === 0x7e
  );
}
