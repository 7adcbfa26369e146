/**
 * The ingress processor: turns the rules of our Ingresses (oldest first) into routes per
 * virtual host, and picks the default backend. The first Ingress to claim a host + path keeps
 * it, so the oldest wins every conflict and each loser is told who won.
 */
import { backendId } from '../../shared/keys.js';
import type { Route, RouteCache, RoutePolicy as RouteAnnotations } from '../../shared/snapshot.js';
import { describeObject, keyOf, type Ingress, type IngressBackend } from '../model.js';
import { readAnnotations, type IngressAnnotations } from './annotations.js';
import { backendProtocolOf, type BackendProtocol } from './backend-protocol.js';
import { quote, report, type CompileState, type HostAnnotations, type Processor } from './context.js';
import { CATCH_ALL_HOST, compilePath, normaliseHost } from './match-rules.js';
import { unsupportedInputs } from './unsupported.js';

/** compileIngresses fills `state.hosts` and `state.defaultBackend` from `state.ingresses`. */
export const compileIngresses: Processor = (state) => {
  const tlsHosts = hostsWithTls(state.ingresses);
  for (const ing of state.ingresses) {
    // A canary Ingress makes no routes of its own: canary-annotations.ts attaches it to its main Ingress's.
    if (parseBool(ing.metadata.annotations?.[CANARY_ANNOTATION] ?? '') === true) continue;
    state.diagnostics.push(...unsupportedInputs(ing, describeObject(ing)));
    const policy: RoutePolicy = { cache: cachePolicy(state, ing), redirect: redirectPolicy(state, ing), tlsHosts, nginx: readAnnotations(state, ing) };
    const changes = policy.nginx.policy;
    // A cached answer would skip what these do to each request, so the worker does not cache those routes: say so.
    if (policy.cache !== undefined && changes !== undefined && (changes.rewrite !== undefined || changes.upstreamVhost !== undefined || changes.cors !== undefined))
      report(state, 'ING_ERR_INGRESS_UNSUPPORTED', 'warning', describeObject(ing), `${CACHE_ANNOTATION} has no effect on this Ingress: its rewrite-target, upstream-vhost or enable-cors change every request, and such routes are not cached`);
    compileDefaultBackend(state, ing, policy);
    compileRules(state, ing, policy);
  }
};

/** ingress-nginx `canary: "true"` marks a canary Ingress (issue 15 group 5, canary-annotations.ts). */
export const CANARY_ANNOTATION = 'nginx.ingress.kubernetes.io/canary';

/** RoutePolicy is what an Ingress's annotations (and every Ingress's TLS hosts) make of its routes. */
interface RoutePolicy {
  readonly cache: RouteCache | undefined;
  readonly redirect: 'tls-hosts' | 'off' | 'always';
  /** Hosts any of our Ingresses lists under spec.tls (lower-case; wildcards as written). */
  readonly tlsHosts: ReadonlySet<string>;
  /** The ingress-nginx annotations of the Ingress (annotations.ts, issue 15). */
  readonly nginx: IngressAnnotations;
}

/** The ingress-nginx annotations that steer the HTTP → HTTPS redirect (issue 11). */
export const SSL_REDIRECT_ANNOTATION = 'nginx.ingress.kubernetes.io/ssl-redirect';
export const FORCE_SSL_REDIRECT_ANNOTATION = 'nginx.ingress.kubernetes.io/force-ssl-redirect';

/** hostsWithTls collects the hosts our Ingresses list under spec.tls: they get the HTTPS redirect. */
function hostsWithTls(ingresses: readonly Ingress[]): Set<string> {
  const hosts = new Set<string>();
  for (const ing of ingresses) for (const t of ing.spec?.tls ?? []) for (const h of t.hosts ?? []) hosts.add(h.trim().toLowerCase().replace(/\.$/, ''));
  return hosts;
}

