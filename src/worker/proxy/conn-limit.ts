/**
 * The proxy's side of ingress-nginx `limit-connections` (issue 15 item 7, docs/rate-limits.md):
 * a count of the requests each client address has in progress on an Ingress, as nginx's
 * `limit_conn` (which counts a connection only while it has a request whose head was read). A
 * request over the limit gets 503 (ingress-nginx's `limit-conn-status-code`) and never reaches
 * the upstream. The count is this worker's: see docs/rate-limits.md for why it is not pod-wide.
 * The map holds only keys with requests in progress, so it is bounded by them.
 */
import { firstListed } from '../../shared/cidr.js';
import type { RouteConnLimit } from '../../shared/conn-limit.js';
import { plainAnswer } from './errors.js';
import type { PolicyAnswer } from './policy.js';

/** CONN_LIMIT_STATUS is ingress-nginx's default `limit-conn-status-code`. */
export const CONN_LIMIT_STATUS = 503;

/** connLimitedAnswer is the answer to a request over its Ingress's limit-connections. */
export const connLimitedAnswer: PolicyAnswer = plainAnswer(CONN_LIMIT_STATUS);

/** Release gives a request's place back; calling it again does nothing. */
export type Release = () => void;

const NOTHING: Release = () => {};

/** ConnLimiter counts, per Ingress and client address, the requests in progress in this worker. */
export class ConnLimiter {
  readonly #counts = new Map<string, number>();

  /** size is the number of (Ingress, address) keys with a request in progress. */
  get size(): number {
    return this.#counts.size;
  }

  /**
   * acquire takes a place for a request of `client` (its address as text, and raw: 4 or 16
   * bytes) on `limit`'s Ingress: the Release to call when the request is over, or null when the
   * client has `limit.max` requests in progress already.
   */
  acquire(limit: RouteConnLimit, client: string, address: Uint8Array): Release | null {
    if (limit.whitelist.length > 0 && firstListed(limit.whitelist, address) !== null) return NOTHING;
    const key = `${limit.id} ${client}`;
    const n = this.#counts.get(key) ?? 0;
    if (n >= limit.max) return null;
    this.#counts.set(key, n + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const left = (this.#counts.get(key) ?? 1) - 1;
      if (left <= 0) this.#counts.delete(key);
      else this.#counts.set(key, left);
    };
  }

}
