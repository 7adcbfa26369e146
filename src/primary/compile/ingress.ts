/**
 * The ingress processor: turns the rules of our Ingresses (oldest first) into routes per
 * virtual host, and picks the default backend. The first Ingress to claim a host + path keeps
 * it, so the oldest wins every conflict and each loser is told who won.
 */
import { clusterId } from '../../shared/keys.js';
import type { Route, RouteCache } from '../../shared/snapshot.js';
import { describeObject, keyOf, type Ingress, type IngressBackend } from '../model.js';
import { quote, report, type CompileState, type Processor } from './context.js';
import { CATCH_ALL_HOST, compilePath, normaliseHost } from './match-rules.js';

/** compileIngresses fills `state.hosts` and `state.defaultBackend` from `state.ingresses`. */
export const compileIngresses: Processor = (state) => {
  for (const ing of state.ingresses) {
    const cache = cachePolicy(state, ing);
    compileDefaultBackend(state, ing, cache);
    compileRules(state, ing, cache);
  }
};

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

function compileDefaultBackend(state: CompileState, ing: Ingress, cache: RouteCache | undefined): void {
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
  state.defaultBackend = makeRoute('Prefix', '/', ref.id, keyOf(ing), cache);
  claimBackend(state, ing, ref);
}

function compileRules(state: CompileState, ing: Ingress, cache: RouteCache | undefined): void {
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
      routes.set(routeKey, makeRoute(compiled.match, compiled.path, ref.id, source, cache));
      claimBackend(state, ing, ref);
    }
  }
}

/** BackendRef is a usable service backend: the cluster id and the Service port it names. */
interface BackendRef {
  readonly id: string;
  readonly namespace: string;
  readonly service: string;
  readonly port: number | string;
}

/**
 * useBackend returns the cluster a backend points at, or reports why the backend cannot be
 * used (`what` names it in the message, `outcome` says what was skipped) and returns undefined.
 */
function useBackend(
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
  return { id: clusterId(namespace, service.name, port), namespace, service: service.name, port };
}

/** claimBackend records that a kept route of `ing` uses the cluster of `ref`. */
function claimBackend(state: CompileState, ing: Ingress, ref: BackendRef): void {
  const use = state.backends.get(ref.id);
  if (use !== undefined) use.sources.add(keyOf(ing));
  else state.backends.set(ref.id, { ...ref, sources: new Set([keyOf(ing)]) });
}

/**
 * makeRoute builds a Route with a fixed key order, so that equal routes encode to equal bytes;
 * `cache` is left out entirely (not set to undefined) on uncached routes.
 */
function makeRoute(match: Route['match'], path: string, cluster: string, source: string, cache: RouteCache | undefined): Route {
  return cache === undefined ? { match, path, cluster, source } : { match, path, cluster, source, cache };
}
