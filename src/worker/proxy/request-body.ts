/**
 * Request bodies (issue 14 item 3; README.md "Request bodies"): what one slow client may hold.
 *
 * - A body up to `bufferBytes` is read whole in the worker before the upstream request starts,
 *   as nginx's request buffering does (`client_body_buffer_size`): a client that trickles its
 *   body holds a little memory, never an upstream connection. A larger body streams once
 *   `bufferBytes` of it have arrived.
 * - A streaming body counts against the endpoint's share of connections for bodies still
 *   arriving (half of `--upstream-max-connections`, upstream/client.ts): slow uploads cannot
 *   take every connection from the requests behind them.
 * - `timeoutMs` bounds the wait for the next body bytes (nginx `client_body_timeout`): 408 when
 *   it passes before the response started, a closed connection after.
 * - `maxBytes` bounds the body (ingress-nginx `proxy-body-size`, default 1m): 413, by
 *   Content-Length before anything goes upstream, or when a chunked body passes it.
 *
 * The global flags are the defaults; a route's `requestBody` (shared/snapshot.ts) overrides them.
 */
import type { WorkerConfig } from '../../shared/messages.js';
import type { Route } from '../../shared/snapshot.js';
import { Deadlines, tickFor, type Expiring } from '../upstream/deadlines.js';

/** BodyPolicy is what applies to one request's body. */
export interface BodyPolicy {
  /** Largest body accepted; 0: no limit. */
  readonly maxBytes: number;
  /** Read this much (or the whole body, when smaller) before the upstream request; 0: stream at once. */
  readonly bufferBytes: number;
  /** Longest wait for the next body bytes. */
  readonly timeoutMs: number;
}

/** DEFAULT_BODY applies when the worker's config names none (in-process tests): no limit, 16 KiB, 60 s. */
export const DEFAULT_BODY: BodyPolicy = Object.freeze({ maxBytes: 0, bufferBytes: 16 * 1024, timeoutMs: 60_000 });

/** bodyDefaultsOf reads the global request-body flags from the worker's config. */
export function bodyDefaultsOf(config: Pick<WorkerConfig, 'maxRequestBodyBytes' | 'clientBodyBufferBytes' | 'clientBodyTimeoutMs'>): BodyPolicy {
  return Object.freeze({
    maxBytes: config.maxRequestBodyBytes ?? DEFAULT_BODY.maxBytes,
    bufferBytes: config.clientBodyBufferBytes ?? DEFAULT_BODY.bufferBytes,
    timeoutMs: config.clientBodyTimeoutMs ?? DEFAULT_BODY.timeoutMs,
  });
}

/** bodyPolicyOf returns `defaults` with the route's overrides; the same object when it has none. */
export function bodyPolicyOf(route: Route, defaults: BodyPolicy): BodyPolicy {
  const o = route.requestBody;
  if (o === undefined) return defaults;
  return {
    maxBytes: o.maxBytes ?? defaults.maxBytes,
    bufferBytes: o.buffering === false ? 0 : (o.bufferBytes ?? defaults.bufferBytes),
    timeoutMs: defaults.timeoutMs,
  };
}

/** exceedsLimit says a body of `bytes` is over the policy's limit. */
export function exceedsLimit(bytes: number, policy: BodyPolicy): boolean {
  return policy.maxBytes > 0 && bytes > policy.maxBytes;
}

/** BodyTimer is the body-timeout deadline of one request; `onDeadline` calls back its owner. */
export class BodyTimer implements Expiring {
  deadlineAt = 0;
  deadlineIndex = -1;
  readonly #deadlines: Deadlines;
  readonly #ms: number;
  readonly #fire: () => void;

  constructor(ms: number, fire: () => void) {
    this.#deadlines = deadlinesFor(ms);
    this.#ms = ms;
    this.#fire = fire;
  }

  /** arm starts (or restarts) the wait for the next body bytes. */
  arm(): void {
    this.#deadlines.arm(this, this.#ms);
  }

  disarm(): void {
    this.#deadlines.disarm(this);
  }

  onDeadline(): void {
    this.#fire();
  }
}

/** One coarse timer per tick size for every body deadline of the worker (as the upstream client's). */
const timers = new Map<number, Deadlines>();

function deadlinesFor(ms: number): Deadlines {
  const tick = tickFor(ms);
  let d = timers.get(tick);
  if (d === undefined) {
    d = new Deadlines(tick);
    timers.set(tick, d);
  }
  return d;
}
