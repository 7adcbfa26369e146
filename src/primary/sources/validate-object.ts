/**
 * Shape checks for manifest objects. Each validator reads `unknown` input and builds a fresh
 * model object holding only the fields Flusso uses, so that the store and the compiler can
 * trust every type, and extra fields (status, managedFields) never make two versions differ.
 * A YAML `null` counts as absent, as it does for the Kubernetes API.
 */
import { IngressError } from '../../shared/errors.js';
import { quoteValue } from '../diagnostics.js';
import { compilePath, normaliseHost } from '../compile/match-rules.js';
import type {
  ConfigMap,
  EndpointSlice,
  HTTPIngressPath,
  Ingress,
  IngressBackend,
  IngressClass,
  IngressRule,
  IngressTLS,
  KubeKind,
  KubeObject,
  ObjectMeta,
  Service,
  ServicePort,
  SliceEndpoint,
  SlicePort,
  TlsSecret,
} from '../model.js';

/** API_VERSIONS is the one apiVersion Flusso reads for each kind. */
export const API_VERSIONS: Readonly<Record<KubeKind, string>> = {
  IngressClass: 'networking.k8s.io/v1',
  Ingress: 'networking.k8s.io/v1',
  Service: 'v1',
  EndpointSlice: 'discovery.k8s.io/v1',
  ConfigMap: 'v1',
};

/**
 * validateObject checks `raw` as an object of `kind` (its apiVersion already checked) and
 * returns a clean copy. It throws IngressError ING_ERR_MANIFEST_INVALID naming the first
 * bad field.
 */
export function validateObject(kind: KubeKind, raw: Readonly<Record<string, unknown>>): KubeObject {
  switch (kind) {
    case 'IngressClass':
      return validateIngressClass(raw);
    case 'Ingress':
      return validateIngress(raw);
    case 'Service':
      return validateService(raw);
    case 'EndpointSlice':
      return validateEndpointSlice(raw);
    case 'ConfigMap':
      return validateConfigMap(raw);
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * validateSecret checks a v1 Secret (from a manifest or the API) and returns what the TLS
 * manager reads: type and `data` (base64). `stringData` is encoded and wins over `data`, as
 * the API server does. It throws ING_ERR_MANIFEST_INVALID naming the first bad field; what the
 * data holds is the TLS manager's to judge.
 */
export function validateSecret(raw: Readonly<Record<string, unknown>>): TlsSecret {
  const m = meta(raw.metadata, true);
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(optStringMap(raw.data, 'data') ?? {})) {
    if (!BASE64.test(v.replace(/\s+/g, ''))) invalid(`data.${k} must be base64`);
    data[k] = v.replace(/\s+/g, '');
  }
  for (const [k, v] of Object.entries(optStringMap(raw.stringData, 'stringData') ?? {})) data[k] = Buffer.from(v, 'utf8').toString('base64');
  const metaRaw = raw.metadata as Readonly<Record<string, unknown>>;
  return compact({
    namespace: m.namespace ?? 'default',
    name: m.name,
    type: optString(raw.type, 'type') ?? 'Opaque',
    resourceVersion: typeof metaRaw.resourceVersion === 'string' ? metaRaw.resourceVersion : undefined,
    data,
  });
}

function validateIngressClass(raw: Readonly<Record<string, unknown>>): IngressClass {
  const spec = optRecord(raw.spec, 'spec');
  return compact({
    apiVersion: 'networking.k8s.io/v1' as const,
    kind: 'IngressClass' as const,
    metadata: meta(raw.metadata, false),
    spec: spec && compact({ controller: optString(spec.controller, 'spec.controller') }),
  });
}

/** Shape lists the fields of an object: a leaf (null), an object (Shape) or a list of objects ([Shape]). */
type Shape = { readonly [field: string]: null | Shape | readonly [Shape] };

const BACKEND_SHAPE: Shape = { service: { name: null, port: { number: null, name: null } }, resource: { apiGroup: null, kind: null, name: null } };

/** INGRESS_SPEC_SHAPE is the networking.k8s.io/v1 IngressSpec: every field Flusso reads. */
const INGRESS_SPEC_SHAPE: Shape = {
  ingressClassName: null,
  defaultBackend: BACKEND_SHAPE,
  rules: [{ host: null, http: { paths: [{ path: null, pathType: null, backend: BACKEND_SHAPE }] } }],
  tls: [{ hosts: null, secretName: null }],
};

/**
 * unknownFields lists the paths in `raw` that `shape` does not name (values of the wrong type are
 * validated elsewhere). `at` is the path so far as a stack of segments, joined only for a field
 * it reports: an Ingress with 15,000 paths would otherwise build 100,000 path strings (issue 14).
 */
function unknownFields(raw: unknown, shape: Shape, at: string[], out: string[]): string[] {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return out;
  const record = raw as Record<string, unknown>;
  for (const key in record) {
    if (!Object.hasOwn(record, key)) continue;
    if (!Object.hasOwn(shape, key)) {
      out.push(`${at.join('')}.${key}`);
      continue;
    }
    const sub = shape[key];
    const value = record[key];
    if (sub === null || sub === undefined || value === null) continue;
    at.push(`.${key}`);
    if (!Array.isArray(sub)) unknownFields(value, sub as Shape, at, out);
    else if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        at.push(`[${i}]`);
        unknownFields(value[i], sub[0] as Shape, at, out);
        at.pop();
      }
    }
    at.pop();
  }
  return out;
}

