/**
 * The install kit's components and overlays (issue 16 item 2): each component alone on the base,
 * and each overlay, renders with `kubectl kustomize` and validates against the Kubernetes and
 * Prometheus operator schemas; and each component agrees with the base it patches: selectors
 * select Flusso's pods, named ports exist, the ServiceMonitor reads the Secret the pods read, the
 * PrometheusRule is the plain rules file, and the patched args still parse.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseCommandLine } from '../../../src/primary/config.js';
import { DEPLOY_DIR, find, kustomize, kustomizeWith, schemaErrors, type K8sDoc } from '../../helpers/kustomize.js';

const COMPONENTS = readdirSync(join(DEPLOY_DIR, 'components')).sort();
const OVERLAYS = readdirSync(join(DEPLOY_DIR, 'overlays')).sort();

interface PodSpec {
  readonly containers: { args: string[]; ports: { name: string; containerPort: number }[]; env: { name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[] }[];
  readonly topologySpreadConstraints?: { topologyKey: string; maxSkew: number; whenUnsatisfiable: string; labelSelector: { matchLabels: Record<string, string> }; matchLabelKeys?: string[] }[];
  readonly affinity?: { podAntiAffinity?: { preferredDuringSchedulingIgnoredDuringExecution?: { podAffinityTerm: { topologyKey: string; labelSelector: { matchLabels: Record<string, string> } } }[] } };
}
interface Deployment {
  readonly spec: { replicas?: number; selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> }; spec: PodSpec } };
}

const deploymentOf = (docs: readonly K8sDoc[]): Deployment => find(docs, 'Deployment') as unknown as Deployment;
const podLabels = (docs: readonly K8sDoc[]): Record<string, string> => deploymentOf(docs).spec.template.metadata.labels;
const container = (docs: readonly K8sDoc[]) => deploymentOf(docs).spec.template.spec.containers[0] as PodSpec['containers'][number];
/** selects says whether matchLabels select a pod with `labels`. */
const selects = (matchLabels: Record<string, string>, labels: Record<string, string>): boolean =>
  Object.keys(matchLabels).length > 0 && Object.entries(matchLabels).every(([k, v]) => labels[k] === v);
const runConfig = (args: readonly string[]) => {
  const req = parseCommandLine(args, { env: { POD_NAMESPACE: 'flusso', KUBERNETES_SERVICE_HOST: '10.0.0.1' }, demoManifests: '/demo', cpus: 2 });
  if (req.kind !== 'run') throw new Error(`the Deployment's args do not run Flusso: ${JSON.stringify(req)}`);
  return req.config;
};

