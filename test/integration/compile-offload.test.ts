/**
 * The compile thread for real: the built thread module on a piscina worker thread gives the
 * bytes an in-loop compile gives (issue #5: same input → same encoded bytes both ways).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { CompileOffload as CompileOffloadType } from '../../src/primary/offload/compile-offload.js';
import type { KubeObject } from '../../src/primary/model.js';
import { backend, endpointSlice, ingress, ingressClass, OPTS, path, rule, service, sliceEndpoint } from '../helpers/k8s.js';

// The thread loads dist/primary/offload/compile-thread.js, so the pool comes from dist too.
const dist = (p: string): string => new URL(`../../dist/${p}`, import.meta.url).href;
const { CompileOffload } = (await import(dist('primary/offload/compile-offload.js'))) as { CompileOffload: typeof CompileOffloadType };
const { ObjectStore } = (await import(dist('primary/store.js'))) as typeof import('../../src/primary/store.js');
const { compileState } = (await import(dist('primary/compile/index.js'))) as typeof import('../../src/primary/compile/index.js');
const { SnapshotBroadcaster } = (await import(dist('primary/broadcast.js'))) as typeof import('../../src/primary/broadcast.js');
const { encodeTable } = (await import(dist('shared/codec.js'))) as typeof import('../../src/shared/codec.js');

let pool: CompileOffloadType | undefined;
afterEach(async () => {
  await pool?.close();
  pool = undefined;
});

function objects(n: number): KubeObject[] {
  const out: KubeObject[] = [ingressClass()];
  for (let i = 0; i < n; i++) {
    out.push(service(`bench/s${i}`), endpointSlice(`bench/s${i}-a`, { service: `s${i}`, endpoints: [sliceEndpoint(`10.1.${i >> 8}.${i & 255}`)] }));
    out.push(ingress(`bench/i${i}`, { rules: [rule(`app-${i}.example`, path('/', backend(`s${i}`, 80)))] }));
  }
  return out;
}

describe('compile thread', () => {
  it('publishes the same snapshot bytes as an in-loop compile, before and after a change', async () => {
    pool = new CompileOffload();
    const store = new ObjectStore();
    store.replaceAll(objects(2500));
    const inLoop: Uint8Array[] = [];
    const threaded: Uint8Array[] = [];
    const a = new SnapshotBroadcaster((bytes) => inLoop.push(bytes));
    const b = new SnapshotBroadcaster((bytes) => threaded.push(bytes));

    a.publish(compileState(store, OPTS).table);
    const first = await pool.compile(store, null, OPTS);
    b.publishEncoded(first.tableBytes, () => { throw new Error('not decoded'); });

    store.upsert(ingress('bench/new', { rules: [rule('new.example', path('/', backend('s1', 80)))] }));
    store.delete('Ingress', 'bench/i7');
    a.publish(compileState(store, OPTS).table);
    const second = await pool.compile(store, [{ kind: 'Ingress', key: 'bench/new' }, { kind: 'Ingress', key: 'bench/i7' }], OPTS);
    expect(Buffer.from(second.tableBytes).equals(Buffer.from(encodeTable(compileState(store, OPTS).table)))).toBe(true);
    b.publishEncoded(second.tableBytes, () => { throw new Error('not decoded'); });

    expect(threaded).toHaveLength(2);
    for (let i = 0; i < 2; i++) expect(Buffer.from(threaded[i]!).equals(Buffer.from(inLoop[i]!))).toBe(true);
  });
});
