/**
 * TLS termination through the built CLI (issue #11), once with the file source and once with the
 * kubernetes source against the fake API server: a certificate per host chosen by SNI (exact and
 * one-label wildcard), the default certificate for unclaimed names and clients without SNI,
 * rotation for new connections while open ones go on, the HTTP → HTTPS redirect and its
 * annotations, HSTS, X-Forwarded-Proto/Port, the TLS directory at exit, and the annotations
 * Flusso lists as unsupported. Bad Secrets and key privacy are in tls-secrets.test.ts.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readdir, stat } from 'node:fs/promises';
import { Agent, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkServerIdentity, connect, type PeerCertificate, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CERT_COMMON_NAME } from '../../src/primary/tls/x509.js';
import { testPki, tlsSecret, type TlsPair } from '../helpers/certs.js';
import { startEchoPods, type EchoPods } from '../helpers/echo.js';
import { startFakeApiServer } from '../helpers/fake-apiserver.js';
import { pollUntil, startFlusso, type FlussoProcess } from '../helpers/flusso.js';
import { httpRequest, type HttpResponse } from '../helpers/http.js';
import { echoBackendObjects, ingressClass, manifestDir, type K8sObject } from '../helpers/manifests.js';
import { freePort } from '../helpers/ports.js';

const NS = 'tls';
const HSTS = 'max-age=31536000; includeSubDomains';
const SSL_REDIRECT = 'nginx.ingress.kubernetes.io/ssl-redirect';
const FORCE_SSL_REDIRECT = 'nginx.ingress.kubernetes.io/force-ssl-redirect';
const pki = testPki();
const SERVICES = ['alpha', 'beta', 'wild', 'rot', 'plain'] as const;
type Service = (typeof SERVICES)[number];

/** Cluster is a running Flusso and the objects it reads, changed through its source. */
interface Cluster {
  readonly flusso: FlussoProcess;
  put(obj: K8sObject): Promise<void>;
  stop(): Promise<void>;
}

/** startCluster serves `objects` through `source` with 2 workers and waits for the first generation. */
async function startCluster(source: 'file' | 'kubernetes', objects: readonly K8sObject[], opts: { args?: string[]; httpsPort?: number } = {}): Promise<Cluster> {
  const common = { workers: 2, args: opts.args ?? [], ...(opts.httpsPort === undefined ? {} : { httpsPort: opts.httpsPort }) };
  const fileOf = (o: K8sObject): string => `${String(o.kind)}-${(o.metadata as { name: string }).name}.yaml`.toLowerCase();
  if (source === 'file') {
    const dir = await manifestDir();
    for (const o of objects) await dir.write(fileOf(o), [o]);
    const flusso = await startFlusso({ manifestsDir: dir.dir, ...common });
    await flusso.waitForGeneration(1);
    return { flusso, put: (o) => dir.write(fileOf(o), [o]), stop: async () => void (await flusso.stop()) };
  }
  const api = await startFakeApiServer();
  for (const o of objects) api.apply(o);
  const flusso = await startFlusso({ sourceArgs: ['--source', 'kubernetes', '--kubeconfig', await api.kubeconfigFile()], ...common });
  await flusso.waitForGeneration(1);
  return {
    flusso,
    put: async (o) => void api.apply(o),
    stop: async () => {
      await flusso.stop();
      await api.close();
    },
  };
}

/** site is an Ingress routing `host` to `service`, served with Secret `<name>-cert` unless `tls` is false. */
function site(name: string, host: string, service: Service, opts: { tls?: boolean; annotations?: Record<string, string> } = {}): K8sObject {
  const backend = { service: { name: service, port: { number: 80 } } };
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, namespace: NS, annotations: opts.annotations ?? {} },
    spec: {
      ingressClassName: 'flusso',
      ...(opts.tls === false ? {} : { tls: [{ hosts: [host], secretName: `${name}-cert` }] }),
      rules: [{ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend }] } }],
    },
  };
}

/** peerOf opens a new TLS connection (SNI `servername`) and returns the certificate it is given. */
function peerOf(port: number, servername: string): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate());
      socket.end();
    });
    socket.on('error', reject);
  });
}

const fingerprintOf = (pair: TlsPair): string => new X509Certificate(pair.certPem).fingerprint256;
/** summary is what a test compares of a response, so a failure shows all of it at once. */
const summary = (r: HttpResponse) => ({ status: r.status, service: r.json?.service, location: r.headers.location, hsts: r.headers['strict-transport-security'] });

