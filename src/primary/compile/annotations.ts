/**
 * The ingress-nginx annotations Flusso executes (issue 15, docs/annotations.md): one typed,
 * validated parser per annotation, reading `nginx.ingress.kubernetes.io/<name>` as ingress-nginx
 * spells it. A bad value is an ING_ERR_INGRESS_INVALID_ANNOTATION diagnostic naming the Ingress,
 * the annotation and what is allowed; that annotation has no effect and the rest of the Ingress
 * applies, as in ingress-nginx. Pure: it reads one Ingress and returns values and diagnostics.
 */
import { RE2JS } from 're2js';
import type { RouteCors, RoutePolicy, RouteRedirect } from '../../shared/snapshot.js';
import { describeObject, type Ingress } from '../model.js';
import { quote, report, type CompileState } from './context.js';
import { normaliseHost } from './match-rules.js';

/** NGINX_PREFIX is ingress-nginx's default annotation prefix (`--annotations-prefix`). */
export const NGINX_PREFIX = 'nginx.ingress.kubernetes.io/';

/** IngressAnnotations is what one Ingress's ingress-nginx annotations ask of its routes and hosts. */
export interface IngressAnnotations {
  /** The per-route policy; undefined when no annotation changes a request. */
  readonly policy: RoutePolicy | undefined;
  /** `use-regex` or `rewrite-target`: every path of this Ingress's hosts is a regular expression. */
  readonly regex: boolean;
  /** `server-alias`: more names for each host of the Ingress. */
  readonly aliases: readonly string[];
  /** `from-to-www-redirect`: redirect `www.host` to `host` (or the reverse). */
  readonly fromToWww: boolean;
}

/** CORS defaults of ingress-nginx (internal/ingress/annotations/cors). */
const CORS_METHODS = 'GET, PUT, POST, DELETE, PATCH, OPTIONS';
const CORS_HEADERS = 'DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization';
const CORS_MAX_AGE = 1728000;
// The value shapes ingress-nginx accepts (the same regular expressions as its CORS parser).
const CORS_ORIGIN = /^(https?:\/\/(\*\.)?[A-Za-z0-9\-.]*(:[0-9]+)?|\*)?$/;
const CORS_METHODS_RE = /^([A-Za-z]+,?\s?)+$/;
const CORS_HEADERS_RE = /^([A-Za-z0-9\-_]+,?\s?)+$/;
const CORS_EXPOSE_RE = /^(([A-Za-z0-9\-_]+|\*),?\s?)+$/;

/** The nginx variables a redirect URL may use; Flusso fills them per request (worker/proxy/policy.ts). */
export const REDIRECT_VARIABLES: ReadonlySet<string> = new Set(['$request_uri', '$uri', '$host', '$scheme', '$args', '$is_args', '$query_string']);

