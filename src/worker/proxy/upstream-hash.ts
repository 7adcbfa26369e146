/**
 * The worker's part of ingress-nginx `upstream-hash-by` (issue 15 group 5, shared/upstream-hash.ts):
 * the request's key from the route's compiled parts, then the backend's consistent choice.
 */
import { hash32, hashKeyOf, type HashRequest } from '../../shared/upstream-hash.js';
import type { Balancer } from '../balance/balancer.js';
import type { Endpoint } from '../../shared/snapshot.js';

/** HashedRequest is what the handler knows of a request when it picks the endpoint. */
export interface HashedRequest {
  readonly target: string;
  readonly path: string;
  readonly host: string;
  readonly query: string;
  readonly scheme: string;
  /** Lower-case field names and their values, in arrival order. */
  readonly names: readonly string[];
  readonly values: readonly string[];
  /** The client's address as text, computed only when the key uses $remote_addr. */
  remoteAddress(): string;
}

/** selectHashed returns the endpoint of `balancer` that owns `req`'s key for `parts`, or null when none may take requests. */
export function selectHashed<E extends Endpoint>(balancer: Balancer<E>, parts: readonly string[], req: HashedRequest): E | null {
  const view: HashRequest = {
    target: req.target,
    path: req.path,
    host: req.host,
    query: req.query,
    scheme: req.scheme,
    get remoteAddress() {
      return req.remoteAddress();
    },
    field: (name) => fieldOf(req.names, req.values, name),
  };
  return balancer.selectByHash(hash32(hashKeyOf(parts, view)));
}

/** fieldOf is field `name`'s value ('' when absent); several Cookie fields are joined with "; " as nginx reads them. */
export function fieldOf(names: readonly string[], values: readonly string[], name: string): string {
  let out: string | null = null;
  for (let i = 0; i < names.length; i++) {
    if (names[i] !== name) continue;
    if (name !== 'cookie') return values[i] as string;
    out = out === null ? (values[i] as string) : `${out}; ${values[i] as string}`;
  }
  return out ?? '';
}
