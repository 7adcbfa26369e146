/**
 * The ingress processor: turns the rules of our Ingresses (oldest first) into routes per
 * virtual host, and picks the default backend. The first Ingress to claim a host + path keeps
 * it, so the oldest wins every conflict and each loser is told who won.
 */
import { clusterId } from '../../shared/keys.js';
import type { Route } from '../../shared/snapshot.js';
import { describeObject, keyOf, type Ingress, type IngressBackend } from '../model.js';
import { quote, report, type CompileState, type Processor } from './context.js';
import { CATCH_ALL_HOST, compilePath, normaliseHost } from './match-rules.js';

/** compileIngresses fills `state.hosts` and `state.defaultBackend` from `state.ingresses`. */
export const compileIngresses: Processor = (state) => {
  for (const ing of state.ingresses) {
    compileDefaultBackend(state, ing);
    compileRules(state, ing);
  }
};

function compileDefaultBackend(state: CompileState, ing: Ingress): void {
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
  state.defaultBackend = makeRoute('Prefix', '/', ref.id, keyOf(ing));
  claimBackend(state, ing, ref);
}

function compileRules(state: CompileState, ing: Ingress): void {
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
      routes.set(routeKey, makeRoute(compiled.match, compiled.path, ref.id, source));
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

/** makeRoute builds a Route with a fixed key order, so that equal routes encode to equal bytes. */
function makeRoute(match: Route['match'], path: string, cluster: string, source: string): Route {
  return { match, path, cluster, source };
}
