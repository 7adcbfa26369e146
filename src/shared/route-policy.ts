/**
 * What a route's ingress-nginx annotations do to one request (issue 15, docs/annotations.md):
 * the execution of a compiled RoutePolicy, pure and shared by the workers (which act on it,
 * worker/proxy/policy.ts) and the primary's explainer (which reports it). It decides whether
 * Flusso answers itself (a redirect, app-root, a CORS preflight) or what changes on the way
 * upstream (the rewritten path, Host, X-Forwarded-Prefix) and back (the CORS fields), in the
 * order ingress-nginx's location block runs them.
 */
import { STATUS_CODES } from 'node:http';
import { RE2JS } from 're2js';
import type { RouteCors, RoutePolicy } from './snapshot.js';

/** PolicyRequest is what a policy reads of a request. */
export interface PolicyRequest {
  readonly method: string;
  readonly scheme: 'http' | 'https';
  /** The Host field as sent (nginx $http_host). */
  readonly hostField: string;
  /** The normalised host without port (nginx $host). */
  readonly host: string;
  /** The normalised path (nginx $uri). */
  readonly path: string;
  readonly query: string;
  /** The request target as sent (nginx $request_uri). */
  readonly target: string;
  /** The Origin field, or '' when absent. */
  readonly origin: string;
}

/** PolicyAnswer is a response Flusso gives itself. */
export interface PolicyAnswer {
  readonly status: number;
  /** Response fields as name, value pairs (Location, the CORS fields, …). */
  readonly fields: readonly string[];
  readonly body: string;
}

/** PolicyForward is what changes on a request that goes upstream; null fields change nothing. */
export interface PolicyForward {
  /** The upstream request target (rewritten path and query). */
  readonly target: string | null;
  /** Fields to set on the upstream request (replacing any of the same name), lower-case names. */
  readonly requestFields: readonly string[] | null;
  /** Fields to set on the response (replacing the upstream's of the same name). */
  readonly responseFields: readonly string[] | null;
}

const REASONS: Readonly<Record<number, string>> = { 306: 'Switch Proxy' };

/**
 * statusLineOf is the status line Flusso writes for a policy answer: the code and its reason
 * phrase (RFC 9110's, as node:http names them; nginx's for 306), or the code alone for a code
 * without one (an author may redirect with any 3xx).
 */
export function statusLineOf(status: number): string {
  const reason = REASONS[status] ?? STATUS_CODES[status];
  return reason === undefined ? String(status) : `${status} ${reason}`;
}

/** Statuses for which nginx's `return code URL` sends a Location; for the others the URL is the body. */
const LOCATION_CODES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/**
 * applyPolicy runs `policy` on `req`: a PolicyAnswer when Flusso answers itself, else the
 * PolicyForward for the upstream request. The order is ingress-nginx's: the from-to-www server
 * redirects before any location runs; in the location, app-root, then CORS (a preflight is
 * answered 204), then a permanent or temporal redirect, then the rewrite as the request is proxied.
 */
export function applyPolicy(policy: RoutePolicy, req: PolicyRequest): PolicyAnswer | PolicyForward {
  const www = policy.hostRedirect;
  if (www !== undefined) {
    const uri = req.target.endsWith('/') ? req.target.slice(0, -1) : req.target;
    return redirectAnswer(www.code, `${req.scheme}://${www.host}${uri}`, null);
  }
  if (policy.appRoot !== undefined && req.path === '/') return redirectAnswer(302, `${req.scheme}://${req.hostField}${policy.appRoot}`, null);
  const cors = policy.cors === undefined ? null : corsFields(policy.cors, req.origin);
  if (cors !== null && req.method === 'OPTIONS')
    return { status: 204, fields: [...cors, 'Content-Type', 'text/plain charset=UTF-8'], body: '' };
  const redirect = policy.redirect;
  if (redirect !== undefined) {
    let url = '';
    for (const part of redirect.url) url += part.charCodeAt(0) === 0x24 /* $ */ ? variable(part, req) : part;
    return redirectAnswer(redirect.code, url, cors);
  }
  let target: string | null = null;
  let requestFields: string[] | null = null;
  const rewrite = policy.rewrite;
  if (rewrite !== undefined) {
    target = rewriteTarget(rewrite, req.path, req.query);
    if (policy.forwardedPrefix !== undefined) requestFields = ['x-forwarded-prefix', policy.forwardedPrefix];
  }
  if (policy.upstreamVhost !== undefined) (requestFields ??= []).push('host', policy.upstreamVhost);
  return { target, requestFields, responseFields: cors };
}

/** redirectAnswer is nginx's `return code URL`: Location for the redirect codes, else the URL as the body. */
function redirectAnswer(code: number, url: string, extra: readonly string[] | null): PolicyAnswer {
  const fields = extra === null ? [] : [...extra];
  if (!LOCATION_CODES.has(code)) return { status: code, fields: [...fields, 'Content-Type', 'text/plain'], body: url };
  fields.push('Location', url, 'Content-Type', 'text/plain');
  return { status: code, fields, body: `${statusLineOf(code)}\n` };
}

/** variable is the value of an nginx variable a redirect URL may use (annotations.ts REDIRECT_VARIABLES). */
function variable(name: string, req: PolicyRequest): string {
  switch (name) {
    case '$request_uri':
      return req.target;
    case '$uri':
      return req.path;
    case '$host':
      return req.host;
    case '$scheme':
      return req.scheme;
    case '$is_args':
      return req.query === '' ? '' : '?';
    default: // $args, $query_string
      return req.query;
  }
}

