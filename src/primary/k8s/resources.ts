/**
 * The collections the Kubernetes source watches, and the client-node glue that turns one of
 * them (optionally one namespace, optionally narrowed by selectors) into a WatchClient.
 */
import * as k8s from '@kubernetes/client-node';
import type { ListResult, RawObject, WatchClient, WatchHandle } from './watch.js';

/** WatchedKind is a kind the source watches: the store's kinds plus TLS Secrets. */
export type WatchedKind = 'IngressClass' | 'Ingress' | 'Service' | 'EndpointSlice' | 'ConfigMap' | 'Secret';

/** Selectors narrow a list/watch. */
export interface Selectors {
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
}

type ListParams = { namespace?: string } & Selectors;
type Lister = (kc: k8s.KubeConfig, p: ListParams) => Promise<{ items: readonly object[]; metadata?: { resourceVersion?: string } }>;

/** ResourceSpec describes one collection. */
export interface ResourceSpec {
  readonly kind: WatchedKind;
  readonly plural: string;
  /** `/api/v1` or `/apis/<group>/<version>`. */
  readonly prefix: string;
  readonly namespaced: boolean;
  readonly list: Lister;
}

const net = (kc: k8s.KubeConfig): k8s.NetworkingV1Api => kc.makeApiClient(k8s.NetworkingV1Api);
const core = (kc: k8s.KubeConfig): k8s.CoreV1Api => kc.makeApiClient(k8s.CoreV1Api);
const discovery = (kc: k8s.KubeConfig): k8s.DiscoveryV1Api => kc.makeApiClient(k8s.DiscoveryV1Api);

/** RESOURCES lists the watched collections in the order they are started. */
export const RESOURCES: readonly ResourceSpec[] = [
  { kind: 'IngressClass', plural: 'ingressclasses', prefix: '/apis/networking.k8s.io/v1', namespaced: false, list: (kc, p) => net(kc).listIngressClass(p) },
  {
    kind: 'Ingress', plural: 'ingresses', prefix: '/apis/networking.k8s.io/v1', namespaced: true,
    list: (kc, { namespace, ...p }) => (namespace === undefined ? net(kc).listIngressForAllNamespaces(p) : net(kc).listNamespacedIngress({ namespace, ...p })),
  },
  {
    kind: 'Service', plural: 'services', prefix: '/api/v1', namespaced: true,
    list: (kc, { namespace, ...p }) => (namespace === undefined ? core(kc).listServiceForAllNamespaces(p) : core(kc).listNamespacedService({ namespace, ...p })),
  },
  {
    kind: 'EndpointSlice', plural: 'endpointslices', prefix: '/apis/discovery.k8s.io/v1', namespaced: true,
    list: (kc, { namespace, ...p }) => (namespace === undefined ? discovery(kc).listEndpointSliceForAllNamespaces(p) : discovery(kc).listNamespacedEndpointSlice({ namespace, ...p })),
  },
  // The header lists of custom-headers, add-headers and proxy-set-headers (docs/annotations.md "Custom headers").
  {
    kind: 'ConfigMap', plural: 'configmaps', prefix: '/api/v1', namespaced: true,
    list: (kc, { namespace, ...p }) => (namespace === undefined ? core(kc).listConfigMapForAllNamespaces(p) : core(kc).listNamespacedConfigMap({ namespace, ...p })),
  },
  {
    kind: 'Secret', plural: 'secrets', prefix: '/api/v1', namespaced: true,
    list: (kc, { namespace, ...p }) => (namespace === undefined ? core(kc).listSecretForAllNamespaces(p) : core(kc).listNamespacedSecret({ namespace, ...p })),
  },
];

/** collectionPath is the list/watch path of a collection, cluster-wide or in one namespace. */
export function collectionPath(spec: ResourceSpec, namespace: string | undefined): string {
  return namespace === undefined || !spec.namespaced ? `${spec.prefix}/${spec.plural}` : `${spec.prefix}/namespaces/${encodeURIComponent(namespace)}/${spec.plural}`;
}

/**
 * isInactivityTimeout tells whether client-node's `Watch` ended a stream because no byte arrived
 * for its fixed 30 s (client-node 2; a DOMException named TimeoutError). After the stream was
 * established this is a quiet collection, not a failure: the API server sends bookmarks about
 * once a minute at most. Before it, it is a connect timeout, which is a failure.
 */
export function isInactivityTimeout(err: unknown, established: boolean): boolean {
  return established && (err as { name?: unknown } | null)?.name === 'TimeoutError';
}

/**
 * createWatchClient binds a collection to client-node: the typed list call (whose objects are
 * turned back into plain JSON, dates as strings) and `Watch` for the stream, which yields the
 * wire JSON as is. A quiet stream that client-node ends after 30 s ends cleanly, so the loop
 * re-watches from its resourceVersion at once, with no backoff and no outage reported.
 */
export function createWatchClient(kc: k8s.KubeConfig, spec: ResourceSpec, namespace: string | undefined, selectors: Selectors): WatchClient {
  const watcher = new k8s.Watch(kc);
  const path = collectionPath(spec, namespace);
  const params: ListParams = {
    ...(namespace === undefined || !spec.namespaced ? {} : { namespace }),
    ...(selectors.labelSelector === undefined ? {} : { labelSelector: selectors.labelSelector }),
    ...(selectors.fieldSelector === undefined ? {} : { fieldSelector: selectors.fieldSelector }),
  };
  return {
    async list(): Promise<ListResult> {
      const list = await spec.list(kc, params);
      // The typed client turns timestamps into Date objects; JSON brings them back to strings.
      const items = JSON.parse(JSON.stringify(list.items)) as RawObject[];
      return { items, resourceVersion: list.metadata?.resourceVersion ?? '' };
    },
    async watch(query, onEvent, onDone): Promise<WatchHandle> {
      const q: Record<string, string> = { ...query };
      if (selectors.labelSelector !== undefined) q.labelSelector = selectors.labelSelector;
      if (selectors.fieldSelector !== undefined) q.fieldSelector = selectors.fieldSelector;
      let established = false;
      const controller = await watcher.watch(path, q, (type: string, object: unknown) => onEvent(type, object as RawObject), (err: unknown) =>
        onDone(isInactivityTimeout(err, established) ? null : err),
      );
      established = true;
      return { abort: () => controller.abort() };
    },
  };
}

/** readSecret GETs one Secret (as plain JSON); undefined when the API says 404. */
export async function readSecret(kc: k8s.KubeConfig, namespace: string, name: string): Promise<RawObject | undefined> {
  try {
    const secret = await core(kc).readNamespacedSecret({ name, namespace });
    return JSON.parse(JSON.stringify(secret)) as RawObject;
  } catch (err) {
    if ((err as { code?: unknown }).code === 404) return undefined;
    throw err;
  }
}