// A path Flusso forwards: RFC 3986 pchars and `/`, plus `$1`…`$9` (captures) and a query.
const REWRITE_TARGET = /^\/[A-Za-z0-9\-._~!&'()*+,;=:@%/$?]*$/;
const APP_ROOT = /^\/[A-Za-z0-9\-._~!&'()*+,;=:@%/]*(\?[A-Za-z0-9\-._~!&'()*+,;=:@%/?]*)?$/;
const FORWARDED_PREFIX = /^[A-Za-z0-9\-._~!&'()*+,;=:@%/]+$/;
const HOST_PORT = /^([A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*(:[0-9]{1,5})?$/;

/** readAnnotations parses the ingress-nginx annotations of `ing`, reporting each bad value to `state`. */
export function readAnnotations(state: CompileState, ing: Ingress): IngressAnnotations {
  const all = ing.metadata.annotations ?? {};
  const get = (name: string): string | undefined => all[NGINX_PREFIX + name];
  const bad = (name: string, value: string, allowed: string, outcome = 'it has no effect'): void =>
    report(state, 'ING_ERR_INGRESS_INVALID_ANNOTATION', 'error', describeObject(ing), `annotation ${NGINX_PREFIX}${name} is ${quote(value)}, expected ${allowed}; ${outcome}`);
  const warn = (message: string): void => report(state, 'ING_ERR_INGRESS_UNSUPPORTED', 'warning', describeObject(ing), message);
  const flag = (name: string): boolean | undefined => {
    const raw = get(name);
    if (raw === undefined) return undefined;
    const v = parseBool(raw);
    if (v === undefined) bad(name, raw, '"true" or "false"');
    return v;
  };

  const policy: { -readonly [K in keyof RoutePolicy]: RoutePolicy[K] } = {};
  const regex = flag('use-regex') === true;

  const target = get('rewrite-target');
  if (target !== undefined) {
    if (REWRITE_TARGET.test(target) && capturesOnly(target)) policy.rewrite = { pattern: '', target };
    else bad('rewrite-target', target, 'a path starting with "/" that may use the captures $1 to $9 of the path (and a query)');
  }
  const prefix = get('x-forwarded-prefix');
  if (prefix !== undefined) {
    if (!FORWARDED_PREFIX.test(prefix)) bad('x-forwarded-prefix', prefix, 'a path such as "/api"');
    else if (policy.rewrite === undefined) warn(`annotation ${NGINX_PREFIX}x-forwarded-prefix has no effect without a valid rewrite-target (as in ingress-nginx, which sends X-Forwarded-Prefix only on rewritten locations); ignored`);
    else policy.forwardedPrefix = prefix;
  }
  const appRoot = get('app-root');
  if (appRoot !== undefined) {
    if (APP_ROOT.test(appRoot)) policy.appRoot = appRoot;
    else bad('app-root', appRoot, 'a path starting with "/" (not a URL)');
  }
  const vhost = get('upstream-vhost');
  if (vhost !== undefined) {
    if (HOST_PORT.test(vhost) && vhost.length <= 259) policy.upstreamVhost = vhost;
    else bad('upstream-vhost', vhost, 'a host name, optionally with a port (such as "api.internal" or "api.internal:8080")');
  }

  const redirect = readRedirect(get, bad, warn);
  if (redirect !== undefined) policy.redirect = redirect;
  const cors = flag('enable-cors') === true ? readCors(get, bad, flag) : undefined;
  if (cors !== undefined) policy.cors = cors;

  const aliases: string[] = [];
  const aliasText = get('server-alias');
  if (aliasText !== undefined) {
    for (const part of aliasText.split(',')) {
      const name = part.trim();
      if (name === '') continue;
      const host = normaliseHost(name);
      if (host === undefined) bad('server-alias', name, 'host names (DNS names or one-label wildcards) separated by commas', 'that alias is skipped');
      else aliases.push(host);
    }
  }
  const fromToWww = flag('from-to-www-redirect') === true;
  return { policy: Object.keys(policy).length === 0 ? undefined : policy, regex: regex || policy.rewrite !== undefined, aliases, fromToWww };
}

/** capturesOnly says whether every `$` of a rewrite target starts a capture reference `$1`…`$9`. */
function capturesOnly(target: string): boolean {
  for (let i = target.indexOf('$'); i >= 0; i = target.indexOf('$', i + 1)) {
    const c = target.charCodeAt(i + 1);
    if (c < 0x31 || c > 0x39) return false;
  }
  return true;
}

type Getter = (name: string) => string | undefined;
type Bad = (name: string, value: string, allowed: string, outcome?: string) => void;

/**
 * readRedirect reads `temporal-redirect` (302, or `temporal-redirect-code`) and
 * `permanent-redirect` (301, or `permanent-redirect-code`). ingress-nginx checks the temporal
 * one first, so it wins when both are set; the codes must be 300–308 (ingress-nginx falls back
 * to the default silently: Flusso says so).
 */
function readRedirect(get: Getter, bad: Bad, warn: (m: string) => void): RouteRedirect | undefined {
  const code = (name: string, fallback: number): number => {
    const raw = get(name);
    if (raw === undefined) return fallback;
    const n = /^\s*\d{3}\s*$/.test(raw) ? Number(raw) : NaN;
    if (n >= 300 && n <= 308) return n;
    bad(name, raw, 'a redirect status from 300 to 308', `${fallback} is used, as in ingress-nginx`);
    return fallback;
  };
  const temporal = get('temporal-redirect');
  const permanent = get('permanent-redirect');
  let chosen: RouteRedirect | undefined;
  if (temporal !== undefined && temporal !== '') {
    const url = splitRedirectUrl(temporal);
    if (url === undefined) bad('temporal-redirect', temporal, 'an absolute http or https URL, which may use $request_uri, $uri, $host, $scheme, $args, $is_args');
    else chosen = { code: code('temporal-redirect-code', 302), url };
  }
  if (permanent !== undefined && permanent !== '') {
    const url = splitRedirectUrl(permanent);
    if (url === undefined) bad('permanent-redirect', permanent, 'an absolute http or https URL, which may use $request_uri, $uri, $host, $scheme, $args, $is_args');
    else if (chosen !== undefined) warn(`annotation ${NGINX_PREFIX}permanent-redirect is overridden by temporal-redirect (ingress-nginx reads the temporal one first); ignored`);
    else chosen = { code: code('permanent-redirect-code', 301), url };
  }
  return chosen;
}

/**
 * splitRedirectUrl checks a redirect URL (http or https, no spaces or control characters, as
 * ingress-nginx's URL check) and splits it into literal text and the nginx variables it uses,
 * or returns undefined when it is not one or uses another variable.
 */
export function splitRedirectUrl(raw: string): string[] | undefined {
  if (!/^https?:\/\/[^\s/?#]+/i.test(raw) || /[\u0000-\u0020\u007f"'\\{};]/.test(raw)) return undefined;
  const parts: string[] = [];
  let from = 0;
  for (const m of raw.matchAll(/\$[a-z_]+/g)) {
    // The longest known variable that starts here (nginx reads the name greedily).
    const name = m[0];
    if (!REDIRECT_VARIABLES.has(name)) return undefined;
    if (m.index > from) parts.push(raw.slice(from, m.index));
    parts.push(name);
    from = m.index + name.length;
  }
  if (from < raw.length) parts.push(raw.slice(from));
  return parts;
}

/**
 * readCors reads the `cors-*` annotations with ingress-nginx's defaults and value shapes: a
 * list of origins (`*`, or `http(s)://name[:port]` where the first label may be `*`), methods,
 * headers, expose headers, credentials (default true) and max age (default 1728000 s).
 */
function readCors(get: Getter, bad: Bad, flag: (name: string) => boolean | undefined): RouteCors {
  let origins: string[] = ['*'];
  const originText = get('cors-allow-origin');
  if (originText !== undefined) {
    origins = [];
    for (const part of originText.split(',')) {
      const origin = part.trim();
      if (origin === '*') {
        origins = ['*'];
        break;
      }
      if (origin === '' || !CORS_ORIGIN.test(origin)) bad('cors-allow-origin', origin, '"*" or origins such as "https://example.com", "https://*.example.com:8443" separated by commas', 'that origin is skipped');
      else origins.push(origin);
    }
  }
  const listed = (name: string, shape: RegExp, fallback: string, allowed: string): string => {
    const raw = get(name);
    if (raw === undefined) return fallback;
    if (shape.test(raw)) return raw;
    bad(name, raw, allowed, `ingress-nginx's default ${quote(fallback)} is used`);
    return fallback;
  };
  const maxAgeText = get('cors-max-age');
  let maxAgeSeconds = CORS_MAX_AGE;
  if (maxAgeText !== undefined) {
    if (/^\s*-?\d{1,9}\s*$/.test(maxAgeText)) maxAgeSeconds = Number(maxAgeText);
    else bad('cors-max-age', maxAgeText, 'a number of seconds', `ingress-nginx's default ${CORS_MAX_AGE} is used`);
  }
  return {
    origins,
    methods: listed('cors-allow-methods', CORS_METHODS_RE, CORS_METHODS, 'method names separated by commas'),
    headers: listed('cors-allow-headers', CORS_HEADERS_RE, CORS_HEADERS, 'header names separated by commas'),
    exposeHeaders: listed('cors-expose-headers', CORS_EXPOSE_RE, '', 'header names or "*" separated by commas'),
    credentials: flag('cors-allow-credentials') ?? true,
    maxAgeSeconds,
  };
}

/** parseBool reads a boolean as Go's strconv.ParseBool (which ingress-nginx uses for annotations). */
export function parseBool(raw: string): boolean | undefined {
  const v = raw.trim();
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  return undefined;
}

/**
 * pathRegexProblem checks that a path is a regular expression Flusso can run: RE2 syntax
 * (no backreferences or lookaround, which a linear-time engine cannot have). It returns the
 * reason when it is not, else undefined.
 */
export function pathRegexProblem(path: string): string | undefined {
  try {
    RE2JS.compile(`(?i)^${path}`);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}
