/**
 * The response cache on the request path (issue 6): answering from a stored entry, and the
 * ExchangeCache sinks that fill, revalidate and invalidate entries while an Exchange proxies.
 *
 * What a cached route's request becomes (server.ts decides, with policy.ts):
 * - not cacheable (unsafe method, body, request no-store, Range): BYPASS, proxied as usual; an
 *   unsafe method answered 2xx/3xx invalidates the key in every worker (InvalidateSink);
 * - a usable entry: HIT, or STALE under stale-while-revalidate with one background revalidation;
 *   a client whose validators match gets a 304;
 * - otherwise one request per key goes upstream (coalescing), MISS without an entry, EXPIRED with
 *   one; with validators it asks conditionally and a 304 refreshes the entry (REVALIDATED); an
 *   upstream error under stale-if-error answers with the stale entry (STALE).
 *
 * The upstream never sees the client's own conditionals or Range on a fill: the proxy answers
 * those from the entry, and a partial response is never stored.
 */
import { overrides, writeRouteFields } from './custom-headers.js';
import { responseFieldsOf } from './policy.js';
import type { HttpResponse } from 'uWebSockets.js';
import { currentAge, refreshFrom304, storability, withinStaleIfError, type CacheStatus, clientConditionalMatch } from '../cache/policy.js';
import type { HeaderPairs } from '../cache/headers.js';
import { stripHopByHop } from '../cache/hop-by-hop.js';
import type { CacheEntry } from '../cache/store.js';
import type { WorkerCache } from '../cache/worker-cache.js';
import type { ResponseHead } from '../upstream/parser.js';
import { statusLine } from './errors.js';
import { closeField, writeOwnFields, type ExchangeCache, type ProxyContext } from './exchange.js';

/** OwnFields are what writeOwnFields needs of the listener a stored response goes out on. */
export type OwnFields = Pick<ProxyContext, 'serverHeader' | 'hsts'>;

/**
 * Names are compared lower-case but stored and replayed in the case the origin wrote them, so a HIT
 * sends the same field names, byte for byte, as the MISS that filled it (issue 16 item 7): the
 * proxy forwards an upstream's names unchanged (headers.ts writeResponseFields), as nginx does.
 *
 * Fields of a stored response never replayed as stored: uWS writes Date and Content-Length, the
 * proxy its own Server, Age and X-Cache-Status; Strict-Transport-Security is written apart
 * (the listener's own replaces it, see writeEntry).
 */
const NOT_REPLAYED: ReadonlySet<string> = new Set(['date', 'content-length', 'server', 'age', 'x-cache-status', 'strict-transport-security']);

/** Fields a 304 answer from the cache carries (RFC 9110 §15.4.5), besides Age and X-Cache-Status. */
const NOT_MODIFIED_FIELDS: ReadonlySet<string> = new Set(['cache-control', 'content-location', 'etag', 'expires', 'last-modified', 'vary']);

/** Request fields a fill never forwards: the proxy answers conditionals from the entry, and never stores a partial response. */
export const FILL_DROPPED: ReadonlySet<string> = new Set(['if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since', 'if-range', 'range']);

const NON_ASCII = /[^\t\x20-\x7e]/;

/**
 * Wire is an entry's replayable fields, ready for writeHeader. When every value is ASCII the
 * fields are pre-joined into one name/value pair whose value carries the rest as
 * `\r\nName: value` lines: uWS appends `name: value\r\n` verbatim, so one native call writes
 * them all (each writeHeader crosses into C++; a hit replays ~8 fields). Values came from
 * the upstream parser, which refuses CR and LF in them, so the joining cannot be abused. Otherwise
 * one pair per field, non-ASCII values as their Latin-1 bytes.
 */
type Wire = readonly (string | Buffer)[];
const wires = new WeakMap<CacheEntry, Wire>();

