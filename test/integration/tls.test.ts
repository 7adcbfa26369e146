/**
 * TLS termination through the built CLI (issue #11), once with the file source and once with
 * the kubernetes source against the fake API server: certificates by SNI (exact and wildcard),
 * the default certificate, bad Secrets that never take a worker down and never take a good
 * certificate away, rotation for new connections while open ones go on, the HTTP → HTTPS
 * redirect and its annotations, HSTS, X-Forwarded-*, private key files, and the diagnostics.
 */
import { X509Certificate } from 'node:crypto';
import { statSync } from 'node:fs';
import { mkdtemp, readdir } from 'node:fs/promises';
import { Agent, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type PeerCertificate } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testPki, tlsSecret, type TlsPair } from '../helpers/certs.js';
import { startEchoPods, type EchoPods } from '../helpers/echo.js';
import { startFakeApiServer, type FakeApiServer } from '../helpers/fake-apiserver.js';
import { pollUntil, startFlusso, type FlussoProcess } from '../helpers/flusso.js';
import { httpRequest } from '../helpers/http.js';
import { endpointSlice, ingressClass, manifestDir, service, type K8sObject } from '../helpers/manifests.js';

const NS = 'tls';
const pki = testPki();

/** tlsIngress is an Ingress of class flusso with one rule per host to `web` and the given spec.tls and annotations. */
function tlsIngress(name: string, hosts: readonly string[], tls: readonly { hosts: string[]; secretName?: string }[], annotations: Record<string, string> = {}): K8sObject {
  const backend = { service: { name: 'web', port: { number: 80 } } };
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, namespace: NS, annotations },
    spec: { ingressClassName: 'flusso', tls, rules: hosts.map((host) => ({ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend }] } })) },
  };
}

/** peer connects to the HTTPS port (with SNI `servername` when given) and returns the certificate it gets. */
function peer(port: number, servername?: string): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...(servername === undefined ? {} : { servername }) }, () => {
      const cert = socket.getPeerCertificate();
      socket.end();
      resolve(cert);
    });
    socket.on('error', reject);
  });
}

const fingerprint = (pair: TlsPair): string => new X509Certificate(pair.certPem).fingerprint256;

interface Setup {
  readonly flusso: FlussoProcess;
  readonly tlsDir: string;
  /** put creates or replaces an object. */
  put(name: string, obj: K8sObject): Promise<void>;
  /** drop deletes an object `put` created. */
  drop(name: string, kind: string): Promise<void>;
  stop(): Promise<void>;
}

const pairs = {
  a: pki.valid(['a.tls.test']),
  b: pki.valid(['b.tls.test']),
  wild: pki.wildcard('wild.tls.test'),
  bad: pki.valid(['bad.tls.test']),
  nr: pki.valid(['nr.tls.test']),
};

