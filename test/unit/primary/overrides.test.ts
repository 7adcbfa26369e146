import { describe, expect, it } from 'vitest';
import { OverrideStore } from '../../../src/primary/overrides.js';
import { NO_OVERRIDES } from '../../../src/shared/snapshot.js';

describe('OverrideStore', () => {
  it('starts empty and keeps the same object until something changes', () => {
    const o = new OverrideStore();
    expect(o.current()).toBe(NO_OVERRIDES);
    expect(o.undrain('a|1.1.1.1:80')).toBe(false);
    expect(o.setWeight('a|1.1.1.1:80', null)).toBe(false);
    expect(o.current()).toBe(NO_OVERRIDES);
  });

  it('drains, weighs and undoes, with sorted, frozen output', () => {
    const o = new OverrideStore();
    expect(o.drain('b|10.0.0.2:80')).toBe(true);
    expect(o.drain('a|10.0.0.1:80')).toBe(true);
    expect(o.drain('a|10.0.0.1:80')).toBe(false);
    expect(o.setWeight('c|10.0.0.3:80', 5)).toBe(true);
    expect(o.setWeight('c|10.0.0.3:80', 5)).toBe(false);
    const cur = o.current();
    expect(cur).toEqual({ drained: ['a|10.0.0.1:80', 'b|10.0.0.2:80'], weights: [['c|10.0.0.3:80', 5]] });
    expect(Object.isFrozen(cur) && Object.isFrozen(cur.drained)).toBe(true);
    expect([o.isDrained('a|10.0.0.1:80'), o.weight('c|10.0.0.3:80')]).toEqual([true, 5]);
    expect(o.undrain('a|10.0.0.1:80')).toBe(true);
    expect(o.setWeight('c|10.0.0.3:80', null)).toBe(true);
    expect(o.current()).toEqual({ drained: ['b|10.0.0.2:80'], weights: [] });
  });

  it.each([-1, 1.5, 1001, Number.NaN])('rejects weight %s', (w) => {
    expect(() => new OverrideStore().setWeight('k', w)).toThrow(RangeError);
  });
});
