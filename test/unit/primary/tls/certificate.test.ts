// Key-pair validation, host coverage (RFC 6125 §6.4.3) and expiry, table-driven over
// certificates from the X.509 writer (test/helpers/certs.ts).
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { certificateCovers, expiresWithin, inspectKeyPair } from '../../../../src/primary/tls/certificate.js';
import type { ErrorCode } from '../../../../src/shared/errors.js';
import { createCertificate, generateKeyPair, toPem } from '../../../../src/primary/tls/x509.js';
import { testPki, tlsSecret, type TlsPair } from '../../../helpers/certs.js';

const now = new Date('2026-03-01T12:00:00Z');
const at = (days: number): Date => new Date(now.getTime() + days * 86_400_000);
const pki = testPki(now);
const good = pki.valid(['shop.example.com']);
const [leafPem = ''] = good.certPem.split(/(?<=-----END CERTIFICATE-----\n)/);
const body = (pem: string): string => pem.replace(/-----[^-]+-----/g, '').replace(/\s/g, '');

function selfSignedRsa(bits: number): TlsPair {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  const certPem = createCertificate({ subjectKey: privateKey, issuer: 'self', commonName: 'weak.example.com', notBefore: at(-1), notAfter: at(1) }).pem;
  return { certPem, keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/** selfSignedOnCurve is a sound self-signed pair on an EC curve (OpenSSL knows them all; BoringSSL fewer). */
function selfSignedOnCurve(namedCurve: string): TlsPair {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve });
  const certPem = createCertificate({ subjectKey: privateKey, issuer: 'self', commonName: 'curve.example.com', notBefore: at(-1), notAfter: at(1) }).pem;
  return { certPem, keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

function traditionalEncrypted(): TlsPair {
  const key = generateKeyPair('ec');
  const certPem = createCertificate({ subjectKey: key.privateKey, issuer: 'self', commonName: 'enc', notBefore: at(-1), notAfter: at(1) }).pem;
  return { certPem, keyPem: key.privateKey.export({ type: 'sec1', format: 'pem', cipher: 'aes-128-cbc', passphrase: 'x' }).toString() };
}

describe('inspectKeyPair accepts', () => {
  it.each([
    { name: 'a CA-signed EC leaf with its chain', pair: () => good, chainLength: 2, selfSigned: false },
    { name: 'a CA-signed RSA leaf', pair: () => pki.valid(['shop.example.com'], { keyType: 'rsa' }), chainLength: 2, selfSigned: false },
    { name: 'a leaf without its chain', pair: () => pki.valid(['a.example.com'], { leafOnly: true }), chainLength: 1, selfSigned: false },
    { name: 'a self-signed leaf', pair: () => pki.selfSigned(['a.example.com']), chainLength: 1, selfSigned: true },
    { name: 'a wildcard leaf', pair: () => pki.wildcard('example.com'), chainLength: 2, selfSigned: false },
    { name: 'a self-signed EC P-384 leaf', pair: () => selfSignedOnCurve('secp384r1'), chainLength: 1, selfSigned: true },
    { name: 'a self-signed EC P-521 leaf', pair: () => selfSignedOnCurve('secp521r1'), chainLength: 1, selfSigned: true },
    { name: 'CRLF line endings', pair: () => ({ certPem: good.certPem.replace(/\n/g, '\r\n'), keyPem: good.keyPem.replace(/\n/g, '\r\n') }), chainLength: 2, selfSigned: false },
    { name: 'explanatory text around blocks (RFC 7468)', pair: () => ({ ...good, certPem: `# leaf\n${leafPem}\nSubject: CA\n${pki.caPem}` }), chainLength: 2, selfSigned: false },
  ])('$name', ({ pair, chainLength, selfSigned }) => {
    const { certPem, keyPem } = pair();
    const result = inspectKeyPair(certPem, keyPem, now);
    expect(result).toMatchObject({ ok: true, info: { chainLength, selfSigned } });
  });

  it.each([
    { name: 'at notBefore', now: at(-1) },
    { name: 'at notAfter', now: at(90) },
  ])('a leaf $name (validity dates are inclusive)', ({ now: when }) => {
    expect(inspectKeyPair(good.certPem, good.keyPem, when).ok).toBe(true);
  });

  it('describes the leaf', () => {
    const leaf = new X509Certificate(leafPem);
    expect(inspectKeyPair(good.certPem, good.keyPem, now)).toEqual({
      ok: true,
      info: {
        subject: 'shop.example.com',
        issuer: 'Flusso Test CA',
        dnsNames: ['shop.example.com'],
        notBefore: '2026-02-28T12:00:00.000Z',
        notAfter: '2026-05-30T12:00:00.000Z',
        fingerprint256: leaf.fingerprint256,
        serialNumber: leaf.serialNumber,
        selfSigned: false,
        chainLength: 2,
      },
    });
  });

  it.each([
    { name: 'the SANs, not the CN, when there are SANs', cn: 'cn.example.com', sans: ['a.example.com', '*.b.example.com'], want: ['a.example.com', '*.b.example.com'] },
    { name: 'the CN when there are no SANs (RFC 6125 §6.4.4)', cn: 'cn.example.com', sans: [], want: ['cn.example.com'] },
    { name: 'SANs holding a comma or a quote, which Node prints JSON-quoted', cn: 'x', sans: ['a,b.example.com', 'c.example.com', 'd"e.example.com'], want: ['a,b.example.com', 'c.example.com', 'd"e.example.com'] },
  ])('lists as dnsNames $name', ({ cn, sans, want }) => {
    const pair = pki.valid(sans, { commonName: cn });
    const result = inspectKeyPair(pair.certPem, pair.keyPem, now);
    expect(result.ok && result.info.dnsNames).toEqual(want);
  });
});

describe('inspectKeyPair refuses', () => {
  const cases: { name: string; pair: () => TlsPair; now?: Date; code: ErrorCode; message: RegExp }[] = [
    { name: 'an empty tls.crt', pair: () => ({ ...good, certPem: '' }), code: 'ING_ERR_TLS_CERT_INVALID', message: /no PEM certificate/ },
    { name: 'junk text', pair: () => ({ ...good, certPem: 'hello, I am not a certificate' }), code: 'ING_ERR_TLS_CERT_INVALID', message: /no PEM certificate/ },
    { name: 'a DER certificate instead of PEM', pair: () => ({ ...good, certPem: new X509Certificate(leafPem).raw.toString('latin1') }), code: 'ING_ERR_TLS_CERT_INVALID', message: /no PEM certificate/ },
    { name: 'a PEM block of random bytes', pair: () => pki.garbage(), code: 'ING_ERR_TLS_CERT_INVALID', message: /first certificate in tls.crt is not an X.509 certificate/ },
    { name: 'a truncated certificate', pair: () => pki.truncated(['a.example.com']), code: 'ING_ERR_TLS_CERT_INVALID', message: /first certificate in tls.crt is truncated/ },
    { name: 'a truncated intermediate', pair: () => ({ ...good, certPem: leafPem + pki.caPem.slice(0, 200) }), code: 'ING_ERR_TLS_CERT_INVALID', message: /certificate 2 in tls.crt is truncated/ },
    { name: 'an intermediate that does not parse', pair: () => ({ ...good, certPem: leafPem + pki.garbage().certPem }), code: 'ING_ERR_TLS_CERT_INVALID', message: /certificate 2 in tls.crt is not an X.509 certificate/ },
    { name: 'a block whose END line was lost before the next block', pair: () => ({ ...good, certPem: leafPem.replace('-----END CERTIFICATE-----', '') + pki.caPem }), code: 'ING_ERR_TLS_CERT_INVALID', message: /truncated/ },
    { name: 'non-base64 characters in a block', pair: () => ({ ...good, certPem: leafPem.replace(/\n(.)/, '\n!$1') }), code: 'ING_ERR_TLS_CERT_INVALID', message: /not valid base64/ },
    { name: 'bytes after the certificate in a block', pair: () => ({ ...good, certPem: toPem('CERTIFICATE', Buffer.concat([new X509Certificate(leafPem).raw, Buffer.of(0, 0, 0)])) }), code: 'ING_ERR_TLS_CERT_INVALID', message: /trailing bytes/ },
    { name: 'a private key in tls.crt', pair: () => ({ ...good, certPem: good.certPem + good.keyPem }), code: 'ING_ERR_TLS_CERT_INVALID', message: /"PRIVATE KEY" PEM block/ },
    { name: 'an empty tls.key', pair: () => ({ ...good, keyPem: '' }), code: 'ING_ERR_TLS_KEY_INVALID', message: /no PEM private key/ },
    { name: 'a public key in tls.key', pair: () => ({ ...good, keyPem: generateKeyPair('ec').publicKey.export({ type: 'spki', format: 'pem' }).toString() }), code: 'ING_ERR_TLS_KEY_INVALID', message: /no PEM private key/ },
    { name: 'a certificate in tls.key', pair: () => ({ ...good, keyPem: leafPem }), code: 'ING_ERR_TLS_KEY_INVALID', message: /no PEM private key/ },
    { name: 'a key block of random bytes', pair: () => ({ ...good, keyPem: pki.garbage().certPem.replace(/CERTIFICATE/g, 'PRIVATE KEY') }), code: 'ING_ERR_TLS_KEY_INVALID', message: /does not parse as a private key/ },
    { name: 'a PKCS#8 key encrypted with a passphrase', pair: () => pki.encryptedKey(['a.example.com']), code: 'ING_ERR_TLS_KEY_INVALID', message: /encrypted/ },
    { name: 'a traditional key with Proc-Type: 4,ENCRYPTED', pair: traditionalEncrypted, code: 'ING_ERR_TLS_KEY_INVALID', message: /encrypted/ },
    { name: 'the key of another certificate', pair: () => pki.mismatched(['a.example.com']), code: 'ING_ERR_TLS_KEY_MISMATCH', message: /not the private key of the first certificate/ },
    { name: 'a chain with the CA first', pair: () => ({ ...good, certPem: pki.caPem + leafPem }), code: 'ING_ERR_TLS_KEY_MISMATCH', message: /first certificate/ },
    { name: 'an expired certificate', pair: () => pki.expired(['a.example.com']), code: 'ING_ERR_TLS_CERT_EXPIRED', message: /^certificate expired at 2026-02-28T12:00:00\.000Z$/ },
    { name: 'a certificate not valid yet', pair: () => pki.notYetValid(['a.example.com']), code: 'ING_ERR_TLS_CERT_EXPIRED', message: /^certificate is not valid before 2026-03-02T12:00:00\.000Z$/ },
    { name: 'a certificate one second after notAfter', pair: () => good, now: new Date(at(90).getTime() + 1000), code: 'ING_ERR_TLS_CERT_EXPIRED', message: /expired at/ },
    { name: 'a certificate one second before notBefore', pair: () => good, now: new Date(at(-1).getTime() - 1000), code: 'ING_ERR_TLS_CERT_EXPIRED', message: /not valid before/ },
    { name: 'a key on secp256k1, which OpenSSL parses and BoringSSL cannot serve', pair: () => selfSignedOnCurve('secp256k1'), code: 'ING_ERR_TLS_KEY_INVALID', message: /^tls.key is an EC key on curve secp256k1; the TLS library serves P-256, P-384 and P-521 only$/ },
    { name: 'a key on a brainpool curve', pair: () => selfSignedOnCurve('brainpoolP256r1'), code: 'ING_ERR_TLS_KEY_INVALID', message: /curve brainpoolP256r1/ },
    { name: 'an RSA 1024 key, under OpenSSL security level 2', pair: () => selfSignedRsa(1024), code: 'ING_ERR_TLS_KEY_INVALID', message: /OpenSSL refused the private key \(ee key too small\)/ },
  ];

  it.each(cases)('$name', ({ pair, now: when, code, message }) => {
    const { certPem, keyPem } = pair();
    const result = inspectKeyPair(certPem, keyPem, when ?? now);
    // A pair refused for its dates alone still describes its leaf (the caller may judge the dates again).
    const info = code === 'ING_ERR_TLS_CERT_EXPIRED' ? { info: expect.objectContaining({ notBefore: expect.any(String), notAfter: expect.any(String) }) } : {};
    expect(result).toEqual({ ok: false, code, message: expect.stringMatching(message), ...info });
    // The message goes to logs, status and the GUI: it must never quote PEM text or key material.
    const message_ = result.ok ? '' : result.message;
    expect(message_).not.toMatch(/-----|[A-Za-z0-9+/]{16}/);
    for (const chunk of (body(certPem) + body(keyPem)).match(/.{12}/g) ?? []) expect(message_).not.toContain(chunk);
  });
});

describe('tlsSecret', () => {
  it('carries a pair that inspectKeyPair accepts once decoded', () => {
    const secret = tlsSecret('shop', 'web-tls', good);
    expect(secret).toMatchObject({ apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls', metadata: { name: 'web-tls', namespace: 'shop' } });
    const data = secret.data as Record<string, string>;
    const decode = (k: string): string => Buffer.from(data[k] ?? '', 'base64').toString();
    expect(inspectKeyPair(decode('tls.crt'), decode('tls.key'), now).ok).toBe(true);
  });
});

describe('certificateCovers', () => {
  it.each([
    { names: ['a.example.com'], host: 'a.example.com', want: true },
    { names: ['A.Example.COM'], host: 'a.example.COM', want: true },
    { names: ['a.example.com.'], host: 'a.example.com', want: true },
    { names: ['a.example.com'], host: 'a.example.com.', want: true },
    { names: ['a.example.com'], host: 'b.example.com', want: false },
    { names: ['a.example.com'], host: 'example.com', want: false },
    { names: ['b.example.com', 'a.example.com'], host: 'a.example.com', want: true },
    { names: [], host: 'a.example.com', want: false },
    { names: ['a.example.com'], host: '', want: false },
    { names: ['*.example.com'], host: 'a.example.com', want: true },
    { names: ['*.example.com'], host: 'A.EXAMPLE.com.', want: true },
    { names: ['*.example.com'], host: 'example.com', want: false },
    { names: ['*.example.com'], host: 'a.b.example.com', want: false },
    { names: ['*.example.com'], host: '.example.com', want: false },
    { names: ['*.example.com'], host: 'aexample.com', want: false },
    { names: ['*.b.example.com'], host: 'a.b.example.com', want: true },
    { names: ['*.com'], host: 'example.com', want: false },
    { names: ['*'], host: 'example', want: false },
    { names: ['f*.example.com'], host: 'foo.example.com', want: false },
    { names: ['f*.example.com'], host: 'f*.example.com', want: false },
    { names: ['*o.example.com'], host: 'foo.example.com', want: false },
    { names: ['a.*.example.com'], host: 'a.b.example.com', want: false },
    { names: ['*.*.example.com'], host: 'a.b.example.com', want: false },
    { names: ['*.example.com'], host: '*.example.com', want: true },
    { names: ['*.EXAMPLE.com'], host: '*.example.com.', want: true },
    { names: ['a.example.com'], host: '*.example.com', want: false },
    { names: ['*.b.example.com'], host: '*.example.com', want: false },
    { names: ['*.example.com'], host: '*.b.example.com', want: false },
    { names: ['a.*.example.com'], host: 'a.*.example.com', want: false },
    { names: ['10.0.0.1'], host: '10.0.0.1', want: false },
    { names: ['::1'], host: '::1', want: false },
    { names: ['xn--bcher-kva.example.com'], host: 'xn--bcher-kva.example.com', want: true },
    { names: ['*.example.com'], host: 'xn--bcher-kva.example.com', want: true },
  ])('$names covers "$host": $want', ({ names, host, want }) => {
    expect(certificateCovers(names, host)).toBe(want);
  });
});

describe('expiresWithin', () => {
  const info = { notAfter: '2026-03-15T12:00:00.000Z' };
  it.each([
    { name: 'more than 14 days before notAfter', now: new Date('2026-02-28T12:00:00Z'), days: 14, want: false },
    { name: 'exactly 14 days before notAfter', now: new Date('2026-03-01T12:00:00Z'), days: 14, want: true },
    { name: 'one second inside 14 days', now: new Date('2026-03-01T12:00:01Z'), days: 14, want: true },
    { name: 'after notAfter', now: new Date('2026-04-01T00:00:00Z'), days: 14, want: true },
    { name: 'a day before, for a 0-day window', now: new Date('2026-03-14T12:00:00Z'), days: 0, want: false },
  ])('$name: $want', ({ now: when, days, want }) => {
    expect(expiresWithin(info, when, days)).toBe(want);
  });
});
