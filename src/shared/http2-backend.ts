/**
 * What a route to a backend that speaks HTTP/2 (gRPC, h2c) does not apply (docs/http2.md,
 * "Limits"): such a stream is passed on as it comes, to the balancer's endpoint. The worker logs
 * this once per route (worker/proxy/h2-proxy.ts) and the explainer says it (primary/explain.ts).
 */
import type { Route } from './snapshot.js';

/** unappliedOnHttp2 lists the annotations of `route` that its HTTP/2 backend path does not apply; empty when none. */
export function unappliedOnHttp2(route: Route): string[] {
  const out: string[] = [];
  if (route.cache !== undefined) out.push('the response cache');
  if (route.errorPages !== undefined) out.push('custom-http-errors');
  if (route.upstream !== undefined) out.push('the proxy-*-timeout and proxy-next-upstream annotations');
  if (route.requestBody !== undefined) out.push('the body annotations');
  return out;
}
