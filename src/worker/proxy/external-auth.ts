/**
 * The worker's side of ingress-nginx external authentication (issue 15 group 6,
 * docs/annotations.md "External authentication"): nginx's `auth_request` as ingress-nginx renders
 * it. Before a request of a route with `auth-url` goes upstream, Flusso asks the auth service
 * (node:http / node:https with one keep-alive agent per worker, not the proxy's upstream client,
 * whose pools are keyed by Service endpoints; the auth URL is any URL, often outside the cluster)
 * with the client's fields and ingress-nginx's X-Original-URL, X-Original-Method, X-Sent-From,
 * X-Auth-Request-Redirect…, and no body. A 2xx lets the request go on with the
 * `auth-response-headers` copied onto it; 401 and 403 go to the client (401 with the auth
 * service's WWW-Authenticate, or a 302 to `auth-signin`); any other status, an error or the
 * deadline is 500. Each check has a deadline and the number in progress per worker is bounded;
 * nothing it does can throw into the event loop. Answers may be cached (`auth-cache-key`).
 */
import http from 'node:http';
import https from 'node:https';
import type { Logger } from 'pino';
import type { HttpResponse } from 'uWebSockets.js';
import { cacheSeconds, expandVars, type RouteExternalAuth, type VarContext } from '../../shared/external-auth.js';
import { plainAnswer } from './errors.js';
import type { PolicyAnswer } from './policy.js';

/** AuthAllow lets the request go upstream with `fields` set (lower-case names, '' : removed). */
export interface AuthAllow {
  readonly allow: true;
  readonly fields: readonly string[];
  /** The auth service's Set-Cookie, for the response (nginx `add_header Set-Cookie $auth_cookie`). */
  readonly cookie?: string;
  /** auth-always-set-cookie: on every response status. */
  readonly always?: boolean;
}

/** Statuses nginx's add_header (without `always`) adds its field to. */
const ADD_HEADER_STATUSES: ReadonlySet<number> = new Set([200, 201, 204, 206, 301, 302, 303, 304, 307, 308]);

const ADDED = Symbol('flusso.authAddedFields');

/** setAuthCookie records on `res` the auth service's Set-Cookie for the response writer (addedResponseFields). */
export function setAuthCookie(res: HttpResponse, cookie: string, always: boolean): void {
  (res as HttpResponse & { [ADDED]?: { cookie: string; always: boolean } })[ADDED] = { cookie, always };
}

/**
 * addedResponseFields are the fields added to a response of `status` besides the upstream's own
 * (which stay: unlike a policy's fields these replace nothing): the auth Set-Cookie, or null.
 */
export function addedResponseFields(res: HttpResponse, status: number): readonly string[] | null {
  const a = (res as HttpResponse & { [ADDED]?: { cookie: string; always: boolean } })[ADDED];
  return a === undefined ? null : authCookieFields(a.cookie, a.always, status);
}

/** authCookieFields is the auth service's Set-Cookie for a response of `status` (nginx `add_header … always` or not), or null. */
export function authCookieFields(cookie: string, always: boolean, status: number): readonly string[] | null {
  return always || ADD_HEADER_STATUSES.has(status) ? ['Set-Cookie', cookie] : null;
}

/** AuthVerdict is what a check decided: go on, or this answer to the client. */
export type AuthVerdict = AuthAllow | { readonly allow: false; readonly answer: PolicyAnswer };

/** AuthRequest is what a check reads of the client's request (captured: the check ends after the handler returned). */
export interface AuthRequest extends VarContext {
  /** The client's fields as they go upstream (headers.ts buildUpstreamHeaders), lower-case names. */
  readonly upstreamFields: readonly string[];
}

/** ExternalAuthOptions configure a worker's auth client. */
export interface ExternalAuthOptions {
  /** How long a check may take, connection included. */
  readonly timeoutMs: number;
  /** Checks in progress in this worker beyond which a request is answered 503 at once. */
  readonly maxPending?: number;
  /** Cached answers kept per worker (the oldest goes first). */
  readonly maxCached?: number;
  readonly log: Logger;
  /** Milliseconds on a monotonic clock (tests inject one). */
  readonly now?: () => number;
}