async function start(source: 'file' | 'kubernetes', echo: EchoPods): Promise<Setup> {
  const tlsDir = join(await mkdtemp(join(tmpdir(), 'flusso-tls-it-')), 'tls');
  const objects: [string, K8sObject][] = [
    ['class', ingressClass('flusso')],
    ['svc', service(NS, 'web', [{ name: 'http', port: 80, targetPort: echo.port }])],
    ['slice', endpointSlice(NS, 'web', echo.addresses, echo.port, { portName: 'http' })],
    ['a-cert', tlsSecret(NS, 'a-cert', pairs.a)],
    ['b-cert', tlsSecret(NS, 'b-cert', pairs.b)],
    ['wild-cert', tlsSecret(NS, 'wild-cert', pairs.wild)],
    ['bad-cert', tlsSecret(NS, 'bad-cert', pairs.bad)],
    ['nr-cert', tlsSecret(NS, 'nr-cert', pairs.nr)],
    ['fresh-cert', tlsSecret(NS, 'fresh-cert', pki.garbage())],
    ['main', tlsIngress('main', ['a.tls.test', 'b.tls.test', '*.wild.tls.test', 'bad.tls.test', 'fresh.tls.test'], [
      { hosts: ['a.tls.test'], secretName: 'a-cert' },
      { hosts: ['b.tls.test'], secretName: 'b-cert' },
      { hosts: ['*.wild.tls.test'], secretName: 'wild-cert' },
      { hosts: ['bad.tls.test'], secretName: 'bad-cert' },
      { hosts: ['fresh.tls.test'], secretName: 'fresh-cert' },
    ])],
    ['noredirect', tlsIngress('noredirect', ['nr.tls.test'], [{ hosts: ['nr.tls.test'], secretName: 'nr-cert' }], { 'nginx.ingress.kubernetes.io/ssl-redirect': 'false' })],
    ['forced', tlsIngress('forced', ['forced.tls.test'], [], { 'nginx.ingress.kubernetes.io/force-ssl-redirect': 'true' })],
    ['weird', tlsIngress('weird', ['weird.tls.test'], [], { 'nginx.ingress.kubernetes.io/ssl-redirect': 'maybe' })],
    ['unsupported', tlsIngress('unsupported', ['unsupported.tls.test'], [], { 'nginx.ingress.kubernetes.io/proxy-buffer-size': '8k', 'nginx.ingress.kubernetes.io/configuration-snippet': 'more_set_headers "X: y";' })],
  ];
  const args = ['--tls-dir', tlsDir];
  if (source === 'file') {
    const dir = await manifestDir();
    for (const [name, obj] of objects) await dir.write(`${name}.yaml`, [obj]);
    const flusso = await startFlusso({ manifestsDir: dir.dir, workers: 2, args });
    await flusso.waitForGeneration(1);
    return { flusso, tlsDir, put: (name, obj) => dir.write(`${name}.yaml`, [obj]), drop: (name) => dir.remove(`${name}.yaml`), stop: async () => void (await flusso.stop()) };
  }
  const api: FakeApiServer = await startFakeApiServer();
  for (const [, obj] of objects) api.apply(obj);
  const flusso = await startFlusso({ sourceArgs: ['--source', 'kubernetes', '--kubeconfig', await api.kubeconfigFile()], workers: 2, args });
  await flusso.waitForGeneration(1);
  return {
    flusso,
    tlsDir,
    put: async (_name, obj) => void api.apply(obj),
    drop: async (name, kind) => void api.remove(kind, NS, name),
    stop: async () => {
      await flusso.stop();
      await api.close();
    },
  };
}

