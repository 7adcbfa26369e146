/**
 * The worker's side of a route's upstream settings (issue 15 group 3, docs/annotations.md
 * "Timeouts, sizes and retries"): the compiled RouteUpstream (shared/upstream-policy.ts) turned,
 * once per route, into the upstream connection's timeouts and the Exchange's retry plan, and
 * the retry decision itself: nginx's `proxy_next_upstream` as far as Flusso can keep it. A route
 * without these annotations never reaches this module (one property check in the handler).
 */
import type { NextUpstreamCondition, RouteUpstream } from '../../shared/upstream-policy.js';
import type { RequestTimeouts, UpstreamFailure } from '../upstream/client.js';

/** RetryPlan is a route's proxy-next-upstream settings, ready for the Exchange. */
export interface RetryPlan {
  /** Failures (UpstreamFailure) that send the request on. */
  readonly failures: ReadonlySet<UpstreamFailure>;
  /** Response statuses that send the request on (the response is dropped unless it is the last try). */
  readonly statuses: ReadonlySet<number>;
  readonly nonIdempotent: boolean;
  /** Tries in all; 0: each endpoint once. */
  readonly tries: number;
  /** 0: no limit. */
  readonly timeoutMs: number;
}

/** UpstreamPlan is what a route's RouteUpstream means for one of its requests. */
export interface UpstreamPlan {
  /** null: the client's timeouts. */
  readonly timeouts: RequestTimeouts | null;
  /** null: Flusso's rule (a connect failure of a bodiless idempotent request, 3 tries). */
  readonly retry: RetryPlan | null;
}

/**
 * Which failure is which nginx condition: `error` is an error connecting, sending the request or
 * reading the response head (refused, reset, closed before the head, the endpoint gone);
 * `timeout` a timeout doing any of these; `invalid_header` a response head that cannot be read.
 */
const FAILURES_OF: Readonly<Partial<Record<NextUpstreamCondition, readonly UpstreamFailure[]>>> = {
  error: ['connect', 'closed', 'pool-closed'],
  timeout: ['connect-timeout', 'response-timeout', 'idle-timeout'],
  invalid_header: ['protocol'],
};

const plans = new WeakMap<RouteUpstream, UpstreamPlan>();

/** upstreamPlanOf returns the plan of a route's settings (built once per route). */
export function upstreamPlanOf(u: RouteUpstream): UpstreamPlan {
  let plan = plans.get(u);
  if (plan === undefined) {
    const timed = u.connectTimeoutMs !== undefined || u.sendTimeoutMs !== undefined || u.readTimeoutMs !== undefined;
    const timeouts: RequestTimeouts | null = timed
      ? Object.freeze({
          ...(u.connectTimeoutMs === undefined ? {} : { connectMs: u.connectTimeoutMs }),
          ...(u.readTimeoutMs === undefined ? {} : { readMs: u.readTimeoutMs }),
          ...(u.sendTimeoutMs === undefined ? {} : { sendMs: u.sendTimeoutMs }),
        })
      : null;
    const n = u.nextUpstream;
    const retry: RetryPlan | null =
      n === undefined
        ? null
        : {
            failures: new Set(n.when.flatMap((c) => FAILURES_OF[c] ?? [])),
            statuses: new Set(n.when.filter((c) => c.startsWith('http_')).map((c) => Number(c.slice(5)))),
            nonIdempotent: n.nonIdempotent,
            tries: n.tries,
            timeoutMs: n.timeoutMs,
          };
    plans.set(u, (plan = { timeouts, retry }));
  }
  return plan;
}

/** Methods nginx never sends again once they reached an upstream, unless `non_idempotent` (ngx_http_upstream_non_idempotent). */
const NON_IDEMPOTENT: ReadonlySet<string> = new Set(['POST', 'LOCK', 'PATCH']);

/**
 * mayResend says whether `method` may go to another endpoint: always when nothing reached the
 * upstream (a connect failure), else only an idempotent method or with `non_idempotent`.
 */
export function mayResend(plan: RetryPlan, method: string, reachedUpstream: boolean): boolean {
  return !reachedUpstream || plan.nonIdempotent || !NON_IDEMPOTENT.has(method);
}

/** reachedUpstream says whether a request that failed so may have reached the upstream (nginx: "a request has been sent"). */
export function reachedUpstream(failure: UpstreamFailure): boolean {
  return failure !== 'connect' && failure !== 'connect-timeout' && failure !== 'pool-closed';
}