/** Fields of the client's request the auth request does not get (nginx's auth location clears or replaces them). */
const NOT_TO_AUTH: ReadonlySet<string> = new Set(['host', 'content-length', 'transfer-encoding', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'x-original-forwarded-for']);

/** The longest cache key kept (Ingress, host and the expanded auth-cache-key). */
const MAX_KEY_LENGTH = 4096;

interface Cached {
  readonly verdict: AuthVerdict;
  readonly until: number;
}


/** ExternalAuthClient runs the checks of one worker. */
export class ExternalAuthClient {
  readonly #timeoutMs: number;
  readonly #maxPending: number;
  readonly #maxCached: number;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #http = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 32 });
  // nginx's proxy_ssl_verify is off by default, and ingress-nginx does not turn it on for auth-url: the same here.
  readonly #https = new https.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 32, rejectUnauthorized: false });
  readonly #cache = new Map<string, Cached>();
  #pending = 0;

  constructor(opts: ExternalAuthOptions) {
    this.#timeoutMs = opts.timeoutMs;
    this.#maxPending = opts.maxPending ?? 1024;
    this.#maxCached = opts.maxCached ?? 10_000;
    this.#log = opts.log;
    this.#now = opts.now ?? (() => performance.now());
  }

  /** pending is the number of checks in progress. */
  get pending(): number {
    return this.#pending;
  }

