/**
 * The Ingress v1 conformance scenarios (kubernetes-sigs/ingress-controller-conformance, vendored
 * in test/fixtures/conformance/ingress-v1), run through the built CLI (2 workers) against the
 * conformance echo server, once with the file source and once with the kubernetes source against
 * the fake API server. Each upstream row is one test named after its upstream Scenario; see
 * SCENARIOS.md §2 for the row numbers. Through the kubernetes source, each feature first waits
 * for its Ingress' status as the harness does, and ingress_class row 1 (no status for an Ingress
 * of another class) runs too.
 *
 * Requests go out as the harness sends them: HTTPS with SNI and the certificate kept but not
 * chain-verified, and redirects followed by hand to the same address (so host_rules row 2 follows
 * Flusso's HTTP → HTTPS redirect for the TLS host). A local equivalent of ingress_class checks
 * that an Ingress of another class is not routed through the file source.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { createCertificate, generateKeyPair } from '../../src/primary/tls/x509.js';
import { tlsSecret } from '../helpers/certs.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEchoPods } from '../helpers/echo.js';
import { startFakeApiServer, type FakeApiServer } from '../helpers/fake-apiserver.js';
import { pollUntil, startFlusso, REPO_ROOT, type DiagnosticsBody, type FlussoProcess } from '../helpers/flusso.js';
import { GO_USER_AGENT, httpRequest, type HttpResponse } from '../helpers/http.js';
import {
  backendRefs,
  echoBackendObjects,
  ingress,
  ingressClass,
  loadConformanceIngress,
  manifestDir,
  type K8sObject,
} from '../helpers/manifests.js';

const FIXTURES = join(REPO_ROOT, 'test', 'fixtures', 'conformance', 'ingress-v1', 'manifests');

/** SourceKind is where the scenario objects come from. */
type SourceKind = 'file' | 'kubernetes';
const SOURCES: readonly { name: SourceKind }[] = [{ name: 'file' }, { name: 'kubernetes' }];
/** STATUS_ADDRESS is what the kubernetes runs publish in Ingress status. */
const STATUS_ADDRESS = '127.0.0.9';

/** Feature is one running scenario environment: its Flusso and its objects. */
interface Feature {
  readonly flusso: FlussoProcess;
  readonly namespace: string;
  /** The fake API server (kubernetes source only). */
  readonly api: FakeApiServer | undefined;
  /** apply adds or replaces objects (a new manifest file, or API writes). */
  apply(docs: readonly K8sObject[]): Promise<void>;
  stop(): Promise<void>;
}

/** statusOf is `status.loadBalancer.ingress` of an Ingress in the fake API server. */
function statusOf(api: FakeApiServer, namespace: string, name: string): unknown[] {
  const obj = api.get('Ingress', namespace, name) as { status?: { loadBalancer?: { ingress?: unknown[] } } } | undefined;
  return obj?.status?.loadBalancer?.ingress ?? [];
}

/**
 * startFeature does what the upstream harness does for one feature: fresh namespace, the
 * Ingress (class defaulted to `conformance`), one echo Service per backend, then serves it.
 * `addressesFor` gives the pod addresses of a backend (one pod by default).
 */
