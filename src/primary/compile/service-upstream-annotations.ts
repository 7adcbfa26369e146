/**
 * ingress-nginx `service-upstream` (issue 15 group 5, docs/annotations.md): `"true"` sends an
 * Ingress's requests to the Service's ClusterIP and port (kube-proxy then picks the pod) instead
 * of to the endpoints. Its routes get a backend of their own (`<backend>/service-upstream`) whose
 * one endpoint is `clusterIP:port`; a headless Service (or one without a ClusterIP) is reported
 * and its endpoints are used, as ingress-nginx falls back to them. A bad value is an
 * ING_ERR_INGRESS_INVALID_ANNOTATION diagnostic. Pure: it reads the Ingresses and the Services.
 */
import { isIP } from 'node:net';
import type { ErrorCode, Severity } from '../../shared/errors.js';
import { objectKey } from '../../shared/keys.js';
import type { Endpoint, Route } from '../../shared/snapshot.js';
import { describeObject, keyOf, type ObjectView } from '../model.js';
import { quote, report, type BackendUse, type CompileState, type Processor } from './context.js';
import { CANARY_ANNOTATION, parseBool } from './ingress.js';

const ANNOTATION = 'nginx.ingress.kubernetes.io/service-upstream';

/** applyServiceUpstream moves the routes of Ingresses with `service-upstream: "true"` to ClusterIP backends (before the backends are resolved). */
export const applyServiceUpstream: Processor = (state) => {
  const chosen = new Set<string>();
  for (const ing of state.ingresses) {
    const raw = ing.metadata.annotations?.[ANNOTATION];
    if (raw === undefined) continue;
    const v = parseBool(raw);
    if (v === undefined) report(state, 'ING_ERR_INGRESS_INVALID_ANNOTATION', 'error', describeObject(ing), `annotation ${ANNOTATION} is ${quote(raw)}, expected "true" or "false"; it has no effect`);
    // A canary's own service-upstream has no effect (canary-annotations.ts reports it).
    else if (v && parseBool(ing.metadata.annotations?.[CANARY_ANNOTATION] ?? '') !== true) chosen.add(keyOf(ing));
  }
  if (chosen.size === 0) return;
  const moved = (route: Route): Route => {
    if (!chosen.has(route.source)) return route;
    const old = state.uses.get(route.backend);
    if (old === undefined) return route;
    const id = `${route.backend}/service-upstream`;
    const use = state.uses.get(id);
    if (use === undefined) state.uses.set(id, { ...old, id, serviceUpstream: true, sources: new Set([route.source]) });
    else use.sources.add(route.source);
    // The old backend keeps only the Ingresses that still use it (a canary, another Ingress).
    if (!stillUsed(state, route.backend, route)) state.uses.delete(route.backend);
    else old.sources.delete(route.source);
    return { ...route, backend: id };
  };
  for (const routes of state.hosts.values()) for (const [key, route] of routes) routes.set(key, moved(route));
  if (state.defaultBackend !== null) state.defaultBackend = moved(state.defaultBackend);
};

/** stillUsed says whether a route other than `except`, or a canary, uses backend `id`. */
function stillUsed(state: CompileState, id: string, except: Route): boolean {
  const uses = (r: Route): boolean => r !== except && (r.backend === id || r.canary?.backend === id);
  for (const routes of state.hosts.values()) for (const r of routes.values()) if (uses(r)) return true;
  return state.defaultBackend !== null && uses(state.defaultBackend);
}

/**
 * clusterEndpoint is a service-upstream backend's one endpoint, the Service's ClusterIP and
 * port; undefined (the endpoints are used) when the Service or port is missing (endpointsOf
 * reports that) or it has no ClusterIP (reported here).
 */
export function clusterEndpoint(view: ObjectView, use: BackendUse, report: (code: ErrorCode, severity: Severity, object: string, message: string) => void): Endpoint[] | undefined {
  const service = view.service(use.namespace, use.service);
  const port = service?.spec?.ports?.find((p) => (typeof use.port === 'number' ? p.port === use.port : p.name !== undefined && p.name !== '' && p.name === use.port));
  if (service === undefined || port === undefined) return undefined;
  const ip = service.spec?.clusterIP ?? '';
  if (isIP(ip) === 0) {
    for (const source of use.sources)
      report('ING_ERR_INGRESS_UNSUPPORTED', 'warning', `Ingress ${source}`, `annotation ${ANNOTATION} has no ClusterIP to send to: Service ${objectKey(use.namespace, use.service)} has ${ip === '' ? 'none' : `clusterIP ${quote(ip)}`}; its endpoints are used`);
    return undefined;
  }
  return [{ address: ip, port: port.port, weight: 1, ready: true, terminating: false }];
}
