/**
 * Builds deploy/ kustomizations with the real `kubectl kustomize` and validates every object it
 * renders against the Kubernetes schemas (kubernetes-models) and the Prometheus operator's CRD
 * schemas (@kubernetes-models/prometheus-operator), as `kubectl apply` would check them.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as operator from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import * as models from 'kubernetes-models';
import { parseAllDocuments } from 'yaml';
import { systemBinary } from './system.js';

/** DEPLOY_DIR is the repository's deploy/ directory. */
export const DEPLOY_DIR = fileURLToPath(new URL('../../deploy/', import.meta.url));

/** K8sDoc is one rendered object. */
export type K8sDoc = Record<string, unknown> & { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> } };

/**
 * kustomize renders the kustomization directory `dir` (relative to deploy/) with `kubectl
 * kustomize`. A missing kubectl fails with a message saying what to install, not a skip.
 */
export function kustomize(dir: string): K8sDoc[] {
  let out: string;
  try {
    out = execFileSync(systemBinary('kubectl'), ['kustomize', join(DEPLOY_DIR, dir)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error('kubectl is not installed: the deploy/ tests build every kustomization with `kubectl kustomize` (kubectl 1.27 or newer)');
    throw new Error(`kubectl kustomize deploy/${dir} failed: ${e.stderr ?? e.message}`);
  }
  return parseAllDocuments(out).map((d) => d.toJS() as K8sDoc);
}

/**
 * kustomizeWith renders the base plus the given components (paths relative to deploy/) through a
 * throw-away overlay, as a user's own overlay would combine them.
 */
export function kustomizeWith(components: readonly string[]): K8sDoc[] {
  const dir = mkdtempSync(join(tmpdir(), 'flusso-kustomize-'));
  try {
    // kustomize resolves resources relative to the kustomization; an overlay outside deploy/ reaches it by a relative path.
    const rel = (p: string): string => relative(dir, join(DEPLOY_DIR, p));
    writeFileSync(
      join(dir, 'kustomization.yaml'),
      ['apiVersion: kustomize.config.k8s.io/v1beta1', 'kind: Kustomization', 'resources:', `  - ${rel('base')}`, 'components:', ...components.map((c) => `  - ${rel(c)}`), ''].join('\n'),
    );
    return kustomize(relative(DEPLOY_DIR, dir));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

type Model = new (data: unknown) => { validate(): void };

/**
 * modelFor finds the schema class of an apiVersion and kind: kubernetes-models camel-cases groups
 * (`rbac.authorization.k8s.io/v1` → models.rbacAuthorizationK8sIo.v1; the core group is `v1`);
 * monitoring.coreos.com/v1 comes from the Prometheus operator's models.
 */
export function modelFor(apiVersion: string, kind: string): Model | undefined {
  if (apiVersion === 'monitoring.coreos.com/v1') return (operator as unknown as Record<string, Model | undefined>)[kind];
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : [undefined, apiVersion];
  const groupKey = group?.replace(/\.([a-z])/g, (_, c: string) => c.toUpperCase());
  const all = models as unknown as Record<string, Record<string, unknown> | undefined>;
  const ns = (groupKey === undefined ? all[version as string] : all[groupKey]?.[version as string]) as Record<string, unknown> | undefined;
  return ns?.[kind] as Model | undefined;
}

/** schemaErrors returns why `doc` fails its schema (or that none is known), null when it validates. */
export function schemaErrors(doc: K8sDoc): string | null {
  const Model = modelFor(doc.apiVersion, doc.kind);
  if (Model === undefined) return `no schema for ${doc.apiVersion} ${doc.kind}`;
  try {
    new Model(doc).validate();
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

/** find returns the one object of `kind` (and `name`) in `docs`, or throws naming what is there. */
export function find(docs: readonly K8sDoc[], kind: string, name = 'flusso'): K8sDoc {
  const d = docs.filter((x) => x.kind === kind && x.metadata.name === name);
  if (d.length !== 1) throw new Error(`expected one ${kind} ${name}, found ${d.length} among ${docs.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`);
  return d[0] as K8sDoc;
}