describe.each(['file', 'kubernetes'] as const)('TLS through the %s source', (source) => {
  let echo: EchoPods;
  let s: Setup;
  const https = (host: string, path = '/', servername: string | undefined = host) =>
    httpRequest({ port: s.flusso.httpsPort, host, path, tls: { ca: pki.caPem, ...(servername === undefined ? {} : { servername }) } });
  const http = (host: string, path = '/') => httpRequest({ port: s.flusso.httpPort, host, path });
  const diagnostics = async () => (await s.flusso.diagnostics()).diagnostics;
  const waitForDiagnostic = (code: string, object: string) =>
    pollUntil(`${code} on ${object}`, async () => ((await diagnostics()).some((d) => d.code === code && d.object === object) ? true : undefined));

  beforeAll(async () => {
    echo = await startEchoPods('web', ['127.0.0.1'], 0, { namespace: NS, ingress: 'main' });
    s = await start(source, echo);
  });
  afterAll(async () => {
    await s?.stop();
    await echo?.close();
  });

  it('serves each host its own certificate, verified by the CA, and routes it', async () => {
    for (const host of ['a.tls.test', 'b.tls.test']) {
      const res = await https(host);
      expect({ status: res.status, authorized: res.authorized, cn: res.peerCertificate?.subject?.CN, host: res.json?.host }).toEqual({ status: 200, authorized: true, cn: host, host });
    }
  });

  it('gives the default certificate to a name no Ingress claims and to a client without SNI, and still routes by Host', async () => {
    expect((await peer(s.flusso.httpsPort, 'unknown.tls.test')).subject.CN).toBe('Flusso Default Certificate');
    expect((await peer(s.flusso.httpsPort)).subject.CN).toBe('Flusso Default Certificate');
    expect((await https('a.tls.test', '/', undefined)).status).toBe(200);
    expect((await https('unknown.tls.test')).status).toBe(404);
  });

  it('matches a wildcard certificate on exactly one label', async () => {
    const one = await https('x.wild.tls.test');
    expect([one.status, one.authorized, one.peerCertificate?.subject?.CN]).toEqual([200, true, '*.wild.tls.test']);
    expect((await peer(s.flusso.httpsPort, 'x.y.wild.tls.test')).subject.CN).toBe('Flusso Default Certificate');
  });

  it('gives a host whose Secret was never good the default certificate, and says why', async () => {
    await waitForDiagnostic('ING_ERR_TLS_CERT_INVALID', 'Ingress tls/main');
    expect((await peer(s.flusso.httpsPort, 'fresh.tls.test')).subject.CN).toBe('Flusso Default Certificate');
  });

  it('keeps serving the last good certificate through every kind of bad Secret, with no worker lost', async () => {
    const before = (await s.flusso.readyz()).body.workers.map((w) => w.pid).sort();
    const good = fingerprint(pairs.bad);
    const cases: [string, K8sObject | null, string][] = [
      ['garbage', tlsSecret(NS, 'bad-cert', pki.garbage()), 'ING_ERR_TLS_CERT_INVALID'],
      ['truncated', tlsSecret(NS, 'bad-cert', pki.truncated(['bad.tls.test'])), 'ING_ERR_TLS_CERT_INVALID'],
      ['mismatched', tlsSecret(NS, 'bad-cert', pki.mismatched(['bad.tls.test'])), 'ING_ERR_TLS_KEY_MISMATCH'],
      ['expired', tlsSecret(NS, 'bad-cert', pki.expired(['bad.tls.test'])), 'ING_ERR_TLS_CERT_EXPIRED'],
      ['not yet valid', tlsSecret(NS, 'bad-cert', pki.notYetValid(['bad.tls.test'])), 'ING_ERR_TLS_CERT_EXPIRED'],
      ['another host', tlsSecret(NS, 'bad-cert', pki.valid(['elsewhere.test'])), 'ING_ERR_TLS_CERT_HOST_MISMATCH'],
      ['encrypted key', tlsSecret(NS, 'bad-cert', pki.encryptedKey(['bad.tls.test'])), 'ING_ERR_TLS_KEY_INVALID'],
      // The kubernetes source watches kubernetes.io/tls Secrets only: an Opaque one is not found there.
      ['Opaque', { ...tlsSecret(NS, 'bad-cert', pairs.bad), type: 'Opaque' }, source === 'file' ? 'ING_ERR_TLS_SECRET_INVALID' : 'ING_ERR_TLS_SECRET_NOT_FOUND'],
      ['deleted', null, 'ING_ERR_TLS_SECRET_NOT_FOUND'],
    ];
    for (const [name, obj, code] of cases) {
      if (obj === null) await s.drop('bad-cert', 'Secret');
      else await s.put('bad-cert', obj);
      await waitForDiagnostic(code, 'Ingress tls/main').catch((err: unknown) => {
        throw new Error(`${name}: ${String(err)}`);
      });
      expect((await peer(s.flusso.httpsPort, 'bad.tls.test')).fingerprint256, name).toBe(good);
    }
    const after = (await s.flusso.readyz()).body;
    expect(after.workers.map((w) => w.pid).sort()).toEqual(before);
    expect(after.workers.every((w) => w.restarts === 0)).toBe(true);
    expect(s.flusso.logs().filter((l) => (l.level as number) >= 60 || l.code === 'ING_ERR_WORKER_UNCAUGHT')).toEqual([]);
  });

  it('rotates a certificate for new connections while a connection opened before goes on', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const viaAgent = (): Promise<number> =>
      new Promise((resolve, reject) => {
        const req = httpsRequest({ host: '127.0.0.1', port: s.flusso.httpsPort, servername: 'b.tls.test', headers: { host: 'b.tls.test' }, agent, rejectUnauthorized: false }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end();
      });
    expect(await viaAgent()).toBe(200);
    const next = pki.valid(['b.tls.test']);
    await s.put('b-cert', tlsSecret(NS, 'b-cert', next));
    await pollUntil('new connections to get the new certificate', async () => ((await peer(s.flusso.httpsPort, 'b.tls.test')).fingerprint256 === fingerprint(next) ? true : undefined));
    expect(await viaAgent()).toBe(200); // the same kept-alive connection, on the old certificate
    agent.destroy();
  });

  // Both workers listen on the port (SO_REUSEPORT), and the kernel picks one per connection by
  // its source port: of 16 resumptions, some land on the worker that did not issue the ticket.
  // The primary gives every worker the same ticket keys, so each one resumes, and the keys stay
  // when the certificates change (each change used to draw new ones).
  it.each(['TLSv1.2', 'TLSv1.3'] as const)('resumes a %s session by ticket on whichever worker the connection lands', async (version) => {
    const options = { host: '127.0.0.1', port: s.flusso.httpsPort, servername: 'a.tls.test', ca: pki.caPem, minVersion: version, maxVersion: version };
    // The first connection's ticket: TLS 1.2 sends it within the handshake, TLS 1.3 after it.
    const ticket = await new Promise<Buffer>((resolve, reject) => {
      const socket = connect(options);
      socket.once('session', (session: Buffer) => {
        resolve(session);
        socket.end();
      });
      socket.on('error', reject);
    });
    /** resumed connects with the ticket and says whether the server resumed the session. */
    const resumed = (): Promise<boolean> =>
      new Promise((resolve, reject) => {
        const socket = connect({ ...options, session: ticket }, () => {
          resolve(socket.isSessionReused());
          socket.end();
        });
        socket.on('error', reject);
      });
    const results: boolean[] = [];
    for (let i = 0; i < 16; i++) results.push(await resumed());
    // A certificate change gives the port new TLS contexts: the tickets issued before still resume.
    const next = pki.valid(['b.tls.test']);
    await s.put('b-cert', tlsSecret(NS, 'b-cert', next));
    await pollUntil('new connections to get the new certificate', async () => ((await peer(s.flusso.httpsPort, 'b.tls.test')).fingerprint256 === fingerprint(next) ? true : undefined));
    for (let i = 0; i < 4; i++) results.push(await resumed());
    expect(results).toEqual(Array.from({ length: 20 }, () => true));
  });

  // The acceptor hands each accepted socket to the SSLApp of the current certificates; with a
  // plain acceptor uWS adopted it as a plain socket and the worker died (SIGSEGV) under load.
  it('serves many concurrent HTTPS connections, kept alive and new, through a rotation, with no worker lost', async () => {
    const before = (await s.flusso.readyz()).body.workers.map((w) => `${w.pid}:${w.restarts}`).sort();
    const agent = new Agent({ keepAlive: true, maxSockets: 40 });
    const get = (keepAlive: boolean): Promise<number> =>
      new Promise((resolve) => {
        const req = httpsRequest(
          { host: '127.0.0.1', port: s.flusso.httpsPort, servername: 'a.tls.test', headers: { host: 'a.tls.test', ...(keepAlive ? {} : { connection: 'close' }) }, agent: keepAlive ? agent : false, ca: pki.caPem },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
            res.on('error', () => resolve(-1));
          },
        );
        req.on('error', () => resolve(-1));
        req.end();
      });
    const statuses: number[] = [];
    const run = async (keepAlive: boolean, n: number): Promise<void> => {
      for (let i = 0; i < n; i++) statuses.push(await get(keepAlive));
    };
    const load = Promise.all([...Array.from({ length: 40 }, () => run(true, 25)), ...Array.from({ length: 10 }, () => run(false, 20))]);
    await s.put('a-cert', tlsSecret(NS, 'a-cert', pki.valid(['a.tls.test'])));
    await load;
    agent.destroy();
    expect(statuses.length).toBe(1200);
    expect(statuses.filter((x) => x !== 200)).toEqual([]);
    const after = (await s.flusso.readyz()).body.workers.map((w) => `${w.pid}:${w.restarts}`).sort();
    expect(after).toEqual(before);
  });

  it('redirects plain HTTP for TLS hosts with 308, except ACME challenges and where an annotation says otherwise', async () => {
    const r = await http('a.tls.test', '/p?q=1');
    expect([r.status, r.headers.location]).toEqual([308, 'https://a.tls.test/p?q=1']);
    expect((await http('a.tls.test', '/.well-known/acme-challenge/token')).status).toBe(200);
    expect((await http('nr.tls.test')).status).toBe(200);
    expect([(await http('forced.tls.test', '/x')).status, (await http('forced.tls.test', '/x')).headers.location]).toEqual([308, 'https://forced.tls.test/x']);
    expect((await http('weird.tls.test')).status).toBe(200);
    await waitForDiagnostic('ING_ERR_INGRESS_INVALID_ANNOTATION', 'Ingress tls/weird');
  });

  it('sends HSTS on HTTPS only, and X-Forwarded-Proto/Port of the HTTPS listener upstream', async () => {
    const secure = await https('a.tls.test');
    expect(secure.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    expect(secure.json?.headers['X-Forwarded-Proto']).toEqual(['https']);
    expect(secure.json?.headers['X-Forwarded-Port']).toEqual([String(s.flusso.httpsPort)]);
    expect((await http('nr.tls.test')).headers['strict-transport-security']).toBeUndefined();
  });

  it('lists the annotations it does not act on, and refuses snippets on purpose', async () => {
    const ours = (await diagnostics()).filter((d) => d.code === 'ING_ERR_INGRESS_UNSUPPORTED' && d.object === 'Ingress tls/unsupported');
    expect(ours.map((d) => d.message)).toEqual([
      expect.stringContaining('configuration-snippet" injects raw nginx configuration, which Flusso refuses on purpose'),
      expect.stringContaining('proxy-buffer-size" is not supported by Flusso'),
    ]);
  });

  it('keeps key material private: 0700 directory, 0600 files, never in logs, the admin API or metrics', async () => {
    expect(statSync(s.tlsDir).mode & 0o777).toBe(0o700);
    const files = await readdir(s.tlsDir);
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(statSync(join(s.tlsDir, f)).mode & 0o777).toBe(0o600);
    const keyBody = pairs.a.keyPem.split('\n').slice(1, -2).join('');
    const needles = [keyBody.slice(0, 40), Buffer.from(pairs.a.keyPem).toString('base64').slice(20, 60)];
    const token = (s.flusso.logs().find((l) => l.msg === 'admin token')?.adminToken as string | undefined) ?? '';
    const admin = async (p: string): Promise<string> => (await fetch(`http://127.0.0.1:${s.flusso.adminPort}${p}`, { headers: { authorization: `Bearer ${token}` } })).text();
    const seen = [s.flusso.rawLogs().join('\n'), s.flusso.stderr(), ...(await Promise.all(['/api/v1/routes', '/api/v1/diagnostics', '/api/v1/workers', '/api/v1/backends', '/metrics'].map(admin)))].join('\n');
    for (const n of needles) expect(seen).not.toContain(n);
  });
});