  /** check asks the auth service about `req` and calls `done` once, later (never synchronously), with the verdict. */
  check(auth: RouteExternalAuth, req: AuthRequest, done: (v: AuthVerdict) => void): void {
    if (auth.denied !== undefined) {
      setImmediate(() => done({ allow: false, answer: plainAnswer(503) }));
      return;
    }
    let key = auth.cacheKey === undefined ? null : `${auth.id}\n${req.host}\n${expandVars(auth.cacheKey, req)}`;
    // A key longer than this is not kept: the cache is bounded in bytes too (at most about 40 MB per worker).
    if (key !== null && key.length > MAX_KEY_LENGTH) key = null;
    if (key !== null) {
      const hit = this.#cache.get(key);
      if (hit !== undefined && hit.until > this.#now()) {
        setImmediate(() => done(hit.verdict));
        return;
      }
      if (hit !== undefined) this.#cache.delete(key);
    }
    if (this.#pending >= this.#maxPending) {
      this.#log.warn({ code: 'ING_ERR_AUTH_BUSY', ingress: auth.id, pending: this.#pending }, 'too many auth checks in progress; answering 503');
      setImmediate(() => done({ allow: false, answer: plainAnswer(503) }));
      return;
    }
    this.#pending++;
    let settled = false;
    let sync = true;
    const deliver = (v: AuthVerdict): void => {
      try {
        done(v);
      } catch (err) {
        // Never into the event loop: an exception here would take the worker down.
        this.#log.error({ err, code: 'ING_ERR_PROXY_INTERNAL', ingress: auth.id }, 'request after its auth check failed');
      }
    };
    const finish = (v: AuthVerdict, store: number): void => {
      if (settled) return;
      settled = true;
      this.#pending--;
      clearTimeout(timer);
      if (key !== null && store > 0) this.#store(key, v, store);
      // Never synchronously: the caller is still in the uWS handler.
      if (sync) setImmediate(deliver, v);
      else deliver(v);
    };
    const fail = (why: string, err?: unknown): void => {
      // Never the request's fields: they may hold credentials.
      this.#log.warn({ code: 'ING_ERR_AUTH_FAILED', ingress: auth.id, why, err: err instanceof Error ? err.message : undefined }, 'external auth check failed; answering 500');
      finish({ allow: false, answer: plainAnswer(500) }, 0);
    };
    let outgoing: http.ClientRequest | null = null;
    const timer = setTimeout(() => {
      outgoing?.destroy();
      fail('deadline');
    }, this.#timeoutMs);
    try {
      const url = new URL(expandVars(auth.url, req));
      const secure = url.protocol === 'https:';
      outgoing = (secure ? https : http).request(url, { method: auth.method ?? 'GET', headers: authHeaders(auth, req, url), agent: secure ? this.#https : this.#http, setHost: false });
      outgoing.on('error', (err) => fail('request', err));
      outgoing.on('response', (res) => {
        res.on('error', (err) => fail('response', err));
        // The body is read and dropped (nginx's auth_request ignores it); the verdict needs only the head.
        res.resume();
        const status = res.statusCode ?? 0;
        const v = verdictOf(auth, req, status, res.headers);
        const keep = key !== null && cacheable(res.headers) ? cacheSeconds(auth.cacheDurations, status) * 1000 : 0;
        if (v === null) fail(`status ${status}`);
        else finish(v, keep);
      });
      outgoing.end();
    } catch (err) {
      fail('url', err);
    }
    sync = false;
  }

  /** close drops the idle connections to auth services. */
  close(): void {
    this.#http.destroy();
    this.#https.destroy();
  }

  #store(key: string, verdict: AuthVerdict, ms: number): void {
    if (this.#cache.size >= this.#maxCached) {
      const oldest = this.#cache.keys().next();
      if (oldest.done !== true) this.#cache.delete(oldest.value);
    }
    this.#cache.set(key, { verdict, until: this.#now() + ms });
  }
}

/** authHeaders are the fields of the auth request: the client's, then what ingress-nginx's auth location sets. */
export function authHeaders(auth: RouteExternalAuth, req: AuthRequest, url: URL): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const add = (name: string, value: string): void => {
    const had = out[name];
    out[name] = had === undefined ? value : Array.isArray(had) ? [...had, value] : [had, value];
  };
  const f = req.upstreamFields;
  for (let i = 0; i < f.length; i += 2) if (!NOT_TO_AUTH.has(f[i] as string)) add(f[i] as string, f[i + 1] as string);
  // proxy_set_header Host is the auth URL's host name (ingress-nginx: authURL.Hostname(), no port).
  out.host = url.hostname;
  out['x-original-url'] = `${req.scheme}://${req.hostField}${req.target}`;
  out['x-original-method'] = req.method;
  out['x-sent-from'] = 'nginx-ingress-controller';
  out['x-real-ip'] = req.clientAddress;
  out['x-forwarded-for'] = req.clientAddress;
  out['x-auth-request-redirect'] = auth.requestRedirect === undefined ? req.target : expandVars(auth.requestRedirect, req);
  if (auth.method !== undefined) {
    out['x-original-uri'] = req.target;
    out['x-scheme'] = req.scheme;
  }
  return out;
}

/** verdictOf turns the auth service's answer into a verdict; null for a status that is an error (500). */
export function verdictOf(auth: RouteExternalAuth, req: VarContext, status: number, headers: http.IncomingHttpHeaders): AuthVerdict | null {
  if (status >= 200 && status < 300) {
    const fields: string[] = [];
    for (const name of auth.responseHeaders) {
      const v = headers[name.toLowerCase()];
      // proxy_set_header with an empty value sends no field: the client's own of that name is dropped too.
      fields.push(name.toLowerCase(), v === undefined ? '' : Array.isArray(v) ? v.join(', ') : v);
    }
    const cookie = headers['set-cookie']?.[0];
    if (cookie === undefined || cookie === '') return { allow: true, fields };
    return auth.alwaysSetCookie === true ? { allow: true, fields, cookie, always: true } : { allow: true, fields, cookie };
  }
  if (status === 401) {
    // nginx's auth_request puts the service's WWW-Authenticate on the 401, and it stays on the auth-signin redirect too.
    const raw = headers['www-authenticate'];
    const challenge: string[] = raw === undefined ? [] : ['WWW-Authenticate', Array.isArray(raw) ? (raw[0] as string) : raw];
    const cookie = headers['set-cookie']?.[0];
    // auth-always-set-cookie: nginx's `add_header Set-Cookie $auth_cookie always` reaches the 401 too.
    if (auth.signin === undefined && auth.alwaysSetCookie === true && cookie !== undefined && cookie !== '') challenge.push('Set-Cookie', cookie);
    if (auth.signin !== undefined) {
      const extra = [...challenge, 'Location', expandVars(auth.signin, req)];
      if (cookie !== undefined && cookie !== '') extra.push('Set-Cookie', cookie);
      return { allow: false, answer: plainAnswer(302, extra) };
    }
    return { allow: false, answer: plainAnswer(401, challenge) };
  }
  if (status === 403) {
    const cookie = headers['set-cookie']?.[0];
    return { allow: false, answer: plainAnswer(403, auth.alwaysSetCookie === true && cookie !== undefined && cookie !== '' ? ['Set-Cookie', cookie] : []) };
  }
  return null;
}

/** cacheable says whether nginx's proxy_cache would keep this answer (no Set-Cookie, no private/no-cache/no-store, no Vary: *). */
function cacheable(headers: http.IncomingHttpHeaders): boolean {
  if (headers['set-cookie'] !== undefined) return false;
  const cc = headers['cache-control'] ?? '';
  if (/(^|[\s,])(private|no-cache|no-store)\b/i.test(cc)) return false;
  return headers.vary?.trim() !== '*';
}

/**
 * HeldRequest keeps a client's request while its auth check runs: it owns the uWS callbacks
 * (a client that leaves is noticed, the body is read and kept, the client paused past 64 KiB),
 * then hands the body to the Exchange that takes over, or lets an answer be written.
 */
export class HeldRequest {
  readonly #res: HttpResponse;
  #chunks: ArrayBuffer[] = [];
  #bytes = 0;
  #ended = false;
  #paused = false;
  readonly #body: boolean;
  aborted = false;