describe('deploy/ components and overlays', () => {
  it('has the components the issue asks for, and overlays', () => {
    expect(COMPONENTS).toEqual(['default-certificate', 'hpa', 'metrics-service', 'network-policy', 'pdb', 'prometheus-rule', 'service-monitor', 'spread']);
    expect(OVERLAYS).toEqual(['ha', 'ha-prometheus-operator']);
  });

  const builds = [
    ...COMPONENTS.map((c) => ({ name: `base + components/${c}`, docs: () => kustomizeWith([`components/${c}`]) })),
    ...OVERLAYS.map((o) => ({ name: `overlays/${o}`, docs: () => kustomize(`overlays/${o}`) })),
  ];
  it.each(builds)('$name renders, every object validates, and the args still run Flusso', ({ docs }) => {
    const all = docs();
    expect(all.map((d) => ({ object: `${d.kind}/${d.metadata.name}`, error: schemaErrors(d) })).filter((x) => x.error !== null)).toEqual([]);
    // Every namespaced object lands in Flusso's namespace.
    expect(all.filter((d) => !['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'IngressClass'].includes(d.kind) && d.metadata.namespace !== 'flusso').map((d) => d.kind)).toEqual([]);
    expect(runConfig(container(all).args).source).toBe('kubernetes');
  });

  it('overlays/ha-prometheus-operator is overlays/ha plus the ServiceMonitor and the PrometheusRule', () => {
    const kinds = (docs: readonly K8sDoc[]) => docs.map((d) => `${d.kind}/${d.metadata.name}`).sort();
    expect(kinds(kustomize('overlays/ha-prometheus-operator'))).toEqual([...kinds(kustomize('overlays/ha')), 'PrometheusRule/flusso', 'ServiceMonitor/flusso'].sort());
    expect(kinds(kustomize('overlays/ha'))).toEqual(
      [...kinds(kustomize('base')), 'HorizontalPodAutoscaler/flusso', 'NetworkPolicy/flusso', 'PodDisruptionBudget/flusso', 'Service/flusso-metrics'].sort(),
    );
  });

  it('pdb: selects Flusso\'s pods and lets one go at a time, an unready one always', () => {
    const docs = kustomizeWith(['components/pdb']);
    const pdb = find(docs, 'PodDisruptionBudget') as unknown as { spec: { maxUnavailable: number; minAvailable?: unknown; unhealthyPodEvictionPolicy: string; selector: { matchLabels: Record<string, string> } } };
    expect(selects(pdb.spec.selector.matchLabels, podLabels(docs))).toBe(true);
    expect([pdb.spec.maxUnavailable, pdb.spec.minAvailable, pdb.spec.unhealthyPodEvictionPolicy]).toEqual([1, undefined, 'AlwaysAllow']);
  });

  it('spread: an even spread over nodes required (maxSkew 1), over zones preferred, counted per ReplicaSet; anti-affinity for older schedulers', () => {
    const docs = kustomizeWith(['components/spread']);
    const pod = deploymentOf(docs).spec.template.spec;
    const labels = podLabels(docs);
    expect(pod.topologySpreadConstraints?.map((t) => [t.topologyKey, t.maxSkew, t.whenUnsatisfiable, selects(t.labelSelector.matchLabels, labels), t.matchLabelKeys])).toEqual([
      ['kubernetes.io/hostname', 1, 'DoNotSchedule', true, ['pod-template-hash']],
      ['topology.kubernetes.io/zone', 1, 'ScheduleAnyway', true, ['pod-template-hash']],
    ]);
    const anti = pod.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution?.[0]?.podAffinityTerm;
    expect([anti?.topologyKey, anti === undefined ? false : selects(anti.labelSelector.matchLabels, labels)]).toEqual(['kubernetes.io/hostname', true]);
    // The patch adds to the pod; it replaces nothing of the base.
    expect(container(docs)).toEqual(container(kustomize('base')));
  });

  it('hpa: scales the Deployment on CPU from 2 replicas, and the Deployment leaves the count to it', () => {
    const docs = kustomizeWith(['components/hpa']);
    const hpa = find(docs, 'HorizontalPodAutoscaler') as unknown as { spec: { scaleTargetRef: { apiVersion: string; kind: string; name: string }; minReplicas: number; maxReplicas: number; metrics: { resource: { name: string } }[] } };
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'flusso' });
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2); // the PodDisruptionBudget lets one go: never fewer than two
    expect(hpa.spec.maxReplicas).toBeGreaterThan(hpa.spec.minReplicas);
    expect(hpa.spec.metrics.map((m) => m.resource.name)).toEqual(['cpu']);
    expect(deploymentOf(docs).spec.replicas).toBeUndefined();
    expect(deploymentOf(kustomize('base')).spec.replicas).toBe(2);
  });

  it('network-policy: the proxy ports are open, the admin port only to the monitoring namespace; the named ports exist', () => {
    const docs = kustomizeWith(['components/network-policy']);
    const np = find(docs, 'NetworkPolicy') as unknown as { spec: { podSelector: { matchLabels: Record<string, string> }; policyTypes: string[]; ingress: { from?: unknown[]; ports: { port: string }[] }[] } };
    expect(selects(np.spec.podSelector.matchLabels, podLabels(docs))).toBe(true);
    expect(np.spec.policyTypes).toEqual(['Ingress']);
    const named = new Set(container(docs).ports.map((p) => p.name));
    for (const rule of np.spec.ingress) for (const p of rule.ports) expect(named.has(p.port), `container port ${p.port}`).toBe(true);
    const open = np.spec.ingress.filter((r) => r.from === undefined).flatMap((r) => r.ports.map((p) => p.port));
    const restricted = np.spec.ingress.filter((r) => r.from !== undefined);
    expect(open.sort()).toEqual(['http', 'https']);
    expect(restricted.map((r) => [r.from, r.ports.map((p) => p.port)])).toEqual([[[{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }], ['admin']]]);
  });

  it('metrics-service: a ClusterIP Service on the admin port of Flusso\'s pods', () => {
    const docs = kustomizeWith(['components/metrics-service']);
    const svc = find(docs, 'Service', 'flusso-metrics') as unknown as { spec: { type: string; selector: Record<string, string>; ports: { name: string; targetPort: string }[] } };
    expect(svc.spec.type).toBe('ClusterIP');
    expect(selects(svc.spec.selector, podLabels(docs))).toBe(true);
    expect(svc.spec.ports.map((p) => [p.name, p.targetPort])).toEqual([['metrics', 'admin']]);
    expect(container(docs).ports.find((p) => p.name === 'admin')?.containerPort).toBe(runConfig(container(docs).args).adminPort);
  });

  it('service-monitor: selects the metrics Service only, on its port, with the Secret every pod reads its token from', () => {
    const docs = kustomize('overlays/ha-prometheus-operator');
    const sm = find(docs, 'ServiceMonitor') as unknown as { spec: { selector: { matchLabels: Record<string, string> }; endpoints: { port: string; path: string; honorLabels: boolean; authorization: { type: string; credentials: { name: string; key: string } } }[] } };
    const services = docs.filter((d) => d.kind === 'Service');
    expect(services.filter((s) => selects(sm.spec.selector.matchLabels, s.metadata.labels ?? {})).map((s) => s.metadata.name)).toEqual(['flusso-metrics']);
    const metricsPorts = (find(docs, 'Service', 'flusso-metrics') as unknown as { spec: { ports: { name: string }[] } }).spec.ports.map((p) => p.name);
    const [ep] = sm.spec.endpoints;
    expect(metricsPorts).toContain(ep?.port);
    expect(ep?.path).toBe('/metrics');
    // The rules group by Flusso's own namespace label, which the target's would otherwise rename.
    expect(ep?.honorLabels).toBe(true);
    const secretRef = container(docs).env.find((e) => e.name === 'FLUSSO_ADMIN_TOKEN')?.valueFrom?.secretKeyRef;
    expect(ep?.authorization).toEqual({ type: 'Bearer', credentials: secretRef });
  });

  it('prometheus-rule: spec.groups is deploy/prometheus/flusso-alerts.yml, word for word', () => {
    const rule = find(kustomizeWith(['components/prometheus-rule']), 'PrometheusRule') as unknown as { spec: { groups: unknown } };
    const plain = parse(readFileSync(join(DEPLOY_DIR, 'prometheus/flusso-alerts.yml'), 'utf8')) as { groups: unknown };
    expect(rule.spec.groups).toEqual(plain.groups);
  });

  it('default-certificate: the args name the default certificate\'s Secret, and keep everything else', () => {
    const args = container(kustomizeWith(['components/default-certificate'])).args;
    const base = container(kustomize('base')).args;
    expect(args.slice(0, base.length)).toEqual(base);
    expect(runConfig(args).defaultSslCertificate).toBe('flusso/flusso-default-tls');
    expect(runConfig(base).defaultSslCertificate).toBeUndefined();
  });
});