/** hasTls says whether a route host is served with TLS: listed itself, or covered by a one-label wildcard. */
function hasTls(host: string, tlsHosts: ReadonlySet<string>): boolean {
  if (host === CATCH_ALL_HOST) return false;
  if (tlsHosts.has(host)) return true;
  const dot = host.indexOf('.');
  return !host.startsWith('*.') && dot > 0 && tlsHosts.has(`*${host.slice(dot)}`);
}

/**
 * redirectPolicy reads ingress-nginx's redirect annotations (booleans as Go's ParseBool reads
 * them): by default, routes of hosts with TLS redirect plain HTTP (ssl-redirect is on);
 * `ssl-redirect: "false"` turns that off, `force-ssl-redirect: "true"` redirects every route of
 * the Ingress (TLS terminated in front of Flusso). A bad value is reported and ignored.
 */
function redirectPolicy(state: CompileState, ing: Ingress): RoutePolicy['redirect'] {
  const annotations = ing.metadata.annotations ?? {};
  const flag = (name: string): boolean | undefined => {
    const raw = annotations[name];
    if (raw === undefined) return undefined;
    const v = parseBool(raw);
    if (v === undefined) report(state, 'ING_ERR_INGRESS_INVALID_ANNOTATION', 'error', describeObject(ing), `annotation ${name} is ${quote(raw)}, expected "true" or "false"; it has no effect, as if it were not set`);
    return v;
  };
  if (flag(FORCE_SSL_REDIRECT_ANNOTATION) === true) return 'always';
  return flag(SSL_REDIRECT_ANNOTATION) === false ? 'off' : 'tls-hosts';
}

/** parseBool reads a boolean as Go's strconv.ParseBool (which ingress-nginx uses for annotations). */
export function parseBool(raw: string): boolean | undefined {
  const v = raw.trim();
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  return undefined;
}

/** The annotations that turn the response cache on for an Ingress's routes (issue 6). */
export const CACHE_ANNOTATION = 'flusso.dev/cache';
export const CACHE_TTL_ANNOTATION = 'flusso.dev/cache-ttl';
const MAX_TTL_SECONDS = 365 * 24 * 3600;

/**
 * cachePolicy reads the cache annotations of an Ingress: `flusso.dev/cache` ("true"/"false",
 * else `--cache-default`) and `flusso.dev/cache-ttl` (a duration, whole seconds). A bad value is
 * reported and ignored, never fatal: a bad cache switch means no cache, a bad TTL means explicit
 * freshness only.
 */
function cachePolicy(state: CompileState, ing: Ingress): RouteCache | undefined {
  const annotations = ing.metadata.annotations ?? {};
  const raw = annotations[CACHE_ANNOTATION];
  let on = state.opts.cacheDefault === true;
  if (raw !== undefined) {
    const v = raw.trim().toLowerCase();
    if (v === 'true') on = true;
    else if (v === 'false') on = false;
    else {
      report(state, 'ING_ERR_INGRESS_INVALID_ANNOTATION', 'error', describeObject(ing), `annotation ${CACHE_ANNOTATION} is ${quote(raw)}, expected "true" or "false"; the cache stays off for this Ingress`);
      on = false;
    }
  }
  if (!on) return undefined;
  const ttlRaw = annotations[CACHE_TTL_ANNOTATION];
  if (ttlRaw === undefined) return { ttlSeconds: null };
  const ttl = parseTtl(ttlRaw);
  if (ttl === undefined) {
    report(state, 'ING_ERR_INGRESS_INVALID_ANNOTATION', 'error', describeObject(ing), `annotation ${CACHE_TTL_ANNOTATION} is ${quote(ttlRaw)}, expected a duration such as 30s, 5m or 1h (at most 365 days); only responses with their own freshness are cached`);
    return { ttlSeconds: null };
  }
  return { ttlSeconds: ttl };
}