  /** `body`: the request has one (its bytes come through onData). */
  constructor(res: HttpResponse, body: boolean, onAborted: () => void) {
    this.#res = res;
    this.#body = body;
    res.onAborted(() => {
      this.aborted = true;
      onAborted();
    });
    if (body)
      res.onData((chunk, isLast) => {
        this.#chunks.push(chunk.slice(0));
        this.#bytes += chunk.byteLength;
        if (isLast) this.#ended = true;
        else if (this.#bytes > 64 * 1024 && !this.#paused) {
          this.#paused = true;
          res.pause();
        }
      });
  }

  /**
   * handOver starts the Exchange (which attaches its own callbacks) and gives it the body read so
   * far; the rest comes to it directly.
   */
  /** unread says whether body bytes may still come (an answer must then close the connection). */
  get unread(): boolean {
    return this.#body && !this.#ended;
  }

  handOver(exchange: { start(): void; clientData(chunk: ArrayBuffer, isLast: boolean): void }): void {
    if (this.#paused) this.#res.resume();
    exchange.start();
    const chunks = this.#chunks;
    this.#chunks = [];
    // onData gave every piece, the last one (possibly empty) marked: replayed the same way.
    for (let i = 0; i < chunks.length; i++) exchange.clientData(chunks[i] as ArrayBuffer, this.#ended && i === chunks.length - 1);
  }
}

/** withAuthFields sets the allowed check's fields on the upstream head: each replaces any of its name; an empty one only removes. */
export function withAuthFields(headers: readonly string[], fields: readonly string[]): string[] {
  if (fields.length === 0) return headers as string[];
  const names = new Set<string>();
  for (let i = 0; i < fields.length; i += 2) names.add(fields[i] as string);
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) if (!names.has(headers[i] as string)) out.push(headers[i] as string, headers[i + 1] as string);
  for (let i = 0; i < fields.length; i += 2) if (fields[i + 1] !== '') out.push(fields[i] as string, fields[i + 1] as string);
  return out;
}
