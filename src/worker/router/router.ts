/**
 * The router contract: given a request's Host header and normalised path, pick the route.
 *
 * Precedence (Ingress v1; README.md "Routing (Ingress v1)"): an exact
 * host beats a single-label wildcard host (`*.foo.com` matches exactly one extra label),
 * which beats the catch-all `*` virtual host; within the one chosen host (there is no
 * fall-through to another host) an Exact path beats any Prefix, and a longer Prefix beats
 * a shorter one; Prefix matches whole path elements; when nothing matches, the table's
 * `defaultBackend` answers, and after that the router returns null (Flusso's 404).
 */
import type { Route } from '../../shared/snapshot.js';

/** RouteMatch is the result of a successful match. */
export interface RouteMatch {
  /** The matched route; for the default backend, the table's `defaultBackend`. */
  readonly route: Route;
  /** The virtual host pattern that matched (`foo.com`, `*.foo.com`, `*`), or null for the default backend. */
  readonly vhost: string | null;
}

/**
 * HostRouter matches a request to a route.
 *
 * Implementations are built once from a RoutingTable and are immutable afterwards, so one
 * instance may serve every request until the next snapshot swaps it out.
 */
export interface HostRouter {
  /** name identifies the implementation (for tests, benchmarks and logs). */
  readonly name: string;
  /**
   * match picks the route for a request.
   *
   * @param host - the Host header exactly as the client sent it. It is lower-cased, its port
   *   is stripped (also after an IPv6 literal such as `[::1]:80`) and a trailing dot is
   *   dropped before lookup. A host that is not a valid authority matches no virtual host.
   * @param path - the request path, already normalised (see normalize.ts), without query.
   *   Comparison is case-sensitive.
   * @returns the matched route, the default backend, or null when neither applies.
   */
  match(host: string, path: string): RouteMatch | null;
}
