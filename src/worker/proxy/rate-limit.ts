/**
 * The proxy's side of the ingress-nginx rate limits (issue 15 item 7, docs/rate-limits.md): the
 * key is the client's socket address (trusted proxies and X-Forwarded-For are not read here),
 * and a request over the limit gets `--rate-limit-status` (503 by default, as ingress-nginx's
 * limit-req-status-code; 429 allowed) with a short text body, never reaching the upstream.
 */
import type { HttpResponse } from 'uWebSockets.js';
import type { RouteRateLimit } from '../../shared/rate-limit.js';
import type { RateLimiter } from '../ratelimit/limiter.js';
import { formatAddress } from './address.js';
import { CONTENT_TYPE_TEXT, statusLine } from './errors.js';
import type { PolicyAnswer } from './policy.js';

/** admitted asks the limiter whether the client of `res` may make this request now. */
export function admitted(limiter: RateLimiter, limit: RouteRateLimit, res: HttpResponse): boolean {
  const address = res.getRemoteAddress();
  return limiter.admit(limit, formatAddress(address), new Uint8Array(address));
}

/** rateLimitedAnswer is the answer to a request over its limit. */
export function rateLimitedAnswer(status: number): PolicyAnswer {
  return { status, fields: ['Content-Type', CONTENT_TYPE_TEXT], body: `${statusLine(status)}\n` };
}
