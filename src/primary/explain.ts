/**
 * The route explainer behind the admin API and the GUI: given a host and a path, which rule of
 * the published table takes the request, which others were considered, and why each did or did
 * not win. It applies the same Ingress v1 rules as the workers' router (the router contract
 * tests run against both), but walks every candidate so it can say why, which a router must not
 * spend time on.
 */
import type { Route, RoutingTable, VirtualHost } from '../shared/snapshot.js';
import { normalizeHost } from '../shared/host.js';
import { unappliedOnHttp2 } from '../shared/http2-backend.js';
import { normalizePath } from '../shared/request-path.js';
import { describeAnnotations, regexMatches, type RequestTraits } from './explain-annotations.js';

/** HostChoice says how the virtual host was chosen. */
export type HostChoice = 'exact' | 'wildcard' | 'catch-all' | 'none';

/** Candidate is one route of the chosen virtual host, with its verdict. */
export interface Candidate {
  readonly match: Route['match'];
  readonly path: string;
  readonly backend: string;
  readonly source: string;
  readonly verdict: 'chosen' | 'matches-but-loses' | 'no-match';
  readonly why: string;
}

/** Explanation is the explainer's answer. */
export interface Explanation {
  readonly host: string;
  readonly path: string;
  /** Set when the host or path is not one the proxy would route (it answers 400). */
  readonly invalid?: string;
  readonly hostChoice: HostChoice;
  readonly virtualHost: string | null;
  /** Other virtual hosts that match the name but lose to the chosen one. */
  readonly shadowedHosts: readonly string[];
  readonly candidates: readonly Candidate[];
  readonly result: 'route' | 'default-backend' | 'not-found';
  readonly route: Route | null;
  readonly summary: string;
  /** What the chosen route's ingress-nginx annotations do to this request, and why (issue 15); empty when none. */
  readonly annotations: readonly string[];
}

/** explainRoute explains how `table` routes a request for `rawHost` and `rawPath`. */
export function explainRoute(table: RoutingTable, rawHost: string, rawPath: string, traits: RequestTraits = {}): Explanation {
  const host = normalizeHost(rawHost);
  const q = rawPath.indexOf('?');
  const path = normalizePath(q < 0 ? rawPath : rawPath.slice(0, q));
  if (host === null || path === null) {
    const invalid = host === null ? `host "${rawHost}" is not a valid host` : `path "${rawPath}" is not a valid request path`;
    return { host: rawHost, path: rawPath, invalid, hostChoice: 'none', virtualHost: null, shadowedHosts: [], candidates: [], result: 'not-found', route: null, summary: `${invalid}: the proxy answers 400`, annotations: [] };
  }
  const byName = new Map<string, VirtualHost>(table.hosts.map((h) => [h.host, h]));
  const dot = host.indexOf('.');
  const wildcard = dot > 0 ? `*${host.slice(dot)}` : null;
  const options: [HostChoice, VirtualHost | undefined][] = [
    ['exact', byName.get(host)],
    ['wildcard', wildcard === null ? undefined : byName.get(wildcard)],
    ['catch-all', byName.get('*')],
  ];
  const present = options.filter((o): o is [HostChoice, VirtualHost] => o[1] !== undefined);
  const [hostChoice, vhost] = present[0] ?? ['none', undefined];
  const shadowedHosts = present.slice(1).map(([, v]) => v.host);

  const candidates: Candidate[] = [];
  let chosen: Route | null = null;
  // A regex host (ingress-nginx use-regex) is tried in table order; else in match order
  // (every Exact, then Prefix longest first), whatever order the table has.
  const regex = vhost?.routes[0]?.regex === true;
  const ordered = regex ? (vhost?.routes ?? []) : [...(vhost?.routes ?? [])].sort(matchOrder);
  for (const r of ordered) {
    if (regex) {
      const hit = regexMatches(r.path, path);
      const verdict = !hit ? 'no-match' : chosen === null ? 'chosen' : 'matches-but-loses';
      const why = !hit ? `the regular expression ~* "^${r.path}" does not match "${path}"` : chosen === null ? 'the first regular expression that matches (use-regex: longest path text first, as ingress-nginx)' : `matches, but "${chosen.path}" comes first (longer path text)`;
      if (verdict === 'chosen') chosen = r;
      candidates.push({ ...pick(r), verdict, why });
      continue;
    }
    const hit = r.match === 'Exact' ? r.path === path : prefixMatches(r.path, path);
    if (!hit) {
      candidates.push({ ...pick(r), verdict: 'no-match', why: r.match === 'Exact' ? `Exact "${r.path}" needs the path to be exactly that` : `Prefix "${r.path}" does not match "${path}" element by element` });
      continue;
    }
    if (chosen === null) {
      chosen = r;
      candidates.push({ ...pick(r), verdict: 'chosen', why: r.match === 'Exact' ? 'Exact match: an Exact path beats every Prefix' : 'longest matching Prefix' });
    } else {
      candidates.push({ ...pick(r), verdict: 'matches-but-loses', why: chosen.match === 'Exact' && r.match === 'Prefix' ? `matches, but Exact "${chosen.path}" wins` : `matches, but the longer Prefix "${chosen.path}" wins` });
    }
  }
  const base = { host, path, hostChoice, virtualHost: vhost?.host ?? null, shadowedHosts, candidates };
  if (chosen !== null) {
    const query = q < 0 ? '' : rawPath.slice(q + 1);
    const annotations = describeAnnotations(chosen, { method: traits.method ?? 'GET', scheme: traits.scheme ?? 'http', hostField: rawHost, host, path, query, target: query === '' ? path : `${path}?${query}`, origin: traits.origin ?? '' }, traits.clientAddress, traits);
    const http2 = describeHttp2Backend(chosen, table.backends.find((b) => b.id === chosen?.backend)?.protocol);
    if (http2 !== null) annotations.push(http2);
    const how = chosen.regex === true ? `regex "${chosen.path}"` : `${chosen.match} "${chosen.path}"`;
    return { ...base, result: 'route', route: chosen, summary: `${describeHost(hostChoice, vhost?.host)}; ${how} of Ingress ${chosen.source} → ${chosen.backend}`, annotations };
  }
  const why = vhost === undefined ? 'no virtual host matches' : `no path of ${vhost.host} matches`;
  if (table.defaultBackend !== null)
    return { ...base, result: 'default-backend', route: table.defaultBackend, summary: `${why}; the default backend of Ingress ${table.defaultBackend.source} → ${table.defaultBackend.backend}`, annotations: [] };
  return { ...base, result: 'not-found', route: null, summary: `${why} and no Ingress sets a default backend: 404`, annotations: [] };
}

