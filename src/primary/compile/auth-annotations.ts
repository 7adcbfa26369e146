/**
 * ingress-nginx external authentication (issue 15 group 6, docs/annotations.md "External
 * authentication"): `auth-url`, `auth-method`, `auth-signin`, `auth-signin-redirect-param`,
 * `auth-response-headers`, `auth-request-redirect`, `auth-cache-key`, `auth-cache-duration`,
 * `auth-always-set-cookie` and the `auth-keepalive*` settings, read as ingress-nginx reads them
 * (internal/ingress/annotations/authreq). Where ingress-nginx denies the location for a bad value
 * (auth-url, auth-method, auth-response-headers, auth-cache-duration), Flusso does too: the routes
 * answer 503 and the diagnostic says so; authentication never fails open. Other bad values are a
 * diagnostic and have no effect. Pure: reads the Ingresses, returns values and diagnostics.
 */
import type { AuthCacheDuration, RouteExternalAuth } from '../../shared/external-auth.js';
import { splitVars } from '../../shared/external-auth.js';
import type { Route } from '../../shared/snapshot.js';
import { describeObject, keyOf, type Ingress } from '../model.js';
import { parseBool } from './annotations.js';
import { quote, report, type CompileState, type Processor } from './context.js';

const PREFIX = 'nginx.ingress.kubernetes.io/';
const METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE']);
const HEADER = /^[A-Za-z0-9\-_]+$/;
const URL_SHAPE = /^https?:\/\/[^\s/?#]+/i;
/** Characters a URL or header value must not hold (no way to inject a field or a line). */
const UNSAFE = /[\u0000-\u0020\u007f"'\\{};]/;
const VARIABLES = 'variables $host, $http_host, $scheme, $request_uri, $escaped_request_uri, $uri, $args, $is_args, $remote_addr, $request_method, $http_<name>, $cookie_<name>';
/** nginx's time units (http://nginx.org/en/docs/syntax.html) in seconds. */
const UNITS: Readonly<Record<string, number>> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, M: 2592000, y: 31536000 };

/** readExternalAuth parses the external-auth annotations of `ing`; undefined when it has no auth-url. */
export function readExternalAuth(state: CompileState, ing: Ingress): RouteExternalAuth | undefined {
  const all = ing.metadata.annotations ?? {};
  const get = (name: string): string | undefined => all[PREFIX + name];
  const object = describeObject(ing);
  const bad = (name: string, value: string, allowed: string, outcome = 'it has no effect'): void =>
    report(state, 'ING_ERR_INGRESS_INVALID_ANNOTATION', 'error', object, `annotation ${PREFIX}${name} is ${quote(value)}, expected ${allowed}; ${outcome}`);
  const DENIED = 'every request to this Ingress is refused (503) until it is fixed, as ingress-nginx denies the location';

  const rawUrl = get('auth-url');
  if (rawUrl === undefined) {
    const orphans = Object.keys(all).filter((k) => k.startsWith(`${PREFIX}auth-`) && COMPANIONS.has(k.slice(PREFIX.length)));
    if (orphans.length > 0) report(state, 'ING_ERR_INGRESS_UNSUPPORTED', 'warning', object, `annotations ${orphans.sort().join(', ')} have no effect without ${PREFIX}auth-url; ignored`);
    return undefined;
  }
  const id = keyOf(ing);
  const deny = (reason: string): RouteExternalAuth => ({ id, denied: reason, url: [], responseHeaders: [], cacheDurations: [] });
  const url = rawUrl.trim();
  const urlParts = URL_SHAPE.test(url) && !UNSAFE.test(url) ? splitVars(url) : undefined;
  if (urlParts === undefined) {
    bad('auth-url', rawUrl, `an absolute http or https URL (which may use ${VARIABLES})`, DENIED);
    return deny('auth-url is not a valid URL');
  }
  const method = get('auth-method');
  if (method !== undefined && method !== '' && !METHODS.has(method)) {
    bad('auth-method', method, `one of ${[...METHODS].join(', ')}`, DENIED);
    return deny('auth-method is not a valid HTTP method');
  }
  const responseHeaders: string[] = [];
  for (const part of (get('auth-response-headers') ?? '').split(',')) {
    const name = part.trim();
    if (name === '') continue;
    if (!HEADER.test(name)) {
      bad('auth-response-headers', name, 'header names (letters, digits, "-" and "_") separated by commas', DENIED);
      return deny('auth-response-headers holds an invalid header name');
    }
    responseHeaders.push(name);
  }
  const cacheDurations = readDurations(get('auth-cache-duration'));
  if (typeof cacheDurations === 'string') {
    bad('auth-cache-duration', cacheDurations, 'entries such as "200 202 401 5m" (status codes, then nginx times: ms, s, m, h, d, w, M, y) separated by commas', DENIED);
    return deny('auth-cache-duration is not valid');
  }

  const varText = (name: string, shape: RegExp | null): string[] | undefined => {
    const raw = get(name);
    if (raw === undefined || raw.trim() === '') return undefined;
    const v = raw.trim();
    const parts = (shape === null || shape.test(v)) && !UNSAFE.test(v) ? splitVars(v) : undefined;
    if (parts === undefined) bad(name, raw, `${shape === null ? 'a text without spaces or quotes' : 'an absolute http or https URL'} (which may use ${VARIABLES})`);
    return parts;
  };
  let signin: string[] | undefined;
  const signinRaw = varText('auth-signin', URL_SHAPE);
  let param = 'rd';
  const paramRaw = get('auth-signin-redirect-param');
  if (paramRaw !== undefined && paramRaw.trim() !== '') {
    if (/^[A-Za-z0-9\-_.~]+$/.test(paramRaw.trim())) param = paramRaw.trim();
    else bad('auth-signin-redirect-param', paramRaw, 'a query parameter name (letters, digits, "-", "_", ".", "~")', 'the default "rd" is used');
  }
  if (signinRaw !== undefined) signin = withRedirectParam(signinRaw, param);
  else if (paramRaw !== undefined) report(state, 'ING_ERR_INGRESS_UNSUPPORTED', 'warning', object, `annotation ${PREFIX}auth-signin-redirect-param has no effect without a valid auth-signin; ignored`);
  const requestRedirect = varText('auth-request-redirect', null);
  const cacheKey = varText('auth-cache-key', null);
  let alwaysSetCookie = false;
  const cookieRaw = get('auth-always-set-cookie');
  if (cookieRaw !== undefined) {
    const v = parseBool(cookieRaw);
    if (v === undefined) bad('auth-always-set-cookie', cookieRaw, '"true" or "false"');
    else alwaysSetCookie = v;
  }
  if (cacheKey === undefined && get('auth-cache-duration') !== undefined)
    report(state, 'ING_ERR_INGRESS_UNSUPPORTED', 'warning', object, `annotation ${PREFIX}auth-cache-duration has no effect without auth-cache-key (ingress-nginx caches auth answers only with a key); ignored`);
  // Flusso always keeps its connections to the auth service alive (one keep-alive agent per worker): these tune nginx's upstream block only.
  for (const name of ['auth-keepalive', 'auth-keepalive-requests', 'auth-keepalive-timeout']) {
    const raw = get(name);
    if (raw !== undefined && !/^\s*-?\d{1,10}\s*$/.test(raw)) bad(name, raw, 'a whole number');
  }
  const share = get('auth-keepalive-share-vars');
  if (share !== undefined && parseBool(share) === undefined) bad('auth-keepalive-share-vars', share, '"true" or "false"');

  return {
    id,
    url: urlParts,
    ...(method !== undefined && method !== '' ? { method } : {}),
    ...(signin !== undefined ? { signin } : {}),
    responseHeaders,
    ...(requestRedirect !== undefined ? { requestRedirect } : {}),
    ...(cacheKey !== undefined ? { cacheKey } : {}),
    cacheDurations,
    ...(alwaysSetCookie ? { alwaysSetCookie: true as const } : {}),
  };
}

/** The annotations that only mean something with auth-url. */
const COMPANIONS: ReadonlySet<string> = new Set([
  'auth-method', 'auth-signin', 'auth-signin-redirect-param', 'auth-response-headers', 'auth-request-redirect', 'auth-cache-key', 'auth-cache-duration',
  'auth-always-set-cookie', 'auth-keepalive', 'auth-keepalive-requests', 'auth-keepalive-timeout', 'auth-keepalive-share-vars',
]);

/**
 * withRedirectParam is ingress-nginx's buildAuthSignURL: without a query, `?rd=` and the original
 * URL are added; with a query that has no `rd`, `&rd=…`; with one, the URL stays as written.
 */
export function withRedirectParam(parts: string[], param: string): string[] {
  const text = parts.join('');
  const q = text.indexOf('?');
  const back = ['$pass_access_scheme', '://', '$http_host', '$escaped_request_uri'];
  if (q < 0) return [...parts, `?${param}=`, ...back];
  const query = text.slice(q + 1).split('#')[0] ?? '';
  const present = query.split('&').some((kv) => {
    const [k, v = ''] = kv.split('=');
    return k === param && v !== '';
  });
  return present ? parts : [...parts, `&${param}=`, ...back];
}

/** readDurations parses auth-cache-duration (ingress-nginx's ParseStringToCacheDurations); the bad entry's text when one is bad. */
function readDurations(raw: string | undefined): AuthCacheDuration[] | string {
  const text = raw === undefined || raw.trim() === '' ? '200 202 401 5m' : raw;
  const out: AuthCacheDuration[] = [];
  for (const entry of text.split(',')) {
    const e = entry.trim();
    if (e === '') continue;
    const codes: number[] = [];
    let any = false;
    let seconds = 0;
    let seenTime = false;
    for (const el of e.split(' ')) {
      if (el === '') continue;
      if (/^\d{3}$/.test(el)) {
        if (seenTime) return e;
        codes.push(Number(el));
      } else if (el === 'any') any = true;
      else {
        const m = /^(\d+)(ms|s|m|h|d|w|M|y)$/.exec(el);
        if (m === null) return e;
        seconds += Number(m[1]) * (UNITS[m[2] as string] as number);
        seenTime = true;
      }
    }
    if (!seenTime) return e;
    out.push({ codes: any ? 'any' : codes, seconds });
  }
  return out.length === 0 ? [{ codes: [200, 202, 401], seconds: 300 }] : out;
}

/** applyExternalAuth is the compile step that puts each Ingress's external auth on its routes. */
export const applyExternalAuth: Processor = (state) => {
  const auths = new Map<string, RouteExternalAuth>();
  for (const ing of state.ingresses) {
    const auth = readExternalAuth(state, ing);
    if (auth !== undefined) auths.set(auth.id, auth);
  }
  if (auths.size === 0) return;
  const withAuth = (route: Route): Route => {
    const auth = auths.get(route.source);
    return auth === undefined ? route : { ...route, externalAuth: auth };
  };
  for (const routes of state.hosts.values()) for (const [key, route] of routes) routes.set(key, withAuth(route));
  if (state.defaultBackend !== null) state.defaultBackend = withAuth(state.defaultBackend);
};