function wireOf(entry: CacheEntry): Wire {
  let w = wires.get(entry);
  if (w === undefined) {
    const pairs = entry.headers.filter(([n]) => !NOT_REPLAYED.has(n.toLowerCase()));
    if (pairs.length > 0 && pairs.every(([, v]) => !NON_ASCII.test(v))) {
      const [first, ...rest] = pairs as [readonly [string, string], ...(readonly [string, string])[]];
      w = [first[0], first[1] + rest.map(([n, v]) => `\r\n${n}: ${v}`).join('')];
    } else {
      w = pairs.flatMap(([n, v]) => [n, NON_ASCII.test(v) ? Buffer.from(v, 'latin1') : v]);
    }
    wires.set(entry, w);
  }
  return w;
}

/** storedSts is the upstream's Strict-Transport-Security value an entry holds, or null. */
function storedSts(entry: CacheEntry): string | null {
  for (const [n, v] of entry.headers) if (n.length === 25 && n.toLowerCase() === 'strict-transport-security') return NON_ASCII.test(v) ? null : v;
  return null;
}

/** hasConditional reports whether the request carries validators of its own. */
export function hasConditional(req: HeaderPairs): boolean {
  for (const [n] of req) if (n === 'if-none-match' || n === 'if-modified-since') return true;
  return false;
}

/**
 * writeEntry sends a stored response on `res` (the caller has it corked): a 304 when the client's
 * validators match a stored 200, else the stored status, fields and body (no body for HEAD).
 * It returns the status and body bytes sent.
 */
export function writeEntry(res: HttpResponse, entry: CacheEntry, cacheStatus: CacheStatus, method: string, req: HeaderPairs, nowMs: number, own: OwnFields, close: boolean): readonly [number, number] {
  const age = String(currentAge(entry, nowMs));
  if (entry.status === 200 && hasConditional(req) && clientConditionalMatch(req, entry)) {
    res.writeStatus('304 Not Modified');
    const rf304 = responseFieldsOf(res) ?? null;
    for (const [n, v] of entry.headers) if (NOT_MODIFIED_FIELDS.has(n.toLowerCase()) && !overrides(rf304, n.toLowerCase())) res.writeHeader(n, NON_ASCII.test(v) ? Buffer.from(v, 'latin1') : v);
    writeRouteFields(res, rf304);
    writeOwnFields(res.writeHeader('Age', age).writeHeader('X-Cache-Status', cacheStatus), own);
    res.endWithoutBody(); // as Exchange answers a 304: no length, the connection kept
    return [304, 0];
  }
  res.writeStatus(statusLine(entry.status));
  // A route's custom-headers / add-headers fields replace the stored ones of the same names (custom-headers.ts).
  const rf = responseFieldsOf(res) ?? null;
  if (rf === null) {
    const w = wireOf(entry);
    for (let i = 0; i < w.length; i += 2) res.writeHeader(w[i] as string, w[i + 1] as string);
  } else {
    for (const [n, v] of entry.headers) if (!NOT_REPLAYED.has(n.toLowerCase()) && !overrides(rf, n.toLowerCase())) res.writeHeader(n, NON_ASCII.test(v) ? Buffer.from(v, 'latin1') : v);
    writeRouteFields(res, rf);
  }
  // The upstream's own HSTS policy is replayed only where the listener sets none.
  const sts = own.hsts ?? storedSts(entry);
  res.writeHeader('Age', `${age}\r\nX-Cache-Status: ${cacheStatus}\r\nServer: ${own.serverHeader}${closeField(res)}${sts === null ? '' : `\r\nStrict-Transport-Security: ${sts}`}`);
  if (entry.status === 204 || entry.status === 304) {
    res.endWithoutBody();
    return [entry.status, 0];
  }
  if (method === 'HEAD') {
    res.endWithoutBody(entry.body.length, close); // the GET's Content-Length, no body
    return [entry.status, 0];
  }
  res.end(entry.body, close);
  return [entry.status, entry.body.length];
}

