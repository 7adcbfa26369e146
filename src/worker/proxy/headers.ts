/**
 * Header handling on both legs: reading the client's head from uWS, building the upstream
 * request head, and filtering the upstream response head (RFC 9110 §7.6.1; docs/bad-input.md §G).
 */
import { randomFillSync } from 'node:crypto';

/**
 * HOP_BY_HOP lists the fields that describe one connection, not the message (RFC 9110
 * §7.6.1, plus Trailer as RFC 2616 §13.5.1 and Go's ReverseProxy have it). They never cross
 * the proxy in either direction.
 */
const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'transfer-encoding',
  'upgrade',
  'trailer',
  'proxy-authorization',
  'proxy-authenticate',
] as const;

/**
 * Request fields never forwarded as the client sent them: hop-by-hop, `expect` (uWS already
 * answered 100 Continue; the upstream must not send a second one), `content-length` (we re-frame), the fields
 * the proxy sets itself, `forwarded` (untrusted, and we do not emit it) and `proxy`
 * (httpoxy). Every `x-forwarded-*` is dropped too (see isDroppedRequestField).
 */
const DROP_REQUEST: ReadonlySet<string> = new Set<string>([
  ...HOP_BY_HOP,
  'expect',
  'content-length',
  'x-real-ip',
  'x-request-id',
  'forwarded',
  'proxy',
]);

/** Response fields uWS writes itself (`date`, framing) or that we replace (`server`, as nginx hides the upstream's). */
const DROP_RESPONSE: ReadonlySet<string> = new Set<string>([...HOP_BY_HOP, 'date', 'content-length', 'server']);

/**
 * First letters (either case) and lengths of DROP_RESPONSE names: a raw name that fails
 * either test is kept without turning it into a string (most names fail one).
 */
const DROP_RESPONSE_FIRST = new Uint8Array(256);
const DROP_RESPONSE_LENGTH = new Uint8Array(64);
for (const name of DROP_RESPONSE) {
  const c = name.charCodeAt(0);
  DROP_RESPONSE_FIRST[c] = 1;
  DROP_RESPONSE_FIRST[c - 0x20] = 1;
  DROP_RESPONSE_LENGTH[name.length] = 1;
}

function isDroppedRequestField(name: string): boolean {
  return DROP_REQUEST.has(name) || (name.charCodeAt(0) === 0x78 /* x */ && name.startsWith('x-forwarded-'));
}

/** Printable ASCII and HTAB: anything else takes the slow path in forwardableValue. */
const NOT_PLAIN_ASCII = /[^\t\x20-\x7e]/;

/**
 * forwardableValue returns the value to forward, or null when it cannot be forwarded
 * faithfully. uWS decodes header values as UTF-8 and the upstream head is written as Latin-1, so a
 * non-ASCII value is re-encoded to its UTF-8 bytes (as a Latin-1 string) to reach the
 * upstream byte-exact. A value uWS could not decode (U+FFFD) or that holds a control
 * character is refused: forwarding it would silently mangle it (docs/bad-input.md §C row 60).
 */
export function forwardableValue(value: string): string | null {
  if (!NOT_PLAIN_ASCII.test(value)) return value;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f || c === 0xfffd) return null;
  }
  return Buffer.from(value, 'utf8').toString('latin1');
}

/**
 * RequestHead collects the client's header fields during `req.forEach` (uWS hands out names
 * lower-cased). One instance is reused for every request: forEach is synchronous and
 * `visit` is bound once, so reading a head allocates no closure.
 */
export class RequestHead {
  names: string[] = [];
  values: string[] = [];
  host = '';
  contentLengthCount = 0;
  contentLength = '';
  transferEncodingCount = 0;
  transferEncoding = '';
  connection = '';
  forwardedFor = '';
  requestId = '';

  reset(): void {
    this.names.length = 0;
    this.values.length = 0;
    this.host = '';
    this.contentLengthCount = 0;
    this.contentLength = '';
    this.transferEncodingCount = 0;
    this.transferEncoding = '';
    this.connection = '';
    this.forwardedFor = '';
    this.requestId = '';
  }

  readonly visit = (name: string, value: string): void => {
    this.names.push(name);
    this.values.push(value);
    switch (name) {
      case 'host':
        this.host = value;
        break;
      case 'content-length':
        this.contentLengthCount++;
        this.contentLength = value;
        break;
      case 'transfer-encoding':
        this.transferEncodingCount++;
        this.transferEncoding = value;
        break;
      case 'connection':
        this.connection = this.connection === '' ? value : `${this.connection}, ${value}`;
        break;
      case 'x-forwarded-for':
        this.forwardedFor = this.forwardedFor === '' ? value : `${this.forwardedFor}, ${value}`;
        break;
      case 'x-request-id':
        this.requestId = value;
        break;
    }
  };
}