function validateIngress(raw: Readonly<Record<string, unknown>>): Ingress {
  const spec = optRecord(raw.spec, 'spec');
  const ignored = spec === undefined ? [] : unknownFields(spec, INGRESS_SPEC_SHAPE, ['spec'], []).sort();
  return compact({
    apiVersion: 'networking.k8s.io/v1' as const,
    kind: 'Ingress' as const,
    metadata: meta(raw.metadata, true),
    ignoredFields: ignored.length === 0 ? undefined : ignored,
    spec:
      spec &&
      compact({
        ingressClassName: optString(spec.ingressClassName, 'spec.ingressClassName'),
        defaultBackend: spec.defaultBackend == null ? undefined : backend(spec.defaultBackend, 'spec.defaultBackend'),
        rules: optList(spec.rules, 'spec.rules', rule),
        tls: optList(spec.tls, 'spec.tls', tls),
      }),
  });
}

function rule(v: unknown, at: string): IngressRule {
  const r = record(v, at);
  const http = optRecord(r.http, `${at}.http`);
  const host = optString(r.host, `${at}.host`);
  if (host !== undefined && host !== '' && normaliseHost(host) === undefined)
    invalid(`${at}.host ${quoteValue(host)} is not a DNS name or a one-label wildcard such as *.example.com`);
  return compact({
    host,
    http: http && { paths: list(http.paths, `${at}.http.paths`, httpPath) },
  });
}

/** PATH_TYPES are the values of an Ingress v1 path's pathType, a required field the API server checks. */
const PATH_TYPES: ReadonlySet<string> = new Set(['Exact', 'Prefix', 'ImplementationSpecific']);

function httpPath(v: unknown, at: string): HTTPIngressPath {
  const p = record(v, at);
  // As for the API server, a missing or unknown pathType makes the whole Ingress invalid (so it
  // keeps its last good version), rather than dropping one path and letting its requests fall
  // through to a shorter prefix such as `/`.
  // The same holds for every other check of one path (issue 14 item 6): the path itself, and a
  // backend the API server would refuse. The compiler's own checks are the same rules, so an
  // Ingress that passes here never loses a path there.
  const pathType = optString(p.pathType, `${at}.pathType`);
  if (pathType === undefined || !PATH_TYPES.has(pathType))
    invalid(`${at}.pathType must be Exact, Prefix or ImplementationSpecific${pathType === undefined ? ' (it is required)' : `, not ${quoteValue(pathType)}`}`);
  const path = optString(p.path, `${at}.path`);
  const compiled = compilePath(pathType, path);
  if ('error' in compiled) invalid(`${at}: ${compiled.error}`);
  return compact({
    path,
    pathType,
    backend: backend(p.backend, `${at}.backend`),
  });
}

