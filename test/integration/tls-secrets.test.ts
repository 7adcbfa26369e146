/**
 * Bad TLS Secrets through the built CLI (issue #11), once with the file source and once with the
 * kubernetes source against the fake API server. A host keeps its last good certificate through
 * every kind of bad Secret, a host that never had a good one gets the default certificate, every
 * refusal is a diagnostic, no worker ever crashes, and no key material leaks out of the TLS
 * directory (logs, admin API, metrics).
 */
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtemp, readdir, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type PeerCertificate } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificate, DEFAULT_CERT_COMMON_NAME } from '../../src/primary/tls/x509.js';
import { testPki, tlsSecret, type TlsPair } from '../helpers/certs.js';
import { startEchoPods, type EchoPods } from '../helpers/echo.js';
import { startFakeApiServer } from '../helpers/fake-apiserver.js';
import { pollUntil, startFlusso, type FlussoProcess } from '../helpers/flusso.js';
import { echoBackendObjects, ingressClass, manifestDir, type K8sObject } from '../helpers/manifests.js';

const NS = 'tls-secrets';
const TOKEN = 'tls-secrets-test-admin-token';
const pki = testPki();

/** Cluster is a running Flusso and the objects it reads, changed through its source. */
interface Cluster {
  readonly flusso: FlussoProcess;
  readonly tlsDir: string;
  put(obj: K8sObject): Promise<void>;
  remove(kind: string, name: string): Promise<void>;
  stop(): Promise<void>;
}

/** startCluster serves `objects` through `source` with 2 workers, a fresh --tls-dir and a known admin token. */
async function startCluster(source: 'file' | 'kubernetes', objects: readonly K8sObject[]): Promise<Cluster> {
  const tlsDir = join(await mkdtemp(join(tmpdir(), 'flusso-tls-secrets-')), 'tls');
  const args = ['--tls-dir', tlsDir, '--admin-token', TOKEN];
  const fileOf = (kind: string, name: string): string => `${kind}-${name}.yaml`.toLowerCase();
  const nameOf = (o: K8sObject): string => (o.metadata as { name: string }).name;
  if (source === 'file') {
    const dir = await manifestDir();
    for (const o of objects) await dir.write(fileOf(o.kind as string, nameOf(o)), [o]);
    const flusso = await startFlusso({ manifestsDir: dir.dir, workers: 2, args });
    await flusso.waitForGeneration(1);
    return { flusso, tlsDir, put: (o) => dir.write(fileOf(o.kind as string, nameOf(o)), [o]), remove: (kind, name) => dir.remove(fileOf(kind, name)), stop: async () => void (await flusso.stop()) };
  }
  const api = await startFakeApiServer();
  for (const o of objects) api.apply(o);
  const flusso = await startFlusso({ sourceArgs: ['--source', 'kubernetes', '--kubeconfig', await api.kubeconfigFile()], workers: 2, args });
  await flusso.waitForGeneration(1);
  return {
    flusso,
    tlsDir,
    put: async (o) => void api.apply(o),
    remove: async (kind, name) => void api.remove(kind, NS, name),
    stop: async () => {
      await flusso.stop();
      await api.close();
    },
  };
}

/** tlsIngress routes `host` to the Service `web` and serves it with the Secret `secret`. */
function tlsIngress(name: string, host: string, secret: string): K8sObject {
  const backend = { service: { name: 'web', port: { number: 80 } } };
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, namespace: NS },
    spec: { ingressClassName: 'flusso', tls: [{ hosts: [host], secretName: secret }], rules: [{ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend }] } }] },
  };
}

/** peerOf opens a new TLS connection with SNI `servername` and returns the certificate it is given. */
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

/**
 * secp256k1Pair is a sound self-signed pair on the EC curve secp256k1: node:crypto (OpenSSL)
 * accepts it, but the TLS library of uWebSockets.js (BoringSSL) has no such curve.
 */
