/**
 * WorkerPool and listeners: a worker that reports ING_ERR_LISTEN_FAILED is listed by
 * listenFailures (what /healthz shows) until a worker in its slot listens again; other fatal
 * errors are not listen failures; onListening and onListenFailed tell the primary (which ends a
 * start that cannot bind, and checks the ports again after a worker re-listens).
 */
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WorkerPool } from '../../../src/primary/workers.js';
import type { WireError } from '../../../src/shared/errors.js';
import type { WorkerConfig } from '../../../src/shared/messages.js';
import { fakeCluster } from '../../helpers/fake-workers.js';

const RESTART_MS = 100;
const LISTEN_FAILED: WireError = { code: 'ING_ERR_LISTEN_FAILED', message: 'cannot listen on 0.0.0.0:8080: address already in use: another process listens on it (EADDRINUSE)' };

function setup(count: number) {
  const cluster = fakeCluster();
  const events: string[] = [];
  const pool = new WorkerPool({
    count,
    exec: '/nonexistent',
    config: { httpPort: 8080 } as unknown as WorkerConfig,
    log: pino({ level: 'silent' }),
    fork: cluster.fork,
    restartBaseMs: RESTART_MS,
    onListening: (id, pid) => events.push(`listening ${id} ${pid}`),
    onListenFailed: (id, error) => events.push(`failed ${id} ${error.code}`),
  });
  pool.publish(new Uint8Array([1]), 1);
  pool.start();
  return { pool, forked: cluster.forked, events };
}

describe('WorkerPool listen failures', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('lists a worker that cannot bind until its replacement listens, and tells the primary each time', () => {
    const { pool, forked, events } = setup(2);
    forked[0]!.start(1);
    forked[1]!.reply({ type: 'hello' });
    forked[1]!.reply({ type: 'fatal', error: LISTEN_FAILED });
    forked[1]!.exit(1);
    expect(pool.listenFailures()).toEqual([{ id: 2, error: LISTEN_FAILED }]);
    expect(pool.ready()).toBe(false);
    expect(events).toEqual(['listening 1 1000', 'failed 2 ING_ERR_LISTEN_FAILED']);

    // The restart (after the backoff) is still not listening: still listed.
    vi.advanceTimersByTime(RESTART_MS);
    expect(forked).toHaveLength(3);
    expect(pool.listenFailures()).toEqual([{ id: 2, error: LISTEN_FAILED }]);
    forked[2]!.start(1);
    expect(pool.listenFailures()).toEqual([]);
    expect(pool.ready()).toBe(true);
    expect(events.at(-1)).toBe('listening 2 1002');
  });

  it('does not count another fatal error (or a crash) as a listen failure', () => {
    const { pool, forked, events } = setup(1);
    forked[0]!.start(1);
    forked[0]!.reply({ type: 'fatal', error: { code: 'ING_ERR_WORKER_UNCAUGHT', message: 'boom' } });
    forked[0]!.exit(1);
    expect(pool.listenFailures()).toEqual([]);
    expect(events).toEqual(['listening 1 1000']);
  });
});