function backend(v: unknown, at: string): IngressBackend {
  const b = record(v, at);
  const service = optRecord(b.service, `${at}.service`);
  const port = service && optRecord(service.port, `${at}.service.port`);
  const resource = optRecord(b.resource, `${at}.resource`);
  // What the API server requires of a backend: a service or a resource (not both), a service
  // with a name and a port number or name. (A resource backend is valid Kubernetes that Flusso
  // does not serve: the compiler reports that path, as it does a missing Service.)
  if ((service === undefined) === (resource === undefined)) {
    const v1beta1 = b.serviceName !== undefined ? ' (serviceName and servicePort are v1beta1 fields: v1 has service.name and service.port)' : '';
    invalid(`${at} must name a service or a resource, ${service === undefined ? 'and names neither' : 'not both'}${v1beta1}`);
  }
  if (service !== undefined && service.name === '') invalid(`${at}.service.name must not be empty`);
  if (service !== undefined && (port == null || (port.number == null && (port.name == null || port.name === ''))))
    invalid(`${at}.service.port must have a number or a name`);
  return compact({
    service:
      service &&
      compact({
        name: string(service.name, `${at}.service.name`),
        port:
          port &&
          compact({
            number: optPort(port.number, `${at}.service.port.number`),
            name: optString(port.name, `${at}.service.port.name`),
          }),
      }),
    resource:
      resource &&
      compact({
        apiGroup: optString(resource.apiGroup, `${at}.resource.apiGroup`),
        kind: string(resource.kind, `${at}.resource.kind`),
        name: string(resource.name, `${at}.resource.name`),
      }),
  });
}

function tls(v: unknown, at: string): IngressTLS {
  const t = record(v, at);
  return compact({
    hosts: optList(t.hosts, `${at}.hosts`, string),
    secretName: optString(t.secretName, `${at}.secretName`),
  });
}

/** validateConfigMap keeps a ConfigMap's `data` (string values only; `binaryData` is not read). */
function validateConfigMap(raw: Readonly<Record<string, unknown>>): ConfigMap {
  const data = optRecord(raw.data, 'data');
  const out: Record<string, string> = {};
  if (data !== undefined) for (const [k, v] of Object.entries(data)) out[k] = string(v, `data.${k}`);
  return compact({ apiVersion: 'v1' as const, kind: 'ConfigMap' as const, metadata: meta(raw.metadata, true), data: data === undefined ? undefined : out });
}

function validateService(raw: Readonly<Record<string, unknown>>): Service {
  const spec = optRecord(raw.spec, 'spec');
  return compact({
    apiVersion: 'v1' as const,
    kind: 'Service' as const,
    metadata: meta(raw.metadata, true),
    spec: spec && compact({ type: optString(spec.type, 'spec.type'), clusterIP: optString(spec.clusterIP, 'spec.clusterIP'), ports: optList(spec.ports, 'spec.ports', servicePort) }),
  });
}

function servicePort(v: unknown, at: string): ServicePort {
  const p = record(v, at);
  const target = p.targetPort;
  return compact({
    name: optString(p.name, `${at}.name`),
    port: port(p.port, `${at}.port`),
    targetPort: typeof target === 'string' ? target : optPort(target, `${at}.targetPort`),
    protocol: optString(p.protocol, `${at}.protocol`),
    appProtocol: optString(p.appProtocol, `${at}.appProtocol`),
  });
}

function validateEndpointSlice(raw: Readonly<Record<string, unknown>>): EndpointSlice {
  return compact({
    apiVersion: 'discovery.k8s.io/v1' as const,
    kind: 'EndpointSlice' as const,
    metadata: meta(raw.metadata, true),
    addressType: string(raw.addressType, 'addressType'),
    endpoints: optList(raw.endpoints, 'endpoints', sliceEndpoint) ?? [],
    ports: optList(raw.ports, 'ports', slicePort),
  });
}

function sliceEndpoint(v: unknown, at: string): SliceEndpoint {
  const e = record(v, at);
  const c = optRecord(e.conditions, `${at}.conditions`);
  return compact({
    addresses: list(e.addresses, `${at}.addresses`, string),
    conditions:
      c &&
      compact({
        ready: optBoolean(c.ready, `${at}.conditions.ready`),
        serving: optBoolean(c.serving, `${at}.conditions.serving`),
        terminating: optBoolean(c.terminating, `${at}.conditions.terminating`),
      }),
    zone: optString(e.zone, `${at}.zone`),
    nodeName: optString(e.nodeName, `${at}.nodeName`),
  });
}

