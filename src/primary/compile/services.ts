/**
 * The services processor: resolves every cluster the routes reference to its Service port
 * and endpoints. A cluster whose Service or port is missing stays in the table with no
 * endpoints, so that its routes answer 503 instead of falling through to another route.
 */
import type { Cluster, Endpoint } from '../../shared/snapshot.js';
import { objectKey } from '../../shared/keys.js';
import type { ServicePort } from '../model.js';
import { compareText, quote, report, type BackendUse, type CompileState, type Processor } from './context.js';
import { resolveEndpoints } from './endpoints.js';

/** resolveClusters fills `state.clusters`, sorted by id, from `state.backends`. */
export const resolveClusters: Processor = (state) => {
  const uses = [...state.backends.values()].sort((a, b) => compareText(a.id, b.id));
  state.clusters = uses.map((use) => makeCluster(use, endpointsOf(state, use)));
};

function endpointsOf(state: CompileState, use: BackendUse): Endpoint[] {
  const service = state.view.service(use.namespace, use.service);
  const serviceKey = objectKey(use.namespace, use.service);
  if (service === undefined) {
    for (const source of use.sources) {
      report(
        state,
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
        state,
        'ING_ERR_SERVICE_PORT_UNRESOLVED',
        'error',
        `Ingress ${source}`,
        `backend Service ${serviceKey} has no ${describePort(use.port)}; requests to it get 503`,
      );
    }
    return [];
  }
  const endpoints = resolveEndpoints(state.view.endpointSlices(use.namespace, use.service), port.name);
  if (endpoints.length === 0) {
    report(
      state,
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

/** makeCluster builds a Cluster with a fixed key order. */
function makeCluster(use: BackendUse, endpoints: Endpoint[]): Cluster {
  return {
    id: use.id,
    service: objectKey(use.namespace, use.service),
    servicePort: use.port,
    endpoints,
    loadBalancer: 'round-robin',
  };
}