/** RewriteCache is a route's compiled rewrite pattern and its recent results (path → rewritten path). */
interface RewriteCache {
  readonly re: RE2JS;
  readonly recent: Map<string, string>;
}

const rewrites = new WeakMap<object, RewriteCache>();
/** Paths up to this long have their rewrite kept, at most MAX_REWRITES per route (then the cache starts over). */
const MAX_CACHED_PATH = 256;
const MAX_REWRITES = 1024;

/**
 * rewriteTarget is nginx's `rewrite "(?i)pattern" target break;`: when the pattern matches the
 * path anywhere (RE2, linear time), the whole path becomes `target` with `$1`…`$9` expanded;
 * the query is appended (after the target's own, with `&`; not at all after a final `?`) as nginx does.
 */
export function rewriteTarget(rewrite: { readonly pattern: string; readonly target: string }, path: string, query: string): string {
  let cache = rewrites.get(rewrite);
  if (cache === undefined) rewrites.set(rewrite, (cache = { re: RE2JS.compile(`(?i)${rewrite.pattern}`), recent: new Map() }));
  // The same paths come again and again: a capture match costs a microsecond or more, a lookup nothing.
  let uri = cache.recent.get(path);
  if (uri === undefined) {
    uri = rewritePath(cache.re, rewrite.target, path);
    if (path.length <= MAX_CACHED_PATH) {
      if (cache.recent.size >= MAX_REWRITES) cache.recent.clear();
      cache.recent.set(path, uri);
    }
  }
  // A target ending in "?" drops the request's query (nginx); the "?" itself is not sent.
  if (uri.endsWith('?')) return uri.slice(0, -1);
  return withQuery(uri, query);
}

/** rewritePath is the rewritten path (the target with its captures), or `path` itself when the pattern does not match. */
function rewritePath(re: RE2JS, target: string, path: string): string {
  // A target without captures needs no Matcher: RE2's DFA says whether it matches.
  if (target.indexOf('$') < 0) return re.test(path) ? target : path;
  const m = re.matcher(path);
  if (!m.find()) return path;
  const groups = m.groupCount();
  return target.replace(/\$([1-9])/g, (_, d: string) => (Number(d) <= groups ? (m.group(Number(d)) ?? '') : ''));
}

/** withQuery appends the request's query to a path, after the path's own query with `&`. */
function withQuery(uri: string, query: string): string {
  if (query === '') return uri;
  return uri.includes('?') ? `${uri}&${query}` : `${uri}?${query}`;
}

/** CorsCache holds a route's CORS fields once built: for `*`, and per allowed origin (bounded). */
interface CorsCache {
  pattern: RegExp | null | undefined;
  any: readonly string[] | null;
  readonly byOrigin: Map<string, readonly string[]>;
}

const corsCaches = new WeakMap<RouteCors, CorsCache>();
/** Allowed origins whose fields are kept per route; past this the cache starts over. */
const MAX_CACHED_ORIGINS = 256;

/**
 * corsFields returns the CORS response fields when the request's Origin is allowed (always for
 * `*`, whose Allow-Origin is `*` even without an Origin field, as ingress-nginx), else null.
 * A listed origin is matched without case, and a `*` in it stands for one DNS label. The same
 * list comes back for the same route and origin (the response writer keys its work on it).
 */
export function corsFields(cors: RouteCors, origin: string): readonly string[] | null {
  let cache = corsCaches.get(cors);
  if (cache === undefined) corsCaches.set(cors, (cache = { pattern: undefined, any: null, byOrigin: new Map() }));
  if (cors.origins.length === 1 && cors.origins[0] === '*') return (cache.any ??= buildCorsFields(cors, '*'));
  if (origin === '') return null;
  const known = cache.byOrigin.get(origin);
  if (known !== undefined) return known;
  if (cache.pattern === undefined) cache.pattern = originPattern(cors.origins);
  if (cache.pattern === null || !cache.pattern.test(origin)) return null;
  if (cache.byOrigin.size >= MAX_CACHED_ORIGINS) cache.byOrigin.clear();
  const fields = buildCorsFields(cors, origin);
  cache.byOrigin.set(origin, fields);
  return fields;
}

/** buildCorsFields lists the CORS fields in ingress-nginx's order; credentials and expose headers only when set. */
function buildCorsFields(cors: RouteCors, allow: string): readonly string[] {
  const out = ['Access-Control-Allow-Origin', allow];
  if (cors.credentials) out.push('Access-Control-Allow-Credentials', 'true');
  out.push('Access-Control-Allow-Methods', cors.methods, 'Access-Control-Allow-Headers', cors.headers);
  if (cors.exposeHeaders !== '') out.push('Access-Control-Expose-Headers', cors.exposeHeaders);
  out.push('Access-Control-Max-Age', String(cors.maxAgeSeconds));
  return Object.freeze(out);
}

/** originPattern builds one anchored, case-insensitive alternation of the allowed origins (no nested quantifiers: linear). */
function originPattern(list: readonly string[]): RegExp | null {
  if (list.length === 0) return null;
  const alternatives = list.map((o) => o.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace('\\*', '[A-Za-z0-9-]+'));
  return new RegExp(`^(?:${alternatives.join('|')})$`, 'i');
}
