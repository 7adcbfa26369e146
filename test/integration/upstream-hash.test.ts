/**
 * upstream-hash-by through the built CLI (issue 15 group 5, docs/annotations.md "Upstream
 * hashing"): three echo pods behind one Service, two workers. Every request with the same key
 * reaches the same pod, whichever worker takes its connection and after a restart of Flusso; the
 * keys spread over the pods; when a pod leaves the EndpointSlice only its keys move. A route
 * without the annotation keeps rotating; a bad value is one diagnostic and has no effect.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEchoPods, type EchoPods } from '../helpers/echo.js';
import { startFlusso, type FlussoProcess } from '../helpers/flusso.js';
import { httpRequest } from '../helpers/http.js';
import { endpointSlice, ingress, ingressClass, manifestDir, service, type K8sObject, type ManifestDir } from '../helpers/manifests.js';

const NS = 'hash';
const N = 'nginx.ingress.kubernetes.io/';
const USERS = Array.from({ length: 24 }, (_, i) => `user-${i}`);

function hashed(name: string, annotations: Record<string, string>): K8sObject {
  const ing = ingress(NS, name, { host: `${name}.test`, paths: [{ path: '/', service: 'web', port: 'http' }] });
  return { ...ing, metadata: { ...(ing.metadata as object), annotations } };
}

let flusso: FlussoProcess;
let web: EchoPods;
let dir: ManifestDir;

const manifests = (addresses: readonly string[]): K8sObject[] => [
  ingressClass('flusso'),
  service(NS, 'web', [{ name: 'http', port: 80, targetPort: web.port }]),
  endpointSlice(NS, 'web', addresses, web.port, { portName: 'http' }),
  hashed('user', { [`${N}upstream-hash-by`]: '$http_x_user' }),
  hashed('uri', { [`${N}upstream-hash-by`]: '$request_uri' }),
  hashed('plain', {}),
  hashed('bad', { [`${N}upstream-hash-by`]: '$upstream_addr', [`${N}upstream-vhost`]: 'in.bad' }),
];

/** podOf sends one request on a new connection and returns the pod that answered it. */
async function podOf(host: string, path = '/', headers: Record<string, string> = {}): Promise<string> {
  const r = await httpRequest({ port: flusso.httpPort, host, path, headers });
  expect(r.status, r.body).toBe(200);
  return String(r.json?.pod);
}

/** owners maps every user to the pod that serves it, checking that three requests agree. */
async function owners(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const user of USERS) {
    const pods = new Set<string>();
    for (let i = 0; i < 3; i++) pods.add(await podOf('user.test', `/r${i}`, { 'X-User': user }));
    expect([...pods], user).toHaveLength(1);
    out.set(user, [...pods][0]!);
  }
  return out;
}

let first: Map<string, string>;

beforeAll(async () => {
  web = await startEchoPods('web', ['127.0.0.1', '127.0.0.2', '127.0.0.3'], 0, { namespace: NS, ingress: 'user' });
  dir = await manifestDir();
  await dir.write('00.yaml', manifests(web.addresses));
  flusso = await startFlusso({ manifestsDir: dir.dir, workers: 2 });
  await flusso.waitForGeneration(1);
});

afterAll(async () => {
  await flusso?.stop();
  await web?.close();
});

describe('upstream-hash-by through the CLI', () => {
  it('the same key reaches the same pod on every connection (both workers); the keys spread over all three pods', async () => {
    first = await owners();
    expect(new Set(first.values())).toEqual(new Set(['web-1', 'web-2', 'web-3']));
  });

  it('$request_uri: the same URI, the same pod; the route without the annotation rotates', async () => {
    for (const path of ['/a', '/b?x=1', '/c/d']) {
      const pods = new Set<string>();
      for (let i = 0; i < 4; i++) pods.add(await podOf('uri.test', path));
      expect([...pods], path).toHaveLength(1);
    }
    const rotated = new Set<string>();
    for (let i = 0; i < 6; i++) rotated.add(await podOf('plain.test', '/same'));
    expect(rotated.size).toBeGreaterThan(1);
  });

  it('a bad value is one diagnostic and has no effect (round-robin); the rest of the Ingress applies', async () => {
    const d = (await flusso.diagnostics()).diagnostics.filter((x) => x.object === `Ingress ${NS}/bad`);
    expect(d).toEqual([expect.objectContaining({ code: 'ING_ERR_INGRESS_INVALID_ANNOTATION' })]);
    expect(d[0]!.message).toContain(`annotation ${N}upstream-hash-by is "$upstream_addr", expected nginx variables`);
    const r = await httpRequest({ port: flusso.httpPort, host: 'bad.test', path: '/' });
    expect(r.json?.host).toBe('in.bad');
    const rotated = new Set<string>();
    for (let i = 0; i < 6; i++) rotated.add(await podOf('bad.test', '/same', { 'X-User': 'user-1' }));
    expect(rotated.size).toBeGreaterThan(1);
  });

  it('after a restart of Flusso every key reaches the pod it reached before', async () => {
    await flusso.stop();
    flusso = await startFlusso({ manifestsDir: dir.dir, workers: 2 });
    await flusso.waitForGeneration(1);
    expect(await owners()).toEqual(first);
  });

  it('when a pod leaves the EndpointSlice only its keys move', async () => {
    const generation = (await flusso.readyz()).body.generation;
    await dir.write('00.yaml', manifests(['127.0.0.1', '127.0.0.2']));
    await flusso.waitForGeneration(generation + 1);
    const after = await owners();
    for (const user of USERS) {
      if (first.get(user) === 'web-3') expect(['web-1', 'web-2'], user).toContain(after.get(user));
      else expect(after.get(user), user).toBe(first.get(user));
    }
  });
});
