/**
 * ingress-nginx external authentication (`auth-url` and its companions, issue 15 group 6,
 * docs/annotations.md "External authentication"): what the compiler puts on a route. The worker
 * executes it (worker/proxy/external-auth.ts); the pure parts (variables, the sign-in URL, the
 * cache durations) are here so the explainer uses the same code.
 */

/**
 * A text with nginx variables: literal parts and variable names (`$host`, `$http_x_user`, …),
 * each variable one element starting with `$`.
 */
export type VarText = readonly string[];

/** AuthCacheDuration is one `auth-cache-duration` entry: the statuses it applies to (empty: 200, 301, 302; `any`: all) and how long. */
export interface AuthCacheDuration {
  readonly codes: readonly number[] | 'any';
  readonly seconds: number;
}

/** RouteExternalAuth is one Ingress's external authentication, shared by all its routes. */
export interface RouteExternalAuth {
  /** The Ingress (`namespace/name`): its cache entries are its own. */
  readonly id: string;
  /**
   * Why the annotations are refused, when they are: then every request gets 503, as ingress-nginx
   * denies a location whose auth annotations it cannot parse (auth never fails open).
   */
  readonly denied?: string;
  /** `auth-url`, with variables. */
  readonly url: VarText;
  /** `auth-method`; absent: the client's method (nginx's subrequest keeps it). */
  readonly method?: string;
  /** `auth-signin` with the redirect parameter added as ingress-nginx does; absent: a 401 goes to the client. */
  readonly signin?: VarText;
  /** `auth-response-headers`: names (as written) copied from the auth response onto the upstream request. */
  readonly responseHeaders: readonly string[];
  /** `auth-request-redirect`: the X-Auth-Request-Redirect value; absent: the request target. */
  readonly requestRedirect?: VarText;
  /** `auth-cache-key`; absent: no cache. */
  readonly cacheKey?: VarText;
  /** `auth-cache-duration` (default `200 202 401 5m`). */
  readonly cacheDurations: readonly AuthCacheDuration[];
  /** `auth-always-set-cookie`: the auth service's Set-Cookie goes on every response, not only 2xx/3xx (nginx `add_header … always`). */
  readonly alwaysSetCookie?: true;
}

/** VarContext is what variables read of a request. */
export interface VarContext {
  readonly scheme: 'http' | 'https';
  /** The Host field as sent (nginx $http_host). */
  readonly hostField: string;
  /** The normalised host (nginx $host). */
  readonly host: string;
  readonly method: string;
  /** The request target as sent (nginx $request_uri). */
  readonly target: string;
  readonly path: string;
  readonly query: string;
  readonly clientAddress: string;
  /** A request field by lower-case name ('' when absent). */
  readonly field: (name: string) => string;
}

/** The variables auth annotations may use besides `$http_<name>` and `$cookie_<name>`. */
export const AUTH_VARIABLES: ReadonlySet<string> = new Set([
  '$host', '$http_host', '$scheme', '$pass_access_scheme', '$request_uri', '$escaped_request_uri', '$uri', '$args', '$query_string', '$is_args', '$remote_addr', '$request_method', '$remote_user', '$best_http_host',
]);

/** splitVars splits a text into literal parts and variables; undefined when it uses a variable Flusso does not know. */
export function splitVars(raw: string): string[] | undefined {
  const parts: string[] = [];
  let from = 0;
  for (const m of raw.matchAll(/\$[A-Za-z0-9_]+/g)) {
    const name = m[0];
    if (!AUTH_VARIABLES.has(name) && !/^\$(http|cookie)_[a-z0-9_]+$/.test(name)) return undefined;
    if (m.index > from) parts.push(raw.slice(from, m.index));
    parts.push(name);
    from = m.index + name.length;
  }
  if (from < raw.length) parts.push(raw.slice(from));
  return parts;
}

/** expandVars fills a VarText's variables from `ctx`. */
export function expandVars(text: VarText, ctx: VarContext): string {
  let out = '';
  for (const part of text) out += part.charCodeAt(0) === 0x24 /* $ */ ? variable(part, ctx) : part;
  return out;
}

/** escapeUri is nginx's set_escape_uri (ngx_escape_uri, NGX_ESCAPE_ARGS): what `$escaped_request_uri` holds. */
export function escapeUri(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9\-._~]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function variable(name: string, ctx: VarContext): string {
  switch (name) {
    case '$host':
      return ctx.host;
    case '$http_host':
    case '$best_http_host':
      return ctx.hostField;
    case '$scheme':
    case '$pass_access_scheme':
      return ctx.scheme;
    case '$request_uri':
      return ctx.target;
    case '$escaped_request_uri':
      return escapeUri(ctx.target);
    case '$uri':
      return ctx.path;
    case '$args':
    case '$query_string':
      return ctx.query;
    case '$is_args':
      return ctx.query === '' ? '' : '?';
    case '$remote_addr':
      return ctx.clientAddress;
    case '$request_method':
      return ctx.method;
    case '$remote_user':
      return ''; // basic authentication is not in force on these routes
    default:
      if (name.startsWith('$http_')) return ctx.field(name.slice(6).replaceAll('_', '-'));
      return cookie(ctx.field('cookie'), name.slice(8));
  }
}

/** cookie is nginx's $cookie_<name>: the first cookie of that name (names compared exactly). */
function cookie(header: string, name: string): string {
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return '';
}

/** cacheSeconds is how long an auth answer of `status` may be kept under `durations` (0: not kept), as nginx's proxy_cache_valid. */
export function cacheSeconds(durations: readonly AuthCacheDuration[], status: number): number {
  let any = 0;
  for (const d of durations) {
    if (d.codes === 'any') any = any || d.seconds;
    else if ((d.codes.length === 0 ? [200, 301, 302] : d.codes).includes(status)) return d.seconds;
  }
  return any;
}
