/**
 * Every object in deploy/*.yaml validates against the Kubernetes schemas (kubernetes-models),
 * and the manifests agree with the product: the Deployment's args parse, the IngressClass names
 * our controller, and RBAC grants what the kubernetes source and the status writer call.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as models from 'kubernetes-models';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseCommandLine } from '../../../src/primary/config.js';

const DEPLOY = fileURLToPath(new URL('../../../deploy/', import.meta.url));

interface Doc {
  readonly file: string;
  readonly obj: Record<string, unknown> & { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } };
}

const docs: Doc[] = readdirSync(DEPLOY)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .flatMap((file) => parseAllDocuments(readFileSync(join(DEPLOY, file), 'utf8')).map((d) => ({ file, obj: d.toJS() as Doc['obj'] })));

/**
 * modelFor finds the kubernetes-models class of an apiVersion and kind: groups are camel-cased
 * (`rbac.authorization.k8s.io/v1` → models.rbacAuthorizationK8sIo.v1), the core group is `v1`.
 */
function modelFor(apiVersion: string, kind: string): (new (data: unknown) => { validate(): void }) | undefined {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : [undefined, apiVersion];
  const groupKey = group?.replace(/\.([a-z])/g, (_, c: string) => c.toUpperCase());
  const all = models as unknown as Record<string, Record<string, unknown> | undefined>;
  const ns = (groupKey === undefined ? all[version as string] : all[groupKey]?.[version as string]) as Record<string, unknown> | undefined;
  return ns?.[kind] as (new (data: unknown) => { validate(): void }) | undefined;
}

const find = (kind: string, name = 'flusso'): Doc['obj'] => {
  const d = docs.find((x) => x.obj.kind === kind && x.obj.metadata.name === name);
  if (d === undefined) throw new Error(`no ${kind} ${name} in deploy/`);
  return d.obj;
};

describe('deploy/', () => {
  it('holds every object the issue asks for', () => {
    expect(docs.map((d) => d.obj.kind).sort()).toEqual(['ClusterRole', 'ClusterRoleBinding', 'Deployment', 'IngressClass', 'Namespace', 'Role', 'RoleBinding', 'Service', 'ServiceAccount']);
  });

  it.each(docs.map((d) => ({ name: `${d.file}: ${d.obj.kind} ${d.obj.metadata.name}`, d })))('$name validates against the Kubernetes schema', ({ d }) => {
    const Model = modelFor(d.obj.apiVersion, d.obj.kind);
    expect(Model, `no model for ${d.obj.apiVersion} ${d.obj.kind}`).toBeDefined();
    expect(() => new (Model as NonNullable<typeof Model>)(d.obj).validate()).not.toThrow();
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

  it('the IngressClass names our default controller', () => {
    const config = parseCommandLine([], { env: {}, demoManifests: '/demo', cpus: 1 });
    expect(find('IngressClass')).toMatchObject({ spec: { controller: config.kind === 'run' ? config.config.controllerName : '' } });
  });

  it('RBAC grants exactly what the controller calls', () => {
    const rules = (kind: string): string[] =>
      ((find(kind) as unknown as { rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] }).rules ?? []).flatMap((r) => r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${g}/${res}:${v}`)))).sort();
    expect(rules('ClusterRole')).toEqual([
      '/secrets:get', '/secrets:list', '/secrets:watch', '/services:list', '/services:watch',
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
