import { describe, expect, it } from 'vitest';
import { SnapshotBroadcaster } from '../../../src/primary/broadcast.js';
import { decodeEndpointsDelta, decodeSnapshot } from '../../../src/shared/codec.js';
import { EMPTY_TABLE, NO_OVERRIDES, SNAPSHOT_VERSION, type RoutingTable } from '../../../src/shared/snapshot.js';

const table: RoutingTable = {
  hosts: [{ host: 'a.example', routes: [{ match: 'Prefix', path: '/', backend: 'ns/svc:80', source: 'ns/ing' }] }],
  defaultBackend: null,
  backends: [{ id: 'ns/svc:80', service: 'ns/svc', servicePort: 80, endpoints: [{ address: '10.0.0.1', port: 8080, weight: 1, ready: true, terminating: false }], loadBalancer: 'round-robin' }],
};

describe('SnapshotBroadcaster', () => {
  it('stamps version and increasing generations and sends the same bytes it reports', () => {
    const sent: { bytes: Uint8Array; generation: number }[] = [];
    const b = new SnapshotBroadcaster((bytes, generation) => sent.push({ bytes, generation }));
    expect(b.publish(EMPTY_TABLE)).toMatchObject({ changed: true, generation: 1 });
    expect(b.publish(table)).toMatchObject({ changed: true, generation: 2 });
    expect(sent.map((s) => s.generation)).toEqual([1, 2]);
    const decoded = decodeSnapshot(sent[1]!.bytes);
    expect(decoded).toEqual({ version: SNAPSHOT_VERSION, generation: 2, table, overrides: { drained: [], weights: [] }, tls: null });
  });

  it('does not publish a table equal to the last one', () => {
    let sends = 0;
    const b = new SnapshotBroadcaster(() => sends++);
    b.publish(table);
    const again = b.publish(structuredClone(table));
    expect(again).toMatchObject({ changed: false, generation: 1 });
    expect(sends).toBe(1);
  });

  it('publishes a new TLS part under the next generation, keeps it for a later table, and skips the same one', () => {
    const sent: Uint8Array[] = [];
    const b = new SnapshotBroadcaster((bytes) => sent.push(bytes));
    const tls = { defaultCertificate: { id: 'd', certFile: '/t/d.crt', keyFile: '/t/d.key' }, certificates: [], serverNames: [] };
    expect(b.publishTls(tls)).toMatchObject({ changed: false, generation: 0 }); // kept for the first table
    expect(b.publish(table)).toMatchObject({ changed: true, generation: 1 });
    expect(decodeSnapshot(sent[0]!).tls).toEqual(tls);
    expect(b.publishTls(tls)).toMatchObject({ changed: false, generation: 1 });
    const rotated = { ...tls, certificates: [{ id: 'a', certFile: '/t/a.crt', keyFile: '/t/a.key' }], serverNames: [{ name: 'a.example', certificate: 'a' }] };
    expect(b.publishTls(rotated)).toMatchObject({ changed: true, generation: 2 });
    expect(decodeSnapshot(sent[1]!)).toMatchObject({ generation: 2, table, tls: rotated });
    expect(b.publish(EMPTY_TABLE)).toMatchObject({ changed: true, generation: 3 });
    expect(decodeSnapshot(sent[2]!).tls).toEqual(rotated);
  });

  it('publishes when only the overrides change', () => {
    let sends = 0;
    const b = new SnapshotBroadcaster(() => sends++);
    b.publish(table);
    expect(b.publish(table, { drained: ['ns/svc:80|10.0.0.1:8080'], weights: [] })).toMatchObject({ changed: true, generation: 2 });
    expect(sends).toBe(2);
  });
});

describe('SnapshotBroadcaster endpoint deltas', () => {
  const moved = { ...table.backends[0]!, endpoints: [{ address: '10.0.0.2', port: 8080, weight: 1, ready: true, terminating: false }] };
  const next: RoutingTable = { ...table, backends: [moved] };

  it('sends a delta under the next generation and encodes the full snapshot only on demand', () => {
    const snapshots: number[] = [];
    const deltas: { delta: Uint8Array; generation: number; snapshot: () => Uint8Array }[] = [];
    const b = new SnapshotBroadcaster((_bytes, generation) => snapshots.push(generation), (delta, generation, snapshot) => deltas.push({ delta, generation, snapshot }));
    b.publish(table);
    const r = b.publishEndpoints(next, [moved]);
    expect(r).toMatchObject({ changed: true, generation: 2 });
    expect(r.bytes).toBe(deltas[0]!.delta.byteLength);
    expect(snapshots).toEqual([1]);
    expect(decodeEndpointsDelta(deltas[0]!.delta)).toEqual({ version: SNAPSHOT_VERSION, generation: 2, base: 1, backends: [{ id: moved.id, endpoints: moved.endpoints }] });
    // The full snapshot of generation 2 carries the new endpoints.
    expect(decodeSnapshot(deltas[0]!.snapshot())).toEqual({ version: SNAPSHOT_VERSION, generation: 2, table: next, overrides: NO_OVERRIDES, tls: null });
    expect(b.snapshot()).toBe(deltas[0]!.snapshot());
  });

  it('keeps generations monotonic across deltas and snapshots, and compares a later table with the delta-made one', () => {
    const generations: number[] = [];
    const b = new SnapshotBroadcaster((_b, g) => generations.push(g), (_d, g) => generations.push(g));
    b.publish(table);
    b.publishEndpoints(next, [moved]);
    expect(b.publish(structuredClone(next))).toMatchObject({ changed: false, generation: 2 });
    expect(b.publish(table)).toMatchObject({ changed: true, generation: 3 });
    expect(b.publishEndpoints(next, [])).toMatchObject({ changed: false, generation: 3 });
    expect(b.publishEndpoints(next, [moved])).toMatchObject({ changed: true, generation: 4 });
    expect(generations).toEqual([1, 2, 3, 4]);
    // Overrides published after a delta keep the delta's endpoints.
    const drained = { drained: ['ns/svc:80|10.0.0.2:8080'], weights: [] };
    let last: Uint8Array | undefined;
    const c = new SnapshotBroadcaster((bytes) => (last = bytes), () => undefined);
    c.publish(table);
    c.publishEndpoints(next, [moved]);
    c.publish(next, drained);
    expect(decodeSnapshot(last!)).toEqual({ version: SNAPSHOT_VERSION, generation: 3, table: next, overrides: drained, tls: null });
  });

  it('falls back to a full snapshot without a delta sink', () => {
    const generations: number[] = [];
    const b = new SnapshotBroadcaster((_b, g) => generations.push(g));
    b.publish(table);
    expect(b.publishEndpoints(next, [moved])).toMatchObject({ changed: true, generation: 2 });
    expect(generations).toEqual([1, 2]);
  });
});
