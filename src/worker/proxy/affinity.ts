/**
 * The worker's part of ingress-nginx cookie affinity (issue 15 group 5, shared/affinity.ts): a
 * request whose cookie names an endpoint that may still take requests goes to it; any other
 * request gets the balancer's choice and the cookie naming it. The cookie's value is derived from
 * the endpoint's address (the MD5 of `ip:port` in hex), never from a per-worker counter, so every
 * worker, and Flusso after a restart, sends the same cookie to the same endpoint; when that
 * endpoint is gone the cookie is issued again.
 */
import { createHash } from 'node:crypto';
import type { Endpoint } from '../../shared/snapshot.js';
import { findCookie } from '../../shared/upstream-hash.js';
import type { Balancer } from '../balance/balancer.js';

/** Each eligible list's endpoints by cookie value (rebuilt when the balancer's list changes). */
const indexes = new WeakMap<readonly Endpoint[], Map<string, Endpoint>>();
const ids = new WeakMap<Endpoint, string>();

/** endpointId is the cookie value naming `ep`. */
export function endpointId(ep: Endpoint): string {
  let id = ids.get(ep);
  if (id === undefined) {
    id = createHash('md5').update(`${ep.address}:${ep.port}`).digest('hex');
    ids.set(ep, id);
  }
  return id;
}

/** StickyChoice is the endpoint for a request, and the cookie value to issue (null: the request's cookie already names it). */
export interface StickyChoice<E> {
  readonly endpoint: E;
  readonly issue: string | null;
}

/** selectSticky picks the endpoint named by cookie `name` in `cookieField`, else the balancer's next (to be named in a new cookie). */
export function selectSticky<E extends Endpoint>(balancer: Balancer<E>, name: string, cookieField: string, pick: () => E | null): StickyChoice<E> | null {
  const value = findCookie(cookieField, name.toLowerCase());
  if (value !== undefined && value !== '') {
    const list = balancer.eligible();
    let index = indexes.get(list);
    if (index === undefined) {
      index = new Map(list.map((ep) => [endpointId(ep), ep]));
      indexes.set(list, index);
    }
    const found = index.get(value) as E | undefined;
    if (found !== undefined) return { endpoint: found, issue: null };
  }
  const endpoint = pick();
  return endpoint === null ? null : { endpoint, issue: endpointId(endpoint) };
}

/** cookieFieldOf joins every Cookie field of a request head with "; ", as nginx reads `$cookie_NAME` across them. */
export function cookieFieldOf(names: readonly string[], values: readonly string[]): string {
  let out = '';
  for (let i = 0; i < names.length; i++) if (names[i] === 'cookie') out = out === '' ? (values[i] as string) : `${out}; ${values[i] as string}`;
  return out;
}