/** ForwardingInfo is what the proxy adds to every upstream request. */
export interface ForwardingInfo {
  readonly clientAddress: string;
  /** The listener port as text. */
  readonly port: string;
  /** X-Forwarded-Proto: the listener's scheme, or a trusted proxy's (docs/client-address.md). */
  readonly proto: string;
  /** X-Forwarded-For when it is not the client address alone (--compute-full-forwarded-for). */
  readonly forwardedFor?: string;
  /**
   * X-Original-Forwarded-For when the --forwarded-for-header is another field: that field as the
   * client sent it ('' : none); absent: the client's X-Forwarded-For.
   */
  readonly originalForwardedFor?: string;
  /** Parsed Content-Length to send, or null for none (chunked or no body). */
  readonly contentLength: string | null;
}

/**
 * buildUpstreamHeaders returns the upstream head as a flat `[name, value, …]` list, or null
 * when a value cannot be forwarded faithfully (the caller answers 400).
 *
 * Client fields keep their order (Host included, exactly as sent) minus the dropped ones and
 * every field the client's Connection header names (stripped first, so a Connection list can
 * never remove a field the proxy adds: docs/bad-input.md §G row 122). Then, as ingress-nginx sends
 * them: Content-Length, X-Forwarded-For (replaced by the peer), -Host, -Port, -Proto,
 * X-Real-IP, X-Request-ID (the client's if sane, else a fresh one), and
 * X-Original-Forwarded-For with whatever the client sent in the --forwarded-for-header field
 * (X-Forwarded-For by default), as ingress-nginx's `buildForwardedFor` renders it.
 */
export function buildUpstreamHeaders(head: RequestHead, info: ForwardingInfo): string[] | null {
  const connectionTokens = head.connection === '' ? null : listedTokens(head.connection);
  const names = head.names;
  const values = head.values;
  const out: string[] = [];
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string;
    if (name !== 'host' && (isDroppedRequestField(name) || connectionTokens?.has(name) === true)) continue;
    const value = forwardableValue(values[i] as string);
    if (value === null) return null;
    out.push(name, value);
  }
  if (info.contentLength !== null) out.push('content-length', info.contentLength);
  const host = forwardableValue(head.host) ?? '';
  out.push(
    'x-forwarded-for', info.forwardedFor ?? info.clientAddress,
    'x-forwarded-host', host,
    'x-forwarded-port', info.port,
    'x-forwarded-proto', info.proto,
    'x-real-ip', info.clientAddress,
    'x-request-id', isSaneRequestId(head.requestId) ? head.requestId : newRequestId(),
  );
  const sent = info.originalForwardedFor ?? head.forwardedFor;
  if (sent !== '') {
    const original = forwardableValue(sent);
    if (original !== null) out.push('x-original-forwarded-for', original);
  }
  return out;
}

/** listedTokens returns the field names a Connection header lists, minus `close`/`keep-alive`; null if none. */
function listedTokens(connection: string): Set<string> | null {
  // Fast path: almost every Connection header is a lone `keep-alive` or `close`.
  if (connection.length <= 10 && /^(?:keep-alive|close)$/i.test(connection)) return null;
  let tokens: Set<string> | null = null;
  for (const part of connection.split(',')) {
    const token = part.trim().toLowerCase();
    if (token === '' || token === 'close' || token === 'keep-alive') continue;
    (tokens ??= new Set()).add(token);
  }
  return tokens;
}

const SANE_REQUEST_ID = /^[A-Za-z0-9._-]{1,200}$/;

function isSaneRequestId(id: string): boolean {
  return id !== '' && SANE_REQUEST_ID.test(id);
}

/** Per-process random half of every generated request id (each worker loads this module afresh). */
let idPrefix = randomFillSync(Buffer.allocUnsafe(8)).toString('hex');
let idCounter = 0;
const ID_COUNTER_LIMIT = 2 ** 52;

/**
 * newRequestId returns 32 hex digits, the shape of ingress-nginx's $req_id: 16 random digits
 * chosen once per process, then a 16-digit counter. Unique within a process by the counter
 * and across processes with overwhelming probability (64 random bits), at the cost of one
 * number-to-hex per request instead of 16 random bytes. The ids are not secrets: a client
 * can already choose its own.
 */
export function newRequestId(): string {
  if (++idCounter >= ID_COUNTER_LIMIT) {
    idPrefix = randomFillSync(Buffer.allocUnsafe(8)).toString('hex');
    idCounter = 1;
  }
  const n = idCounter.toString(16);
  return idPrefix + ZEROS.slice(n.length) + n;
}

const ZEROS = '0000000000000000';

/** FieldSink is the part of a uWS response writeResponseFields writes to. */
export interface FieldSink {
  writeHeader(name: string | Uint8Array, value: string | Uint8Array): unknown;
}

/** UpstreamHeadView is what writeResponseFields reads of the upstream client's ResponseHead (upstream/parser.ts). */
export interface UpstreamHeadView {
  readonly buf: Buffer;
  readonly base: number;
  readonly count: number;
  readonly fields: Int32Array;
  readonly nonAscii: boolean;
  readonly connectionTokens: boolean;
  nameIs(i: number, lower: string): boolean;
  nameAt(i: number): string;
  valueAt(i: number): string;
}