async function startFeature(
  source: SourceKind,
  file: string,
  namespace: string,
  opts: { addressesFor?: (service: string) => string[]; extra?: (ns: string) => Promise<K8sObject[]> } = {},
): Promise<Feature> {
  const ing = await loadConformanceIngress(join(FIXTURES, file), namespace);
  const ingName = (ing.metadata as { name: string }).name;
  const docs: K8sObject[] = [ingressClass('conformance'), ing];
  for (const ref of backendRefs(ing)) {
    const addresses = opts.addressesFor?.(ref.service) ?? ['127.0.0.1'];
    const pods = await startEchoPods(ref.service, addresses, 0, {
      namespace,
      ingress: ingName,
      podNames: addresses.map((_, i) => `${ingName}-${ref.service}-${i + 1}`),
    });
    docs.push(...echoBackendObjects(namespace, ref, pods));
  }
  docs.push(...((await opts.extra?.(namespace)) ?? []));
  if (source === 'file') {
    const dir = await manifestDir();
    await dir.write('conformance.yaml', docs);
    const flusso = await startFlusso({ manifestsDir: dir.dir, workers: 2 });
    // The file source's first snapshot is generation >= 1; wait until every worker serves it.
    await flusso.waitForGeneration(1);
    let n = 0;
    return { flusso, namespace, api: undefined, apply: (more) => dir.write(`more-${n++}.yaml`, more), stop: async () => void (await flusso.stop()) };
  }
  const api = await startFakeApiServer();
  for (const d of docs) api.apply(d);
  const flusso = await startFlusso({
    sourceArgs: ['--source', 'kubernetes', '--kubeconfig', await api.kubeconfigFile()],
    args: ['--publish-status-address', STATUS_ADDRESS, '--election-lease-duration', '3s', '--election-renew-deadline', '2s', '--election-retry-period', '250ms'],
    workers: 2,
  });
  await flusso.waitForGeneration(1);
  // The harness sends no request before the Ingress has an address in its status.
  if (!file.startsWith('ingress_class'))
    await pollUntil(`status of ${ingName}`, async () => (statusOf(api, namespace, ingName).length > 0 ? true : undefined));
  return {
    flusso,
    namespace,
    api,
    apply: async (more) => void more.forEach((d) => api.apply(d)),
    stop: async () => {
      await flusso.stop();
      await api.close();
    },
  };
}

function get(f: Feature, host: string, path: string): Promise<HttpResponse> {
  return harnessGet(f, 'http', host, path);
}

/**
 * harnessGet sends a GET as the harness does (SCENARIOS.md §1.5): to the status address (here,
 * Flusso's port for the scheme), Host and SNI = `host`; a 3xx is followed by hand with the same
 * method, using the Location's scheme, host and path (query dropped).
 */
async function harnessGet(f: Feature, scheme: 'http' | 'https', host: string, path: string): Promise<HttpResponse> {
  for (let hops = 0; ; hops++) {
    const res = await httpRequest({
      port: scheme === 'https' ? f.flusso.httpsPort : f.flusso.httpPort,
      host,
      path,
      headers: { 'User-Agent': GO_USER_AGENT },
      ...(scheme === 'https' ? { tls: { servername: host } } : {}),
    });
    const location = res.headers.location;
    if (![301, 302, 303, 307, 308].includes(res.status) || location === undefined || hops >= 10) return res;
    const next = new URL(location, `${scheme}://${host}`);
    scheme = next.protocol === 'https:' ? 'https' : 'http';
    host = next.hostname;
    path = next.pathname;
  }
}

/** conformanceTlsSecret is what the harness creates: a self-signed RSA-2048 certificate, CN `default`, SAN `foo.bar.com`. */
function conformanceTlsSecret(namespace: string): K8sObject {
  const key = generateKeyPair('rsa');
  const now = Date.now();
  const cert = createCertificate({ subjectKey: key.privateKey, issuer: 'self', commonName: 'default', dnsNames: ['foo.bar.com'], notBefore: new Date(now - 3_600_000), notAfter: new Date(now + 86_400_000) });
  return tlsSecret(namespace, 'conformance-tls', { certPem: cert.pem, keyPem: key.keyPem });
}

/** expectServedBy asserts a 200 from the echo backend of `service`, with a readable failure. */
function expectServedBy(res: HttpResponse, service: string): void {
  expect({ status: res.status, service: res.json?.service }, res.body).toEqual({ status: 200, service });
}

