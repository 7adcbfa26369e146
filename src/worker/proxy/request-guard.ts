/**
 * The checks Flusso makes on a request head before it routes it, beyond what uWebSockets.js
 * answers itself (docs/runtime.md "What the proxy port answers"; issue 14 items 1 and 2). Pure
 * functions over what `req.forEach` showed: the caller answers the failure they return and
 * closes the connection.
 *
 * Sizes (item 1), as nginx's `large_client_header_buffers 4 8k` bounds them: a request target
 * longer than the limit gets 414, a field line longer than the limit or more fields than the limit
 * 431. The whole head is bounded by uWS itself (`--max-request-head-bytes`, 431 before Flusso
 * sees the request), and so is the number of fields (98 at most in this build).
 *
 * Framing this uWS build can be fooled about (item 2). uWS ends its view of the header section
 * at a field with an empty name (`: x`): the fields after it (a `Content-Length`, a
 * `Transfer-Encoding`) are parsed and thrown away, uWS takes the request for bodiless, and the
 * body is read as the next request on the connection. Flusso cannot see such a field, so it
 * refuses what can carry it without being seen:
 *
 * - a method that defines a body (POST, PUT, PATCH, in any case) with neither Content-Length nor
 *   Transfer-Encoding gets 411 Length Required and a closed connection: whatever follows its head
 *   is never read as a request. Clients send `Content-Length: 0` for an empty body (RFC 9110
 *   §8.6), as browsers, fetch, curl with `-d ''` and the common HTTP libraries do;
 * - a field value that ends in a request line's version (` HTTP/1.1`, ` HTTP/1.0`) gets 400: it
 *   is what a request smuggled as an unfinished head looks like once the next client's request
 *   line has been appended to it (the victim's request captured into a header).
 *
 * What remains (a GET, HEAD, DELETE or OPTIONS request carrying a hidden body) is in the
 * README's security section.
 */
import type { ProxyFailure } from './errors.js';

/** RequestLimits are Flusso's own bounds on a request head (flags `--max-request-*`). */
export interface RequestLimits {
  /** The longest request target (path and query), in bytes: longer gets 414. */
  readonly targetBytes: number;
  /** The longest field line (`name: value`), in bytes: longer gets 431. */
  readonly fieldBytes: number;
  /** The most header fields: more get 431. */
  readonly fields: number;
}

/** HeadView is what the guard reads of a head (RequestHead in headers.ts has this shape). */
export interface HeadView {
  /** Field names, lower-case, in order (duplicates kept). */
  readonly names: readonly string[];
  /** Field values as uWS decoded them, in the order of `names`. */
  readonly values: readonly string[];
  readonly contentLengthCount: number;
  readonly transferEncodingCount: number;
}

/**
 * guardRequest returns the failure to answer for a request head, or null when it may go on.
 * The size limits come first (as nginx checks them while it reads), then the framing.
 */
export function guardRequest(method: string, target: string, head: HeadView, limits: RequestLimits): ProxyFailure | null {
  if (exceedsBytes(target, limits.targetBytes)) return 'uri-too-long';
  const names = head.names;
  const values = head.values;
  if (names.length > limits.fields) return 'head-too-large';
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string;
    const value = values[i] as string;
    // `name: value`: the bytes of the field line without its CRLF.
    if (exceedsBytes(value, limits.fieldBytes - name.length - 2)) return 'head-too-large';
  }
  if (head.contentLengthCount === 0 && head.transferEncodingCount === 0 && definesBody(method)) return 'length-required';
  for (let i = 0; i < values.length; i++) if (endsWithHttpVersion(values[i] as string)) return 'bad-request';
  return null;
}

/**
 * definesBody says whether a request with this method is meant to carry content (RFC 9110 §9.3:
 * POST, PUT; RFC 5789: PATCH). Compared in any case: uWS forwards a lower-case method as sent,
 * and a front proxy or backend may not tell `post` from `POST`.
 */
export function definesBody(method: string): boolean {
  const n = method.length;
  if (n < 3 || n > 5) return false;
  const m = method.toUpperCase();
  return m === 'POST' || m === 'PUT' || m === 'PATCH';
}

/** endsWithHttpVersion says whether `value` ends in ` HTTP/1.1` or ` HTTP/1.0` (any case of `http`). */
export function endsWithHttpVersion(value: string): boolean {
  const n = value.length;
  if (n < 9) return false;
  const last = value.charCodeAt(n - 1);
  if ((last !== 0x31 && last !== 0x30) || value.charCodeAt(n - 2) !== 0x2e || value.charCodeAt(n - 3) !== 0x31 || value.charCodeAt(n - 4) !== 0x2f) return false;
  return value.charCodeAt(n - 9) === 0x20 && value.slice(n - 8, n - 4).toUpperCase() === 'HTTP';
}

/**
 * exceedsBytes says whether `text` takes more than `limit` bytes in UTF-8 (uWS decoded the
 * bytes it received as UTF-8; a byte it could not decode counts as the 3 of U+FFFD, which only
 * ever overcounts a value Flusso refuses anyway).
 */
export function exceedsBytes(text: string, limit: number): boolean {
  const n = text.length;
  if (n > limit) return true;
  // Each UTF-16 code unit is at most 3 bytes in UTF-8.
  if (n * 3 <= limit) return false;
  return Buffer.byteLength(text, 'utf8') > limit;
}
