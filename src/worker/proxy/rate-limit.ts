/**
 * The proxy's side of the ingress-nginx rate limits (issue 15 item 7, docs/rate-limits.md): the
 * key is the client address (client-address.ts: the socket's, or a trusted proxy's say),
 * and a request over the limit gets `--rate-limit-status` (503 by default, as ingress-nginx's
 * limit-req-status-code; 429 allowed) with a short text body, never reaching the upstream.
 */
import { plainAnswer } from './errors.js';
import type { PolicyAnswer } from './policy.js';

/** rateLimitedAnswer is the answer to a request over its limit. */
export function rateLimitedAnswer(status: number): PolicyAnswer {
  return plainAnswer(status);
}
