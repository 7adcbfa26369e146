/**
 * HostTableRouter: hash lookups for exact and wildcard hosts, so matching costs the same with
 * ten hosts or ten thousand.
 */
import type { Route, RoutingTable } from '../../shared/snapshot.js';
import { normalizeHost } from '../../shared/host.js';
import { createPathMatcher, type PathMatcher, type PathMatcherFactory, type PathRule } from './path-matcher.js';
import { RegexPathMatcher } from './regex-matcher.js';
import type { HostRouter, RouteMatch } from './router.js';

/** HostTableRouterOptions selects the path matcher (tests run the contract against each). */
export interface HostTableRouterOptions {
  readonly pathMatcher?: PathMatcherFactory;
  readonly name?: string;
}

/**
 * HostTableRouter implements HostRouter with one Map of exact hosts and one Map of wildcard
 * suffixes (`*.foo.com` is stored under `foo.com` and found by dropping the request host's
 * first label, which is why it matches exactly one extra label), plus the catch-all `*`.
 * Each virtual host owns a PathMatcher; a host that matched but whose paths did not falls
 * straight to the default backend, never to a less specific host.
 */
export class HostTableRouter implements HostRouter {
  readonly name: string;
  readonly #exact = new Map<string, PathMatcher<RouteMatch>>();
  readonly #wildcard = new Map<string, PathMatcher<RouteMatch>>();
  readonly #catchAll: PathMatcher<RouteMatch> | null;
  readonly #defaultMatch: RouteMatch | null;

  constructor(table: RoutingTable, options: HostTableRouterOptions = {}) {
    const factory = options.pathMatcher ?? createPathMatcher;
    this.name = options.name ?? 'host-table';
    // Merge duplicate host entries (the compiler emits one per host; be tolerant anyway).
    const byHost = new Map<string, Route[]>();
    for (const vh of table.hosts) {
      const host = vh.host.toLowerCase();
      const routes = byHost.get(host);
      if (routes === undefined) byHost.set(host, [...vh.routes]);
      else routes.push(...vh.routes);
    }
    let catchAll: PathMatcher<RouteMatch> | null = null;
    for (const [host, routes] of byHost) {
      const rules: PathRule<RouteMatch>[] = routes.map((route) => ({
        match: route.match,
        path: route.path,
        value: Object.freeze({ route, vhost: host }),
      }));
      // A regex host (issue 15) matches in table order; its routes are all regex routes.
      const matcher = routes[0]?.regex === true ? new RegexPathMatcher(rules) : factory(rules);
      if (host === '*') catchAll = matcher;
      else if (host.startsWith('*.')) this.#wildcard.set(host.slice(2), matcher);
      else this.#exact.set(host.endsWith('.') ? host.slice(0, -1) : host, matcher);
    }
    this.#catchAll = catchAll;
    this.#defaultMatch = table.defaultBackend ? Object.freeze({ route: table.defaultBackend, vhost: null }) : null;
  }

  match(host: string, path: string): RouteMatch | null {
    const key = normalizeHost(host);
    let matcher: PathMatcher<RouteMatch> | null | undefined;
    if (key !== null) {
      matcher = this.#exact.get(key);
      if (matcher === undefined && this.#wildcard.size > 0) {
        const dot = key.indexOf('.');
        if (dot > 0) matcher = this.#wildcard.get(key.slice(dot + 1));
      }
      if (matcher === undefined) matcher = this.#catchAll;
    }
    if (matcher) {
      const hit = matcher.match(path);
      if (hit !== null) return hit;
    }
    return this.#defaultMatch;
  }
}

/** createRouter builds the production router for a routing table. */
export function createRouter(table: RoutingTable): HostRouter {
  return new HostTableRouter(table);
}