/** Fields never kept in an entry: framing, the upstream's Server and X-Cache-Status are never replayed (NOT_REPLAYED). */
const NOT_KEPT: ReadonlySet<string> = new Set(['content-length', 'server', 'x-cache-status', 'connection', 'keep-alive', 'transfer-encoding']);

/**
 * Field names are interned: 100,000 entries would otherwise hold 100,000 copies of "cache-control".
 * The table is bounded; a name past the bound is simply not interned.
 */
const NAMES = new Map<string, string>();
const MAX_NAMES = 512;

function internName(name: string): string {
  const known = NAMES.get(name);
  if (known !== undefined) return known;
  if (NAMES.size < MAX_NAMES) NAMES.set(name, name);
  return name;
}

/** headPairs turns the upstream head into string pairs, names as the upstream wrote them (Latin-1: byte-exact). */
function headPairs(head: ResponseHead): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < head.count; i++) out.push([internName(head.rawNameAt(i)), head.valueAt(i)]);
  return out;
}

/** kept returns the pairs an entry stores: hop-by-hop fields (and those Connection lists) and NOT_KEPT dropped. */
function kept(headers: readonly [string, string][]): [string, string][] {
  return stripHopByHop(headers).filter(([n]) => !NOT_KEPT.has(n.toLowerCase()));
}

/** CachedRequest is what a sink knows of the request it serves. */
export interface CachedRequest {
  readonly cache: WorkerCache;
  readonly key: string;
  readonly host: string;
  readonly path: string;
  /** The route's Ingress (`namespace/name`) and backend. */
  readonly ingress: string;
  readonly backend: string;
  readonly ttlSeconds: number | null;
  readonly method: string;
  readonly req: HeaderPairs;
  /** The fields of the listener the request came on (Server, and HSTS on HTTPS). */
  readonly own: OwnFields;
}

/**
 * FillSink goes upstream for a key: it stores a storable response (bounded by maxObjectBytes;
 * larger ones stream through), refreshes `stale` on a 304, answers with `stale` under
 * stale-if-error, and, as the coalescing leader, wakes the followers when it is over.
 */
export class FillSink implements ExchangeCache {
  status: CacheStatus;
  readonly #r: CachedRequest;
  readonly #stale: CacheEntry | null;
  readonly #leader: boolean;
  readonly #requestTime: number;
  #responseTime = 0;
  #upstreamStatus = 0;
  #headers: [string, string][] | null = null;
  #chunks: Buffer[] | null = null;
  #bytes = 0;
  /** The Content-Length being collected, -1 for a chunked body. */
  #expected = -1;
  #stored = false;
  #settled = false;
  readonly #counted: boolean;

  /** `counted`: the response goes to a client and counts under its final X-Cache-Status (not a background revalidation). */
  constructor(r: CachedRequest, stale: CacheEntry | null, leader: boolean, counted = true) {
    this.#r = r;
    this.#stale = stale;
    this.#leader = leader;
    this.#counted = counted;
    this.status = stale === null ? 'MISS' : 'EXPIRED';
    this.#requestTime = r.cache.now();
  }

