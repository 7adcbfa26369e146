import { describe, expect, it } from 'vitest';
import { SnapshotBroadcaster } from '../../../src/primary/broadcast.js';
import { decodeSnapshot } from '../../../src/shared/codec.js';
import { EMPTY_TABLE, SNAPSHOT_VERSION, type RoutingTable } from '../../../src/shared/snapshot.js';

const table: RoutingTable = {
  hosts: [{ host: 'a.example', routes: [{ match: 'Prefix', path: '/', cluster: 'ns/svc:80', source: 'ns/ing' }] }],
  defaultBackend: null,
  clusters: [{ id: 'ns/svc:80', service: 'ns/svc', servicePort: 80, endpoints: [{ address: '10.0.0.1', port: 8080, weight: 1, ready: true, terminating: false }], loadBalancer: 'round-robin' }],
};

describe('SnapshotBroadcaster', () => {
  it('stamps version and increasing generations and sends the same bytes it reports', () => {
    const sent: { bytes: Uint8Array; generation: number }[] = [];
    const b = new SnapshotBroadcaster((bytes, generation) => sent.push({ bytes, generation }));
    expect(b.publish(EMPTY_TABLE)).toMatchObject({ changed: true, generation: 1 });
    expect(b.publish(table)).toMatchObject({ changed: true, generation: 2 });
    expect(sent.map((s) => s.generation)).toEqual([1, 2]);
    const decoded = decodeSnapshot(sent[1]!.bytes);
    expect(decoded).toEqual({ version: SNAPSHOT_VERSION, generation: 2, table, overrides: { drained: [], weights: [] } });
  });

  it('does not publish a table equal to the last one', () => {
    let sends = 0;
    const b = new SnapshotBroadcaster(() => sends++);
    b.publish(table);
    const again = b.publish(structuredClone(table));
    expect(again).toMatchObject({ changed: false, generation: 1 });
    expect(sends).toBe(1);
  });

  it('publishes when only the overrides change', () => {
    let sends = 0;
    const b = new SnapshotBroadcaster(() => sends++);
    b.publish(table);
    expect(b.publish(table, { drained: ['ns/svc:80|10.0.0.1:8080'], weights: [] })).toMatchObject({ changed: true, generation: 2 });
    expect(sends).toBe(2);
  });
});