const pairs = {
  alpha: pki.valid(['alpha.test']),
  beta: pki.valid(['beta.test']),
  wild: pki.wildcard('example.test'),
  rot: pki.valid(['rot.test']),
  nr: pki.valid(['nr.test']),
  maybe: pki.valid(['maybe.test']),
};

describe.each(['file', 'kubernetes'] as const)('TLS termination through the %s source', (source) => {
  const echoes = new Map<Service, EchoPods>();
  let c: Cluster;
  /** https sends SNI `servername` (the Host by default; null: none, which Node spells '') with the Host `host`. */
  const https = (host: string | undefined, path = '/', servername: string | null = host ?? null): Promise<HttpResponse> =>
    httpRequest({ port: c.flusso.httpsPort, path, tls: { ca: pki.caPem, servername: servername ?? '' }, ...(host === undefined ? {} : { host }) });
  const http = (host: string, path = '/'): Promise<HttpResponse> => httpRequest({ port: c.flusso.httpPort, host, path });

  beforeAll(async () => {
    const backends: K8sObject[] = [];
    for (const name of SERVICES) {
      const echo = await startEchoPods(name, ['127.0.0.1'], 0, { namespace: NS });
      echoes.set(name, echo);
      backends.push(...echoBackendObjects(NS, { service: name, portNumber: 80 }, echo));
    }
    c = await startCluster(source, [
      ingressClass('flusso'),
      ...backends,
      ...Object.entries(pairs).map(([name, pair]) => tlsSecret(NS, `${name}-cert`, pair)),
      site('alpha', 'alpha.test', 'alpha'),
      site('beta', 'beta.test', 'beta'),
      site('wild', '*.example.test', 'wild'),
      site('rot', 'rot.test', 'rot'),
      site('nr', 'nr.test', 'plain', { annotations: { [SSL_REDIRECT]: 'false' } }),
      site('maybe', 'maybe.test', 'plain', { annotations: { [SSL_REDIRECT]: 'maybe' } }),
      site('forced', 'forced.test', 'plain', { tls: false, annotations: { [FORCE_SSL_REDIRECT]: 'true' } }),
      site('unsupported', 'unsupported.test', 'plain', { tls: false, annotations: { 'nginx.ingress.kubernetes.io/proxy-buffer-size': '8k', 'nginx.ingress.kubernetes.io/configuration-snippet': 'more_set_headers "X-A: b";' } }),
    ]);
  });
  afterAll(async () => {
    await c?.stop();
    await Promise.all([...echoes.values()].map((e) => e.close()));
  });

  // issue #11: SNI picks the host's own certificate, which verifies against the CA and names the
  // host. SNI names compare without case (RFC 6066 §3 names a DNS hostname; RFC 4343), as nginx does.
  it.each([
    { servername: 'alpha.test', host: 'alpha.test', service: 'alpha', cn: 'alpha.test' },
    { servername: 'beta.test', host: 'beta.test', service: 'beta', cn: 'beta.test' },
    { servername: 'a.example.test', host: 'a.example.test', service: 'wild', cn: '*.example.test' },
    { servername: 'ALPHA.Test', host: 'alpha.test', service: 'alpha', cn: 'alpha.test' },
  ])('serves SNI $servername the certificate $cn and routes it to $service', async ({ servername, host, service, cn }) => {
    const r = await https(host, '/', servername);
    const peer = r.peerCertificate;
    expect({ ...summary(r), authorized: r.authorized, cn: peer?.subject.CN, san: peer?.subjectaltname, identity: peer && checkServerIdentity(host, peer)?.message, echoedHost: r.json?.host }).toEqual({
      ...summary(r), status: 200, service, authorized: true, cn, san: `DNS:${cn}`, identity: undefined, echoedHost: host,
    });
  });

  // issue #11: no SNI, or a name no certificate covers (a wildcard covers one label only, RFC
  // 6125 §6.4.3), gets the default certificate; the request is still routed by its Host.
  it.each([
    { name: 'a name no Ingress claims', servername: 'nobody.test', host: 'nobody.test', status: 404, service: undefined },
    { name: 'two labels under a wildcard', servername: 'a.b.example.test', host: 'a.b.example.test', status: 404, service: undefined },
    { name: 'the wildcard\'s bare domain', servername: 'example.test', host: 'example.test', status: 404, service: undefined },
    { name: 'no SNI, Host of a TLS host', servername: null, host: 'alpha.test', status: 200, service: 'alpha' },
    { name: 'no SNI, no Host name', servername: null, host: undefined, status: 404, service: undefined },
  ])('gives the default certificate to $name, and routes by Host', async ({ servername, host, status, service }) => {
    const r = await https(host, '/', servername);
    expect({ status: r.status, service: r.json?.service, cn: r.peerCertificate?.subject.CN, authorized: r.authorized }).toEqual({ status, service, cn: DEFAULT_CERT_COMMON_NAME, authorized: false });
  });

  // issue #11: a new certificate reaches new connections; a connection opened before goes on.
  it('rotates a certificate for new connections while a kept-alive connection goes on', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const viaAgent = (): Promise<{ status: number; service: string | undefined; reused: boolean; fingerprint: string; localPort: number | undefined }> =>
      new Promise((resolve, reject) => {
        const req = httpsRequest({ host: '127.0.0.1', port: c.flusso.httpsPort, servername: 'rot.test', headers: { host: 'rot.test' }, agent, ca: pki.caPem }, (res) => {
          const socket = res.socket as TLSSocket;
          const chunks: Buffer[] = [];
          res.on('data', (b: Buffer) => chunks.push(b));
          res.on('end', () => {
            const body = JSON.parse(Buffer.concat(chunks).toString()) as { service?: string };
            resolve({ status: res.statusCode ?? 0, service: body.service, reused: req.reusedSocket, fingerprint: socket.getPeerCertificate().fingerprint256, localPort: socket.localPort });
          });
        });
        req.on('error', reject);
        req.end();
      });
    try {
      const before = await viaAgent();
      expect(before).toEqual({ status: 200, service: 'rot', reused: false, fingerprint: fingerprintOf(pairs.rot), localPort: before.localPort });
      const generation = (await c.flusso.readyz()).body.generation;
      const next = pki.valid(['rot.test']);
      await c.put(tlsSecret(NS, 'rot-cert', next));
      await c.flusso.waitForGeneration(generation + 1);
      await pollUntil('a new connection to get the new certificate', async () => ((await peerOf(c.flusso.httpsPort, 'rot.test')).fingerprint256 === fingerprintOf(next) ? true : undefined));
      // Both workers have it: several new connections, whichever worker takes them.
      for (let i = 0; i < 6; i++) expect((await peerOf(c.flusso.httpsPort, 'rot.test')).fingerprint256).toBe(fingerprintOf(next));
      expect(await viaAgent()).toEqual({ ...before, reused: true });
    } finally {
      agent.destroy();
    }
  });

  // issue #11: plain HTTP to a TLS host gets 308 to https (port 443 implied), except ACME
  // challenges and where an annotation says otherwise; plain HTTP never carries HSTS.
  it.each([
    { name: 'a TLS host', host: 'alpha.test', path: '/p/q?x=1&y=2', status: 308, location: 'https://alpha.test/p/q?x=1&y=2', service: undefined },
    { name: 'a wildcard TLS host', host: 'a.example.test', path: '/w', status: 308, location: 'https://a.example.test/w', service: undefined },
    { name: 'an ACME HTTP-01 challenge', host: 'alpha.test', path: '/.well-known/acme-challenge/x', status: 200, location: undefined, service: 'alpha' },
    { name: 'ssl-redirect "false"', host: 'nr.test', path: '/', status: 200, location: undefined, service: 'plain' },
    { name: 'force-ssl-redirect "true" without TLS', host: 'forced.test', path: '/f?z=1', status: 308, location: 'https://forced.test/f?z=1', service: undefined },
    { name: 'ssl-redirect "maybe" (ignored: the default applies)', host: 'maybe.test', path: '/', status: 308, location: 'https://maybe.test/', service: undefined },
    { name: 'a host without TLS', host: 'unsupported.test', path: '/', status: 200, location: undefined, service: 'plain' },
  ])('redirects plain HTTP for $name: $status', async ({ host, path, status, location, service }) => {
    expect(summary(await http(host, path))).toEqual({ status, location, service, hsts: undefined });
  });

  it('reports an ssl-redirect value that is not a boolean', async () => {
    const diagnostics = (await c.flusso.diagnostics()).diagnostics.filter((d) => d.object === `Ingress ${NS}/maybe`);
    expect(diagnostics.map((d) => d.code)).toEqual(['ING_ERR_INGRESS_INVALID_ANNOTATION']);
    expect(diagnostics[0]?.message).toContain(SSL_REDIRECT);
  });

  // issue #11: HSTS on every HTTPS response (Flusso's own too); the upstream learns the scheme and port.
  it('sends HSTS over HTTPS and X-Forwarded-Proto/Port of the listener upstream', async () => {
    const secure = await https('alpha.test');
    expect({ ...summary(secure), proto: secure.json?.headers['X-Forwarded-Proto'], port: secure.json?.headers['X-Forwarded-Port'] }).toEqual({
      status: 200, service: 'alpha', location: undefined, hsts: HSTS, proto: ['https'], port: [String(c.flusso.httpsPort)],
    });
    expect(summary(await https('nobody.test'))).toEqual({ status: 404, service: undefined, location: undefined, hsts: HSTS });
    const plain = await http('nr.test');
    expect({ ...summary(plain), proto: plain.json?.headers['X-Forwarded-Proto'], port: plain.json?.headers['X-Forwarded-Port'] }).toEqual({
      status: 200, service: 'plain', location: undefined, hsts: undefined, proto: ['http'], port: [String(c.flusso.httpPort)],
    });
    expect(summary(await http('nobody.test')).hsts).toBeUndefined();
  });

  it('lists unsupported annotations, and refuses the snippet on purpose', async () => {
    const diagnostics = (await c.flusso.diagnostics()).diagnostics.filter((d) => d.object === `Ingress ${NS}/unsupported`);
    expect(diagnostics.map((d) => [d.code, d.severity])).toEqual([['ING_ERR_INGRESS_UNSUPPORTED', 'warning'], ['ING_ERR_INGRESS_UNSUPPORTED', 'warning']]);
    expect(diagnostics.map((d) => d.message)).toEqual([
      expect.stringMatching(/configuration-snippet.*refuses on purpose/),
      expect.stringMatching(/proxy-buffer-size.*not supported/),
    ]);
  });

  // issue #11: --https-redirect-port goes into Location, --hsts false drops the header, and the
  // key files (0600 in a 0700 directory) are gone once Flusso has exited on SIGTERM.
  it('writes --https-redirect-port into Location, honours --hsts false, and removes its key files at exit', async () => {
    const tlsDir = join(await mkdtemp(join(tmpdir(), 'flusso-tls-exit-')), 'tls');
    const httpsPort = await freePort();
    const own = await startCluster(source, [ingressClass('flusso'), ...echoBackendObjects(NS, { service: 'alpha', portNumber: 80 }, echoes.get('alpha') as EchoPods), tlsSecret(NS, 'alpha-cert', pairs.alpha), site('alpha', 'alpha.test', 'alpha')], {
      httpsPort,
      args: ['--tls-dir', tlsDir, '--https-redirect-port', String(httpsPort), '--hsts', 'false'],
    });
    try {
      expect(summary(await httpRequest({ port: own.flusso.httpPort, host: 'alpha.test', path: '/x?y=1' }))).toEqual({ status: 308, service: undefined, location: `https://alpha.test:${httpsPort}/x?y=1`, hsts: undefined });
      const secure = await httpRequest({ port: httpsPort, host: `alpha.test:${httpsPort}`, path: '/x?y=1', tls: { servername: 'alpha.test', ca: pki.caPem } });
      expect({ ...summary(secure), authorized: secure.authorized }).toEqual({ status: 200, service: 'alpha', location: undefined, hsts: undefined, authorized: true });
      expect((await stat(tlsDir)).mode & 0o777).toBe(0o700);
      const files = await readdir(tlsDir);
      expect(files.filter((f) => f.endsWith('.key'))).toHaveLength(2); // the default's and alpha.test's
      for (const f of files) expect({ f, mode: ((await stat(join(tlsDir, f))).mode & 0o777).toString(8) }).toEqual({ f, mode: '600' });
    } finally {
      await own.flusso.stop('SIGTERM').then((exit) => expect(exit).toEqual({ code: 0, signal: null }));
      await own.stop();
    }
    // A directory given with --tls-dir may be a mount: it may stay, but nothing Flusso wrote does.
    expect(await readdir(tlsDir).catch(() => [])).toEqual([]);
  });
});
