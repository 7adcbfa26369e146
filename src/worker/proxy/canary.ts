/**
 * The worker's part of ingress-nginx canaries (issue 15 group 5, shared/canary.ts): which
 * backend a request on a route with a canary goes to. The weight's turn is counted per route
 * and per worker, so each worker sends exactly `weight` of every `weightTotal` requests that the
 * header and cookie leave to it (a new snapshot starts the count again).
 */
import { canaryByRequest, weightTurn, type RouteCanary } from '../../shared/canary.js';
import type { Route } from '../../shared/snapshot.js';
import { findCookie } from '../../shared/upstream-hash.js';

/** Each canary's next weight turn, in this worker (0 … weightTotal-1). */
const turns = new WeakMap<RouteCanary, number>();

/** backendOf is the id of the backend `route` sends this request to: its canary's, or its own. */
export function backendOf(route: Route, names: readonly string[], values: readonly string[]): string {
  const c = route.canary;
  if (c === undefined) return route.backend;
  const verdict = canaryByRequest(c, (name) => fieldOf(names, values, name), (name) => findCookie(cookies(names, values), name));
  if (verdict !== null) return verdict.canary ? c.backend : route.backend;
  const n = turns.get(c) ?? 0;
  turns.set(c, n + 1 >= c.weightTotal ? 0 : n + 1);
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
