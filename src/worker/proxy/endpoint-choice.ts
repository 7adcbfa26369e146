/**
 * Which endpoint of the chosen backend a request goes to, on every request path (handler.ts,
 * websocket.ts, h2-proxy.ts): `affinity: cookie` first, as ingress-nginx (affinity.ts), then
 * `upstream-hash-by`, the endpoint that owns the request's key (upstream-hash.ts), else the
 * balancer's turn. With affinity, the cookie to add to the answer when one is issued.
 */
import { affinityCookie } from '../../shared/affinity.js';
import type { Route } from '../../shared/snapshot.js';
import type { BackendRuntime, UpstreamEndpoint } from '../state.js';
import { cookieFieldOf, selectSticky } from './affinity.js';
import { selectHashed, type HashedRequest } from './upstream-hash.js';

/** EndpointChoice is the endpoint (null: none may take requests) and the affinity Set-Cookie value to send (null: none). */
export interface EndpointChoice {
  readonly endpoint: UpstreamEndpoint | null;
  readonly cookie: string | null;
}

/**
 * chooseEndpoint picks `route`'s endpoint of `backend` for `req` (its fields, and the parts an
 * upstream-hash-by key may read); `https` marks the cookie Secure unless the route says.
 */
export function chooseEndpoint(route: Route, backend: BackendRuntime, req: HashedRequest, https: boolean): EndpointChoice {
  const affinity = route.affinity;
  if (affinity !== undefined) {
    const sticky = selectSticky(backend.balancer, affinity.name, cookieFieldOf(req.names, req.values), () => backend.balancer.select());
    return { endpoint: sticky?.endpoint ?? null, cookie: sticky?.issue == null ? null : affinityCookie(affinity, sticky.issue, https, Date.now()) };
  }
  const hashBy = route.hashBy;
  return { endpoint: hashBy === undefined ? backend.balancer.select() : selectHashed(backend.balancer, hashBy, req), cookie: null };
}
