/**
 * Reads the demo manifests and lists the "pods" the demo must start: one echo server for every
 * endpoint address and port of every EndpointSlice, named after the endpoint's targetRef.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { EchoIdentity } from './echo-server.js';

/** DemoPod is one echo server the demo starts. */
export interface DemoPod {
  readonly address: string;
  readonly port: number;
  readonly identity: EchoIdentity;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** readManifestObjects parses every `*.yaml`/`*.yml` file of `dir` (multi-document) into objects. */
export async function readManifestObjects(dir: string): Promise<{ files: string[]; objects: Obj[] }> {
  const files = (await readdir(dir)).filter((f) => /\.ya?ml$/.test(f)).sort();
  const objects: Obj[] = [];
  for (const file of files) {
    for (const doc of parseAllDocuments(await readFile(join(dir, file), 'utf8'))) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]?.message ?? 'invalid YAML'}`);
      const value: unknown = doc.toJS();
      if (isObj(value)) objects.push(value);
    }
  }
  return { files, objects };
}

/** ingressesByService maps `namespace/service` to the name of the first Ingress that routes to it. */
function ingressesByService(objects: readonly Obj[]): Map<string, string> {
  const owners = new Map<string, string>();
  for (const obj of objects) {
    if (obj.kind !== 'Ingress' || !isObj(obj.metadata) || !isObj(obj.spec)) continue;
    const ns = str(obj.metadata.namespace) ?? 'default';
    const name = str(obj.metadata.name) ?? '';
    const backends: unknown[] = [obj.spec.defaultBackend];
    for (const rule of list(obj.spec.rules))
      if (isObj(rule) && isObj(rule.http)) for (const p of list(rule.http.paths)) if (isObj(p)) backends.push(p.backend);
    for (const b of backends) {
      const svc = isObj(b) && isObj(b.service) ? str(b.service.name) : undefined;
      if (svc !== undefined && !owners.has(`${ns}/${svc}`)) owners.set(`${ns}/${svc}`, name);
    }
  }
  return owners;
}

/** listDemoPods returns one DemoPod per EndpointSlice endpoint address and port. */
export function listDemoPods(objects: readonly Obj[]): DemoPod[] {
  const owners = ingressesByService(objects);
  const pods: DemoPod[] = [];
  for (const obj of objects) {
    if (obj.kind !== 'EndpointSlice' || !isObj(obj.metadata)) continue;
    const ns = str(obj.metadata.namespace) ?? 'default';
    const labels = isObj(obj.metadata.labels) ? obj.metadata.labels : {};
    const service = str(labels['kubernetes.io/service-name']) ?? str(obj.metadata.name) ?? '';
    const ports = list(obj.ports).flatMap((p) => (isObj(p) && typeof p.port === 'number' ? [p.port] : []));
    let n = 0;
    for (const ep of list(obj.endpoints)) {
      if (!isObj(ep)) continue;
      for (const address of list(ep.addresses)) {
        if (typeof address !== 'string') continue;
        n++;
        const pod = (isObj(ep.targetRef) ? str(ep.targetRef.name) : undefined) ?? `${service}-${n}`;
        for (const port of ports)
          pods.push({ address, port, identity: { namespace: ns, ingress: owners.get(`${ns}/${service}`) ?? '', service, pod } });
      }
    }
  }
  return pods;
}
