/**
 * Builders for model objects in compiler and store tests, with defaults that make an object
 * ours and routable: `ingress('ns/name', …)` names our class, `service(…)` has port 80 named
 * `http`, `endpointSlice(…)` matches it. Also builders for the expected RoutingTable parts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileSnapshot, type CompileOptions, type CompileResult } from '../../src/primary/compile/index.js';
import type {
  EndpointConditions,
  EndpointSlice,
  HTTPIngressPath,
  Ingress,
  IngressBackend,
  IngressClass,
  IngressRule,
  IngressTLS,
  KubeObject,
  Service,
  ServicePort,
  SliceEndpoint,
  SlicePort,
} from '../../src/primary/model.js';
import { parseManifestFile } from '../../src/primary/sources/manifests.js';
import { ObjectStore } from '../../src/primary/store.js';
import type { ErrorCode } from '../../src/shared/errors.js';
import { splitObjectKey } from '../../src/shared/keys.js';
import type { Backend, Endpoint, Route } from '../../src/shared/snapshot.js';

/** CONTROLLER is the controller name the tests compile for (Flusso's default). */
export const CONTROLLER = 'flusso.dev/ingress-controller';
/** CLASS is our IngressClass name and legacy annotation value. */
export const CLASS = 'flusso';
/** OPTS are the default compile options of the tests. */
export const OPTS: CompileOptions = { ingressClass: CLASS, controllerName: CONTROLLER, watchIngressWithoutClass: false };

/** ingressClass builds an IngressClass, ours by default. */
export function ingressClass(name = CLASS, init: { controller?: string; isDefault?: boolean } = {}): IngressClass {
  const annotations = init.isDefault === undefined ? undefined : { 'ingressclass.kubernetes.io/is-default-class': String(init.isDefault) };
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'IngressClass',
    metadata: annotations === undefined ? { name } : { name, annotations },
    spec: { controller: init.controller ?? CONTROLLER },
  };
}

/** IngressInit are the parts of an Ingress a test sets; `className: null` leaves ingressClassName unset. */
export interface IngressInit {
  readonly className?: string | null;
  readonly annotations?: Record<string, string>;
  readonly created?: string;
  readonly rules?: readonly IngressRule[];
  readonly defaultBackend?: IngressBackend;
  readonly tls?: readonly IngressTLS[];
}

/** ingress builds an Ingress `ns/name` of our class. */
export function ingress(key: string, init: IngressInit = {}): Ingress {
  const { namespace, name } = splitObjectKey(key);
  const className = init.className === undefined ? CLASS : init.className;
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: {
      name,
      namespace,
      ...(init.created === undefined ? {} : { creationTimestamp: init.created }),
      ...(init.annotations === undefined ? {} : { annotations: init.annotations }),
    },
    spec: {
      ...(className === null ? {} : { ingressClassName: className }),
      ...(init.defaultBackend === undefined ? {} : { defaultBackend: init.defaultBackend }),
      ...(init.rules === undefined ? {} : { rules: init.rules }),
      ...(init.tls === undefined ? {} : { tls: init.tls }),
    },
  };
}

/** rule builds an Ingress rule; an undefined host is the catch-all. */
export function rule(host: string | undefined, ...paths: HTTPIngressPath[]): IngressRule {
  return host === undefined ? { http: { paths } } : { host, http: { paths } };
}

/** path builds an Ingress path (Prefix unless told); an undefined path or a null pathType leave the field unset. */
export function path(p: string | undefined, to: IngressBackend, pathType: string | null = 'Prefix'): HTTPIngressPath {
  return { ...(p === undefined ? {} : { path: p }), ...(pathType === null ? {} : { pathType }), backend: to };
}

/** backend builds a service backend by port number or port name. */
export function backend(serviceName: string, port: number | string = 80): IngressBackend {
  return { service: { name: serviceName, port: typeof port === 'number' ? { number: port } : { name: port } } };
}

/** service builds a Service `ns/name`; by default one port 80 named `http` targeting 8080. */
export function service(key: string, ports: readonly ServicePort[] = [{ name: 'http', port: 80, targetPort: 8080 }]): Service {
  const { namespace, name } = splitObjectKey(key);
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec: { ports } };
}

/** SliceInit are the parts of an EndpointSlice a test sets. */
export interface SliceInit {
  readonly service: string;
  readonly addressType?: string;
  readonly ports?: readonly SlicePort[];
  readonly endpoints?: readonly SliceEndpoint[];
}

/** endpointSlice builds a slice `ns/name` of a Service; by default IPv4 with port `http` → 8080. */
export function endpointSlice(key: string, init: SliceInit): EndpointSlice {
  const { namespace, name } = splitObjectKey(key);
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace, labels: { 'kubernetes.io/service-name': init.service } },
    addressType: init.addressType ?? 'IPv4',
    endpoints: init.endpoints ?? [],
    ports: init.ports ?? [{ name: 'http', port: 8080, protocol: 'TCP' }],
  };
}

/** sliceEndpoint builds one slice endpoint; conditions and zone only when given. */
export function sliceEndpoint(addresses: string | readonly string[], conditions?: EndpointConditions, zone?: string): SliceEndpoint {
  return {
    addresses: typeof addresses === 'string' ? [addresses] : addresses,
    ...(conditions === undefined ? {} : { conditions }),
    ...(zone === undefined ? {} : { zone }),
  };
}

/** compileObjects loads objects into an ObjectStore and compiles it. */
export function compileObjects(objects: readonly KubeObject[], opts: CompileOptions = OPTS): CompileResult {
  const store = new ObjectStore();
  store.replaceAll(objects);
  return compileSnapshot(store, opts);
}

/** codes reduces diagnostics to `[code, object]` pairs for whole-list assertions. */
export function codes(result: CompileResult): [ErrorCode, string][] {
  return result.diagnostics.map((d) => [d.code, d.object]);
}

/** fixture parses test/fixtures/k8s/<name>.yaml and throws if the file has any diagnostic. */
export function fixture(name: string): KubeObject[] {
  const file = `${name}.yaml`;
  const parsed = parseManifestFile(file, readFileSync(join(import.meta.dirname, '..', 'fixtures', 'k8s', file), 'utf8'));
  if (parsed.diagnostics.length > 0) throw new Error(`fixture ${file}: ${JSON.stringify(parsed.diagnostics)}`);
  return parsed.objects;
}

/** seededShuffle returns a copy of `items` in a pseudo-random order fixed by `seed` (mulberry32). */
export function seededShuffle<T>(items: readonly T[], seed: number): T[] {
  let s = seed >>> 0;
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** route builds an expected Route. */
export function route(match: Route['match'], p: string, backend: string, source: string): Route {
  return { match, path: p, backend, source };
}

/** backendOf builds an expected round-robin Backend; the service and port come from the id. */
export function backendOf(id: string, endpoints: readonly Endpoint[] = []): Backend {
  const colon = id.lastIndexOf(':');
  const port = id.slice(colon + 1);
  return {
    id,
    service: id.slice(0, colon),
    servicePort: /^\d+$/.test(port) ? Number(port) : port,
    endpoints,
    loadBalancer: 'round-robin',
  };
}

/** ready builds an expected ready endpoint; terminating builds a terminating-but-serving one. */
export function ready(address: string, port = 8080, zone?: string): Endpoint {
  const e = { address, port, weight: 1, ready: true, terminating: false };
  return zone === undefined ? e : { ...e, zone };
}

/** terminating builds an expected terminating-but-serving endpoint. */
export function terminating(address: string, port = 8080): Endpoint {
  return { address, port, weight: 1, ready: false, terminating: true };
}
