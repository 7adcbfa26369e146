/**
 * Kubernetes manifests for the file source: a temp manifests directory with atomic writes, and
 * generators for IngressClass, Service, EndpointSlice and Ingress objects. The echo backend
 * objects mirror what the upstream conformance harness creates for every backend an Ingress
 * names (test/fixtures/conformance/ingress-v1/SCENARIOS.md §1 step 3).
 */
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { parse, stringify } from 'yaml';
import type { EchoPods } from './echo.js';

/** K8sObject is a manifest object as plain data. */
export type K8sObject = Record<string, unknown>;

/** FLUSSO_CONTROLLER is Flusso's default --controller-name. */
export const FLUSSO_CONTROLLER = 'flusso.dev/ingress-controller';

const created = new Set<string>();

afterAll(async () => {
  await Promise.all([...created].map((d) => rm(d, { recursive: true, force: true })));
  created.clear();
});

/** ManifestDir is a temp directory for `--manifests`, removed after the test file. */
export interface ManifestDir {
  /** The directory to pass as `--manifests`. */
  readonly dir: string;
  /**
   * write replaces `file` with the YAML documents, atomically (written beside the directory,
   * then renamed in), so the watcher never reads a half-written file.
   */
  write(file: string, docs: readonly K8sObject[]): Promise<void>;
  /** writeRaw replaces `file` with `text` atomically (for broken YAML). */
  writeRaw(file: string, text: string): Promise<void>;
  remove(file: string): Promise<void>;
}

let staged = 0;

/** manifestDir creates an empty manifests directory. */
export async function manifestDir(): Promise<ManifestDir> {
  const root = await mkdtemp(join(tmpdir(), 'flusso-test-'));
  created.add(root);
  const dir = join(root, 'manifests');
  await mkdir(dir);
  const writeRaw = async (file: string, text: string): Promise<void> => {
    const staging = join(root, `.staging-${process.pid}-${staged++}`);
    await writeFile(staging, text);
    await rename(staging, join(dir, file));
  };
  return {
    dir,
    writeRaw,
    write: (file, docs) => writeRaw(file, toYaml(docs)),
    remove: (file) => rm(join(dir, file), { force: true }),
  };
}

/** toYaml renders objects as one multi-document YAML text. */
export function toYaml(docs: readonly K8sObject[]): string {
  return docs.map((d) => stringify(d)).join('---\n');
}

/** ingressClass builds an IngressClass; `isDefault` adds the default-class annotation. */
export function ingressClass(name: string, controller = FLUSSO_CONTROLLER, opts: { isDefault?: boolean } = {}): K8sObject {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'IngressClass',
    metadata: {
      name,
      ...(opts.isDefault ? { annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' } } : {}),
    },
    spec: { controller },
  };
}

/** ServicePortSpec is one port of a Service. */
export interface ServicePortSpec {
  readonly name?: string;
  readonly port: number;
  readonly targetPort: number;
}

/** service builds a Service with the given ports. */
export function service(namespace: string, name: string, ports: readonly ServicePortSpec[]): K8sObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace },
    spec: {
      type: 'NodePort',
      selector: { app: name },
      ports: ports.map((p) => ({ ...(p.name === undefined ? {} : { name: p.name }), protocol: 'TCP', port: p.port, targetPort: p.targetPort })),
    },
  };
}

/** EndpointSliceOptions tune endpointSlice. */
export interface EndpointSliceOptions {
  /** The Service port's name (EndpointSlice port names equal Service port names; "" when unnamed). */
  readonly portName?: string;
  readonly podNames?: readonly string[];
  readonly ready?: boolean;
  readonly sliceName?: string;
}

