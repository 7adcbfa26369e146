import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WorkerPool, type CachePurgeResult } from '../../../src/primary/workers.js';
import type { WorkerConfig } from '../../../src/shared/messages.js';
import { fakeCluster, type FakeWorker } from '../../helpers/fake-workers.js';

const CONFIG = { httpPort: 0 } as unknown as WorkerConfig;
const TIMEOUT_MS = 1000;
const RESTART_MS = 100;

/** pool starts a WorkerPool of `count` fake workers, all listening at generation 1. */
function pool(count: number): { pool: WorkerPool; forked: FakeWorker[] } {
  const cluster = fakeCluster();
  const p = new WorkerPool({ count, exec: '/nonexistent', config: CONFIG, log: pino({ level: 'silent' }), fork: cluster.fork, restartBaseMs: RESTART_MS });
  p.publish(new Uint8Array([1]), 1);
  p.start();
  for (const w of cluster.forked) w.start(1);
  return { pool: p, forked: cluster.forked };
}

/** The real setImmediate, taken before the tests fake the timers. */
const realSetImmediate = setImmediate;

/** Outcome is what a promise has done so far: recorded the moment it settles. */
interface Outcome<T> {
  readonly settled: boolean;
  readonly value: T | undefined;
}

/** watch records `p`'s value in the returned Outcome as soon as `p` settles. */
function watch<T>(p: Promise<T>): Outcome<T> {
  const o = { settled: false, value: undefined as T | undefined };
  void p.then((v) => {
    o.settled = true;
    o.value = v;
  });
  return o;
}

/**
 * drained resolves on the next real event-loop turn: every microtask queued so far, and every one
 * those queue, has run by then, however long the chain. The pool's only other source of events is
 * the faked timers, so a promise still unsettled here stays unsettled until the test moves them.
 */
const drained = (): Promise<void> => new Promise((resolve) => realSetImmediate(resolve));

/** settled returns `o`'s value, failing the test if it has not settled by the end of the chain. */
async function settled<T>(o: Outcome<T>): Promise<T> {
  await drained();
  expect(o.settled, 'the promise has settled').toBe(true);
  return o.value as T;
}

/** pending fails the test if `o` has settled by the end of the chain. */
async function pending<T>(o: Outcome<T>): Promise<void> {
  await drained();
  expect(o.value, 'the promise is still pending').toBeUndefined();
  expect(o.settled, 'the promise is still pending').toBe(false);
}

