/**
 * compileState with the previous compile: backends nothing touched are taken over, and the
 * result (table bytes and diagnostics) equals a compile from scratch after every kind of change.
 */
import { describe, expect, it } from 'vitest';
import { compileState, type CompiledState } from '../../../../src/primary/compile/index.js';
import type { KubeObject } from '../../../../src/primary/model.js';
import { ObjectStore } from '../../../../src/primary/store.js';
import { encodeTable } from '../../../../src/shared/codec.js';
import { backend, endpointSlice, ingress, ingressClass, OPTS, path, rule, service, sliceEndpoint } from '../../../helpers/k8s.js';

function base(): KubeObject[] {
  const out: KubeObject[] = [ingressClass()];
  for (const s of ['a', 'b', 'c']) {
    out.push(service(`ns/${s}`), endpointSlice(`ns/${s}-1`, { service: s, endpoints: [sliceEndpoint('10.0.0.1')] }));
    out.push(ingress(`ns/${s}`, { created: `2024-01-0${s.charCodeAt(0) - 96}T00:00:00Z`, rules: [rule(`${s}.example`, path('/', backend(s, 80)))] }));
  }
  out.push(ingress('ns/missing', { rules: [rule('m.example', path('/', backend('gone', 80)))] }));
  return out;
}

interface Step {
  readonly name: string;
  readonly apply: (store: ObjectStore) => void;
  readonly changedServices: readonly string[];
}

const steps: Step[] = [
  { name: 'an endpoint change', apply: (s) => void s.upsert(endpointSlice('ns/a-1', { service: 'a', endpoints: [sliceEndpoint('10.0.0.9')] })), changedServices: ['ns/a'] },
  { name: 'a Service port change', apply: (s) => void s.upsert(service('ns/b', [{ name: 'http', port: 81, targetPort: 8080 }])), changedServices: ['ns/b'] },
  { name: 'a slice moving to another Service', apply: (s) => void s.upsert(endpointSlice('ns/c-1', { service: 'a', endpoints: [sliceEndpoint('10.0.0.7')] })), changedServices: ['ns/c', 'ns/a'] },
  { name: 'an older Ingress sharing a backend (sources order)', apply: (s) => void s.upsert(ingress('ns/old', { created: '2023-01-01T00:00:00Z', rules: [rule('old.example', path('/', backend('c', 80)))] })), changedServices: [] },
  { name: 'the missing Service appearing', apply: (s) => void s.upsert(service('ns/gone')), changedServices: ['ns/gone'] },
  { name: 'an Ingress leaving', apply: (s) => void s.delete('Ingress', 'ns/b'), changedServices: [] },
  { name: 'a Service deleted', apply: (s) => void s.delete('Service', 'ns/a'), changedServices: ['ns/a'] },
];

describe('compileState with the previous compile', () => {
  it('equals a compile from scratch after each change', () => {
    const store = new ObjectStore();
    store.replaceAll(base());
    let previous: CompiledState = compileState(store, OPTS);
    for (const step of steps) {
      step.apply(store);
      const reused = compileState(store, OPTS, { state: previous, changedServices: new Set(step.changedServices) });
      const fresh = compileState(store, OPTS);
      expect(Buffer.from(encodeTable(reused.table)).equals(Buffer.from(encodeTable(fresh.table))), step.name).toBe(true);
      expect(reused.diagnostics, step.name).toEqual(fresh.diagnostics);
      expect(reused.backendDiagnostics, step.name).toEqual(fresh.backendDiagnostics);
      previous = reused;
    }
  });

  it('takes over the backends of untouched Services and resolves the changed ones', () => {
    const store = new ObjectStore();
    store.replaceAll(base());
    const first = compileState(store, OPTS);
    store.upsert(endpointSlice('ns/a-1', { service: 'a', endpoints: [sliceEndpoint('10.0.0.9')] }));
    const next = compileState(store, OPTS, { state: first, changedServices: new Set(['ns/a']) });
    const byId = (s: CompiledState, id: string) => s.table.backends.find((c) => c.id.startsWith(id));
    expect(byId(next, 'ns/b')).toBe(byId(first, 'ns/b'));
    expect(byId(next, 'ns/a')).not.toBe(byId(first, 'ns/a'));
    expect(byId(next, 'ns/a')?.endpoints.map((e) => e.address)).toEqual(['10.0.0.9']);
  });
});
