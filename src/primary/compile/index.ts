/**
 * The compiler: a pure function from cluster objects to a RoutingTable plus diagnostics. It
 * runs a fixed list of small processors over a shared state (Contour's DAG builder pattern),
 * then sorts everything so that the same objects, in any order, encode to the same bytes.
 * It does no I/O, reads no clock and never throws on user objects.
 */
import type { Diagnostic } from '../../shared/errors.js';
import type { Route, RoutingTable, VirtualHost } from '../../shared/snapshot.js';
import { keyOf, type ObjectView } from '../model.js';
import { compareText, type BackendUse, type CompileOptions, type CompileState, type Processor } from './context.js';
import { applyHostAnnotations } from './host-annotations.js';
import { compileIngresses } from './ingress.js';
import { selectIngresses } from './ingress-class.js';
import { applyExternalAuth } from './auth-annotations.js';
import { applyBasicAuth } from './basic-auth-annotations.js';
import { applyConnLimits } from './conn-limit-annotations.js';
import { applyRateLimits } from './rate-limit-annotations.js';
import { applySourceRanges } from './source-range-annotations.js';
import { applyUpstreamAnnotations } from './upstream-annotations.js';
import { applyUpstreamHash } from './upstream-hash-annotations.js';
import { applyCanaries } from './canary-annotations.js';
import { applyAffinity } from './affinity-annotations.js';
import { applyServiceUpstream } from './service-upstream-annotations.js';
import { applyDefaultBackend } from './default-backend-annotations.js';
import { applyCustomHttpErrors } from './custom-http-errors-annotations.js';
import { applyCustomHeaders } from './custom-headers-annotations.js';
import { resolveBackends } from './services.js';

export type { CompileOptions } from './context.js';
export { updateEndpoints, type EndpointUpdate } from './endpoint-update.js';

/** CompileResult is one compile's output. */
export interface CompileResult {
  readonly table: RoutingTable;
  /** Problems found in user objects, in processing order (oldest Ingress first). */
  readonly diagnostics: Diagnostic[];
  /** Keys (`namespace/name`) of the Ingresses we own, sorted. */
  readonly ingresses: readonly string[];
}

/**
 * CompiledState is a CompileResult plus what an endpoint update needs to redo single backends
 * (see endpoint-update.ts): each backend's use and diagnostics, and the diagnostics
 * of the route processors, which `diagnostics` lists first.
 */
export interface CompiledState extends CompileResult {
  readonly routeDiagnostics: readonly Diagnostic[];
  readonly uses: ReadonlyMap<string, BackendUse>;
  readonly backendDiagnostics: ReadonlyMap<string, readonly Diagnostic[]>;
}

/** PROCESSORS run in this order; each relies on the state the earlier ones left. */
const PROCESSORS: readonly Processor[] = [selectIngresses, compileIngresses, applyHostAnnotations, applyRateLimits, applyConnLimits, applySourceRanges, applyBasicAuth, applyExternalAuth, applyUpstreamAnnotations, applyUpstreamHash, applyAffinity, applyCanaries, applyServiceUpstream, applyDefaultBackend, applyCustomHttpErrors, applyCustomHeaders, resolveBackends];

/** compileSnapshot compiles the objects of `view` into a RoutingTable for `opts`. */
export function compileSnapshot(view: ObjectView, opts: CompileOptions): CompileResult {
  const { table, diagnostics, ingresses } = compileState(view, opts);
  return { table, diagnostics, ingresses };
}

/**
 * compileState compiles like compileSnapshot and keeps the parts an endpoint update reuses.
 * With `previous` (the last CompiledState and the Services changed since), backends nothing
 * touched are taken from it rather than resolved again; the result is the same either way.
 */
export function compileState(view: ObjectView, opts: CompileOptions, previous?: { readonly state: CompiledState; readonly changedServices: ReadonlySet<string> }): CompiledState {
  const state: CompileState = {
    view,
    opts,
    ...(previous === undefined ? {} : { previous: { uses: previous.state.uses, backends: previous.state.table.backends, backendDiagnostics: previous.state.backendDiagnostics, changedServices: previous.changedServices } }),
    diagnostics: [],
    ingresses: [],
    hosts: new Map(),
    defaultBackend: null,
    uses: new Map(),
    backends: [],
    backendDiagnostics: new Map(),
    hostAnnotations: new Map(),
    defaultBackends: new Map(),
  };
  for (const processor of PROCESSORS) processor(state);
  const table: RoutingTable = {
    hosts: virtualHosts(state.hosts),
    defaultBackend: state.defaultBackend,
    backends: state.backends,
  };
  let fromBackends = 0;
  for (const d of state.backendDiagnostics.values()) fromBackends += d.length;
  return {
    table,
    diagnostics: state.diagnostics,
    ingresses: state.ingresses.map(keyOf).sort(compareText),
    // resolveBackends runs last, so the backends' diagnostics are the tail of the list.
    routeDiagnostics: state.diagnostics.slice(0, state.diagnostics.length - fromBackends),
    uses: state.uses,
    backendDiagnostics: state.backendDiagnostics,
  };
}

/** virtualHosts prunes hosts left without routes and sorts hosts, then routes, into match order. */
function virtualHosts(hosts: ReadonlyMap<string, ReadonlyMap<string, Route>>): VirtualHost[] {
  const result: VirtualHost[] = [];
  for (const [host, routes] of hosts) {
    if (routes.size === 0) continue;
    const list = [...routes.values()];
    // A regex host (issue 15) keeps ingress-nginx's order: longest path text first, then claim order.
    result.push({ host, routes: list[0]?.regex === true ? list.sort(regexOrder) : list.sort(matchOrder) });
  }
  return result.sort((a, b) => compareText(a.host, b.host));
}

/**
 * matchOrder puts every Exact route first (by path), then Prefix routes longest path first
 * (ties by path): a router that tries routes in this order finds the Ingress v1 winner first.
 */
function matchOrder(a: Route, b: Route): number {
  if (a.match !== b.match) return a.match === 'Exact' ? -1 : 1;
  if (a.match === 'Prefix' && a.path.length !== b.path.length) return b.path.length - a.path.length;
  return compareText(a.path, b.path);
}

/** regexOrder is ingress-nginx's location order for regex paths: descending length (a stable sort keeps claim order for ties). */
function regexOrder(a: Route, b: Route): number {
  return b.path.length - a.path.length;
}
