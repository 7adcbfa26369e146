/**
 * WorkerPool with a spare (issue 14 item 8): one extra worker is forked and says hello but gets
 * no init until a worker exits; then it takes the slot at once (init with the current snapshot,
 * no back-off wait), and the next spare is forked after the back-off. A spare that exits before
 * it is needed is forked again; a drain stops it too.
 */
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WorkerPool } from '../../../src/primary/workers.js';
import type { WorkerConfig } from '../../../src/shared/messages.js';
import { fakeCluster } from '../../helpers/fake-workers.js';

const RESTART_MS = 100;

function setup(spare: boolean) {
  const cluster = fakeCluster();
  const pool = new WorkerPool({
    count: 2,
    exec: '/nonexistent',
    config: { httpPort: 8080 } as unknown as WorkerConfig,
    log: pino({ level: 'silent' }),
    fork: cluster.fork,
    restartBaseMs: RESTART_MS,
    spare,
  });
  pool.publish(new Uint8Array([1]), 1);
  pool.start();
  return { pool, forked: cluster.forked };
}

describe('WorkerPool spare worker', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('forks a spare that gets no init, and it replaces an exited worker at once with the current snapshot', () => {
    const { pool, forked } = setup(true);
    expect(forked).toHaveLength(3); // two workers and the spare
    const [w1, w2, spare] = forked as [NonNullable<(typeof forked)[0]>, NonNullable<(typeof forked)[0]>, NonNullable<(typeof forked)[0]>];
    w1.start(1);
    w2.start(1);
    spare.reply({ type: 'hello' });
    expect(spare.sent).toEqual([]);
    expect(pool.spareReady).toBe(true);
    expect(pool.ready()).toBe(true);

    pool.publish(new Uint8Array([2]), 2);
    w1.exit(null, 'SIGKILL');
    // No timer has run: the spare was sent its init right away, with generation 2's bytes.
    expect(spare.sentOf('init')).toHaveLength(1);
    expect(spare.sentOf('init')[0]).toMatchObject({ workerId: 1, snapshot: new Uint8Array([2]) });
    expect(pool.status()[0]).toMatchObject({ id: 1, pid: spare.process.pid, listening: false, restarts: 1 });
    expect(pool.spareReady).toBe(false);
    spare.reply({ type: 'listening', generation: 2, node: 'v24.0.0-fake' });
    expect(pool.status()[0]).toMatchObject({ pid: spare.process.pid, listening: true, generation: 2 });

    // The next spare is forked after the back-off, not before.
    expect(forked).toHaveLength(3);
    vi.advanceTimersByTime(RESTART_MS);
    expect(forked).toHaveLength(4);
    forked[3]!.reply({ type: 'hello' });
    expect(forked[3]!.sent).toEqual([]);
    expect(pool.spareReady).toBe(true);

    // The adopted spare is now the slot's worker: its exit is the slot's, replaced by the new spare.
    spare.exit(null, 'SIGKILL');
    expect(forked[3]!.sentOf('init')[0]).toMatchObject({ workerId: 1 });
    expect(pool.status()[0]).toMatchObject({ pid: forked[3]!.process.pid, restarts: 2 });
  });

  it('a spare adopted before its hello gets its init when the hello comes', () => {
    const { pool, forked } = setup(true);
    forked[0]!.start(1);
    forked[1]!.start(1);
    forked[0]!.exit(1);
    expect(forked[2]!.sent).toEqual([]);
    forked[2]!.reply({ type: 'hello' });
    expect(forked[2]!.sentOf('init')).toHaveLength(1);
    forked[2]!.reply({ type: 'listening', generation: 1, node: 'v24.0.0-fake' });
    expect(pool.ready()).toBe(true);
  });

  it('without a spare, an exited worker is forked again after the back-off', () => {
    const { forked } = setup(false);
    expect(forked).toHaveLength(2);
    forked[0]!.start(1);
    forked[1]!.start(1);
    forked[0]!.exit(null, 'SIGKILL');
    expect(forked).toHaveLength(2);
    vi.advanceTimersByTime(RESTART_MS);
    expect(forked).toHaveLength(3);
  });

  it('a spare that exits before it is needed is forked again after the back-off', () => {
    const { pool, forked } = setup(true);
    forked[2]!.reply({ type: 'hello' });
    forked[2]!.exit(1);
    expect(pool.spareReady).toBe(false);
    expect(pool.status().map((s) => s.restarts)).toEqual([0, 0]);
    vi.advanceTimersByTime(RESTART_MS);
    expect(forked).toHaveLength(4);
  });

  it('drain stops the spare too, and no spare is forked after', async () => {
    const { pool, forked } = setup(true);
    for (const w of forked.slice(0, 2)) w.start(1);
    forked[2]!.reply({ type: 'hello' });
    const drained = pool.drain(1000);
    for (const w of forked) {
      expect(w.sentOf('drain')).toHaveLength(1);
      w.exit(0);
    }
    await drained;
    vi.advanceTimersByTime(10 * RESTART_MS);
    expect(forked).toHaveLength(3);
  });
});
