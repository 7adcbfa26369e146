import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RebuildScheduler, type Timers } from '../../../src/primary/rebuild.js';

const fakeTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

describe('RebuildScheduler', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs once after the holdoff for a burst of changes', () => {
    let runs = 0;
    const s = new RebuildScheduler(() => runs++, { holdoffMs: 100, maxDelayMs: 500, timers: fakeTimers });
    s.schedule();
    vi.advanceTimersByTime(50);
    s.schedule();
    vi.advanceTimersByTime(50);
    s.schedule();
    vi.advanceTimersByTime(99);
    expect(runs).toBe(0);
    vi.advanceTimersByTime(1);
    expect(runs).toBe(1);
    vi.advanceTimersByTime(1000);
    expect(runs).toBe(1);
  });

  it('runs at the max delay even while changes keep coming', () => {
    let runs = 0;
    const s = new RebuildScheduler(() => runs++, { holdoffMs: 100, maxDelayMs: 500, timers: fakeTimers });
    for (let t = 0; t < 500; t += 50) {
      s.schedule();
      vi.advanceTimersByTime(50);
    }
    expect(runs).toBe(1);
  });

  it('takes a shorter holdoff per call, and a later default call lengthens it again', () => {
    let runs = 0;
    const s = new RebuildScheduler(() => runs++, { holdoffMs: 100, maxDelayMs: 500, timers: fakeTimers });
    s.schedule(10);
    vi.advanceTimersByTime(5);
    s.schedule(10);
    vi.advanceTimersByTime(9);
    expect(runs).toBe(0);
    vi.advanceTimersByTime(1);
    expect(runs).toBe(1);
    s.schedule(10);
    s.schedule();
    vi.advanceTimersByTime(99);
    expect(runs).toBe(1);
    vi.advanceTimersByTime(1);
    expect(runs).toBe(2);
    expect(() => s.schedule(-1)).toThrow(RangeError);
  });

  it('cancel drops the pending run', () => {
    let runs = 0;
    const s = new RebuildScheduler(() => runs++, { timers: fakeTimers });
    s.schedule();
    s.cancel();
    vi.advanceTimersByTime(1000);
    expect(runs).toBe(0);
  });

  it('rejects a holdoff above the max delay', () => {
    expect(() => new RebuildScheduler(() => {}, { holdoffMs: 600, maxDelayMs: 500 })).toThrow(RangeError);
  });
});
