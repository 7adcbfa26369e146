/**
 * The explainer's and the Routes view's account of a route's timeout, size and retry
 * annotations (issue 15 group 3, docs/annotations.md "Timeouts, sizes and retries"), short, as
 * compiled into the snapshot (shared/upstream-policy.ts, Route.requestBody).
 */
import type { Route } from '../shared/snapshot.js';

/** upstreamInForce lists the group 3 annotations in force on a route, one short entry each. */
export function upstreamInForce(route: Route): string[] {
  const out: string[] = [];
  const u = route.upstream;
  if (u !== undefined) {
    if (u.connectTimeoutMs !== undefined) out.push(`proxy-connect-timeout ${u.connectTimeoutMs / 1000}s`);
    if (u.sendTimeoutMs !== undefined) out.push(`proxy-send-timeout ${u.sendTimeoutMs / 1000}s`);
    if (u.readTimeoutMs !== undefined) out.push(`proxy-read-timeout ${u.readTimeoutMs / 1000}s`);
    const n = u.nextUpstream;
    if (n !== undefined) {
      const when = n.when.length === 0 ? 'off' : [...n.when, ...(n.nonIdempotent ? ['non_idempotent'] : [])].join(' ');
      out.push(`proxy-next-upstream ${when}, ${n.tries === 0 ? 'each endpoint once' : `${n.tries} tries`}${n.timeoutMs === 0 ? '' : ` within ${n.timeoutMs / 1000}s`}`);
    }
  }
  const b = route.requestBody;
  if (b !== undefined) {
    if (b.maxBytes !== undefined) out.push(`proxy-body-size ${b.maxBytes === 0 ? 'no limit' : `${b.maxBytes} bytes`}`);
    if (b.bufferBytes !== undefined) out.push(`client-body-buffer-size ${b.bufferBytes} bytes`);
    if (b.buffering !== undefined) out.push(`proxy-request-buffering ${b.buffering ? 'on' : 'off'}`);
  }
  return out;
}
