/**
 * ingress-nginx `default-backend` in the worker (compile/default-backend-annotations.ts,
 * docs/annotations.md): a route's requests go to its fallback backend while its own backend has
 * no endpoint to offer (none listed, or none ready), as ingress-nginx fills such an upstream with
 * the default backend's endpoints. One property check for a route without it.
 */
import type { Route } from '../../shared/snapshot.js';
import type { BackendRuntime } from '../state.js';

/** backendOrFallback returns `backend`, or the route's fallback backend when `backend` has no ready endpoint. */
export function backendOrFallback(route: Route, backend: BackendRuntime | undefined, backends: ReadonlyMap<string, BackendRuntime>): BackendRuntime | undefined {
  const id = route.fallbackBackend;
  if (id === undefined || (backend !== undefined && backend.balancer.eligible().length > 0)) return backend;
  return backends.get(id) ?? backend;
}