/** endpointSlice builds the EndpointSlice of `serviceName`: one endpoint per address, all on `port`. */
export function endpointSlice(
  namespace: string,
  serviceName: string,
  addresses: readonly string[],
  port: number,
  opts: EndpointSliceOptions = {},
): K8sObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: opts.sliceName ?? `${serviceName}-slice`,
      namespace,
      labels: { 'kubernetes.io/service-name': serviceName },
    },
    addressType: 'IPv4',
    ports: [{ name: opts.portName ?? '', protocol: 'TCP', port }],
    endpoints: addresses.map((address, i) => ({
      addresses: [address],
      conditions: { ready: opts.ready ?? true },
      targetRef: { kind: 'Pod', namespace, name: opts.podNames?.[i] ?? `${serviceName}-${i + 1}` },
    })),
  };
}

/** IngressPath is one path of a simple Ingress rule. */
export interface IngressPath {
  readonly path: string;
  readonly pathType?: 'Exact' | 'Prefix' | 'ImplementationSpecific';
  readonly service: string;
  readonly port: number | string;
}

/** ingress builds a one-rule Ingress (host may be undefined for a hostless rule). */
export function ingress(
  namespace: string,
  name: string,
  rule: { host?: string; paths: readonly IngressPath[] },
  ingressClassName = 'flusso',
): K8sObject {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, namespace },
    spec: {
      ingressClassName,
      rules: [
        {
          ...(rule.host === undefined ? {} : { host: rule.host }),
          http: {
            paths: rule.paths.map((p) => ({
              path: p.path,
              pathType: p.pathType ?? 'Prefix',
              backend: { service: { name: p.service, port: typeof p.port === 'number' ? { number: p.port } : { name: p.port } } },
            })),
          },
        },
      ],
    },
  };
}

/** BackendRef is a Service backend as an Ingress names it. */
export interface BackendRef {
  readonly service: string;
  readonly portNumber?: number;
  readonly portName?: string;
}

/** backendRefs lists the distinct Service backends of an Ingress (defaultBackend and every path). */
export function backendRefs(ing: K8sObject): BackendRef[] {
  const spec = (ing.spec ?? {}) as { defaultBackend?: unknown; rules?: { http?: { paths?: { backend?: unknown }[] } }[] };
  const raw: unknown[] = [spec.defaultBackend];
  for (const rule of spec.rules ?? []) for (const p of rule.http?.paths ?? []) raw.push(p.backend);
  const refs = new Map<string, BackendRef>();
  for (const b of raw) {
    const svc = (b as { service?: { name?: string; port?: { number?: number; name?: string } } } | undefined)?.service;
    if (svc?.name === undefined || refs.has(svc.name)) continue;
    refs.set(svc.name, {
      service: svc.name,
      ...(svc.port?.number === undefined ? {} : { portNumber: svc.port.number }),
      ...(svc.port?.name === undefined ? {} : { portName: svc.port.name }),
    });
  }
  return [...refs.values()];
}

/**
 * echoBackendObjects creates what the upstream harness creates for one backend: a Service whose
 * port is the Ingress' port number, or 8080 named after the Ingress' port name, and (standing in
 * for the Deployment's pods) an EndpointSlice listing the echo servers on their real port.
 */
export function echoBackendObjects(namespace: string, ref: BackendRef, pods: EchoPods): K8sObject[] {
  const port = ref.portNumber ?? 8080;
  return [
    service(namespace, ref.service, [{ ...(ref.portName === undefined ? {} : { name: ref.portName }), port, targetPort: pods.port }]),
    endpointSlice(namespace, ref.service, pods.addresses, pods.port, {
      portName: ref.portName ?? '',
      podNames: pods.pods.map((p) => p.pod),
    }),
  ];
}

/**
 * loadConformanceIngress reads a vendored conformance Ingress and prepares it as the harness
 * does: namespace forced, `ingressClassName` set to `ingressClass` when absent.
 */
export async function loadConformanceIngress(file: string, namespace: string, ingressClassName = 'conformance'): Promise<K8sObject> {
  const obj = parse(await readFile(file, 'utf8')) as K8sObject & { metadata: Record<string, unknown>; spec: Record<string, unknown> };
  obj.metadata.namespace = namespace;
  obj.spec.ingressClassName ??= ingressClassName;
  return obj;
}
