/**
 * The base (deploy/base, rendered by `kubectl kustomize`) validates against the Kubernetes
 * schemas (kubernetes-models), and its objects agree with the product: the Deployment's args
 * parse, the IngressClass names our controller, and RBAC grants what the kubernetes source and
 * the status writer call. test/unit/deploy/overlays.test.ts covers the components and overlays.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../../../src/primary/config.js';
import { find as findIn, kustomize, schemaErrors, type K8sDoc } from '../../helpers/kustomize.js';

const docs: K8sDoc[] = kustomize('base');

const find = (kind: string, name = 'flusso'): K8sDoc => findIn(docs, kind, name);

describe('deploy/base', () => {
  it('holds every object the issue asks for', () => {
    expect(docs.map((d) => d.kind).sort()).toEqual(['ClusterRole', 'ClusterRoleBinding', 'Deployment', 'IngressClass', 'Namespace', 'Role', 'RoleBinding', 'Service', 'ServiceAccount']);
  });

  it.each(docs.map((d) => ({ name: `${d.kind} ${d.metadata.name}`, d })))('$name validates against the Kubernetes schema', ({ d }) => {
    expect(schemaErrors(d)).toBeNull();
  });

  it('the Deployment runs the kubernetes source with valid flags, probes, a drain and a locked-down container', () => {
    const deployment = find('Deployment') as unknown as { spec: { template: { spec: Record<string, unknown> & { containers: Record<string, unknown>[] } } } };
    const pod = deployment.spec.template.spec;
    const c = pod.containers[0] as { args: string[]; readinessProbe: { httpGet: { path: string } }; livenessProbe: { httpGet: { path: string } }; lifecycle: { preStop: unknown }; securityContext: Record<string, unknown>; resources: { requests: unknown } };
    const req = parseCommandLine(c.args, { env: { POD_NAMESPACE: 'flusso', KUBERNETES_SERVICE_HOST: '10.0.0.1' }, demoManifests: '/demo', cpus: 2 });
    expect(req.kind).toBe('run');
    const config = req.kind === 'run' ? req.config : undefined;
    expect(config).toMatchObject({ source: 'kubernetes', publishService: 'flusso/flusso', electionNamespace: 'flusso', inCluster: true });
    expect([c.readinessProbe.httpGet.path, c.livenessProbe.httpGet.path]).toEqual(['/readyz', '/healthz']);
    expect(c.lifecycle.preStop).toBeDefined();
    expect(c.resources.requests).toBeDefined();
    expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true });
    // preStop (5 s) plus the drain must fit in the grace period.
    expect((config?.drainTimeoutMs ?? Infinity) + 5000).toBeLessThanOrEqual(Number(pod.terminationGracePeriodSeconds) * 1000);
  });

  // Issue 16 item 2: one token for every replica, so one scrape config fits every pod. An
  // optional Secret would let each pod generate its own when the Secret is missing.
  it('every replica reads the admin token from the one Secret flusso-admin, which must exist', () => {
    const c = (find('Deployment') as unknown as { spec: { template: { spec: { containers: { env: { name: string; valueFrom?: { secretKeyRef?: Record<string, unknown> } }[]; args: string[] }[] } } } }).spec.template.spec.containers[0];
    const token = c?.env.find((e) => e.name === 'FLUSSO_ADMIN_TOKEN');
    expect(token?.valueFrom?.secretKeyRef).toEqual({ name: 'flusso-admin', key: 'token' });
    expect(c?.args).not.toContain('--admin-token'); // never on the command line, which ps shows
  });

  // TLS (docs/tls.md): the Service's 443 reaches the container port named https, which is the port
  // the args give --https-port; 80 reaches --http-port the same way.
  it('the Service maps 80 and 443 to the ports the container listens on for HTTP and HTTPS', () => {
    const c = (find('Deployment') as unknown as { spec: { template: { spec: { containers: { args: string[]; ports: { name: string; containerPort: number }[] }[] } } } }).spec.template.spec.containers[0];
    const req = parseCommandLine(c?.args ?? [], { env: { POD_NAMESPACE: 'flusso', KUBERNETES_SERVICE_HOST: '10.0.0.1' }, demoManifests: '/demo', cpus: 2 });
    if (req.kind !== 'run') throw new Error(`the Deployment's args do not run Flusso: ${req.kind}`);
    const portOf = (name: string) => c?.ports.find((p) => p.name === name)?.containerPort;
    expect([portOf('http'), portOf('https')]).toEqual([req.config.httpPort, req.config.httpsPort]);
    const svc = (find('Service') as unknown as { spec: { ports: { port: number; targetPort: string }[] } }).spec.ports.map((p) => [p.port, p.targetPort]);
    expect(svc).toEqual([[80, 'http'], [443, 'https']]);
  });

  // docs/deploy.md, "Memory": measured with bench/load/pod-memory.mjs. The limit must hold the
  // pod with every worker's cache full of small responses (100 MiB + 1.6× the bound) plus
  // traffic; the request, the pod with caches full of large ones (1.3×). Change --workers or
  // --cache-max-bytes and this says what the memory must become.
  it('the memory request and limit cover the measured formula for the args\' --workers and --cache-max-bytes', () => {
    const c = (find('Deployment') as unknown as { spec: { template: { spec: { containers: { args: string[]; resources: { requests: { memory: string }; limits: { memory: string } } }[] } } } }).spec.template.spec.containers[0];
    const req = parseCommandLine(c?.args ?? [], { env: { POD_NAMESPACE: 'flusso', KUBERNETES_SERVICE_HOST: '10.0.0.1' }, demoManifests: '/demo', cpus: 2 });
    if (req.kind !== 'run') throw new Error(`the Deployment's args do not run Flusso: ${req.kind}`);
    const { workers, cacheMaxBytes } = req.config;
    const MiB = 2 ** 20;
    const mib = (q: string): number => {
      const m = /^(\d+)(Mi|Gi)$/.exec(q);
      if (m === null) throw new Error(`memory quantity ${q}: write it in Mi or Gi`);
      return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1);
    };
    const idle = 55 + 120 + 35 * workers; // node's shared pages, primary and spare, each worker
    const cache = (factor: number) => (factor * cacheMaxBytes * workers) / MiB;
    expect(mib(c?.resources.limits.memory ?? '')).toBeGreaterThanOrEqual(idle + 100 * workers + cache(1.6) + 128);
    expect(mib(c?.resources.requests.memory ?? '')).toBeGreaterThanOrEqual(idle + cache(1.3));
    expect(mib(c?.resources.requests.memory ?? '')).toBeLessThanOrEqual(mib(c?.resources.limits.memory ?? ''));
  });

  it('the IngressClass names our default controller', () => {
    const config = parseCommandLine([], { env: {}, demoManifests: '/demo', cpus: 1 });
    expect(find('IngressClass')).toMatchObject({ spec: { controller: config.kind === 'run' ? config.config.controllerName : '' } });
  });

  it('RBAC grants exactly what the controller calls', () => {
    const rules = (kind: string): string[] =>
      ((find(kind) as unknown as { rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] }).rules ?? []).flatMap((r) => r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${g}/${res}:${v}`)))).sort();
    expect(rules('ClusterRole')).toEqual([
      '/configmaps:list', '/configmaps:watch', '/secrets:get', '/secrets:list', '/secrets:watch', '/services:list', '/services:watch',
      'discovery.k8s.io/endpointslices:list', 'discovery.k8s.io/endpointslices:watch',
      'networking.k8s.io/ingressclasses:list', 'networking.k8s.io/ingressclasses:watch',
      'networking.k8s.io/ingresses/status:patch',
      'networking.k8s.io/ingresses:list', 'networking.k8s.io/ingresses:watch',
    ]);
    expect(rules('Role')).toEqual(['/services:get', 'coordination.k8s.io/leases:create', 'coordination.k8s.io/leases:get', 'coordination.k8s.io/leases:update']);
  });

  // docs/errors.md tells an operator what to grant when a call is forbidden: exactly what
  // deploy/rbac.yaml grants, no verb more or less (groups aside).
  it('docs/errors.md asks for the grants deploy/ RBAC gives, and no others', () => {
    const doc = readFileSync(fileURLToPath(new URL('../../../docs/errors.md', import.meta.url)), 'utf8');
    const documented = new Set<string>();
    for (const m of doc.matchAll(/grant `([a-z,]+)` on ((?:`[a-z/]+`(?:, | and )?)+)/g))
      for (const res of (m[2] as string).matchAll(/`([a-z/]+)`/g)) for (const verb of (m[1] as string).split(',')) documented.add(`${res[1]}:${verb}`);
    const granted = new Set<string>();
    for (const kind of ['ClusterRole', 'Role'])
      for (const r of (find(kind) as unknown as { rules: { resources: string[]; verbs: string[] }[] }).rules) for (const res of r.resources) for (const verb of r.verbs) granted.add(`${res}:${verb}`);
    expect([...documented].sort()).toEqual([...granted].sort());
  });
});
