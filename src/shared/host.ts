/**
 * Host header handling for route lookup (docs/bad-input.md §D rows 73–77).
 */

/**
 * normalizeHost turns a Host header value into the virtual-host lookup key: lower-cased,
 * port removed, one trailing dot removed. An IPv6 literal keeps its brackets
 * (`[::1]:80` → `[::1]`). The empty value stays empty, so it can only reach the catch-all.
 *
 * It returns null when the value is not a valid authority: a character outside the RFC 3986
 * reg-name set (so `/`, `\`, `@`, `%`, controls, spaces and non-ASCII are refused), a
 * non-digit port, a leading dot, an empty label (`a..b`), or a broken IPv6 literal (`[::1`).
 * The proxy answers 400 for those; a router treats them as matching no virtual host.
 *
 * It allocates only when the value needs changing.
 */
export function normalizeHost(raw: string): string | null {
  const n = raw.length;
  if (n === 0) return raw;
  if (raw.charCodeAt(0) === 0x5b /* [ */) return normalizeIpLiteral(raw);
  let lower = false;
  let end = n;
  let prev = 0x2e; // treat the start as following a dot, so a leading dot is refused
  for (let i = 0; i < n; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x3a /* : */) {
      if (!allDigits(raw, i + 1)) return null;
      end = i;
      break;
    }
    if (c === 0x2e) {
      if (prev === 0x2e) return null;
    } else if (c >= 0x41 && c <= 0x5a) {
      lower = true;
    } else if (!isRegNameChar(c)) {
      return null;
    }
    prev = c;
  }
  if (end > 0 && raw.charCodeAt(end - 1) === 0x2e) end--;
  const key = end === n ? raw : raw.slice(0, end);
  return lower ? key.toLowerCase() : key;
}

function normalizeIpLiteral(raw: string): string | null {
  const close = raw.indexOf(']');
  if (close < 2) return null;
  for (let i = 1; i < close; i++) {
    const c = raw.charCodeAt(i);
    const ok = (c >= 0x30 && c <= 0x3a) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46) || c === 0x2e;
    if (!ok) return null;
  }
  if (close + 1 < raw.length) {
    if (raw.charCodeAt(close + 1) !== 0x3a || !allDigits(raw, close + 2)) return null;
  }
  return raw.slice(0, close + 1).toLowerCase();
}

function allDigits(s: string, from: number): boolean {
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/** RFC 3986 reg-name characters other than upper-case letters, `.` and `%`. */
function isRegNameChar(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) || // a-z
    (c >= 0x30 && c <= 0x39) || // 0-9
    c === 0x2d || c === 0x5f || c === 0x7e || // - _ ~
    c === 0x21 || c === 0x24 || (c >= 0x26 && c <= 0x2c) || c === 0x3b || c === 0x3d // ! $ & ' ( ) * + , ; =
  );
}
