/**
 * ingress-nginx `default-backend` (issue 15 group 4, docs/annotations.md): the name of a Service
 * in the Ingress's namespace that takes the Ingress's requests while the Service of their route
 * has no ready endpoint. ingress-nginx fills such an upstream with the named Service's endpoints on
 * its first port; Flusso gives each route of the Ingress a second backend (`Route.fallbackBackend`,
 * that Service's first port), which the worker uses when the route's own has none to offer. A bad
 * name, a Service that does not exist or has no port is an ING_ERR_INGRESS_INVALID_ANNOTATION
 * diagnostic and the annotation has no effect. With `custom-http-errors` the error pages come from
 * there too (custom-http-errors-annotations.ts). Pure: it reads the Ingresses and the Services.
 */
import { backendId } from '../../shared/keys.js';
import type { Route } from '../../shared/snapshot.js';
import { describeObject, keyOf } from '../model.js';
import { quote, report, type Processor } from './context.js';
import { CANARY_ANNOTATION, parseBool } from './ingress.js';

export const DEFAULT_BACKEND_ANNOTATION = 'nginx.ingress.kubernetes.io/default-backend';

/** A Service name (RFC 1035 label), as Kubernetes requires. */
const SERVICE_NAME = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** applyDefaultBackend gives the routes of Ingresses with `default-backend` their fallback backend (before the backends are resolved). */
export const applyDefaultBackend: Processor = (state) => {
  const fallbacks = state.defaultBackends;
  for (const ing of state.ingresses) {
    const raw = ing.metadata.annotations?.[DEFAULT_BACKEND_ANNOTATION];
    if (raw === undefined) continue;
    // A canary's own annotations other than canary-* have no effect (canary-annotations.ts reports them).
    if (parseBool(ing.metadata.annotations?.[CANARY_ANNOTATION] ?? '') === true) continue;
    const namespace = ing.metadata.namespace ?? 'default';
    const name = raw.trim();
    const fail = (why: string): void => report(state, 'ING_ERR_INGRESS_INVALID_ANNOTATION', 'error', describeObject(ing), `annotation ${DEFAULT_BACKEND_ANNOTATION} is ${quote(raw)}: ${why}; it has no effect`);
    if (!SERVICE_NAME.test(name)) {
      fail('expected the name of a Service in the Ingress\'s namespace');
      continue;
    }
    const service = state.view.service(namespace, name);
    if (service === undefined) {
      fail(`Service ${namespace}/${name} does not exist`);
      continue;
    }
    const port = service.spec?.ports?.[0]?.port;
    if (typeof port !== 'number') {
      fail(`Service ${namespace}/${name} has no port`);
      continue;
    }
    // ingress-nginx takes the Service's first port.
    const id = backendId(namespace, name, port);
    const use = state.uses.get(id);
    if (use === undefined) state.uses.set(id, { id, namespace, service: name, port, sources: new Set([keyOf(ing)]) });
    else use.sources.add(keyOf(ing));
    fallbacks.set(keyOf(ing), id);
  }
  if (fallbacks.size === 0) return;
  const withFallback = (route: Route): Route => {
    const id = fallbacks.get(route.source);
    return id === undefined || id === route.backend ? route : { ...route, fallbackBackend: id };
  };
  for (const routes of state.hosts.values()) for (const [key, route] of routes) routes.set(key, withFallback(route));
  if (state.defaultBackend !== null) state.defaultBackend = withFallback(state.defaultBackend);
};