const X_CACHE_STATUS = 'x-cache-status';
const STS = 'strict-transport-security';

/** latin1Slice is Buffer's undocumented fast Latin-1 decoder (what toString('latin1') calls after its checks). */
type FastBuffer = Buffer & { latin1Slice(start: number, end: number): string };

/** FieldNames is a set of lower-case field names with their lengths (a name of another length is never looked up). */
export interface FieldNames {
  readonly names: ReadonlySet<string>;
  readonly lengths: ReadonlySet<number>;
}

/**
 * writeResponseFields writes the upstream's response fields to `res`, minus the hop-by-hop ones
 * (and those its Connection field lists), Date, Content-Length, Transfer-Encoding and Server;
 * with `dropCacheStatus` its X-Cache-Status, with `dropSts` its Strict-Transport-Security, and
 * the lower-case `dropNames` a route's policy sets itself (policy.ts: the CORS fields).
 *
 * Runs of kept fields go out in one writeHeader each: uWS writes `name: value\r\n` verbatim, so
 * the first field's name with the raw bytes from its value to the run's last value reproduces the
 * run exactly (the parser refused CR, LF and NUL in values, so nothing can be smuggled between
 * the lines). An ASCII head goes as Latin-1 strings, a head with bytes of 0x80 and above as bytes
 * (uWS would encode a string's characters as UTF-8). Duplicates such as Set-Cookie keep their order.
 */
export function writeResponseFields(res: FieldSink, head: UpstreamHeadView, dropCacheStatus: boolean, dropSts: boolean, dropNames: FieldNames | null = null): void {
  const n = head.count;
  const f = head.fields;
  const b = head.buf as FastBuffer;
  const base = head.base;
  const listed = head.connectionTokens ? connectionListOf(head) : null;
  let run = -1;
  for (let i = 0; i < n; i++) {
    const s = base + (f[4 * i] as number);
    const len = base + (f[4 * i + 1] as number) - s;
    let drop = len < 64 && DROP_RESPONSE_LENGTH[len] === 1 && DROP_RESPONSE_FIRST[b[s] as number] === 1 && isDroppedResponseName(head, i, len);
    if (!drop && len === 14 && dropCacheStatus) drop = head.nameIs(i, X_CACHE_STATUS);
    else if (!drop && len === 25 && dropSts) drop = head.nameIs(i, STS);
    if (!drop && listed !== null) drop = listed.has(head.nameAt(i));
    if (!drop && dropNames !== null && dropNames.lengths.has(len)) drop = dropNames.names.has(head.nameAt(i));
    if (drop) {
      if (run >= 0) writeRun(res, head, run, i - 1);
      run = -1;
    } else if (run < 0) run = i;
  }
  if (run >= 0) writeRun(res, head, run, n - 1);
}

/** isDroppedResponseName says whether field i (of name length `len`) is in DROP_RESPONSE, comparing bytes (no string made). */
function isDroppedResponseName(head: UpstreamHeadView, i: number, len: number): boolean {
  switch (len) {
    case 2:
      return head.nameIs(i, 'te');
    case 4:
      return head.nameIs(i, 'date');
    case 6:
      return head.nameIs(i, 'server');
    case 7:
      return head.nameIs(i, 'upgrade') || head.nameIs(i, 'trailer');
    case 10:
      return head.nameIs(i, 'connection') || head.nameIs(i, 'keep-alive');
    case 14:
      return head.nameIs(i, 'content-length');
    case 16:
      return head.nameIs(i, 'proxy-connection');
    case 17:
      return head.nameIs(i, 'transfer-encoding');
    case 18:
      return head.nameIs(i, 'proxy-authenticate');
    case 19:
      return head.nameIs(i, 'proxy-authorization');
    default:
      return DROP_RESPONSE.has(head.nameAt(i));
  }
}

function writeRun(res: FieldSink, head: UpstreamHeadView, first: number, last: number): void {
  const f = head.fields;
  const b = head.buf as FastBuffer;
  const base = head.base;
  const ns = base + (f[4 * first] as number);
  const ne = base + (f[4 * first + 1] as number);
  const vs = base + (f[4 * first + 2] as number);
  const ve = base + (f[4 * last + 3] as number);
  if (head.nonAscii) res.writeHeader(b.subarray(ns, ne), b.subarray(vs, ve));
  else res.writeHeader(b.latin1Slice(ns, ne), b.latin1Slice(vs, ve));
}

/** connectionListOf returns the lower-case field names the upstream's Connection fields list. */
function connectionListOf(head: UpstreamHeadView): Set<string> | null {
  let out: Set<string> | null = null;
  for (let i = 0; i < head.count; i++) {
    if (!head.nameIs(i, 'connection')) continue;
    const tokens = listedTokens(head.valueAt(i));
    if (tokens === null) continue;
    out ??= new Set();
    for (const t of tokens) out.add(t);
  }
  return out;
}
