/**
 * The ingress-nginx rate-limit annotations (issue 15 item 7, docs/rate-limits.md): `limit-rps`,
 * `limit-rpm`, `limit-burst-multiplier` and `limit-whitelist` (or its newer name `limit-allowlist`), read as
 * ingress-nginx reads them (internal/ingress/annotations/ratelimit): a limit of 0 or none is no
 * limit, the burst is the rate times the multiplier (default 5; a bad or < 1 multiplier is 5),
 * and a bad value is an ING_ERR_INGRESS_INVALID_ANNOTATION diagnostic naming the Ingress, the
 * annotation and what is allowed; that annotation has no effect and the rest of the Ingress applies.
 * Pure: it reads the Ingresses and returns values and diagnostics.
 */
import { parseCidr } from '../../shared/cidr.js';
import type { RateBucketSpec, RouteRateLimit } from '../../shared/rate-limit.js';
import type { Route } from '../../shared/snapshot.js';
import { describeObject, keyOf, type Ingress } from '../model.js';
import { quote, report, type CompileState, type Processor } from './context.js';

const PREFIX = 'nginx.ingress.kubernetes.io/';

/** ingress-nginx's default `limit-burst-multiplier`. */
export const DEFAULT_BURST_MULTIPLIER = 5;

/** The largest limit accepted (a 32-bit int, as ingress-nginx's parser). */
const MAX_LIMIT = 2 ** 31 - 1;

/** readRateLimit parses the `limit-*` annotations of `ing`; undefined when it sets no limit. */
export function readRateLimit(state: CompileState, ing: Ingress): RouteRateLimit | undefined {
  const all = ing.metadata.annotations ?? {};
  const get = (name: string): string | undefined => all[PREFIX + name];
  const bad = (name: string, value: string, allowed: string, outcome = 'it has no effect'): void =>
    report(state, 'ING_ERR_INGRESS_INVALID_ANNOTATION', 'error', describeObject(ing), `annotation ${PREFIX}${name} is ${quote(value)}, expected ${allowed}; ${outcome}`);
  const count = (name: string): number => {
    const raw = get(name);
    if (raw === undefined) return 0;
    const v = raw.trim();
    if (/^\d{1,10}$/.test(v) && Number(v) <= MAX_LIMIT) return Number(v);
    bad(name, raw, `a whole number from 0 to ${MAX_LIMIT} (0: no limit)`);
    return 0;
  };
  const rps = count('limit-rps');
  const rpm = count('limit-rpm');

  let multiplier = DEFAULT_BURST_MULTIPLIER;
  const rawMultiplier = get('limit-burst-multiplier');
  if (rawMultiplier !== undefined) {
    const v = rawMultiplier.trim();
    if (/^\d{1,6}$/.test(v) && Number(v) >= 1) multiplier = Number(v);
    else bad('limit-burst-multiplier', rawMultiplier, 'a whole number of at least 1', `the default ${DEFAULT_BURST_MULTIPLIER} is used, as in ingress-nginx`);
  }

  const whitelist: string[] = [];
  // `limit-allowlist` is the newer name; as in ingress-nginx, it wins over the old one.
  const listName = get('limit-allowlist') !== undefined ? 'limit-allowlist' : 'limit-whitelist';
  const rawList = get(listName);
  if (rawList !== undefined) {
    for (const part of rawList.split(',')) {
      const text = part.trim();
      if (text === '') continue;
      const cidr = parseCidr(text);
      if (cidr === undefined) bad(listName, text, 'IPv4 or IPv6 addresses or CIDR blocks (such as "10.0.0.0/8, 2001:db8::/32") separated by commas', 'that entry is skipped');
      else whitelist.push(text);
    }
  }

  const rates: RateBucketSpec[] = [];
  // nginx's limit_req with `burst=B nodelay` admits 1 + B requests at once (the first one sets the excess to 0).
  if (rps > 0) rates.push({ perSecond: rps, burst: 1 + rps * multiplier });
  if (rpm > 0) rates.push({ perSecond: rpm / 60, burst: 1 + rpm * multiplier });
  if (rates.length === 0) {
    if ((whitelist.length > 0 && get('limit-connections') === undefined) || rawMultiplier !== undefined) {
      report(state, 'ING_ERR_INGRESS_UNSUPPORTED', 'warning', describeObject(ing), `annotations ${PREFIX}limit-whitelist and limit-burst-multiplier have no effect without limit-rps or limit-rpm; ignored`);
    }
    return undefined;
  }
  return { id: keyOf(ing), rates, whitelist };
}

/**
 * applyRateLimits is the compile step that puts each Ingress's limits on its routes (after the
 * routes exist). Every route of one Ingress carries the same limit, so they share its buckets.
 */
export const applyRateLimits: Processor = (state) => {
  const limits = new Map<string, RouteRateLimit>();
  for (const ing of state.ingresses) {
    const limit = readRateLimit(state, ing);
    if (limit !== undefined) limits.set(limit.id, limit);
  }
  if (limits.size === 0) return;
  const withLimit = (route: Route): Route => {
    const limit = limits.get(route.source);
    return limit === undefined ? route : { ...route, rateLimit: limit };
  };
  for (const routes of state.hosts.values()) for (const [key, route] of routes) routes.set(key, withLimit(route));
  if (state.defaultBackend !== null) state.defaultBackend = withLimit(state.defaultBackend);
};