describe.each(SOURCES)('through the $name source', ({ name: source }) => {
  describe('default_backend.feature', () => {
    let f: Feature;
    beforeAll(async () => {
      f = await startFeature(source, 'default_backend.ingress.yaml', 'ingress-conformance-default-backend');
    });
    afterAll(async () => {
      await f?.stop();
    });

    // Host "" is the upstream "(none)": Go then sends the status address, here 127.0.0.1:<port>.
    it.each([
      { row: 1, method: 'GET', host: 'my-host', path: '' },
      { row: 2, method: 'GET', host: 'my-host', path: 'sub-path' },
      { row: 3, method: 'POST', host: 'some-host', path: '' },
      { row: 4, method: 'PUT', host: '', path: 'resource' },
      { row: 5, method: 'DELETE', host: 'some-host', path: 'resource' },
      { row: 6, method: 'PATCH', host: 'my-host', path: 'resource' },
    ])(
      'row $row: An Ingress with no rules should send all requests to the default backend ($method http://$host/$path)',
      async ({ method, host, path }) => {
        const res = await httpRequest({
          port: f.flusso.httpPort,
          host: host === '' ? `127.0.0.1:${f.flusso.httpPort}` : host,
          method,
          path: `/${path}`,
          headers: { 'User-Agent': GO_USER_AGENT },
        });
        expectServedBy(res, 'echo-service');
        expect(res.httpVersion).toBe('1.1');
        for (const h of ['content-length', 'content-type', 'date', 'server']) expect(res.headers, `response header ${h}`).toHaveProperty(h);
        expect(res.json).toMatchObject({ method, path: `/${path}`, proto: 'HTTP/1.1' });
        expect(res.json?.headers['User-Agent']?.join(',')).toContain(GO_USER_AGENT);
      },
    );
    // Local additions: what the proxy adds on the way and what it must carry unchanged.
    it('local: X-Forwarded-*, X-Real-IP and X-Request-ID are set and Host is forwarded unchanged', async () => {
      const res = await get(f, 'My-Host.example:8443', '/xff');
      expectServedBy(res, 'echo-service');
      expect(res.json?.host).toBe('My-Host.example:8443');
      const h = res.json?.headers ?? {};
      expect({
        xff: h['X-Forwarded-For']?.at(-1),
        xfh: h['X-Forwarded-Host'],
        xfport: h['X-Forwarded-Port'],
        xfproto: h['X-Forwarded-Proto'],
        realIp: h['X-Real-Ip'],
        requestIds: h['X-Request-Id']?.length,
      }).toEqual({
        xff: '127.0.0.1',
        xfh: ['My-Host.example:8443'],
        xfport: [String(f.flusso.httpPort)],
        xfproto: ['http'],
        realIp: ['127.0.0.1'],
        requestIds: 1,
      });
      expect(h['X-Request-Id']?.[0]).toMatch(/\S/);
    });

    it('local: a 256 KiB request body reaches the backend intact', async () => {
      const body = Buffer.alloc(256 * 1024, 'abcdefghijklmnopqrstuvwxyz');
      const res = await httpRequest({ port: f.flusso.httpPort, host: 'my-host', method: 'POST', path: '/upload', body });
      expectServedBy(res, 'echo-service');
      expect({ length: res.json?.bodyLength, sha256: res.json?.bodySha256 }).toEqual({
        length: body.length,
        sha256: createHash('sha256').update(body).digest('hex'),
      });
    });
  });

  describe('host_rules.feature', () => {
    let f: Feature;
    beforeAll(async () => {
      f = await startFeature(source, 'host_rules.ingress.yaml', 'ingress-conformance-host-rules', { extra: async (ns) => [conformanceTlsSecret(ns)] });
    });
    afterAll(async () => {
      await f?.stop();
    });

    it('row 1: An Ingress with a host rule should send TLS traffic to the matching backend service (GET https://foo.bar.com)', async () => {
      const res = await harnessGet(f, 'https', 'foo.bar.com', '/');
      // The secure connection must verify the "foo.bar.com" hostname: the served leaf's first DNS SAN.
      const leaf = new X509Certificate(res.peerCertificate?.raw as Buffer);
      expect(leaf.subjectAltName?.split(', ')[0]).toBe('DNS:foo.bar.com');
      expect(leaf.checkHost('foo.bar.com')).toBe('foo.bar.com');
      expectServedBy(res, 'foo-bar-com');
      expect(res.json?.host).toBe('foo.bar.com');
    });

    it.each([
      { row: 2, name: 'An Ingress with a host rule should send traffic to the matching backend service', host: 'foo.bar.com', want: 'foo-bar-com' },
      { row: 3, name: 'An Ingress with a host rule should not route traffic when hostname does not match', host: 'subdomain.bar.com', want: 404 },
      { row: 4, name: 'An Ingress with a wildcard host rule should send traffic to the matching backend service', host: 'bar.foo.com', want: 'wildcard-foo-com' },
      { row: 5, name: 'An Ingress with a wildcard host rule should not route traffic matching on more than a single dns label', host: 'baz.bar.foo.com', want: 404 },
      { row: 6, name: 'An Ingress with a wildcard host rule should not route traffic matching no dns label', host: 'foo.com', want: 404 },
    ])('row $row: $name (GET http://$host)', async ({ host, want }) => {
      const res = await get(f, host, '/');
      if (want === 404) {
        expect(res.status, res.body).toBe(404);
      } else {
        expectServedBy(res, want as string);
        expect(res.json?.host).toBe(host);
      }
    });
  });

  describe('path_rules.feature', () => {
    let f: Feature;
    beforeAll(async () => {
      f = await startFeature(source, 'path_rules.ingress.yaml', 'ingress-conformance-path-rules');
    });
    afterAll(async () => {
      await f?.stop();
    });

    it.each([
      { row: 1, name: 'An Ingress with exact path rules should send traffic to the matching backend service', host: 'exact-path-rules', path: '/foo', want: 'foo-exact' },
      { row: 2, name: 'An Ingress with exact path rules should not match requests with trailing slash', host: 'exact-path-rules', path: '/foo/', want: 404 },
      { row: 3, name: 'An Ingress with exact path rules should be case sensitive', host: 'exact-path-rules', path: '/FOO', want: 404 },
      { row: 4, name: 'An Ingress with exact path rules should not match any other label', host: 'exact-path-rules', path: '/bar', want: 404 },
      { row: 5, name: 'An Ingress with prefix path rules should send traffic to the matching backend service', host: 'prefix-path-rules', path: '/foo', want: 'foo-prefix' },
      { row: 6, name: 'An Ingress with prefix path rules should ignore the request trailing slash and send traffic to the matching backend service', host: 'prefix-path-rules', path: '/foo/', want: 'foo-prefix' },
      { row: 7, name: 'An Ingress with prefix path rules should be case sensitive', host: 'prefix-path-rules', path: '/FOO', want: 404 },
      { row: 8, name: 'An Ingress with prefix path rules should match multiple labels, match the longest path, and send traffic to the matching backend service', host: 'prefix-path-rules', path: '/aaa/bbb', want: 'aaa-slash-bbb-prefix' },
      { row: 9, name: 'An Ingress with prefix path rules should match multiple labels, match the longest path, and subpaths and send traffic to the matching backend service', host: 'prefix-path-rules', path: '/aaa/bbb/ccc', want: 'aaa-slash-bbb-prefix' },
      { row: 10, name: 'An Ingress with prefix path rules should and send traffic to the matching backend service', host: 'prefix-path-rules', path: '/aaa/ccc', want: 'aaa-prefix' },
      { row: 11, name: 'An Ingress with prefix path rules should match each labels string prefix', host: 'prefix-path-rules', path: '/aaaccc', want: 404 },
      { row: 12, name: 'An Ingress with mixed path rules should send traffic to the matching backend service where Exact is preferred', host: 'mixed-path-rules', path: '/foo', want: 'foo-exact' },
      { row: 13, name: 'An Ingress with a trailing slashes in a prefix path rule should ignore the trailing slash and send traffic to the matching backend service', host: 'trailing-slash-path-rules', path: '/aaa/bbb', want: 'aaa-slash-bbb-slash-prefix' },
      { row: 14, name: 'An Ingress with a trailing slashes in a prefix path rule should ignore the trailing slash and send traffic to the matching backend service', host: 'trailing-slash-path-rules', path: '/aaa/bbb/', want: 'aaa-slash-bbb-slash-prefix' },
      { row: 15, name: 'An Ingress with a trailing slashes in an exact path rule should not match requests without a trailing slash', host: 'trailing-slash-path-rules', path: '/foo', want: 404 },
    ])('row $row: $name (GET http://$host$path)', async ({ host, path, want }) => {
      const res = await get(f, host, path);
      if (want === 404) {
        expect(res.status, res.body).toBe(404);
      } else {
        expectServedBy(res, want as string);
        expect(res.json?.path).toBe(path);
      }
    });

    // Local additions suggested by SCENARIOS.md §2.5 ("not tested upstream").
    it('local: an Exact path with a trailing slash matches the same path with the slash', async () => {
      expectServedBy(await get(f, 'trailing-slash-path-rules', '/foo/'), 'foo-slash-exact');
    });

    it('local: the query string is not part of the match and is forwarded unchanged', async () => {
      const res = await get(f, 'exact-path-rules', '/foo?a=1&b=%2F');
      expectServedBy(res, 'foo-exact');
      expect(res.json?.path).toBe('/foo?a=1&b=%2F');
    });
  });

  describe('load_balancing.feature', () => {
    const addresses = Array.from({ length: 10 }, (_, i) => `127.0.0.${i + 1}`);
    let f: Feature;
    beforeAll(async () => {
      f = await startFeature(source, 'load_balancing.ingress.yaml', 'ingress-conformance-load-balancing', { addressesFor: () => addresses });
    });
    afterAll(async () => {
      await f?.stop();
    });

    it('row 1: An Ingress with no rules should send all requests to the default backend and (100 requests to http://load-balancing reach 10 pods)', async () => {
      const statuses: number[] = [];
      const pods = new Set<string>();
      for (let i = 0; i < 100; i++) {
        const res = await get(f, 'load-balancing', '/');
        statuses.push(res.status);
        if (res.status === 200 && res.json) pods.add(res.json.pod);
      }
      expect(statuses.filter((s) => s !== 200)).toEqual([]);
      expect([...pods].sort()).toEqual(addresses.map((_, i) => `load-balancing-echo-service-${i + 1}`).sort());
    });
  });

  describe('ingress_class.feature (local equivalent)', () => {
    let f: Feature;
    beforeAll(async () => {
      // A control Ingress of our class on another host proves the process routes at all, so the
      // 404 below is about the class and not an empty table.
      f = await startFeature(source, 'ingress_class.ingress.yaml', 'ingress-conformance-ingress-class', {
        extra: async (ns) => {
          const pods = await startEchoPods('control', ['127.0.0.1'], 0, { namespace: ns, ingress: 'control' });
          return [
            ingress(ns, 'control', { host: 'ingress-class-control', paths: [{ path: '/', service: 'control', port: 8080 }] }, 'conformance'),
            ...echoBackendObjects(ns, { service: 'control', portNumber: 8080 }, pods),
          ];
        },
      });
    });
    afterAll(async () => {
      await f?.stop();
    });

    it('control: an Ingress of our class is routed', async () => {
      expectServedBy(await get(f, 'ingress-class-control', '/'), 'control');
    });

    // Only the kubernetes source writes status; defined for it alone, so no run is skipped.
    if (source === 'kubernetes') it('row 1: An Ingress with an invalid ingress class should not send traffic to the matching backend service (The Ingress status should not contain the IP address or FQDN)', async () => {
      const api = f.api as FakeApiServer;
      // Once the control Ingress has its address, the sync that would have written ours is done.
      await pollUntil('status of the control Ingress', async () => (statusOf(api, f.namespace, 'control').length > 0 ? true : undefined));
      expect(statusOf(api, f.namespace, 'control')).toEqual([{ ip: STATUS_ADDRESS }]);
      expect(statusOf(api, f.namespace, 'test-ingress-class')).toEqual([]);
      expect(api.requests().filter((r) => r.path.endsWith('/ingresses/test-ingress-class/status'))).toEqual([]);
    });

    const classNotFound = (d: DiagnosticsBody): boolean =>
      d.diagnostics.some((x) => x.code === 'ING_ERR_CLASS_NOT_FOUND' && x.object.includes('test-ingress-class'));

    it('An Ingress with an invalid ingress class should not send traffic to the matching backend service (class does not exist: Host ingress-class -> 404)', async () => {
      const res = await get(f, 'ingress-class', '/');
      expect(res.status, res.body).toBe(404);
      // docs/errors.md: naming a missing IngressClass is reported (as a warning).
      expect(classNotFound(await f.flusso.diagnostics())).toBe(true);
    });

    it('An Ingress with an invalid ingress class should not send traffic to the matching backend service (class of another controller: Host ingress-class -> 404)', async () => {
      await f.apply([ingressClass('some-invalid-class-name', 'example.com/another-controller')]);
      // The class now exists, so the "not found" warning goes away once the change is applied.
      const diag = await pollUntil('the IngressClass to be loaded', async () => {
        const d = await f.flusso.diagnostics();
        return classNotFound(d) ? undefined : d;
      });
      await f.flusso.waitForGeneration(diag.generation);
      const res = await get(f, 'ingress-class', '/');
      expect(res.status, res.body).toBe(404);
      expectServedBy(await get(f, 'ingress-class-control', '/'), 'control');
    });
  });
});
