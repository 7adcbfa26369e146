/**
 * How the client-node adapter classifies the end of a watch (issue #10: client-node 2's `Watch`
 * ends a stream that received nothing for 30 s with a TimeoutError).
 */
import { describe, expect, it } from 'vitest';
import { isInactivityTimeout } from '../../../../src/primary/k8s/resources.js';

describe('isInactivityTimeout', () => {
  const timeout = new DOMException('The operation was aborted due to timeout', 'TimeoutError');

  it('is a quiet stream (a clean end) once the watch was established', () => {
    expect(isInactivityTimeout(timeout, true)).toBe(true);
  });

  it('is a failure while connecting (an API server that never answers)', () => {
    expect(isInactivityTimeout(timeout, false)).toBe(false);
  });

  it('is never any other end', () => {
    expect(isInactivityTimeout(null, true)).toBe(false);
    expect(isInactivityTimeout(new DOMException('This operation was aborted', 'AbortError'), true)).toBe(false);
    expect(isInactivityTimeout(new TypeError('terminated'), true)).toBe(false);
    expect(isInactivityTimeout(Object.assign(new Error('Gone'), { code: 410 }), true)).toBe(false);
  });
});
