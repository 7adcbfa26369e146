// Issue 16 item 5: snapshot and delta distribution (pool/distribution.ts), on fake workers.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { routeEndpoints, SnapshotDistribution } from '../../../../src/primary/pool/distribution.js';
import { newSlot, type Slot } from '../../../../src/primary/pool/slot.js';
import { FakeWorker } from '../../../helpers/fake-workers.js';

const log = pino({ level: 'silent' });
const bytes = (n: number): Uint8Array => new Uint8Array([n]);

describe('routeEndpoints', () => {
  it.each([
    { name: 'a worker at the base gets the delta', sent: 4, base: 4, generation: 5, want: 'delta' },
    { name: 'a worker behind the base gets the snapshot', sent: 3, base: 4, generation: 5, want: 'snapshot' },
    { name: 'a worker ahead of the base gets the snapshot', sent: 5, base: 4, generation: 5, want: 'snapshot' },
    { name: 'a delta over a gap goes as the snapshot', sent: 4, base: 4, generation: 6, want: 'snapshot' },
  ])('$name', ({ sent, base, generation, want }) => {
    expect(routeEndpoints(sent, base, generation)).toBe(want);
  });
});

/** listeningSlot is slot `id` with a fake worker that has its init and listens at `generation`. */
function listeningSlot(d: SnapshotDistribution, id: number, generation: number): { slot: Slot; worker: FakeWorker } {
  const slot = newSlot(id);
  const worker = new FakeWorker(1000 + id);
  slot.worker = worker;
  d.started(slot);
  expect(d.greet(slot)).not.toBeNull();
  d.listening(slot, generation);
  return { slot, worker };
}

describe('SnapshotDistribution', () => {
  it('has nothing to give a worker before the first publish', () => {
    const d = new SnapshotDistribution(log);
    const slot = newSlot(1);
    slot.worker = new FakeWorker(1);
    expect(d.greet(slot)).toBeNull();
    expect(d.published).toBe(false);
  });

  it('sends the same snapshot bytes to every listening worker, none to one not listening', () => {
    const d = new SnapshotDistribution(log);
    d.publish(bytes(1), 1, []);
    const a = listeningSlot(d, 1, 1);
    const b = listeningSlot(d, 2, 1);
    const quiet = newSlot(3);
    const quietWorker = new FakeWorker(1003);
    quiet.worker = quietWorker;
    d.publish(bytes(2), 2, [a.slot, b.slot, quiet]);
    expect(a.worker.sentOf('snapshot').map((m) => m.snapshot)).toEqual([bytes(2)]);
    expect(b.worker.sentOf('snapshot')[0]!.snapshot).toEqual(a.worker.sentOf('snapshot')[0]!.snapshot);
    expect(quietWorker.sent).toEqual([]);
  });

  it('routes a delta to the worker at its base and the snapshot, encoded once, to the others', () => {
    const d = new SnapshotDistribution(log);
    d.publish(bytes(1), 1, []);
    const current = listeningSlot(d, 1, 1);
    d.publish(bytes(2), 2, [current.slot]);
    const behind = listeningSlot(d, 2, 1); // caught up with a snapshot of 2 at once
    expect(behind.worker.sentOf('snapshot')).toHaveLength(1);
    const lagging = newSlot(3);
    const laggingWorker = new FakeWorker(1003);
    lagging.worker = laggingWorker;
    d.started(lagging);
    d.greet(lagging);
    Object.assign(lagging.delivery, { listening: true, generation: 1, sent: 1 }); // its snapshot of 2 was lost
    let encodes = 0;
    d.publishEndpoints(bytes(30), 3, () => (encodes++, bytes(3)), [current.slot, behind.slot, lagging]);
    expect(current.worker.sentOf('endpoints').map((m) => m.delta)).toEqual([bytes(30)]);
    expect(behind.worker.sentOf('endpoints').map((m) => m.delta)).toEqual([bytes(30)]);
    expect(laggingWorker.sentOf('endpoints')).toEqual([]);
    expect(laggingWorker.sentOf('snapshot').map((m) => m.snapshot)).toEqual([bytes(3)]);
    expect(encodes).toBe(1);
    expect([current.slot, behind.slot, lagging].map((s) => s.delivery.sent)).toEqual([3, 3, 3]);
  });

  it('does not encode the snapshot when every worker takes the delta', () => {
    const d = new SnapshotDistribution(log);
    d.publish(bytes(1), 1, []);
    const a = listeningSlot(d, 1, 1);
    let encodes = 0;
    d.publishEndpoints(bytes(20), 2, () => (encodes++, bytes(2)), [a.slot]);
    expect(encodes).toBe(0);
    // A worker that starts now gets the full snapshot of generation 2, encoded on demand.
    const late = newSlot(2);
    late.worker = new FakeWorker(1002);
    d.started(late);
    expect(d.greet(late)).toEqual(bytes(2));
    expect(encodes).toBe(1);
  });

  it('answers a rejected delta with the full snapshot, and a rejected snapshot with nothing', () => {
    const d = new SnapshotDistribution(log);
    d.publish(bytes(1), 1, []);
    const a = listeningSlot(d, 1, 1);
    d.publishEndpoints(bytes(20), 2, () => bytes(2), [a.slot]);
    const error = { code: 'ING_ERR_SNAPSHOT_DECODE', message: 'bad delta' } as const;
    d.reject(a.slot, 1, 'endpoints', error);
    expect(a.worker.sentOf('snapshot').map((m) => m.snapshot)).toEqual([bytes(2)]);
    expect(a.slot.delivery).toMatchObject({ sent: 2, lastError: error });
    d.reject(a.slot, 1, 'snapshot', error);
    expect(a.worker.sentOf('snapshot')).toHaveLength(1);
    expect(a.slot.delivery.sent).toBe(1);
    d.ack(a.slot, 2);
    expect(a.slot.delivery).toMatchObject({ generation: 2, lastError: null });
  });

  it('is ready when every worker listens at the newest generation', () => {
    const d = new SnapshotDistribution(log);
    expect(d.ready([])).toBe(false);
    d.publish(bytes(1), 1, []);
    const a = listeningSlot(d, 1, 1);
    const b = listeningSlot(d, 2, 1);
    expect(d.ready([a.slot, b.slot])).toBe(true);
    d.publish(bytes(2), 2, [a.slot, b.slot]);
    d.ack(a.slot, 2);
    expect(d.ready([a.slot, b.slot])).toBe(false);
    d.ack(b.slot, 2);
    expect(d.ready([a.slot, b.slot])).toBe(true);
    d.gone(b.slot);
    expect(d.ready([a.slot, b.slot])).toBe(false);
  });
});