/**
 * describeHttp2Backend says how a request reaches a backend that speaks HTTP/2 (docs/http2.md),
 * and which of the route's annotations that path does not apply; null for an HTTP/1.1 backend.
 */
export function describeHttp2Backend(route: Route, protocol: 'h2c' | 'h2' | undefined): string | null {
  if (protocol === undefined) return null;
  const unapplied = unappliedOnHttp2(route);
  const how = `the backend speaks HTTP/2 (${protocol === 'h2c' ? 'h2c' : 'over TLS'}): requests to the HTTPS port with --http2 on go out as HTTP/2 streams; on the plain port they go out as HTTP/1.1, which an HTTP/2 endpoint refuses (502)`;
  return unapplied.length === 0 ? how : `${how}; not applied on that path: ${unapplied.join(', ')}`;
}

function matchOrder(a: Route, b: Route): number {
  if (a.match !== b.match) return a.match === 'Exact' ? -1 : 1;
  const la = prefixKey(a.path).length;
  const lb = prefixKey(b.path).length;
  return a.match === 'Prefix' && la !== lb ? lb - la : a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

/** prefixKey drops a Prefix rule's own trailing slash (`/aaa/bbb/` matches like `/aaa/bbb`). */
function prefixKey(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

/** prefixMatches is the Ingress v1 element-wise prefix rule (`/foo` matches `/foo`, `/foo/x`, not `/foobar`). */
function prefixMatches(rule: string, path: string): boolean {
  const prefix = prefixKey(rule);
  if (prefix === '/') return true;
  if (!path.startsWith(prefix)) return false;
  return path.length === prefix.length || path.charCodeAt(prefix.length) === 47 /* / */;
}

function pick(r: Route): Pick<Candidate, 'match' | 'path' | 'backend' | 'source'> {
  return { match: r.match, path: r.path, backend: r.backend, source: r.source };
}

function describeHost(choice: HostChoice, vhost: string | undefined): string {
  if (choice === 'exact') return `exact host ${vhost}`;
  if (choice === 'wildcard') return `wildcard host ${vhost}`;
  return 'rules without a host (catch-all)';
}
