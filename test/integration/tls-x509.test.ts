/**
 * Flusso's X.509 writer against independent implementations: the openssl CLI parses and
 * verifies what it writes, and a real TLS handshake on loopback verifies a CA-signed chain.
 * The openssl CLI is required (it is installed on dev machines and in CI): a missing one fails
 * these tests rather than skipping them.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type PeerCertificate } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { createCertificate, createSelfSignedDefault, generateKeyPair, type KeyType } from '../../src/primary/tls/x509.js';
import { testPki, type TlsPair } from '../helpers/certs.js';

const now = new Date();
const day = (n: number): Date => new Date(now.getTime() + n * 86_400_000);
const pki = testPki(now);
let dir = '';

function openssl(args: readonly string[], input?: string): { status: number | null; out: string } {
  const run = spawnSync('openssl', args, { encoding: 'utf8', ...(input === undefined ? {} : { input }), timeout: 20_000 });
  if (run.error !== undefined) throw new Error(`the openssl CLI is required for this test and could not run: ${run.error.message}`);
  return { status: run.status, out: `${run.stdout}${run.stderr}` };
}

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

/** A root CA, an intermediate CA it signs, and a leaf the intermediate signs. */
function threeLevelChain(rootType: KeyType, leafType: KeyType): { rootPem: string; intermediatePem: string; leaf: TlsPair } {
  const root = generateKeyPair(rootType);
  const rootPem = createCertificate({ subjectKey: root.privateKey, issuer: 'self', commonName: 'Root', notBefore: day(-1), notAfter: day(3650), isCA: true }).pem;
  const mid = generateKeyPair('ec');
  const intermediatePem = createCertificate({
    subjectKey: mid.publicKey,
    issuer: { certificate: rootPem, key: root.privateKey },
    commonName: 'Intermediate',
    notBefore: day(-1),
    notAfter: day(365),
    isCA: true,
  }).pem;
  const leafKey = generateKeyPair(leafType);
  const leafPem = createCertificate({
    subjectKey: leafKey.publicKey,
    issuer: { certificate: intermediatePem, key: mid.privateKey },
    commonName: 'deep.example.com',
    dnsNames: ['deep.example.com'],
    notBefore: day(-1),
    notAfter: day(30),
  }).pem;
  return { rootPem, intermediatePem, leaf: { certPem: leafPem + intermediatePem, keyPem: leafKey.keyPem } };
}

beforeAll(async () => {
  openssl(['version']);
  dir = await mkdtemp(join(tmpdir(), 'flusso-x509-'));
});

