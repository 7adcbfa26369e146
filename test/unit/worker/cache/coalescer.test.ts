import { describe, expect, it } from 'vitest';
import { Coalescer } from '../../../../src/worker/cache/coalescer.js';
import { IngressError } from '../../../../src/shared/errors.js';

describe('Coalescer', () => {
  it('makes the first caller leader and hands the value to followers', async () => {
    const c = new Coalescer<string>({ maxWaiters: 10 });
    expect(c.join('k')).toEqual({ leader: true });
    const f1 = c.join('k');
    const f2 = c.join('k');
    expect(f1.leader).toBe(false);
    expect(c.waiters('k')).toBe(2);
    expect(c.resolve('k', 'body')).toBe(2);
    expect(await (f1.leader ? null : f1.wait)).toBe('body');
    expect(await (f2.leader ? null : f2.wait)).toBe('body');
    expect(c.inFlight).toBe(0);
    expect(c.join('k')).toEqual({ leader: true });
  });

  it('fail gives followers null so each goes upstream', async () => {
    const c = new Coalescer<string>({ maxWaiters: 10 });
    c.join('k');
    const f = c.join('k');
    expect(c.fail('k')).toBe(1);
    expect(await (f.leader ? 'x' : f.wait)).toBeNull();
  });

  it('keys are independent', () => {
    const c = new Coalescer<number>({ maxWaiters: 1 });
    expect(c.join('a')).toEqual({ leader: true });
    expect(c.join('b')).toEqual({ leader: true });
    expect(c.inFlight).toBe(2);
  });

  it.each([
    { maxWaiters: 0, joins: 3, parked: 0 },
    { maxWaiters: 2, joins: 5, parked: 2 },
    { maxWaiters: 1000, joins: 1000, parked: 1000 },
  ])('bounds followers: maxWaiters $maxWaiters, $joins followers → $parked parked (row 160)', ({ maxWaiters, joins, parked }) => {
    const c = new Coalescer<number>({ maxWaiters });
    c.join('k');
    const results = Array.from({ length: joins }, () => c.join('k'));
    expect(results.filter((r) => !r.leader && r.wait !== null)).toHaveLength(parked);
    expect(results.filter((r) => !r.leader && r.wait === null)).toHaveLength(joins - parked);
    expect(c.waiters('k')).toBe(parked);
  });

  it('settling an unknown key is a no-op', () => {
    const c = new Coalescer<number>({ maxWaiters: 1 });
    expect(c.resolve('nope', 1)).toBe(0);
    expect(c.fail('nope')).toBe(0);
  });

  it.each([-1, 1.5, Number.NaN])('rejects maxWaiters %s', (maxWaiters) => {
    expect(() => new Coalescer({ maxWaiters })).toThrow(IngressError);
  });
});