describe('the TLS directory at exit, and the redirect port', () => {
  it('removes every key file when Flusso stops, and writes --https-redirect-port into Location', async () => {
    const echo = await startEchoPods('web', ['127.0.0.1'], 0, { namespace: NS, ingress: 'main' });
    const dir = await manifestDir();
    const tlsDir = join(await mkdtemp(join(tmpdir(), 'flusso-tls-exit-')), 'tls');
    await dir.write('all.yaml', [
      ingressClass('flusso'),
      service(NS, 'web', [{ name: 'http', port: 80, targetPort: echo.port }]),
      endpointSlice(NS, 'web', echo.addresses, echo.port, { portName: 'http' }),
      tlsSecret(NS, 'a-cert', pairs.a),
      tlsIngress('main', ['a.tls.test'], [{ hosts: ['a.tls.test'], secretName: 'a-cert' }]),
    ]);
    const flusso = await startFlusso({ manifestsDir: dir.dir, workers: 1, args: ['--tls-dir', tlsDir, '--https-redirect-port', '8443'] });
    await flusso.waitForGeneration(1);
    const r = await httpRequest({ port: flusso.httpPort, host: 'a.tls.test', path: '/x' });
    expect(r.headers.location).toBe('https://a.tls.test:8443/x');
    expect((await readdir(tlsDir)).length).toBeGreaterThan(0);
    expect(await flusso.stop()).toEqual({ code: 0, signal: null });
    // A directory given with --tls-dir stays (it may be a mount); the files Flusso wrote go.
    expect(await readdir(tlsDir)).toEqual([]);
    await echo.close();
  });
});