afterAll(async () => {
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

describe('openssl x509 -text parses', () => {
  it.each([
    { name: 'the CA', pem: () => pki.caPem, want: ['CA:TRUE', 'Certificate Sign, CRL Sign', 'Subject: CN = Flusso Test CA'] },
    { name: 'an EC leaf', pem: () => pki.valid(['a.example.com']).certPem, want: ['CA:FALSE', 'Digital Signature', 'TLS Web Server Authentication', 'DNS:a.example.com', 'ecdsa-with-SHA256'] },
    { name: 'an RSA leaf', pem: () => pki.valid(['a.example.com'], { keyType: 'rsa' }).certPem, want: ['Digital Signature, Key Encipherment', 'rsaEncryption'] },
    { name: 'a wildcard leaf', pem: () => pki.wildcard('example.com').certPem, want: ['DNS:*.example.com'] },
    { name: 'a self-signed leaf', pem: () => pki.selfSigned(['self.example.com']).certPem, want: ['Issuer: CN = self.example.com', 'Subject: CN = self.example.com'] },
    { name: 'an expired leaf', pem: () => pki.expired(['a.example.com']).certPem, want: ['Not After'] },
    { name: 'a leaf without SANs', pem: () => pki.valid([], { commonName: 'cn.example.com' }).certPem, want: ['Subject: CN = cn.example.com'] },
    { name: 'the default certificate', pem: () => createSelfSignedDefault(now).certPem, want: ['Subject: CN = Flusso Default Certificate', 'DNS:ingress.local'] },
    {
      name: 'GeneralizedTime dates from 2050 on',
      pem: () => pki.valid(['a.example.com'], { notBefore: new Date('2049-12-31T00:00:00Z'), notAfter: new Date('2051-06-01T10:20:30Z') }).certPem,
      want: ['Not Before: Dec 31 00:00:00 2049 GMT', 'Not After : Jun  1 10:20:30 2051 GMT'],
    },
  ])('$name', ({ pem, want }) => {
    const { status, out } = openssl(['x509', '-noout', '-text'], pem());
    expect(status, out).toBe(0);
    expect(out).toContain('Version: 3 (0x2)');
    for (const text of want) expect(out).toContain(text);
  });
});

describe('openssl verify', () => {
  it.each([
    { name: 'an EC leaf', pair: () => pki.valid(['a.example.com']) },
    { name: 'an RSA leaf', pair: () => pki.valid(['a.example.com'], { keyType: 'rsa' }) },
    { name: 'a wildcard leaf', pair: () => pki.wildcard('example.com') },
  ])('accepts $name signed by the CA, in strict mode', async ({ pair }) => {
    const ca = await file('ca.pem', pki.caPem);
    const leaf = await file('leaf.pem', pair().certPem);
    const { status, out } = openssl(['verify', '-x509_strict', '-purpose', 'sslserver', '-CAfile', ca, leaf]);
    expect(status, out).toBe(0);
    expect(out).toContain(': OK');
  });

  it.each([
    { root: 'rsa' as const, leaf: 'ec' as const },
    { root: 'ec' as const, leaf: 'rsa' as const },
  ])('accepts a $leaf leaf under an intermediate under an $root root', async ({ root, leaf }) => {
    const chain = threeLevelChain(root, leaf);
    const rootFile = await file('root.pem', chain.rootPem);
    const mid = await file('mid.pem', chain.intermediatePem);
    const leafFile = await file('deep.pem', chain.leaf.certPem);
    const { status, out } = openssl(['verify', '-x509_strict', '-CAfile', rootFile, '-untrusted', mid, leafFile]);
    expect(status, out).toBe(0);
  });

  it('accepts the self-signed default certificate as its own trust anchor', async () => {
    const cert = await file('default.pem', createSelfSignedDefault(now).certPem);
    expect(openssl(['verify', '-x509_strict', '-CAfile', cert, cert]).status).toBe(0);
  });

  it.each([
    { name: 'an expired leaf', pair: () => pki.expired(['a.example.com']), error: /certificate has expired/ },
    { name: 'a leaf not valid yet', pair: () => pki.notYetValid(['a.example.com']), error: /certificate is not yet valid/ },
    { name: 'a leaf of another CA', pair: () => testPki(now).valid(['a.example.com']), error: /unable to get local issuer certificate/ },
  ])('refuses $name (so the acceptances above mean something)', async ({ pair, error }) => {
    const ca = await file('ca.pem', pki.caPem);
    const leaf = await file('bad.pem', pair().certPem);
    const { status, out } = openssl(['verify', '-CAfile', ca, leaf]);
    expect(status).not.toBe(0);
    expect(out).toMatch(error);
  });
});

describe('TLS handshake on loopback', () => {
  async function handshake(pair: TlsPair, ca: string, servername: string): Promise<PeerCertificate> {
    const server = createServer({ cert: pair.certPem, key: pair.keyPem }, (socket) => socket.end());
    onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return new Promise<PeerCertificate>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, ca, servername }, () => {
        const peer = socket.getPeerCertificate();
        socket.destroy();
        resolve(peer);
      });
      socket.once('error', reject);
    });
  }

  it.each([
    { name: 'an EC leaf', pair: () => pki.valid(['shop.example.com']), servername: 'shop.example.com', cn: 'shop.example.com' },
    { name: 'an RSA leaf', pair: () => pki.valid(['shop.example.com'], { keyType: 'rsa' }), servername: 'shop.example.com', cn: 'shop.example.com' },
    { name: 'a wildcard leaf', pair: () => pki.wildcard('example.com'), servername: 'any.example.com', cn: '*.example.com' },
  ])('verifies $name signed by the CA', async ({ pair, servername, cn }) => {
    const peer = await handshake(pair(), pki.caPem, servername);
    expect(peer.subject.CN).toBe(cn);
    expect(peer.issuer.CN).toBe('Flusso Test CA');
  });

  it('verifies a leaf sent with its intermediate against the root alone', async () => {
    const chain = threeLevelChain('ec', 'ec');
    const peer = await handshake(chain.leaf, chain.rootPem, 'deep.example.com');
    expect(peer.subject.CN).toBe('deep.example.com');
  });

  it.each([
    { name: 'a host the certificate does not name', pair: () => pki.valid(['shop.example.com']), servername: 'other.example.com', code: 'ERR_TLS_CERT_ALTNAME_INVALID' },
    { name: 'a host two labels under a wildcard', pair: () => pki.wildcard('example.com'), servername: 'a.b.example.com', code: 'ERR_TLS_CERT_ALTNAME_INVALID' },
    { name: 'a certificate of another CA', pair: () => testPki(now).valid(['shop.example.com'], { leafOnly: true }), servername: 'shop.example.com', code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' },
    { name: 'an expired certificate', pair: () => pki.expired(['shop.example.com']), servername: 'shop.example.com', code: 'CERT_HAS_EXPIRED' },
  ])('refuses $name', async ({ pair, servername, code }) => {
    await expect(handshake(pair(), pki.caPem, servername)).rejects.toMatchObject({ code });
  });
});