function secp256k1Pair(host: string): TlsPair {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
  const now = Date.now();
  const certPem = createCertificate({ subjectKey: privateKey, issuer: 'self', commonName: host, dnsNames: [host], notBefore: new Date(now - 86_400_000), notAfter: new Date(now + 30 * 86_400_000) }).pem;
  return { certPem, keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/** keyWindows are every 40-character run of a key's PEM body and of the base64 of its PEM (as a Secret carries it). */
function keyWindows(keyPem: string): string[] {
  const body = keyPem.split('\n').filter((l) => l !== '' && !l.startsWith('-----') && !l.includes(':')).join('');
  const out: string[] = [];
  for (const text of [body, Buffer.from(keyPem).toString('base64')]) for (let i = 0; i + 40 <= text.length; i++) out.push(text.slice(i, i + 40));
  return out;
}

// Every pair a Secret carries in this file; the first-time-bad hosts' pairs are listed with them.
const good = pki.valid(['bad.test']);
const rotated = pki.valid(['bad.test']);
const curveGood = pki.valid(['curve.test']);
const firstTimeBad = [
  { host: 'garbage.test', pair: pki.garbage(), code: 'ING_ERR_TLS_CERT_INVALID' },
  { host: 'expired.test', pair: pki.expired(['expired.test']), code: 'ING_ERR_TLS_CERT_EXPIRED' },
  { host: 'mismatched.test', pair: pki.mismatched(['mismatched.test']), code: 'ING_ERR_TLS_KEY_MISMATCH' },
  { host: 'missing.test', pair: null, code: 'ING_ERR_TLS_SECRET_NOT_FOUND' },
];
const sent: TlsPair[] = [good, rotated, curveGood, ...firstTimeBad.flatMap((c) => (c.pair === null ? [] : [c.pair]))];
const secretFor = (pair: TlsPair): K8sObject => {
  sent.push(pair);
  return tlsSecret(NS, 'bad-cert', pair);
};

describe.each(['file', 'kubernetes'] as const)('bad TLS Secrets through the %s source', (source) => {
  let echo: EchoPods;
  let c: Cluster;
  let workersBefore: string;
  /** tlsCodes are the TLS diagnostics of one Ingress, sorted. */
  const tlsCodes = async (ingress: string): Promise<string[]> =>
    (await c.flusso.diagnostics()).diagnostics.filter((d) => d.object === `Ingress ${NS}/${ingress}` && d.code.startsWith('ING_ERR_TLS_')).map((d) => d.code).sort();
  const waitForCodes = (ingress: string, want: readonly string[]): Promise<true> =>
    pollUntil(`TLS diagnostics ${JSON.stringify(want)} on ${ingress}`, async () => (JSON.stringify(await tlsCodes(ingress)) === JSON.stringify(want) ? true : undefined));
  /** expectWorkersUnharmed: the same worker pids, no restart, no fatal or uncaught-exception log line. */
  const expectWorkersUnharmed = async (): Promise<void> => {
    const { body } = await c.flusso.readyz();
    expect(JSON.stringify(body.workers.map((w) => [w.pid, w.restarts]))).toBe(workersBefore);
    expect(c.flusso.logs().filter((l) => (typeof l.level === 'number' && l.level >= 60) || l.level === 'fatal' || l.code === 'ING_ERR_WORKER_UNCAUGHT')).toEqual([]);
  };

  beforeAll(async () => {
    echo = await startEchoPods('web', ['127.0.0.1'], 0, { namespace: NS });
    c = await startCluster(source, [
      ingressClass('flusso'),
      ...echoBackendObjects(NS, { service: 'web', portNumber: 80 }, echo),
      tlsSecret(NS, 'bad-cert', good),
      tlsIngress('bad', 'bad.test', 'bad-cert'),
      tlsSecret(NS, 'curve-cert', curveGood),
      tlsIngress('curve', 'curve.test', 'curve-cert'),
      ...firstTimeBad.flatMap(({ host, pair }) => {
        const name = host.split('.')[0] as string;
        return [...(pair === null ? [] : [tlsSecret(NS, `${name}-cert`, pair)]), tlsIngress(name, host, `${name}-cert`)];
      }),
    ]);
    await waitForCodes('bad', []);
    const { body } = await c.flusso.readyz();
    expect(body.workers.map((w) => w.restarts)).toEqual([0, 0]);
    workersBefore = JSON.stringify(body.workers.map((w) => [w.pid, w.restarts]));
    expect((await peerOf(c.flusso.httpsPort, 'bad.test')).fingerprint256).toBe(fingerprintOf(good));
  });
  afterAll(async () => {
    await c?.stop();
    await echo?.close();
  });

  // issue #11: a host whose Secret was never usable is served the default certificate.
  it.each(firstTimeBad)('gives $host (Secret never good: $code) the default certificate', async ({ host, code }) => {
    await waitForCodes(host.split('.')[0] as string, [code]);
    expect((await peerOf(c.flusso.httpsPort, host)).subject.CN).toBe(DEFAULT_CERT_COMMON_NAME);
    await expectWorkersUnharmed();
  });

  // issue #11: each step replaces the Secret of bad.test; consecutive steps differ in code, so
  // waiting for exactly the step's code cannot pass on the previous step's diagnostic. Through
  // the kubernetes source an Opaque Secret is outside the watch (type=kubernetes.io/tls), so it
  // is not found (docs/tls.md).
  it.each([
    { step: 'garbage tls.crt', secret: () => secretFor(pki.garbage()), code: 'ING_ERR_TLS_CERT_INVALID' },
    { step: 'a key of another pair', secret: () => secretFor(pki.mismatched(['bad.test'])), code: 'ING_ERR_TLS_KEY_MISMATCH' },
    { step: 'truncated tls.crt', secret: () => secretFor(pki.truncated(['bad.test'])), code: 'ING_ERR_TLS_CERT_INVALID' },
    { step: 'expired', secret: () => secretFor(pki.expired(['bad.test'])), code: 'ING_ERR_TLS_CERT_EXPIRED' },
    { step: 'valid for another host', secret: () => secretFor(pki.valid(['other.test'])), code: 'ING_ERR_TLS_CERT_HOST_MISMATCH' },
    { step: 'not yet valid', secret: () => secretFor(pki.notYetValid(['bad.test'])), code: 'ING_ERR_TLS_CERT_EXPIRED' },
    { step: 'type Opaque', secret: () => ({ ...secretFor(pki.valid(['bad.test'])), type: 'Opaque' }), code: source === 'file' ? 'ING_ERR_TLS_SECRET_INVALID' : 'ING_ERR_TLS_SECRET_NOT_FOUND' },
    { step: 'encrypted key', secret: () => secretFor(pki.encryptedKey(['bad.test'])), code: 'ING_ERR_TLS_KEY_INVALID' },
    { step: 'deleted', secret: () => null, code: 'ING_ERR_TLS_SECRET_NOT_FOUND' },
  ])('keeps the last good certificate of bad.test when its Secret is $step ($code)', async ({ secret, code }) => {
    const obj = secret();
    if (obj === null) await c.remove('Secret', 'bad-cert');
    else await c.put(obj);
    await waitForCodes('bad', [code]);
    const diagnostic = (await c.flusso.diagnostics()).diagnostics.find((d) => d.object === `Ingress ${NS}/bad` && d.code === code);
    expect(diagnostic?.message).toContain('bad.test');
    for (let i = 0; i < 4; i++) expect((await peerOf(c.flusso.httpsPort, 'bad.test')).fingerprint256).toBe(fingerprintOf(good));
    await expectWorkersUnharmed();
  });

  it('serves a good Secret again once there is one', async () => {
    await c.put(tlsSecret(NS, 'bad-cert', rotated));
    await waitForCodes('bad', []);
    await pollUntil('new connections to get the new certificate', async () => ((await peerOf(c.flusso.httpsPort, 'bad.test')).fingerprint256 === fingerprintOf(rotated) ? true : undefined));
    await expectWorkersUnharmed();
  });

  // issue #11: a pair node:crypto accepts is not always one uWebSockets.js can load. Waits for
  // either outcome (a diagnostic, or the pair published to the workers), then checks both.
  it('keeps the last good certificate when the new key is on a curve the TLS library lacks (secp256k1)', async () => {
    const generation = (await c.flusso.readyz()).body.generation;
    const pair = secp256k1Pair('curve.test');
    sent.push(pair);
    await c.put(tlsSecret(NS, 'curve-cert', pair));
    await pollUntil('a diagnostic or a new generation', async () => {
      if ((await tlsCodes('curve')).length > 0) return true;
      const { body } = await c.flusso.readyz();
      return body.ready && body.generation > generation ? true : undefined;
    });
    const served = await peerOf(c.flusso.httpsPort, 'curve.test');
    expect({ codes: await tlsCodes('curve'), served: served.subject.CN, fingerprint: served.fingerprint256 }).toEqual({
      codes: ['ING_ERR_TLS_KEY_INVALID'], served: 'curve.test', fingerprint: fingerprintOf(curveGood),
    });
    await expectWorkersUnharmed();
  });

  // issue #11: keys live only in the TLS directory (0700, files 0600), and nowhere Flusso shows.
  it('keeps key material private: 0700 directory, 0600 files, no key in logs, the admin API or metrics', async () => {
    expect((await stat(c.tlsDir)).mode & 0o777).toBe(0o700);
    const files = await readdir(c.tlsDir);
    expect(files.filter((f) => f.endsWith('.key')).length).toBeGreaterThanOrEqual(2); // the default and bad.test's
    for (const f of files) expect({ f, mode: ((await stat(join(c.tlsDir, f))).mode & 0o777).toString(8) }).toEqual({ f, mode: '600' });
    // The generated default key is known only from its file.
    const onDisk = await Promise.all(files.filter((f) => f.endsWith('.key')).map((f) => readFile(join(c.tlsDir, f), 'utf8')));
    const windows = new Set([...sent.map((p) => p.keyPem), ...onDisk].flatMap(keyWindows));
    const admin = async (path: string): Promise<string> => {
      const res = await fetch(`http://127.0.0.1:${c.flusso.adminPort}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
      return `${path} ${res.status}\n${await res.text()}`;
    };
    const paths = ['/api/v1/routes', '/api/v1/diagnostics', '/api/v1/workers', '/api/v1/backends', '/api/v1/certificates', '/api/v1/overrides', '/api/v1/cache', '/api/v1/explain?host=bad.test&path=/', '/metrics', '/readyz'];
    const seen: [string, string][] = [['stdout', c.flusso.rawLogs().join('\n')], ['stderr', c.flusso.stderr()], ...(await Promise.all(paths.map(async (p): Promise<[string, string]> => [p, await admin(p)])))];
    for (const [where, text] of seen) {
      const leaks: string[] = [];
      for (let i = 0; i + 40 <= text.length; i++) if (windows.has(text.slice(i, i + 40))) leaks.push(text.slice(i, i + 40));
      expect({ where, leaks }).toEqual({ where, leaks: [] });
    }
    expect(seen.find(([p]) => p === '/api/v1/certificates')?.[1]).toMatch(/^\/api\/v1\/certificates 200/);
  });
});
