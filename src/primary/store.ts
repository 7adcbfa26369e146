/**
 * ObjectStore holds the cluster objects a source has seen and answers the compiler's
 * questions about them (ObjectView). It is plain data with no I/O: sources feed it, and a
 * change that matters is what triggers a rebuild.
 */
import { objectKey } from '../shared/keys.js';
import {
  KUBE_KINDS,
  SERVICE_NAME_LABEL,
  keyOf,
  type ObjectView,
  type EndpointSlice,
  type Ingress,
  type IngressClass,
  type KubeKind,
  type KubeObject,
  type Service,
  type ConfigMap,
} from './model.js';

/** ObjectOfKind is the model type of one kind. */
export type ObjectOfKind<K extends KubeKind> = Extract<KubeObject, { kind: K }>;

type ByKind = { readonly [K in KubeKind]: Map<string, ObjectOfKind<K>> };

/**
 * ObjectStore keeps objects by kind and key (`namespace/name`, or the bare name for an
 * IngressClass), and indexes EndpointSlices by `namespace/service` so that the compiler finds
 * a Service's slices without scanning them all.
 */
export class ObjectStore implements ObjectView {
  readonly #byKind: ByKind = {
    IngressClass: new Map(),
    Ingress: new Map(),
    Service: new Map(),
    EndpointSlice: new Map(),
    ConfigMap: new Map(),
  };
  /** `namespace/service` → slice key → slice. */
  readonly #slicesByService = new Map<string, Map<string, EndpointSlice>>();

  /**
   * upsert stores an object and returns whether the change matters: true when nothing was
   * stored under its key, or the stored object differs. Two objects that both carry a
   * resourceVersion are compared by it alone; otherwise they are compared deeply.
   */
  upsert(obj: KubeObject): boolean {
    const key = keyOf(obj);
    const map = this.#map(obj.kind);
    const old = map.get(key);
    if (old !== undefined && sameObject(old, obj)) return false;
    map.set(key, obj);
    if (old?.kind === 'EndpointSlice') this.#unindex(key, old);
    if (obj.kind === 'EndpointSlice') this.#index(key, obj);
    return true;
  }

  /** delete removes the object of `kind` stored under `key`; it returns whether one was there. */
  delete(kind: KubeKind, key: string): boolean {
    const map = this.#map(kind);
    const old = map.get(key);
    if (old === undefined) return false;
    map.delete(key);
    if (old.kind === 'EndpointSlice') this.#unindex(key, old);
    return true;
  }

  /**
   * replaceAll makes the store hold exactly `objects` (a full reload) and returns whether
   * anything changed. When two objects share a kind and key, the later one is kept.
   */
  replaceAll(objects: Iterable<KubeObject>): boolean {
    const wanted = new Map<KubeKind, Set<string>>();
    const list = [...objects];
    for (const obj of list) {
      let keys = wanted.get(obj.kind);
      if (keys === undefined) wanted.set(obj.kind, (keys = new Set()));
      keys.add(keyOf(obj));
    }
    let changed = false;
    for (const kind of KUBE_KINDS) {
      const keep = wanted.get(kind);
      for (const key of [...this.#map(kind).keys()]) {
        if (keep?.has(key) !== true) changed = this.delete(kind, key) || changed;
      }
    }
    for (const obj of list) changed = this.upsert(obj) || changed;
    return changed;
  }

  /** get returns the object of `kind` stored under `key`, if any. */
  get<K extends KubeKind>(kind: K, key: string): ObjectOfKind<K> | undefined {
    return this.#byKind[kind].get(key);
  }

  /** objects lists every stored object, kind by kind (KUBE_KINDS order). */
  *objects(): Iterable<KubeObject> {
    for (const kind of KUBE_KINDS) yield* this.#map(kind).values();
  }

  /** count is the number of stored objects of `kind`. */
  count(kind: KubeKind): number {
    return this.#map(kind).size;
  }

  /** size is the number of stored objects. */
  get size(): number {
    let n = 0;
    for (const map of Object.values(this.#byKind)) n += map.size;
    return n;
  }

  /** ingressClasses lists the stored IngressClasses in no particular order. */
  ingressClasses(): Iterable<IngressClass> {
    return this.#byKind.IngressClass.values();
  }

  /** ingresses lists the stored Ingresses in no particular order. */
  ingresses(): Iterable<Ingress> {
    return this.#byKind.Ingress.values();
  }

  /** service looks up a Service by namespace and name. */
  service(namespace: string, name: string): Service | undefined {
    return this.#byKind.Service.get(objectKey(namespace, name));
  }

  /** endpointSlices lists the slices of a Service (by the `kubernetes.io/service-name` label). */
  endpointSlices(namespace: string, service: string): Iterable<EndpointSlice> {
    return this.#slicesByService.get(objectKey(namespace, service))?.values() ?? [];
  }

  /** configMap looks up a ConfigMap by namespace and name. */
  configMap(namespace: string, name: string): ConfigMap | undefined {
    return this.#byKind.ConfigMap.get(objectKey(namespace, name));
  }

  #map(kind: KubeKind): Map<string, KubeObject> {
    // The mapped type cannot narrow by a runtime kind; every map holds objects of its own kind.
    return this.#byKind[kind] as Map<string, KubeObject>;
  }

  #index(key: string, slice: EndpointSlice): void {
    const service = sliceService(slice);
    if (service === undefined) return;
    let slices = this.#slicesByService.get(service);
    if (slices === undefined) this.#slicesByService.set(service, (slices = new Map()));
    slices.set(key, slice);
  }

  #unindex(key: string, slice: EndpointSlice): void {
    const service = sliceService(slice);
    if (service === undefined) return;
    const slices = this.#slicesByService.get(service);
    slices?.delete(key);
    if (slices?.size === 0) this.#slicesByService.delete(service);
  }
}

/** sliceService is the `namespace/service` index key of a slice, or undefined when it names no Service. */
export function sliceService(slice: EndpointSlice): string | undefined {
  const service = slice.metadata.labels?.[SERVICE_NAME_LABEL];
  if (service === undefined || service === '') return undefined;
  return objectKey(slice.metadata.namespace ?? 'default', service);
}

function sameObject(a: KubeObject, b: KubeObject): boolean {
  const ra = a.metadata.resourceVersion;
  const rb = b.metadata.resourceVersion;
  if (ra !== undefined && rb !== undefined) return ra === rb;
  return deepEqual(a, b);
}

/** deepEqual compares plain JSON-like data; key order does not matter. */
function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  }
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const keys = Object.keys(ra).filter((k) => ra[k] !== undefined);
  if (keys.length !== Object.keys(rb).filter((k) => rb[k] !== undefined).length) return false;
  return keys.every((k) => Object.hasOwn(rb, k) && deepEqual(ra[k], rb[k]));
}
