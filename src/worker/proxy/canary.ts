/**
 * The worker's part of ingress-nginx canaries (issue 15 group 5, shared/canary.ts): which
 * backend a request on a route with a canary goes to. The weight's turn is counted per canary
 * (its Ingress, backend and weight) and per worker, so each worker sends exactly `weight` of
 * every `weightTotal` requests that the header and cookie leave to it. The count outlives
 * snapshots: a configuration change elsewhere does not start it again (which, with changes more
 * frequent than `weightTotal / weight` requests, would starve or favour the canary).
 */
import { canaryByRequest, weightTurn, type RouteCanary } from '../../shared/canary.js';
import type { Route } from '../../shared/snapshot.js';
import { findCookie } from '../../shared/upstream-hash.js';

/** Each canary's next weight turn, in this worker (0 … weightTotal-1), by turnKey. */
const turns = new Map<string, number>();
/** Keys kept at most: past it the counts start again (canaries come and go; the map stays bounded). */
const MAX_TURN_KEYS = 4096;
/** Each snapshot's canary objects' keys, computed once. */
const keys = new WeakMap<RouteCanary, string>();

/** turnKey names a canary across snapshots: a change of its Ingress, backend or weight starts its count again. */
function turnKey(c: RouteCanary): string {
  let k = keys.get(c);
  if (k === undefined) keys.set(c, (k = `${c.source} ${c.backend} ${c.weight}/${c.weightTotal}`));
  return k;
}

/** backendOf is the id of the backend `route` sends this request to: its canary's, or its own. */
export function backendOf(route: Route, names: readonly string[], values: readonly string[]): string {
  const c = route.canary;
  if (c === undefined) return route.backend;
  const verdict = canaryByRequest(c, (name) => fieldOf(names, values, name), (name) => findCookie(cookies(names, values), name));
  if (verdict !== null) return verdict.canary ? c.backend : route.backend;
  const key = turnKey(c);
  const n = turns.get(key) ?? 0;
  if (n === 0 && !turns.has(key) && turns.size >= MAX_TURN_KEYS) turns.clear();
  turns.set(key, n + 1 >= c.weightTotal ? 0 : n + 1);
  return weightTurn(c, n) ? c.backend : route.backend;
}

function fieldOf(names: readonly string[], values: readonly string[], name: string): string | undefined {
  const i = names.indexOf(name);
  return i < 0 ? undefined : (values[i] as string);
}

/** cookies joins every Cookie field with "; ", as nginx reads `$cookie_NAME` across them. */
function cookies(names: readonly string[], values: readonly string[]): string {
  let out = '';
  for (let i = 0; i < names.length; i++) if (names[i] === 'cookie') out = out === '' ? (values[i] as string) : `${out}; ${values[i] as string}`;
  return out;
}
