/**
 * The Kubernetes objects Flusso reads, reduced to the fields it uses. Every source (the
 * manifests directory today, the Kubernetes API later) maps its input to these plain,
 * read-only shapes, so the store and the compiler never see a client library's types.
 * Fields are optional wherever Kubernetes allows them to be absent.
 */
import { objectKey } from '../shared/keys.js';

/** ObjectMeta is the subset of `metadata` the store and the compiler read. */
export interface ObjectMeta {
  readonly name: string;
  /** Absent for cluster-scoped kinds (IngressClass). Sources default it to `default` for the others. */
  readonly namespace?: string;
  readonly resourceVersion?: string;
  /** RFC 3339 timestamp; decides which Ingress wins a conflict (oldest first). */
  readonly creationTimestamp?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** IngressClassSpec is `spec` of a networking.k8s.io/v1 IngressClass. */
export interface IngressClassSpec {
  /** The controller that implements this class, e.g. `example.com/flusso`. */
  readonly controller?: string;
}

/** IngressClass is a networking.k8s.io/v1 IngressClass (cluster-scoped). */
export interface IngressClass {
  readonly apiVersion: 'networking.k8s.io/v1';
  readonly kind: 'IngressClass';
  readonly metadata: ObjectMeta;
  readonly spec?: IngressClassSpec;
}

/** ServiceBackendPort names a Service port by number or by name (Kubernetes sets exactly one). */
export interface ServiceBackendPort {
  readonly number?: number;
  readonly name?: string;
}

/** IngressServiceBackend is the `service` form of an Ingress backend. */
export interface IngressServiceBackend {
  readonly name: string;
  readonly port?: ServiceBackendPort;
}

/** TypedLocalObjectReference is the `resource` form of an Ingress backend (Flusso does not support it). */
export interface TypedLocalObjectReference {
  readonly apiGroup?: string;
  readonly kind: string;
  readonly name: string;
}

/** IngressBackend is where an Ingress path or default backend sends traffic. */
export interface IngressBackend {
  readonly service?: IngressServiceBackend;
  readonly resource?: TypedLocalObjectReference;
}

/** HTTPIngressPath is one path of an Ingress rule. `pathType` stays a string: unknown values get a diagnostic. */
export interface HTTPIngressPath {
  readonly path?: string;
  readonly pathType?: string;
  readonly backend: IngressBackend;
}

/** HTTPIngressRuleValue is the `http` part of an Ingress rule. */
export interface HTTPIngressRuleValue {
  readonly paths: readonly HTTPIngressPath[];
}

/** IngressRule is one `spec.rules[]` entry; no host means every host. */
export interface IngressRule {
  readonly host?: string;
  readonly http?: HTTPIngressRuleValue;
}

/** IngressTLS is one `spec.tls[]` entry. */
export interface IngressTLS {
  readonly hosts?: readonly string[];
  readonly secretName?: string;
}

/** IngressSpec is `spec` of a networking.k8s.io/v1 Ingress. */
export interface IngressSpec {
  readonly ingressClassName?: string;
  readonly defaultBackend?: IngressBackend;
  readonly rules?: readonly IngressRule[];
  readonly tls?: readonly IngressTLS[];
}

/** Ingress is a networking.k8s.io/v1 Ingress. */
export interface Ingress {
  readonly apiVersion: 'networking.k8s.io/v1';
  readonly kind: 'Ingress';
  readonly metadata: ObjectMeta;
  readonly spec?: IngressSpec;
  /**
   * Paths of the fields under `spec` that are not Ingress v1 fields (a typo, or an older API
   * version's name such as `backend.serviceName`), sorted; the compiler reports each one.
   */
  readonly ignoredFields?: readonly string[];
}

/** ServicePort is one `spec.ports[]` entry of a Service. `name` may be absent for a single-port Service. */
export interface ServicePort {
  readonly name?: string;
  readonly port: number;
  readonly targetPort?: number | string;
  readonly protocol?: string;
  /** `kubernetes.io/h2c` makes the port's backends speak HTTP/2 without TLS (compile/backend-protocol.ts). */
  readonly appProtocol?: string;
}

/** ServiceSpec is `spec` of a v1 Service. */
export interface ServiceSpec {
  readonly type?: string;
  /** The Service's virtual IP (`None` for a headless Service); read for ingress-nginx `service-upstream`. */
  readonly clusterIP?: string;
  readonly ports?: readonly ServicePort[];
}

/** Service is a v1 Service. */
export interface Service {
  readonly apiVersion: 'v1';
  readonly kind: 'Service';
  readonly metadata: ObjectMeta;
  readonly spec?: ServiceSpec;
}

/** EndpointConditions are the readiness flags of one EndpointSlice endpoint; absent flags have Kubernetes defaults. */
export interface EndpointConditions {
  readonly ready?: boolean;
  readonly serving?: boolean;
  readonly terminating?: boolean;
}

/** SliceEndpoint is one `endpoints[]` entry of an EndpointSlice. */
export interface SliceEndpoint {
  readonly addresses: readonly string[];
  readonly conditions?: EndpointConditions;
  readonly zone?: string;
  readonly nodeName?: string;
}

/** SlicePort is one `ports[]` entry of an EndpointSlice; `name` equals the Service port's name. */
export interface SlicePort {
  readonly name?: string;
  /** The resolved target (container) port; absent means "all ports", which Flusso cannot use. */
  readonly port?: number;
  readonly protocol?: string;
  readonly appProtocol?: string;
}

/** EndpointSlice is a discovery.k8s.io/v1 EndpointSlice. */
export interface EndpointSlice {
  readonly apiVersion: 'discovery.k8s.io/v1';
  readonly kind: 'EndpointSlice';
  readonly metadata: ObjectMeta;
  /** `IPv4`, `IPv6` or `FQDN` (Flusso skips FQDN). */
  readonly addressType: string;
  readonly endpoints: readonly SliceEndpoint[];
  readonly ports?: readonly SlicePort[];
}

/**
 * ConfigMap is a v1 ConfigMap: the header lists of ingress-nginx `custom-headers`, `add-headers`
 * and `proxy-set-headers` (compile/custom-headers-annotations.ts). Only `data` is read.
 */
export interface ConfigMap {
  readonly apiVersion: 'v1';
  readonly kind: 'ConfigMap';
  readonly metadata: ObjectMeta;
  readonly data?: Readonly<Record<string, string>>;
}

/** KubeObject is any object the store holds. */
export type KubeObject = IngressClass | Ingress | Service | EndpointSlice | ConfigMap;

/** KubeKind is the `kind` of a KubeObject. */
export type KubeKind = KubeObject['kind'];

/** KUBE_KINDS lists every kind the store holds, in a fixed order. */
export const KUBE_KINDS: readonly KubeKind[] = ['IngressClass', 'Ingress', 'Service', 'EndpointSlice', 'ConfigMap'];

/** SERVICE_NAME_LABEL ties an EndpointSlice to its Service (same namespace). */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** INGRESS_CLASS_ANNOTATION is the legacy, pre-`ingressClassName` way to pick a class. */
export const INGRESS_CLASS_ANNOTATION = 'kubernetes.io/ingress.class';

/** DEFAULT_CLASS_ANNOTATION marks an IngressClass as the default for class-less Ingresses. */
export const DEFAULT_CLASS_ANNOTATION = 'ingressclass.kubernetes.io/is-default-class';

/**
 * ObjectView is the read-only view of the cluster objects the compiler consumes. The store
 * implements it; tests may implement it directly. Iteration order carries no meaning: the
 * compiler sorts everything it reads.
 */
export interface ObjectView {
  ingressClasses(): Iterable<IngressClass>;
  ingresses(): Iterable<Ingress>;
  service(namespace: string, name: string): Service | undefined;
  /** endpointSlices lists the slices labelled `kubernetes.io/service-name: <service>` in `namespace`. */
  endpointSlices(namespace: string, service: string): Iterable<EndpointSlice>;
  /** configMap looks up a ConfigMap (header lists, compile/custom-headers-annotations.ts); a view without ConfigMaps may leave it out. */
  configMap?(namespace: string, name: string): ConfigMap | undefined;
}

/**
 * TlsSecret is a `kubernetes.io/tls` Secret as the TLS manager reads it. Secrets are kept apart
 * from the KubeObjects: the compiler never sees them, and only the TLS manager reads their data.
 */
export interface TlsSecret {
  readonly namespace: string;
  readonly name: string;
  readonly type: string;
  readonly resourceVersion?: string;
  /** The values of `data`, base64 as the API gives them (a manifest's `stringData` is encoded by the file source). */
  readonly data: Readonly<Record<string, string>>;
}

/**
 * SecretView answers the TLS manager's lookups: a Secret, `'pending'` when it exists but is still
 * being fetched (the kubernetes source keeps only the Secrets our Ingresses name), or undefined.
 */
export interface SecretView {
  secret(namespace: string, name: string): TlsSecret | 'pending' | undefined;
}

/** keyOf returns the store key of an object: `namespace/name`, or the bare name for IngressClass. */
export function keyOf(obj: KubeObject): string {
  const namespace = obj.kind === 'IngressClass' ? undefined : (obj.metadata.namespace ?? 'default');
  return objectKey(namespace, obj.metadata.name);
}

/** describeObject formats an object for a Diagnostic: `Kind namespace/name`. */
export function describeObject(obj: KubeObject): string {
  return `${obj.kind} ${keyOf(obj)}`;
}
