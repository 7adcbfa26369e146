/**
 * Endpoint updates: when only EndpointSlices changed, the routes cannot have changed, so the
 * backends of the affected Services are resolved again and everything else of the last
 * compile is shared. The result equals what a full compile of the same view gives.
 * Pure: no I/O, no clock.
 */
import type { Diagnostic } from '../../shared/errors.js';
import type { Backend, Endpoint } from '../../shared/snapshot.js';
import type { ObjectView } from '../model.js';
import type { CompiledState } from './index.js';
import type { SelfListeners } from './self-listeners.js';
import { resolveBackend } from './services.js';

/** EndpointUpdate is the new compiled state and the backends whose endpoints changed (table order). */
export interface EndpointUpdate {
  readonly state: CompiledState;
  readonly changed: readonly Backend[];
}

/**
 * updateEndpoints resolves again every backend of `previous` whose Service (`namespace/name`)
 * is in `services`, against `view` (`self`: as CompileOptions.self). `changed` is empty when no backend's endpoints changed;
 * the diagnostics are brought up to date either way.
 */
export function updateEndpoints(view: ObjectView, previous: CompiledState, services: ReadonlySet<string>, self?: SelfListeners): EndpointUpdate {
  const changed: Backend[] = [];
  const backendDiagnostics = new Map(previous.backendDiagnostics);
  let diagnosticsChanged = false;
  const backends = previous.table.backends.map((backend) => {
    if (!services.has(backend.service)) return backend;
    const use = previous.uses.get(backend.id);
    if (use === undefined) return backend;
    const resolved = resolveBackend(view, use, self);
    if (!sameDiagnostics(resolved.diagnostics, previous.backendDiagnostics.get(backend.id) ?? [])) {
      backendDiagnostics.set(backend.id, resolved.diagnostics);
      diagnosticsChanged = true;
    }
    if (sameEndpoints(resolved.backend.endpoints, backend.endpoints)) return backend;
    changed.push(resolved.backend);
    return resolved.backend;
  });
  if (changed.length === 0 && !diagnosticsChanged) return { state: previous, changed };
  const table = changed.length === 0 ? previous.table : { ...previous.table, backends };
  const diagnostics = [...previous.routeDiagnostics];
  for (const c of backends) diagnostics.push(...(backendDiagnostics.get(c.id) ?? []));
  return { state: { ...previous, table, diagnostics, backendDiagnostics }, changed };
}

function sameEndpoints(a: readonly Endpoint[], b: readonly Endpoint[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.address !== y.address || x.port !== y.port || x.weight !== y.weight || x.ready !== y.ready || x.terminating !== y.terminating || x.zone !== y.zone) return false;
  }
  return true;
}

function sameDiagnostics(a: readonly Diagnostic[], b: readonly Diagnostic[]): boolean {
  return a.length === b.length && a.every((d, i) => d.code === b[i]!.code && d.severity === b[i]!.severity && d.object === b[i]!.object && d.message === b[i]!.message);
}