function slicePort(v: unknown, at: string): SlicePort {
  const p = record(v, at);
  return compact({
    name: optString(p.name, `${at}.name`),
    port: optPort(p.port, `${at}.port`),
    protocol: optString(p.protocol, `${at}.protocol`),
    appProtocol: optString(p.appProtocol, `${at}.appProtocol`),
  });
}

// RFC 3339 date-time, as Kubernetes writes metadata.creationTimestamp.
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * meta validates `metadata`. resourceVersion is deliberately not kept: in a file it is a
 * stale copy that does not change when the file is edited, and the store would take two
 * different versions with the same resourceVersion for the same object.
 */
function meta(v: unknown, namespaced: boolean): ObjectMeta {
  const m = record(v, 'metadata');
  const name = string(m.name, 'metadata.name');
  if (name === '') invalid('metadata.name must not be empty');
  const namespace = optString(m.namespace, 'metadata.namespace');
  const created = optString(m.creationTimestamp, 'metadata.creationTimestamp');
  if (created !== undefined && !RFC3339.test(created))
    invalid('metadata.creationTimestamp must be an RFC 3339 date-time such as 2024-05-01T12:00:00Z');
  return compact({
    name,
    namespace: namespaced ? namespace || 'default' : undefined,
    creationTimestamp: created,
    labels: optStringMap(m.labels, 'metadata.labels'),
    annotations: optStringMap(m.annotations, 'metadata.annotations'),
  });
}

function invalid(reason: string): never {
  throw new IngressError('ING_ERR_MANIFEST_INVALID', reason);
}

function record(v: unknown, at: string): Readonly<Record<string, unknown>> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) invalid(`${at} must be an object`);
  return v as Record<string, unknown>;
}

function optRecord(v: unknown, at: string): Readonly<Record<string, unknown>> | undefined {
  return v == null ? undefined : record(v, at);
}

function string(v: unknown, at: string): string {
  if (typeof v !== 'string') invalid(`${at} must be a string`);
  return v;
}

function optString(v: unknown, at: string): string | undefined {
  return v == null ? undefined : string(v, at);
}

function optBoolean(v: unknown, at: string): boolean | undefined {
  if (v == null) return undefined;
  if (typeof v !== 'boolean') invalid(`${at} must be true or false`);
  return v;
}

function port(v: unknown, at: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535)
    invalid(`${at} must be an integer from 1 to 65535`);
  return v;
}

function optPort(v: unknown, at: string): number | undefined {
  return v == null ? undefined : port(v, at);
}

function list<T>(v: unknown, at: string, item: (v: unknown, at: string) => T): T[] {
  if (!Array.isArray(v)) invalid(`${at} must be a list`);
  return v.map((x, i) => item(x, `${at}[${i}]`));
}

function optList<T>(v: unknown, at: string, item: (v: unknown, at: string) => T): T[] | undefined {
  return v == null ? undefined : list(v, at, item);
}

function optStringMap(v: unknown, at: string): Record<string, string> | undefined {
  const r = optRecord(v, at);
  if (r === undefined) return undefined;
  // fromEntries defines own properties, so even a `__proto__` key stays plain data.
  return Object.fromEntries(Object.entries(r).map(([k, x]) => [k, string(x, `${at}[${quoteValue(k)}]`)]));
}

/** Compact is T with every property whose type admits undefined turned into an optional property. */
type Compact<T> = { [K in keyof T as undefined extends T[K] ? never : K]: T[K] } & {
  [K in keyof T as undefined extends T[K] ? K : never]?: Exclude<T[K], undefined>;
};

/** compact drops undefined properties, so that objects satisfy exactOptionalPropertyTypes and compare cleanly. */
function compact<T extends object>(o: T): Compact<T> {
  // A loop, not entries/filter/fromEntries: an Ingress with 15,000 paths runs this 75,000 times (issue 14).
  const out: Record<string, unknown> = {};
  for (const k in o) if (o[k] !== undefined) out[k] = o[k];
  return out as Compact<T>;
}
