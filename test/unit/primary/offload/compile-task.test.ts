/**
 * The compile thread's task, run in-process: its bytes equal an in-loop compile's, whether its
 * mirror was filled at once or change by change, and a mirror at the wrong version asks for
 * a resync instead of compiling stale objects.
 */
import { describe, expect, it } from 'vitest';
import { compileState } from '../../../../src/primary/compile/index.js';
import type { KubeObject } from '../../../../src/primary/model.js';
import { CompileOffload } from '../../../../src/primary/offload/compile-offload.js';
import { createCompileTask } from '../../../../src/primary/offload/compile-task.js';
import { LazyCompiledState } from '../../../../src/primary/offload/compiled-state.js';
import { packObjectsNow as pack, unpackObjectsNow } from '../../../../src/primary/offload/object-batch.js';
import { ObjectStore } from '../../../../src/primary/store.js';
import { encodeTable } from '../../../../src/shared/codec.js';
import { backend, endpointSlice, ingress, ingressClass, OPTS, path, rule, service, sliceEndpoint } from '../../../helpers/k8s.js';

function objects(n: number): KubeObject[] {
  const out: KubeObject[] = [ingressClass()];
  for (let i = 0; i < n; i++) {
    out.push(service(`team/s${i}`), endpointSlice(`team/s${i}-a`, { service: `s${i}`, endpoints: [sliceEndpoint(`10.0.${i >> 8}.${i & 255}`)] }));
    out.push(ingress(`team/i${i}`, { rules: [rule(`h${i}.example`, path('/', backend(`s${i}`, 80)), path('/api', backend(`s${(i + 1) % n}`, 80)))] }));
  }
  // A conflict and a missing Service, so diagnostics (route and backend ones) are part of the output.
  out.push(ingress('team/late', { rules: [rule('h0.example', path('/', backend('nope', 80)))] }));
  out.push(ingress('team/orphan', { rules: [rule('orphan.example', path('/', backend('missing', 80)))] }));
  return out;
}

function storeOf(list: readonly KubeObject[]): ObjectStore {
  const store = new ObjectStore();
  store.replaceAll(list);
  return store;
}

const bytesEqual = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));

describe('compile task', () => {
  it('gives the table bytes, diagnostics and state of an in-loop compile', () => {
    const store = storeOf(objects(40));
    const out = createCompileTask()({ reset: true, base: 0, version: 1, upserts: pack(store.objects()), deletes: [], opts: OPTS });
    if (out.kind !== 'compiled') throw new Error(`expected compiled, got ${out.kind}`);
    const want = compileState(store, OPTS);
    expect(bytesEqual(out.tableBytes, encodeTable(want.table))).toBe(true);
    expect(out.diagnostics).toEqual(want.diagnostics);
    expect(out.ingresses).toEqual(want.ingresses);
    const lazy = new LazyCompiledState(out);
    expect(lazy.table()).toEqual(want.table);
    const state = lazy.state();
    expect(state.uses).toEqual(want.uses);
    expect(state.routeDiagnostics).toEqual(want.routeDiagnostics);
    for (const c of want.table.backends) expect(state.backendDiagnostics.get(c.id) ?? []).toEqual(want.backendDiagnostics.get(c.id));
  });

  it('keeps its mirror equal to the source through upserts and deletes', () => {
    const list = objects(20);
    const task = createCompileTask();
    task({ reset: true, base: 0, version: 1, upserts: pack(list), deletes: [], opts: OPTS });
    const store = storeOf(list);
    const changedSlice = endpointSlice('team/s3-a', { service: 's3', endpoints: [sliceEndpoint('10.9.9.9')] });
    const newIngress = ingress('team/new', { rules: [rule('new.example', path('/', backend('s4', 80)))] });
    store.upsert(changedSlice);
    store.upsert(newIngress);
    store.delete('Ingress', 'team/i7');
    const out = task({ reset: false, base: 1, version: 2, upserts: pack([changedSlice, newIngress]), deletes: [['Ingress', 'team/i7']], opts: OPTS });
    if (out.kind !== 'compiled') throw new Error(`expected compiled, got ${out.kind}`);
    expect(bytesEqual(out.tableBytes, encodeTable(compileState(store, OPTS).table))).toBe(true);
  });

  it('asks for a resync when its mirror is not at the base version', () => {
    const task = createCompileTask();
    expect(task({ reset: false, base: 3, version: 4, upserts: [], deletes: [], opts: OPTS })).toEqual({ kind: 'resync' });
  });

  it('asks for a resync after a task that failed half-way', () => {
    const task = createCompileTask();
    task({ reset: true, base: 0, version: 1, upserts: pack(objects(2)), deletes: [], opts: OPTS });
    const broken = { kind: 'Ingress', metadata: null } as unknown as KubeObject;
    expect(() => task({ reset: false, base: 1, version: 2, upserts: pack([broken]), deletes: [], opts: OPTS })).toThrow();
    expect(task({ reset: false, base: 1, version: 2, upserts: [], deletes: [], opts: OPTS })).toEqual({ kind: 'resync' });
  });
});

describe('CompileOffload', () => {
  it('sends every object first, then only the changes, and everything again after a resync', async () => {
    const inputs: { reset: boolean; upserts: number; deletes: number }[] = [];
    let task = createCompileTask();
    const offload = new CompileOffload(async (input) => {
      inputs.push({ reset: input.reset, upserts: unpackObjectsNow(input.upserts).length, deletes: input.deletes.length });
      return task(input);
    });
    const store = storeOf(objects(5));
    await offload.compile(store, null, OPTS);
    store.delete('Ingress', 'team/i1');
    const out = await offload.compile(store, [{ kind: 'Ingress', key: 'team/i1' }], OPTS);
    expect(bytesEqual(out.tableBytes, encodeTable(compileState(store, OPTS).table))).toBe(true);
    task = createCompileTask(); // the thread was replaced: its mirror is empty
    store.upsert(ingress('team/i1', { rules: [rule('back.example', path('/', backend('s1', 80)))] }));
    const again = await offload.compile(store, [{ kind: 'Ingress', key: 'team/i1' }], OPTS);
    expect(bytesEqual(again.tableBytes, encodeTable(compileState(store, OPTS).table))).toBe(true);
    const all = store.size;
    expect(inputs).toEqual([
      { reset: true, upserts: all, deletes: 0 },
      { reset: false, upserts: 0, deletes: 1 },
      { reset: false, upserts: 1, deletes: 0 },
      { reset: true, upserts: all, deletes: 0 },
    ]);
  });

  it('sends everything after a failed task', async () => {
    const resets: boolean[] = [];
    const task = createCompileTask();
    let fail = false;
    const offload = new CompileOffload(async (input) => {
      resets.push(input.reset);
      if (fail) throw new Error('thread died');
      return task(input);
    });
    const store = storeOf(objects(3));
    await offload.compile(store, null, OPTS);
    fail = true;
    await expect(offload.compile(store, [], OPTS)).rejects.toThrow('thread died');
    fail = false;
    await offload.compile(store, [], OPTS);
    expect(resets).toEqual([true, false, true]);
  });
});
