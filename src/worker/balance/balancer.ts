/**
 * The load-balancer contract (the original design's LoadBalancer: select, add, remove, list; docs/architecture.md).
 */
import type { Endpoint } from '../../shared/snapshot.js';

/**
 * Balancer picks an endpoint of one backend for each request.
 *
 * It is generic so the worker can keep per-endpoint data (the upstream Pool) on the very
 * object it selects, and so avoid a second lookup per request. Balancers are pure: no I/O,
 * no timers, no clock.
 */
export interface Balancer<E extends Endpoint = Endpoint> {
  /** name identifies the algorithm (`round-robin`). */
  readonly name: string;
  /** select returns the next endpoint to use, or null when none may take requests (503). */
  select(): E | null;
  /** selectByHash returns the endpoint that owns `keyHash` (upstream-hash-by, shared/upstream-hash.ts), or null when none may take requests. */
  selectByHash(keyHash: number): E | null;
  /** add adds an endpoint, or replaces the one with the same `ip:port` key. */
  add(endpoint: E): void;
  /** remove removes the endpoint with that `ip:port` key (see keys.ts endpointKey); unknown keys are ignored. */
  remove(key: string): void;
  /** list returns every endpoint, selectable or not, in insertion order. */
  list(): readonly E[];
  /** eligible returns the endpoints select() chooses from now (the same array until the set changes), for cookie affinity. */
  eligible(): readonly E[];
  /** observe records how long `endpoint` took to answer, in seconds (the EWMA balancer learns from it; others need not have it). */
  observe?(endpoint: E, seconds: number): void;
}
