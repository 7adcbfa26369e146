// Issue 16 item 5: restart back-off, alone and through the WorkerPool's lifecycle (fake workers, fake timers).
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { failuresAfterExit, restartDelayMs, type RestartBackoff } from '../../../../src/primary/pool/restart-backoff.js';
import { WorkerPool } from '../../../../src/primary/workers.js';
import type { WorkerConfig } from '../../../../src/shared/messages.js';
import { fakeCluster } from '../../../helpers/fake-workers.js';

const BACKOFF: RestartBackoff = { baseMs: 100, maxMs: 1_000, healthyAfterMs: 60_000 };

describe('restartDelayMs', () => {
  it.each([
    { failures: 1, want: 100 },
    { failures: 2, want: 200 },
    { failures: 3, want: 400 },
    { failures: 4, want: 800 },
    { failures: 5, want: 1_000 },
    { failures: 40, want: 1_000 },
  ])('waits $want ms after $failures exits in a row', ({ failures, want }) => {
    expect(restartDelayMs(failures, BACKOFF)).toBe(want);
  });
});

describe('failuresAfterExit', () => {
  it('counts a quick exit as one more, and a healthy life as the first again', () => {
    expect(failuresAfterExit(3, 59_999, BACKOFF)).toBe(4);
    expect(failuresAfterExit(3, 60_000, BACKOFF)).toBe(1);
    expect(failuresAfterExit(0, 10, BACKOFF)).toBe(1);
  });
});

describe('WorkerPool restarts with back-off', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function setup() {
    const cluster = fakeCluster();
    const pool = new WorkerPool({
      count: 1,
      exec: '/nonexistent',
      config: { httpPort: 0 } as unknown as WorkerConfig,
      log: pino({ level: 'silent' }),
      fork: cluster.fork,
      restartBaseMs: BACKOFF.baseMs,
      restartMaxMs: BACKOFF.maxMs,
      healthyAfterMs: BACKOFF.healthyAfterMs,
    });
    pool.publish(new Uint8Array([1]), 1);
    pool.start();
    return { pool, forked: cluster.forked };
  }

  /** crashAndWait kills the newest worker and returns after how many ms the next fork came. */
  function crashAndWait(forked: { exit(code: number): void }[], stepMs = 10): number {
    const before = forked.length;
    forked[before - 1]!.exit(1);
    let waited = 0;
    while (forked.length === before) {
      vi.advanceTimersByTime(stepMs);
      waited += stepMs;
      if (waited > 10 * BACKOFF.maxMs) throw new Error('no restart');
    }
    return waited;
  }

  it('doubles the wait for a crash loop up to the cap', () => {
    const { pool, forked } = setup();
    forked[0]!.start(1);
    const waits = [1, 2, 3, 4, 5, 6].map(() => crashAndWait(forked));
    expect(waits).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    expect(pool.status()[0]!.restarts).toBe(6);
  });

  it('restarts at the base wait again after a healthy life', () => {
    const { forked } = setup();
    forked[0]!.start(1);
    expect([crashAndWait(forked), crashAndWait(forked), crashAndWait(forked)]).toEqual([100, 200, 400]);
    vi.advanceTimersByTime(BACKOFF.healthyAfterMs);
    expect(crashAndWait(forked)).toBe(100);
  });

  it('does not restart a worker that exits during a drain', async () => {
    const { pool, forked } = setup();
    forked[0]!.start(1);
    const drained = pool.drain(1000);
    forked[0]!.exit(0);
    await drained;
    vi.advanceTimersByTime(10 * BACKOFF.maxMs);
    expect(forked).toHaveLength(1);
  });
});
