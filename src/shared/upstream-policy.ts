/**
 * Per-route upstream behaviour (issue 15 group 3, docs/annotations.md "Timeouts, sizes and
 * retries"): what the compiler puts on a route for the ingress-nginx `proxy-connect-timeout`,
 * `proxy-send-timeout`, `proxy-read-timeout` and `proxy-next-upstream*` annotations. A field
 * left out keeps the worker's global setting (`--upstream-*-timeout`, Flusso's own retry rule).
 */

/** NextUpstreamCondition is one condition of nginx's `proxy_next_upstream` that Flusso can honour. */
export type NextUpstreamCondition = 'error' | 'timeout' | 'invalid_header' | 'http_500' | 'http_502' | 'http_503' | 'http_504' | 'http_403' | 'http_404' | 'http_429';

/** NEXT_UPSTREAM_CONDITIONS lists the conditions in ingress-nginx's order (its validation regex). */
export const NEXT_UPSTREAM_CONDITIONS: readonly NextUpstreamCondition[] = ['error', 'timeout', 'invalid_header', 'http_500', 'http_502', 'http_503', 'http_504', 'http_403', 'http_404', 'http_429'];

/** RouteNextUpstream is when and how often a request goes to another endpoint (nginx proxy_next_upstream*). */
export interface RouteNextUpstream {
  /** The conditions; empty: never (`off`). */
  readonly when: readonly NextUpstreamCondition[];
  /** `non_idempotent`: POST, LOCK and PATCH may be sent again after they reached an upstream. */
  readonly nonIdempotent: boolean;
  /** Tries in all, the first included; 0: each endpoint once (nginx: no limit). */
  readonly tries: number;
  /** Time from the first try after which no other endpoint is tried; 0: no limit. */
  readonly timeoutMs: number;
}

/** RouteUpstream is one Ingress's upstream settings, on each of its routes. */
export interface RouteUpstream {
  /** `proxy-connect-timeout`: the connect timeout (504 when it passes). */
  readonly connectTimeoutMs?: number;
  /** `proxy-send-timeout`: how long a request body write may stall (the upstream reads nothing). */
  readonly sendTimeoutMs?: number;
  /** `proxy-read-timeout`: the wait for the response head after the request, and between two reads of the response (504 before the head). */
  readonly readTimeoutMs?: number;
  /** `proxy-next-upstream`, `-tries`, `-timeout`; absent: Flusso's rule (a connect failure of a bodiless idempotent request, 3 tries). */
  readonly nextUpstream?: RouteNextUpstream;
}
