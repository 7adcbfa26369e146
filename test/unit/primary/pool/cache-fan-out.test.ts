// Issue 16 item 5: the cache fan-out (pool/cache-fan-out.ts) on fake workers; the pool's own
// purge cases are in ../workers-cache.test.ts.
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CacheFanOut, type CachePurgeResult } from '../../../../src/primary/pool/cache-fan-out.js';
import { newSlot, type Slot } from '../../../../src/primary/pool/slot.js';
import { FakeWorker } from '../../../helpers/fake-workers.js';

const log = pino({ level: 'silent' });

function slotOf(id: number, greeted = true): { slot: Slot; worker: FakeWorker } {
  const slot = newSlot(id);
  const worker = new FakeWorker(1000 + id);
  slot.worker = worker;
  slot.delivery.greeted = greeted;
  return { slot, worker };
}

describe('CacheFanOut', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('asks only workers that have their init, and sums the answers', async () => {
    const fan = new CacheFanOut(log);
    const a = slotOf(1);
    const b = slotOf(2);
    const starting = slotOf(3, false);
    let result: CachePurgeResult | undefined;
    void fan.purge([a.slot, b.slot, starting.slot], { host: 'x.test' }, 1000).then((r) => (result = r));
    expect(starting.worker.sent).toEqual([]);
    const id = a.worker.sentOf('cache-purge')[0]!.id;
    fan.purged(a.worker, id, 3);
    fan.purged(a.worker, id, 3); // a second answer from the same worker counts once
    fan.purged(starting.worker, id, 9); // never asked
    fan.purged(b.worker, id, 4);
    await vi.runAllTimersAsync();
    expect(result).toEqual({ purged: 7, workers: 2, answered: 2 });
  });

  it('stops waiting for a worker that exits, and times out on one that never answers', async () => {
    const fan = new CacheFanOut(log);
    const a = slotOf(1);
    const b = slotOf(2);
    const c = slotOf(3);
    let result: CachePurgeResult | undefined;
    void fan.purge([a.slot, b.slot, c.slot], {}, 1000).then((r) => (result = r));
    const id = a.worker.sentOf('cache-purge')[0]!.id;
    fan.purged(a.worker, id, 1);
    fan.gone(b.worker);
    await vi.advanceTimersByTimeAsync(999);
    expect(result).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(result).toEqual({ purged: 1, workers: 3, answered: 1 });
    fan.purged(c.worker, id, 5); // late: finds nothing
    expect(result).toEqual({ purged: 1, workers: 3, answered: 1 });
  });

  it('relays invalidated keys to every other worker with its init, and drops a malformed list', () => {
    const fan = new CacheFanOut(log);
    const from = slotOf(1);
    const other = slotOf(2);
    const starting = slotOf(3, false);
    const slots = [from.slot, other.slot, starting.slot];
    fan.relayInvalidate(from.slot, slots, ['GET x.test/a']);
    expect(other.worker.sentOf('cache-invalidate')).toEqual([{ type: 'cache-invalidate', keys: ['GET x.test/a'] }]);
    expect(from.worker.sent).toEqual([]);
    expect(starting.worker.sent).toEqual([]);
    fan.relayInvalidate(from.slot, slots, ['GET x.test/b', 7]);
    fan.relayInvalidate(from.slot, slots, []);
    fan.relayInvalidate(from.slot, slots, 'GET x.test/c');
    expect(other.worker.sentOf('cache-invalidate')).toHaveLength(1);
  });
});
