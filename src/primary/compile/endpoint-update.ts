/**
 * Endpoint updates: when only EndpointSlices changed, the routes cannot have changed, so the
 * clusters of the affected Services are resolved again and everything else of the last
 * compile is shared. The result equals what a full compile of the same view gives.
 * Pure: no I/O, no clock.
 */
import type { Diagnostic } from '../../shared/errors.js';
import type { Cluster, Endpoint } from '../../shared/snapshot.js';
import type { ClusterView } from '../model.js';
import type { CompiledState } from './index.js';
import type { SelfListeners } from './self-listeners.js';
import { resolveCluster } from './services.js';

/** EndpointUpdate is the new compiled state and the clusters whose endpoints changed (table order). */
export interface EndpointUpdate {
  readonly state: CompiledState;
  readonly changed: readonly Cluster[];
}

/**
 * updateEndpoints resolves again every cluster of `previous` whose Service (`namespace/name`)
 * is in `services`, against `view` (`self`: as CompileOptions.self). `changed` is empty when no cluster's endpoints changed;
 * the diagnostics are brought up to date either way.
 */
export function updateEndpoints(view: ClusterView, previous: CompiledState, services: ReadonlySet<string>, self?: SelfListeners): EndpointUpdate {
  const changed: Cluster[] = [];
  const clusterDiagnostics = new Map(previous.clusterDiagnostics);
  let diagnosticsChanged = false;
  const clusters = previous.table.clusters.map((cluster) => {
    if (!services.has(cluster.service)) return cluster;
    const use = previous.uses.get(cluster.id);
    if (use === undefined) return cluster;
    const resolved = resolveCluster(view, use, self);
    if (!sameDiagnostics(resolved.diagnostics, previous.clusterDiagnostics.get(cluster.id) ?? [])) {
      clusterDiagnostics.set(cluster.id, resolved.diagnostics);
      diagnosticsChanged = true;
    }
    if (sameEndpoints(resolved.cluster.endpoints, cluster.endpoints)) return cluster;
    changed.push(resolved.cluster);
    return resolved.cluster;
  });
  if (changed.length === 0 && !diagnosticsChanged) return { state: previous, changed };
  const table = changed.length === 0 ? previous.table : { ...previous.table, clusters };
  const diagnostics = [...previous.routeDiagnostics];
  for (const c of clusters) diagnostics.push(...(clusterDiagnostics.get(c.id) ?? []));
  return { state: { ...previous, table, diagnostics, clusterDiagnostics }, changed };
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