  onHead(status: number, head: ResponseHead): object | null {
    const r = this.#r;
    const now = r.cache.now();
    this.#responseTime = now;
    const stale = this.#stale;
    const headers = headPairs(head);
    if (stale !== null && status === 304) {
      const refreshed = refreshFrom304(stale, headers, now, this.#requestTime);
      if (refreshed === null) {
        // The origin answered our conditional with another strong validator: the entry is no
        // longer the one it confirms. Drop it and forward what the origin said.
        r.cache.store.delete(r.key);
        return null;
      }
      const entry = r.cache.store.set({ ...refreshed, route: r.ingress, backend: r.backend, requestHeaders: r.req, body: stale.body });
      this.#stored = entry !== null;
      this.status = 'REVALIDATED';
      return entry ?? refreshed;
    }
    if (stale !== null && status >= 500 && withinStaleIfError(stale, now)) {
      this.status = 'STALE';
      return stale;
    }
    // Collect only what may be stored, and never more than the object bound.
    const verdict = storability({ method: r.method, headers: r.req }, { status, headers }, { defaultTtlSeconds: r.ttlSeconds });
    if (verdict.store) {
      const length = contentLength(headers);
      if (length <= r.cache.maxObjectBytes) {
        this.#expected = length;
        this.#upstreamStatus = status;
        this.#headers = kept(headers);
        this.#chunks = [];
      }
    }
    return null;
  }

  onBody(chunk: Buffer): void {
    const chunks = this.#chunks;
    if (chunks === null) return;
    this.#bytes += chunk.length;
    if (this.#bytes > this.#r.cache.maxObjectBytes) this.#chunks = null; // too large: streams through
    else {
      chunks.push(Buffer.from(chunk)); // the chunk is a view of the reused read buffer
      // The Exchange completes the client's response on the last declared byte, before the
      // upstream's end is reported: the body is whole now, so store it now.
      if (this.#bytes === this.#expected) this.onComplete();
    }
  }

  onComplete(): void {
    const chunks = this.#chunks;
    const headers = this.#headers;
    if (chunks === null || headers === null) return;
    this.#chunks = null;
    const r = this.#r;
    const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, this.#bytes);
    const entry = r.cache.store.set({
      key: r.key, host: r.host, path: r.path, route: r.ingress, backend: r.backend, requestHeaders: r.req,
      status: this.#upstreamStatus, headers, body, storedAt: this.#responseTime, requestTime: this.#requestTime, defaultTtlSeconds: r.ttlSeconds,
    });
    this.#stored = entry !== null;
  }

  onFailure(): object | null {
    const stale = this.#stale;
    if (stale !== null && withinStaleIfError(stale, this.#r.cache.now())) {
      this.status = 'STALE';
      return stale;
    }
    return null;
  }

  write(res: HttpResponse, entry: object, close: boolean): readonly [number, number] {
    const r = this.#r;
    return writeEntry(res, entry as CacheEntry, this.status, r.method, r.req, r.cache.now(), r.own, close);
  }

  settle(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#chunks = null;
    if (this.#counted) this.#r.cache.count(this.#r.ingress, this.status);
    if (!this.#leader) return;
    const coalescer = this.#r.cache.coalescer;
    if (this.#stored) coalescer.resolve(this.#r.key, true);
    else coalescer.fail(this.#r.key);
  }
}

/** contentLength reads a response's Content-Length: -1 when absent (chunked: the body bound applies as it arrives), MAX_SAFE_INTEGER when unreadable (never collected). */
function contentLength(headers: HeaderPairs): number {
  for (const [n, v] of headers) if (n.length === 14 && n.toLowerCase() === 'content-length') return /^\s*\d{1,15}\s*$/.test(v) ? Number(v) : Number.MAX_SAFE_INTEGER;
  return -1;
}

/** BypassSink labels a response of a cached route that does not use the cache; an unsafe method's success invalidates the key (RFC 9111 §4.4). */
export class BypassSink implements ExchangeCache {
  readonly status: CacheStatus = 'BYPASS';
  readonly #cache: WorkerCache;
  readonly #key: string;
  readonly #unsafe: boolean;

  constructor(cache: WorkerCache, key: string, unsafe: boolean) {
    this.#cache = cache;
    this.#key = key;
    this.#unsafe = unsafe;
  }

  onHead(status: number): object | null {
    if (this.#unsafe && status >= 200 && status < 400) this.#cache.invalidateHere(this.#key);
    return null;
  }

  onBody(): void {}
  onComplete(): void {}
  onFailure(): object | null {
    return null;
  }
  write(): readonly [number, number] {
    return [0, 0]; // never called: onHead and onFailure never return an entry
  }
  settle(): void {}
}

/** LabelSink only labels a proxied response (a HEAD miss: forwarded, never stored). */
export class LabelSink extends BypassSink {
  override readonly status: CacheStatus;
  constructor(cache: WorkerCache, key: string, status: CacheStatus) {
    super(cache, key, false);
    this.status = status;
  }
}
