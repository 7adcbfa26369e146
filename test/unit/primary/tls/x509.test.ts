// The X.509 writer, checked by node:crypto's own parser and verifier (the openssl CLI and a
// real handshake check it too, in test/integration/tls-x509.test.ts).
import { createPrivateKey, createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { describe, expect, it } from 'vitest';
import {
  createCertificate,
  createSelfSignedDefault,
  DEFAULT_CERT_COMMON_NAME,
  DEFAULT_CERT_DNS_NAME,
  generateKeyPair,
  type KeyType,
} from '../../../../src/primary/tls/x509.js';

const now = new Date('2026-03-01T12:00:00Z');
const day = (n: number): Date => new Date(now.getTime() + n * 86_400_000);
const keyTypes: KeyType[] = ['ec', 'rsa'];
const keys = { ec: generateKeyPair('ec'), rsa: generateKeyPair('rsa') };
const caKeys = { ec: generateKeyPair('ec'), rsa: generateKeyPair('rsa') };

function makeCa(type: KeyType) {
  const key = caKeys[type];
  const pem = createCertificate({ subjectKey: key.privateKey, issuer: 'self', commonName: `CA ${type}`, notBefore: day(-1), notAfter: day(3650), isCA: true }).pem;
  return { key, pem, cert: new X509Certificate(pem) };
}

describe('createCertificate', () => {
  it.each(keyTypes)('writes a self-signed %s leaf that node:crypto parses and verifies', (type) => {
    const key = keys[type];
    const { pem, der } = createCertificate({
      subjectKey: key.privateKey,
      issuer: 'self',
      commonName: 'a.example.com',
      dnsNames: ['a.example.com', 'b.example.com'],
      notBefore: day(-1),
      notAfter: day(30),
      serial: 0x0abcdefn,
    });
    const cert = new X509Certificate(pem);
    expect(cert.raw).toEqual(der);
    expect(pem).toMatch(/^-----BEGIN CERTIFICATE-----\n([A-Za-z0-9+/=]{64}\n)*[A-Za-z0-9+/=]{1,64}\n-----END CERTIFICATE-----\n$/);
    expect(cert.verify(key.publicKey)).toBe(true);
    // OpenSSL's check_issued also wants keyCertSign in the issuer's keyUsage, which a leaf lacks.
    expect(cert.checkIssued(cert)).toBe(false);
    expect(cert.subject).toBe('CN=a.example.com');
    expect(cert.issuer).toBe('CN=a.example.com');
    expect(cert.subjectAltName).toBe('DNS:a.example.com, DNS:b.example.com');
    expect(cert.validFromDate).toEqual(day(-1));
    expect(cert.validToDate).toEqual(day(30));
    expect(cert.ca).toBe(false);
    expect(BigInt(`0x${cert.serialNumber}`)).toBe(0x0abcdefn);
    expect(cert.checkPrivateKey(key.privateKey)).toBe(true);
    expect(cert.publicKey.asymmetricKeyType).toBe(type);
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(() => createSecureContext({ cert: pem, key: key.keyPem })).not.toThrow();
  });

  it.each(keyTypes.flatMap((ca) => keyTypes.map((leaf) => ({ ca, leaf }))))('signs a $leaf leaf with a $ca CA', ({ ca: caType, leaf: leafType }) => {
    const ca = makeCa(caType);
    const leafKey = keys[leafType];
    const { pem } = createCertificate({
      subjectKey: leafKey.publicKey,
      issuer: { certificate: ca.pem, key: ca.key.privateKey },
      commonName: 'shop.example.com',
      dnsNames: ['shop.example.com'],
      notBefore: day(-1),
      notAfter: day(30),
    });
    const leaf = new X509Certificate(pem);
    expect(ca.cert.ca).toBe(true);
    expect(leaf.issuer).toBe(`CN=CA ${caType}`);
    expect(leaf.verify(ca.key.publicKey)).toBe(true);
    expect(leaf.verify(leafKey.publicKey)).toBe(false);
    expect(leaf.checkIssued(ca.cert)).toBe(true);
    expect(leaf.checkIssued(leaf)).toBe(false);
    expect(() => createSecureContext({ cert: pem + ca.pem, key: leafKey.keyPem })).not.toThrow();
  });

  it('copies the issuer Name from a CA certificate given parsed, byte for byte', () => {
    const ca = makeCa('ec');
    const { pem } = createCertificate({
      subjectKey: keys.rsa.publicKey,
      issuer: { certificate: ca.cert, key: ca.key.privateKey },
      commonName: 'x',
      notBefore: day(0),
      notAfter: day(1),
    });
    expect(new X509Certificate(pem).checkIssued(ca.cert)).toBe(true);
  });

  it.each([
    { host: 'a.example.com', want: '*.example.com' },
    { host: 'A.EXAMPLE.COM', want: '*.example.com' },
    { host: 'example.com', want: 'example.com' },
    { host: 'a.b.example.com', want: undefined },
    { host: 'other.org', want: undefined },
  ])('writes wildcard SANs that checkHost($host) matches as $want', ({ host, want }) => {
    const { pem } = createCertificate({
      subjectKey: keys.ec.privateKey,
      issuer: 'self',
      commonName: 'example.com',
      dnsNames: ['*.example.com', 'example.com'],
      notBefore: day(0),
      notAfter: day(1),
    });
    expect(new X509Certificate(pem).checkHost(host)).toBe(want);
  });

  it('omits subjectAltName when there are no DNS names', () => {
    const { pem } = createCertificate({ subjectKey: keys.ec.privateKey, issuer: 'self', commonName: 'cn.example.com', dnsNames: [], notBefore: day(0), notAfter: day(1) });
    expect(new X509Certificate(pem).subjectAltName).toBeUndefined();
  });

  it.each([
    { name: 'UTCTime in 1970', notBefore: new Date('1970-01-01T00:00:00Z'), notAfter: new Date('2049-12-31T23:59:59Z') },
    { name: 'GeneralizedTime from 2050', notBefore: new Date('2049-06-01T00:00:00Z'), notAfter: new Date('2150-01-01T00:00:00Z') },
  ])('writes validity dates as $name', ({ notBefore, notAfter }) => {
    const { pem } = createCertificate({ subjectKey: keys.ec.privateKey, issuer: 'self', commonName: 't', notBefore, notAfter });
    const cert = new X509Certificate(pem);
    expect(cert.validFromDate).toEqual(notBefore);
    expect(cert.validToDate).toEqual(notAfter);
  });

  it('makes random positive 128-bit serials by default', () => {
    const serials = Array.from({ length: 20 }, () => {
      const { pem } = createCertificate({ subjectKey: keys.ec.privateKey, issuer: 'self', commonName: 't', notBefore: day(0), notAfter: day(1) });
      return BigInt(`0x${new X509Certificate(pem).serialNumber}`);
    });
    expect(new Set(serials).size).toBe(20);
    for (const s of serials) expect(s > 0n && s < 1n << 128n).toBe(true);
  });

  it.each([
    { name: 'a self-signed certificate from a public key', err: TypeError, opts: { subjectKey: keys.ec.publicKey, issuer: 'self' as const } },
    { name: 'an issuer key that is not the CA certificate key', err: TypeError, opts: { subjectKey: keys.ec.publicKey, issuer: { certificate: makeCa('ec').pem, key: keys.rsa.privateKey } } },
    { name: 'an Ed25519 signing key', err: TypeError, opts: { subjectKey: generateKeyPairSync('ed25519').privateKey, issuer: 'self' as const } },
    { name: 'a zero serial', err: RangeError, opts: { subjectKey: keys.ec.privateKey, issuer: 'self' as const, serial: 0n } },
    { name: 'notBefore after notAfter', err: RangeError, opts: { subjectKey: keys.ec.privateKey, issuer: 'self' as const, notBefore: day(2) } },
  ])('refuses $name', ({ err, opts }) => {
    expect(() => createCertificate({ commonName: 't', notBefore: day(0), notAfter: day(1), ...opts })).toThrow(err);
  });
});

describe('generateKeyPair', () => {
  it.each([
    { type: 'ec' as const, details: { namedCurve: 'prime256v1' } },
    { type: 'rsa' as const, details: { modulusLength: 2048 } },
  ])('makes a $type key with a PKCS#8 PEM', ({ type, details }) => {
    const pair = generateKeyPair(type);
    expect(pair.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(pair.privateKey.asymmetricKeyDetails).toMatchObject(details);
    expect(createPublicKey(createPrivateKey(pair.keyPem)).export({ type: 'spki', format: 'der' })).toEqual(
      pair.publicKey.export({ type: 'spki', format: 'der' }),
    );
  });
});

describe('createSelfSignedDefault', () => {
  it('makes an EC P-256 self-signed certificate for ingress.local valid from an hour ago for a year', () => {
    const { certPem, keyPem } = createSelfSignedDefault(now);
    const cert = new X509Certificate(certPem);
    expect(cert.subject).toBe(`CN=${DEFAULT_CERT_COMMON_NAME}`);
    expect(cert.subject).toBe('CN=Flusso Default Certificate');
    expect(cert.subjectAltName).toBe(`DNS:${DEFAULT_CERT_DNS_NAME}`);
    expect(cert.validFromDate).toEqual(new Date('2026-03-01T11:00:00Z'));
    expect(cert.validToDate).toEqual(new Date('2027-03-01T12:00:00Z'));
    expect(cert.ca).toBe(false);
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(keyPem))).toBe(true);
    expect(cert.publicKey.asymmetricKeyDetails).toMatchObject({ namedCurve: 'prime256v1' });
    expect(() => createSecureContext({ cert: certPem, key: keyPem })).not.toThrow();
  });

  it('makes a new key every time', () => {
    expect(createSelfSignedDefault(now).keyPem).not.toBe(createSelfSignedDefault(now).keyPem);
  });
});
