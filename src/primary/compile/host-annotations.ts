/**
 * The host-wide ingress-nginx annotations (issue 15, docs/annotations.md), applied once every
 * Ingress has claimed its routes: `use-regex` / `rewrite-target` turn every path of the host into
 * a regular expression (ingress-nginx enforces regex on the whole server), `from-to-www-redirect`
 * adds the other name as a redirecting host, and `server-alias` serves the host's routes under
 * more names. Pure, like every compile processor.
 */
import type { Route } from '../../shared/snapshot.js';
import { pathRegexProblem } from './annotations.js';
import { quote, report, type CompileState, type Processor } from './context.js';
import { CATCH_ALL_HOST } from './match-rules.js';

/** WWW_REDIRECT_CODE is ingress-nginx's `http-redirect-code` default, used for from-to-www redirects. */
export const WWW_REDIRECT_CODE = 308;

/** applyHostAnnotations rewrites `state.hosts` for regex hosts, www redirects and aliases, in that order. */
export const applyHostAnnotations: Processor = (state) => {
  if (state.hostAnnotations.size === 0) return;
  for (const [host, h] of state.hostAnnotations) if (h.regex) toRegexHost(state, host, h.rawPaths);
  for (const [host, h] of state.hostAnnotations) {
    if (h.www === null || host === CATCH_ALL_HOST || host.startsWith('*.')) continue;
    const other = host.startsWith('www.') ? host.slice(4) : `www.${host}`;
    if (state.hosts.has(other)) {
      report(state, 'ING_ERR_INGRESS_CONFLICT', 'warning', `Ingress ${h.www.ingress}`, `from-to-www-redirect: host ${quote(other)} has rules of its own, so it is not redirected to ${quote(host)} (as in ingress-nginx)`);
      continue;
    }
    const route: Route = { match: 'Prefix', path: '/', backend: h.www.route.backend, source: h.www.ingress, policy: { hostRedirect: { host, code: WWW_REDIRECT_CODE } } };
    state.hosts.set(other, new Map([[`Prefix /`, route]]));
  }
  for (const [host, h] of state.hostAnnotations) {
    const routes = state.hosts.get(host);
    if (routes === undefined) continue;
    for (const alias of h.aliases) {
      if (alias.name === host) continue;
      if (state.hosts.has(alias.name)) {
        report(state, 'ING_ERR_INGRESS_CONFLICT', 'warning', `Ingress ${alias.ingress}`, `server-alias ${quote(alias.name)} is already a host with rules of its own (or another alias); the alias is ignored, as in ingress-nginx`);
        continue;
      }
      state.hosts.set(alias.name, new Map(routes));
    }
  }
};

/**
 * toRegexHost makes every route of `host` a regex route on its path as written (`~* "^path"`);
 * a path RE2 cannot compile (a backreference, a lookaround) is reported and skipped, where
 * ingress-nginx would fail its whole reload.
 */
function toRegexHost(state: CompileState, host: string, rawPaths: ReadonlyMap<Route, string>): void {
  const routes = state.hosts.get(host);
  if (routes === undefined) return;
  const converted = new Map<string, Route>();
  for (const [key, route] of routes) {
    const raw = rawPaths.get(route) ?? route.path;
    const problem = pathRegexProblem(raw);
    if (problem !== undefined) {
      report(state, 'ING_ERR_INGRESS_INVALID_PATH', 'error', `Ingress ${route.source}`, `path ${quote(raw)} of host ${quote(host)} is matched as a regular expression (use-regex or rewrite-target), and Flusso runs only RE2 syntax, in linear time (no backreferences or lookaround): ${problem}; path skipped`);
      continue;
    }
    converted.set(key, { ...route, path: raw, regex: true });
  }
  state.hosts.set(host, converted);
}
