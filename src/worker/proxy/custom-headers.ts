/**
 * The worker's side of ingress-nginx `custom-headers`, `add-headers` and `proxy-set-headers`
 * (issue 15 item 4, docs/annotations.md "Custom headers"): the compiler validated and
 * precomputed each route's fields (shared/custom-headers.ts); here they are only written, on
 * every response of the route whatever its status (nginx `more_set_headers` without `-s`):
 * the upstream's (in place of its fields of the same names), the cache's, and Flusso's own
 * answers. A route without them never reaches this module.
 */
import type { HttpResponse } from 'uWebSockets.js';
import { requestFieldsOf, type RouteHeaders } from '../../shared/custom-headers.js';
import { fieldNamesOf, withRequestFields } from './policy.js';
import { fieldOf } from './upstream-hash.js';

/** ROUTE_FIELDS marks a response whose route has custom-headers / add-headers fields, for Flusso's failure answers (response-writer.ts writeFailure). */
const ROUTE_FIELDS = Symbol('flusso.routeFields');

/** setRouteFields records the route's fields on `res`: a 502/504 Flusso answers in the upstream's place carries them too. */
export function setRouteFields(res: HttpResponse, fields: readonly string[]): void {
  (res as HttpResponse & { [ROUTE_FIELDS]?: readonly string[] })[ROUTE_FIELDS] = fields;
}

/** routeFieldsOf returns the fields setRouteFields recorded on `res`, or null (almost always). */
export function routeFieldsOf(res: HttpResponse): readonly string[] | null {
  return (res as HttpResponse & { [ROUTE_FIELDS]?: readonly string[] })[ROUTE_FIELDS] ?? null;
}

const joined = new WeakMap<readonly string[], WeakMap<readonly string[], readonly string[]>>();

/**
 * joinFields is `first` then `route` (the route's header block last: it wins on a shared name
 * as the location's more_set_headers runs after the rest), the same list for the same two lists
 * so the response writer prepares it once (policy.ts fieldNamesOf).
 */
export function joinFields(first: readonly string[] | null | undefined, route: readonly string[]): readonly string[] {
  if (first === null || first === undefined || first.length === 0) return route;
  let byRoute = joined.get(first);
  if (byRoute === undefined) joined.set(first, (byRoute = new WeakMap()));
  let both = byRoute.get(route);
  if (both === undefined) {
    const names = fieldNamesOf(route).names;
    const out: string[] = [];
    for (let i = 0; i < first.length; i += 2) if (!names.has((first[i] as string).toLowerCase())) out.push(first[i] as string, first[i + 1] as string);
    byRoute.set(route, (both = Object.freeze([...out, ...route])));
  }
  return both;
}

/** overrides says whether the route's fields set `name` (lower-case), so an answer leaves its own out. */
export function overrides(route: readonly string[] | null, name: string): boolean {
  return route !== null && fieldNamesOf(route).names.has(name);
}

/** writeRouteFields writes a route's fields in one call (`res` corked). */
export function writeRouteFields(res: HttpResponse, route: readonly string[] | null): HttpResponse {
  if (route === null) return res;
  const p = fieldNamesOf(route).packed;
  return res.writeHeader(p[0], p[1]);
}

/** writeAnswerFields writes an answer's own fields, leaving out those the route's fields replace, then the route's. */
export function writeAnswerFields(res: HttpResponse, fields: readonly string[], route: readonly string[] | null): HttpResponse {
  for (let i = 0; i < fields.length; i += 2) if (!overrides(route, (fields[i] as string).toLowerCase())) res.writeHeader(fields[i] as string, fields[i + 1] as string);
  return writeRouteFields(res, route);
}

/** ProxySetRequest is what proxy-set-headers values may read of a request. */
export interface ProxySetRequest {
  readonly target: string;
  readonly path: string;
  readonly host: string;
  readonly query: string;
  readonly scheme: string;
  readonly clientAddress: string;
  readonly names: readonly string[];
  readonly values: readonly string[];
}

/**
 * withProxySetFields sets a route's proxy-set-headers fields on the upstream head `headers` in
 * place of any of the same names (nginx proxy_set_header); a field whose value comes out empty
 * is not sent at all, and the client's of that name neither, as nginx does.
 */
export function withProxySetFields(headers: readonly string[], fields: NonNullable<RouteHeaders['request']>, req: ProxySetRequest): string[] {
  const set = requestFieldsOf(fields, {
    target: req.target,
    path: req.path,
    host: req.host,
    query: req.query,
    scheme: req.scheme,
    remoteAddress: req.clientAddress,
    field: (name) => fieldOf(req.names, req.values, name),
  });
  const out = withRequestFields(headers, set);
  let empty: Set<string> | null = null;
  for (let i = 1; i < set.length; i += 2) if (set[i] === '') (empty ??= new Set()).add(set[i - 1] as string);
  if (empty === null) return out;
  const kept: string[] = [];
  for (let i = 0; i < out.length; i += 2) if (!empty.has(out[i] as string)) kept.push(out[i] as string, out[i + 1] as string);
  return kept;
}