/** parseTtl reads `30s`, `5m`, `1h`, `2d` or bare seconds `30` into whole seconds (0 allowed: store only to revalidate). */
function parseTtl(text: string): number | undefined {
  const m = /^\s*(\d{1,9})\s*(s|m|h|d)?\s*$/.exec(text);
  if (m === null) return undefined;
  const n = Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[(m[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
  return n <= MAX_TTL_SECONDS ? n : undefined;
}

function compileDefaultBackend(state: CompileState, ing: Ingress, policy: RoutePolicy): void {
  const backend = ing.spec?.defaultBackend;
  if (backend === undefined) return;
  const ref = useBackend(state, ing, backend, 'spec.defaultBackend', 'default backend ignored');
  if (ref === undefined) return;
  if (state.defaultBackend !== null) {
    report(
      state,
      'ING_ERR_INGRESS_DEFAULT_BACKEND_CONFLICT',
      'error',
      describeObject(ing),
      `spec.defaultBackend is ignored because the older Ingress ${state.defaultBackend.source} already sets the default backend`,
    );
    return;
  }
  // The default backend serves any host: only a forced redirect applies to it.
  state.defaultBackend = makeRoute('Prefix', '/', ref.id, keyOf(ing), policy.cache, policy.redirect === 'always', routeAnnotations(policy.nginx, '/'));
  claimBackend(state, ing, ref);
}

function compileRules(state: CompileState, ing: Ingress, policy: RoutePolicy): void {
  const source = keyOf(ing);
  for (const rule of ing.spec?.rules ?? []) {
    let host = CATCH_ALL_HOST;
    if (rule.host !== undefined && rule.host !== '') {
      const normalised = normaliseHost(rule.host);
      if (normalised === undefined) {
        report(
          state,
          'ING_ERR_INGRESS_INVALID_HOST',
          'error',
          describeObject(ing),
          `rule host ${quote(rule.host)} is not a valid DNS name; rule skipped`,
        );
        continue;
      }
      host = normalised;
    }
    const redirect = policy.redirect === 'always' || (policy.redirect === 'tls-hosts' && hasTls(host, policy.tlsHosts));
    for (const p of rule.http?.paths ?? []) {
      const compiled = compilePath(p.pathType, p.path);
      if ('error' in compiled) {
        report(state, 'ING_ERR_INGRESS_INVALID_PATH', 'error', describeObject(ing), `${compiled.error}; path skipped`);
        continue;
      }
      const what = `path ${quote(p.path ?? '/')}`;
      const ref = useBackend(state, ing, p.backend, `backend of ${what}`, 'path skipped');
      if (ref === undefined) continue;
      let routes = state.hosts.get(host);
      const routeKey = `${compiled.match} ${compiled.path}`;
      const winner = routes?.get(routeKey);
      if (winner !== undefined) {
        report(
          state,
          'ING_ERR_INGRESS_CONFLICT',
          'error',
          describeObject(ing),
          `host ${quote(host)} ${compiled.match} path ${quote(compiled.path)} is already routed by Ingress ${winner.source}; path skipped`,
        );
        continue;
      }
      if (routes === undefined) state.hosts.set(host, (routes = new Map()));
      const rawPath = p.path === undefined || p.path === '' ? '/' : p.path;
      const route = makeRoute(compiled.match, compiled.path, ref.id, source, policy.cache, redirect, routeAnnotations(policy.nginx, rawPath));
      routes.set(routeKey, route);
      noteHostAnnotations(state, host, route, rawPath, policy.nginx, source);
      claimBackend(state, ing, ref);
    }
  }
}

/** BackendRef is a usable service backend: the backend id and the Service port it names. */
export interface BackendRef {
  readonly id: string;
  readonly namespace: string;
  readonly service: string;
  readonly port: number | string;
  readonly protocol?: BackendProtocol;
}

/**
 * useBackend returns the backend an Ingress backend field points at, or reports why the backend cannot be
 * used (`what` names it in the message, `outcome` says what was skipped) and returns undefined.
 */
export function useBackend(
  state: CompileState,
  ing: Ingress,
  backend: IngressBackend | undefined,
  what: string,
  outcome: string,
): BackendRef | undefined {
  const service = backend?.service;
  const port = service?.port?.number ?? (service?.port?.name || undefined);
  let problem: string | undefined;
  if (backend?.resource !== undefined) problem = 'is a resource backend, which Flusso does not support';
  else if (service === undefined || service.name === '') problem = 'names no service';
  else if (port === undefined) problem = 'names no service port';
  if (problem !== undefined || service === undefined || port === undefined) {
    report(state, 'ING_ERR_INGRESS_BACKEND_UNSUPPORTED', 'error', describeObject(ing), `${what} ${problem}; ${outcome}`);
    return undefined;
  }
  const namespace = ing.metadata.namespace ?? 'default';
  // backend-protocol makes a backend of its own: another Ingress may use the same port over HTTP/1.1.
  const protocol = backendProtocolOf(state, ing);
  if (protocol !== undefined) return { id: `${backendId(namespace, service.name, port)}/${protocol}`, namespace, service: service.name, port, protocol };
  return { id: backendId(namespace, service.name, port), namespace, service: service.name, port };
}

/** claimBackend records that a kept route of `ing` uses the backend of `ref`. */
export function claimBackend(state: CompileState, ing: Ingress, ref: BackendRef): void {
  const use = state.uses.get(ref.id);
  if (use !== undefined) use.sources.add(keyOf(ing));
  else state.uses.set(ref.id, { ...ref, sources: new Set([keyOf(ing)]) });
}

/**
 * makeRoute builds a Route with a fixed key order, so that equal routes encode to equal bytes;
 * `cache` and `httpsRedirect` are left out entirely (not set to undefined) when off.
 */
function makeRoute(match: Route['match'], path: string, backend: string, source: string, cache: RouteCache | undefined, httpsRedirect: boolean, annotations?: RouteAnnotations): Route {
  const route: { -readonly [K in keyof Route]: Route[K] } = { match, path, backend, source };
  if (cache !== undefined) route.cache = cache;
  if (httpsRedirect) route.httpsRedirect = true;
  if (annotations !== undefined) route.policy = annotations;
  return route;
}

/**
 * routeAnnotations is the Ingress's annotation policy for one path: the rewrite pattern is the
 * path as written (ingress-nginx's `rewrite "(?i)path" target break;`), and no rewrite at all
 * when the target is the path itself (ingress-nginx then proxies unchanged).
 */
function routeAnnotations(nginx: IngressAnnotations, rawPath: string): RouteAnnotations | undefined {
  const p = nginx.policy;
  if (p?.rewrite === undefined) return p;
  if (p.rewrite.target === rawPath) {
    const { rewrite: _dropped, forwardedPrefix: _alsoDropped, ...rest } = p;
    return Object.keys(rest).length === 0 ? undefined : rest;
  }
  return { ...p, rewrite: { pattern: rawPath, target: p.rewrite.target } };
}

/** noteHostAnnotations records what a kept route's Ingress asks of its whole host (host-annotations.ts acts on it). */
function noteHostAnnotations(state: CompileState, host: string, route: Route, rawPath: string, nginx: IngressAnnotations, source: string): void {
  let h: HostAnnotations | undefined = state.hostAnnotations.get(host);
  if (h === undefined) state.hostAnnotations.set(host, (h = { regex: false, rawPaths: new Map(), aliases: [], www: null }));
  h.rawPaths.set(route, rawPath);
  if (nginx.regex) h.regex = true;
  for (const name of nginx.aliases) if (!h.aliases.some((a) => a.name === name)) h.aliases.push({ name, ingress: source });
  if (nginx.fromToWww && h.www === null) h.www = { ingress: source, route };
}
