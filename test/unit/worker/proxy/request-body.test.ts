/**
 * Request-body policy (issue 14 item 3): the global flags are the defaults, a route's
 * `requestBody` overrides each field, buffering off means stream at once, 0 means no limit.
 */
import { describe, expect, it } from 'vitest';
import type { Route } from '../../../../src/shared/snapshot.js';
import { bodyDefaultsOf, bodyPolicyOf, DEFAULT_BODY, exceedsLimit } from '../../../../src/worker/proxy/request-body.js';

const route = (requestBody?: Route['requestBody']): Route =>
  ({ match: 'prefix', path: '/', backend: 'ns/svc:80', source: 'ns/ing', ...(requestBody === undefined ? {} : { requestBody }) }) as unknown as Route;

describe('request-body policy', () => {
  const defaults = bodyDefaultsOf({ maxRequestBodyBytes: 1024 * 1024, clientBodyBufferBytes: 16 * 1024, clientBodyTimeoutMs: 60_000 });

  it('takes the flags from the config, and the documented defaults when the config names none', () => {
    expect(defaults).toEqual({ maxBytes: 1024 * 1024, bufferBytes: 16 * 1024, timeoutMs: 60_000 });
    expect(bodyDefaultsOf({})).toEqual(DEFAULT_BODY);
    expect(DEFAULT_BODY).toEqual({ maxBytes: 0, bufferBytes: 16 * 1024, timeoutMs: 60_000 });
  });

  it.each([
    { name: 'no override: the defaults themselves', body: undefined, want: { maxBytes: 1024 * 1024, bufferBytes: 16 * 1024, timeoutMs: 60_000 } },
    { name: 'proxy-body-size', body: { maxBytes: 8 * 1024 * 1024 }, want: { maxBytes: 8 * 1024 * 1024, bufferBytes: 16 * 1024, timeoutMs: 60_000 } },
    { name: 'proxy-body-size 0: no limit', body: { maxBytes: 0 }, want: { maxBytes: 0, bufferBytes: 16 * 1024, timeoutMs: 60_000 } },
    { name: 'client-body-buffer-size', body: { bufferBytes: 1024 }, want: { maxBytes: 1024 * 1024, bufferBytes: 1024, timeoutMs: 60_000 } },
    { name: 'proxy-request-buffering off wins over a buffer size', body: { buffering: false, bufferBytes: 1024 }, want: { maxBytes: 1024 * 1024, bufferBytes: 0, timeoutMs: 60_000 } },
    { name: 'proxy-request-buffering on keeps the buffer', body: { buffering: true }, want: { maxBytes: 1024 * 1024, bufferBytes: 16 * 1024, timeoutMs: 60_000 } },
  ])('$name', ({ body, want }) => {
    const policy = bodyPolicyOf(route(body), defaults);
    expect(policy).toEqual(want);
    if (body === undefined) expect(policy).toBe(defaults);
  });

  it('a body is over the limit only past it, and never with limit 0', () => {
    const p = { maxBytes: 100, bufferBytes: 0, timeoutMs: 1 };
    expect([exceedsLimit(99, p), exceedsLimit(100, p), exceedsLimit(101, p)]).toEqual([false, false, true]);
    expect(exceedsLimit(Number.MAX_SAFE_INTEGER, { ...p, maxBytes: 0 })).toBe(false);
  });
});
