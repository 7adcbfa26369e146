/**
 * ingress-nginx `limit-connections` (issue 15 item 7, docs/rate-limits.md): what the compiler
 * puts on a route. The worker executes it (worker/proxy/conn-limit.ts).
 */

/** RouteConnLimit is one Ingress's limit of concurrent requests per client address, shared by all its routes. */
export interface RouteConnLimit {
  /** The Ingress (`namespace/name`): its routes share one count per client address, as one ingress-nginx `limit_conn_zone`. */
  readonly id: string;
  /** The most requests one client address may have in progress on this Ingress at once (≥ 1). */
  readonly max: number;
  /** `limit-whitelist` / `limit-allowlist`: CIDRs no limit applies to (validated and reported by rate-limit-annotations.ts). */
  readonly whitelist: readonly string[];
}
