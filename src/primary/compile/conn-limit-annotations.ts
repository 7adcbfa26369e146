/**
 * ingress-nginx `limit-connections` (issue 15 item 7, docs/rate-limits.md), read as ingress-nginx
 * reads it (internal/ingress/annotations/ratelimit): a whole number of concurrent requests per
 * client address across the Ingress's routes; 0 or none is no limit. The `limit-whitelist` (or
 * `limit-allowlist`) addresses are exempt, as from limit-rps: ingress-nginx keys both zones on
 * the same whitelist map. A bad value is an ING_ERR_INGRESS_INVALID_ANNOTATION diagnostic naming
 * the Ingress, the annotation and what is allowed; it then has no effect and the rest of the
 * Ingress applies. Pure: reads the Ingresses, returns values and diagnostics.
 */
import { parseCidr } from '../../shared/cidr.js';
import type { RouteConnLimit } from '../../shared/conn-limit.js';
import type { Route } from '../../shared/snapshot.js';
import { describeObject, keyOf, type Ingress } from '../model.js';
import { quote, report, type CompileState, type Processor } from './context.js';

const PREFIX = 'nginx.ingress.kubernetes.io/';
/** The largest limit accepted (a 32-bit int, as ingress-nginx's parser). */
const MAX_LIMIT = 2 ** 31 - 1;

/** readConnLimit parses `limit-connections` of `ing`; undefined when it sets no limit. */
export function readConnLimit(state: CompileState, ing: Ingress): RouteConnLimit | undefined {
  const all = ing.metadata.annotations ?? {};
  const raw = all[`${PREFIX}limit-connections`];
  if (raw === undefined) return undefined;
  const v = raw.trim();
  if (!/^\d{1,10}$/.test(v) || Number(v) > MAX_LIMIT) {
    report(state, 'ING_ERR_INGRESS_INVALID_ANNOTATION', 'error', describeObject(ing), `annotation ${PREFIX}limit-connections is ${quote(raw)}, expected a whole number from 0 to ${MAX_LIMIT} (0: no limit); it has no effect`);
    return undefined;
  }
  const max = Number(v);
  if (max === 0) return undefined;
  // The list's bad entries are reported once, by the rate-limit parser; the valid ones apply here too.
  const listRaw = all[`${PREFIX}limit-allowlist`] ?? all[`${PREFIX}limit-whitelist`] ?? '';
  const whitelist = listRaw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '' && parseCidr(s) !== undefined);
  return { id: keyOf(ing), max, whitelist };
}

/**
 * applyConnLimits is the compile step that puts each Ingress's limit on its routes (after the
 * routes exist). Every route of one Ingress carries the same limit object, so they share its counts.
 */
export const applyConnLimits: Processor = (state) => {
  const limits = new Map<string, RouteConnLimit>();
  for (const ing of state.ingresses) {
    const limit = readConnLimit(state, ing);
    if (limit !== undefined) limits.set(limit.id, limit);
  }
  if (limits.size === 0) return;
  const withLimit = (route: Route): Route => {
    const limit = limits.get(route.source);
    return limit === undefined ? route : { ...route, connLimit: limit };
  };
  for (const routes of state.hosts.values()) for (const [key, route] of routes) routes.set(key, withLimit(route));
  if (state.defaultBackend !== null) state.defaultBackend = withLimit(state.defaultBackend);
};
