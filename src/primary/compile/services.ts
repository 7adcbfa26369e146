/**
 * The services processor: resolves every backend the routes reference to its Service port
 * and endpoints. A backend whose Service or port is missing stays in the table with no
 * endpoints, so that its routes answer 503 instead of falling through to another route.
 */
import type { Diagnostic, ErrorCode, Severity } from '../../shared/errors.js';
import type { Backend, Endpoint } from '../../shared/snapshot.js';
import { clusterEndpoint } from './service-upstream-annotations.js';
import { objectKey } from '../../shared/keys.js';
import type { ObjectView, ServicePort } from '../model.js';
import { compareText, quote, type BackendUse, type PreviousBackends, type Processor } from './context.js';
import { appProtocolOf, type BackendProtocol } from './backend-protocol.js';
import { resolveEndpoints } from './endpoints.js';
import { selfListenerOf, type SelfListeners } from './self-listeners.js';

/** ResolvedBackend is one backend with the diagnostics its resolution raised. */
export interface ResolvedBackend {
  readonly backend: Backend;
  readonly diagnostics: readonly Diagnostic[];
}

/**
 * resolveBackends fills `state.backends`, sorted by id, from `state.uses`. Each backend's
 * diagnostics follow the route processors' in backend order, and are kept per backend in
 * `state.backendDiagnostics` so that an endpoint update can redo one backend alone.
 */
export const resolveBackends: Processor = (state) => {
  const uses = [...state.uses.values()].sort((a, b) => compareText(a.id, b.id));
  const reuse = reusable(state.previous);
  state.backends = uses.map((use) => {
    const resolved = reuse?.(use) ?? resolveBackend(state.view, use, state.opts.self);
    state.diagnostics.push(...resolved.diagnostics);
    state.backendDiagnostics.set(use.id, resolved.diagnostics);
    return resolved.backend;
  });
};

/** reusable returns a lookup of the previous compile's backend for a use, when it may stand (see PreviousBackends). */
function reusable(previous: PreviousBackends | undefined): ((use: BackendUse) => ResolvedBackend | undefined) | undefined {
  if (previous === undefined) return undefined;
  const byId = new Map(previous.backends.map((c) => [c.id, c]));
  return (use) => {
    const old = previous.uses.get(use.id);
    const backend = byId.get(use.id);
    if (old === undefined || backend === undefined || previous.changedServices.has(objectKey(use.namespace, use.service))) return undefined;
    if (old.namespace !== use.namespace || old.service !== use.service || old.port !== use.port || old.loadBalancer !== use.loadBalancer || !sameOrder(old.sources, use.sources)) return undefined;
    return { backend, diagnostics: previous.backendDiagnostics.get(use.id) ?? [] };
  };
}

function sameOrder(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  const ib = b.values();
  for (const x of a) if (x !== ib.next().value) return false;
  return true;
}

/** resolveBackend resolves one backend use to its Service port and endpoints (pure); `self` are this Flusso's listeners. */
export function resolveBackend(view: ObjectView, use: BackendUse, self?: SelfListeners): ResolvedBackend {
  const diagnostics: Diagnostic[] = [];
  const report = (code: ErrorCode, severity: Severity, object: string, message: string): void => {
    diagnostics.push({ code, severity, object, message });
  };
  const endpoints = withoutSelf((use.serviceUpstream === true ? clusterEndpoint(view, use, report) : undefined) ?? endpointsOf(view, use, report), use, self, report);
  // The Ingress's backend-protocol annotation wins over the Service port's appProtocol.
  const port = use.protocol === undefined ? findPort(view.service(use.namespace, use.service)?.spec?.ports ?? [], use.port) : undefined;
  return { backend: makeBackend(use, endpoints, use.protocol ?? (port === undefined ? undefined : appProtocolOf(port))), diagnostics };
}

/**
 * withoutSelf drops the endpoints that are this Flusso's own listeners (self-listeners.ts) and
 * tells every Ingress that uses the backend; with none left the backend answers 503.
 */
function withoutSelf(endpoints: Endpoint[], use: BackendUse, self: SelfListeners | undefined, report: Report): Endpoint[] {
  if (self === undefined) return endpoints;
  const kept: Endpoint[] = [];
  for (const ep of endpoints) {
    const listener = selfListenerOf(ep.address, ep.port, self);
    if (listener === undefined) {
      kept.push(ep);
      continue;
    }
    const where = `${ep.address.includes(':') ? `[${ep.address}]` : ep.address}:${ep.port}`;
    for (const source of use.sources)
      report('ING_ERR_SERVICE_ENDPOINT_SELF', 'error', `Ingress ${source}`, `backend Service ${objectKey(use.namespace, use.service)} ${describePort(use.port)} has endpoint ${where}, which is this Flusso's own ${listener.name} listener; it is not used (requests would loop through the proxy${listener.name === 'admin' ? ' or reach the admin API' : ''})`);
  }
  return kept;
}

type Report = (code: ErrorCode, severity: Severity, object: string, message: string) => void;

function endpointsOf(view: ObjectView, use: BackendUse, report: Report): Endpoint[] {
  const service = view.service(use.namespace, use.service);
  const serviceKey = objectKey(use.namespace, use.service);
  if (service === undefined) {
    for (const source of use.sources) {
      report(
        'ING_ERR_SERVICE_NOT_FOUND',
        'error',
        `Ingress ${source}`,
        `backend Service ${serviceKey} does not exist; requests to it get 503`,
      );
    }
    return [];
  }
  const port = findPort(service.spec?.ports ?? [], use.port);
  if (port === undefined) {
    for (const source of use.sources) {
      report(
        'ING_ERR_SERVICE_PORT_UNRESOLVED',
        'error',
        `Ingress ${source}`,
        `backend Service ${serviceKey} has no ${describePort(use.port)}; requests to it get 503`,
      );
    }
    return [];
  }
  const endpoints = resolveEndpoints(view.endpointSlices(use.namespace, use.service), port.name);
  if (endpoints.length === 0) {
    report(
      'ING_ERR_NO_ENDPOINTS',
      'warning',
      `Service ${serviceKey}`,
      `${describePort(use.port)} has no ready or serving endpoints; requests to it get 503`,
    );
  }
  return endpoints;
}

/** findPort resolves a backend port by number against `port`, or by name against `name`. */
function findPort(ports: readonly ServicePort[], wanted: number | string): ServicePort | undefined {
  return typeof wanted === 'number'
    ? ports.find((p) => p.port === wanted)
    : ports.find((p) => p.name !== undefined && p.name !== '' && p.name === wanted);
}

function describePort(port: number | string): string {
  return typeof port === 'number' ? `port ${port}` : `port named ${quote(port)}`;
}

/** makeBackend builds a Backend with a fixed key order. */
function makeBackend(use: BackendUse, endpoints: Endpoint[], protocol: BackendProtocol | undefined): Backend {
  const backend: Backend = {
    id: use.id,
    service: objectKey(use.namespace, use.service),
    servicePort: use.port,
    endpoints,
    loadBalancer: use.loadBalancer ?? 'round-robin',
  };
  // Left out entirely for HTTP/1.1, so that existing snapshots encode to the same bytes.
  return protocol === undefined ? backend : { ...backend, protocol };
}