describe('WorkerPool.purgeCache', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sends the selector to every listening worker and sums their answers', async () => {
    const { pool: p, forked } = pool(3);
    const result = watch(p.purgeCache({ host: 'shop.test', pathPrefix: '/img' }, TIMEOUT_MS));
    const asked = forked.map((w) => w.sentOf('cache-purge'));
    expect(asked.map((m) => m.length)).toEqual([1, 1, 1]);
    expect(asked[0]![0]).toMatchObject({ selector: { host: 'shop.test', pathPrefix: '/img' } });
    const id = asked[0]![0]!.id;
    expect(asked.every((m) => m[0]!.id === id)).toBe(true);
    forked[0]!.reply({ type: 'cache-purged', id, purged: 2 });
    forked[1]!.reply({ type: 'cache-purged', id, purged: 0 });
    await pending(result);
    forked[2]!.reply({ type: 'cache-purged', id, purged: 5 });
    expect(await settled(result)).toEqual({ purged: 7, workers: 3, answered: 3 });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('resolves at the timeout with the answers so far, and ignores a late answer', async () => {
    const { pool: p, forked } = pool(2);
    const result = watch(p.purgeCache({}, TIMEOUT_MS));
    const id = forked[0]!.sentOf('cache-purge')[0]!.id;
    forked[0]!.reply({ type: 'cache-purged', id, purged: 4 });
    vi.advanceTimersByTime(TIMEOUT_MS - 1);
    await pending(result);
    vi.advanceTimersByTime(1);
    expect(await settled(result)).toEqual({ purged: 4, workers: 2, answered: 1 });
    forked[1]!.reply({ type: 'cache-purged', id, purged: 9 });
    // The next purge has its own id; the late answer of the last one changed nothing.
    const next = watch(p.purgeCache({}, TIMEOUT_MS));
    const nextId = forked[1]!.sentOf('cache-purge')[1]!.id;
    expect(nextId).not.toBe(id);
    for (const w of forked) w.reply({ type: 'cache-purged', id: nextId, purged: 1 });
    expect(await settled(next)).toEqual({ purged: 2, workers: 2, answered: 2 });
  });

  it('counts a worker that exits before answering as not answered, without waiting for the timeout', async () => {
    const { pool: p, forked } = pool(2);
    const result = watch(p.purgeCache({ ingress: 'shop/web' }, TIMEOUT_MS));
    const id = forked[0]!.sentOf('cache-purge')[0]!.id;
    forked[0]!.reply({ type: 'cache-purged', id, purged: 3 });
    forked[1]!.exit(1);
    expect(await settled(result)).toEqual({ purged: 3, workers: 2, answered: 1 });
    // Only the restart timer is left: the purge's timer went with it.
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(RESTART_MS);
    expect(forked).toHaveLength(3);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('asks every worker that has its init, listening or not, and answers at once when there is none', async () => {
    const cluster = fakeCluster();
    const p = new WorkerPool({ count: 3, exec: '/nonexistent', config: CONFIG, log: pino({ level: 'silent' }), fork: cluster.fork });
    p.publish(new Uint8Array([1]), 1);
    p.start();
    expect(await settled(watch(p.purgeCache({}, TIMEOUT_MS)))).toEqual({ purged: 0, workers: 0, answered: 0 });
    cluster.forked[0]!.start(1);
    // Said hello, got its init, not listening yet: it may already serve.
    cluster.forked[1]!.reply({ type: 'hello' });
    const result = watch(p.purgeCache({}, TIMEOUT_MS));
    expect(cluster.forked.map((w) => w.sentOf('cache-purge').length)).toEqual([1, 1, 0]);
    const id = cluster.forked[0]!.sentOf('cache-purge')[0]!.id;
    cluster.forked[0]!.reply({ type: 'cache-purged', id, purged: 1 });
    cluster.forked[1]!.reply({ type: 'cache-purged', id, purged: 0 });
    expect(await settled(result)).toEqual<CachePurgeResult>({ purged: 1, workers: 2, answered: 2 });
  });

  it('counts each worker once, and a malformed count as answered with nothing purged', async () => {
    const { pool: p, forked } = pool(2);
    const result = watch(p.purgeCache({}, TIMEOUT_MS));
    const id = forked[0]!.sentOf('cache-purge')[0]!.id;
    forked[0]!.reply({ type: 'cache-purged', id, purged: 1 });
    forked[0]!.reply({ type: 'cache-purged', id, purged: 1 });
    forked[1]!.reply({ type: 'cache-purged', id, purged: -5 });
    expect(await settled(result)).toEqual({ purged: 1, workers: 2, answered: 2 });
  });
});

describe('WorkerPool cache invalidation', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('forwards the keys one worker invalidated to every other live worker', () => {
    const { forked } = pool(3);
    forked[1]!.reply({ type: 'cache-invalidate', keys: ['GET shop.test /a', 'GET shop.test /b'] });
    expect(forked.map((w) => w.sentOf('cache-invalidate'))).toEqual([
      [{ type: 'cache-invalidate', keys: ['GET shop.test /a', 'GET shop.test /b'] }],
      [],
      [{ type: 'cache-invalidate', keys: ['GET shop.test /a', 'GET shop.test /b'] }],
    ]);
  });

  it('skips workers that exited or have not said hello, and ignores malformed or empty key lists', () => {
    const { forked } = pool(3);
    forked[2]!.exit(1);
    vi.advanceTimersByTime(RESTART_MS);
    expect(forked).toHaveLength(4);
    forked[0]!.reply({ type: 'cache-invalidate', keys: ['k'] });
    forked[0]!.reply({ type: 'cache-invalidate', keys: [] });
    forked[0]!.reply({ type: 'cache-invalidate', keys: 'k' });
    forked[0]!.reply({ type: 'cache-invalidate', keys: [1] });
    expect(forked.map((w) => w.sentOf('cache-invalidate').length)).toEqual([0, 1, 0, 0]);
    forked[3]!.reply({ type: 'hello' });
    forked[0]!.reply({ type: 'cache-invalidate', keys: ['k2'] });
    expect(forked.map((w) => w.sentOf('cache-invalidate').length)).toEqual([0, 2, 0, 1]);
  });
});
