/**
 * A minimal X.509 v3 certificate writer (RFC 5280) on top of der.ts and node:crypto. Node can
 * parse and verify certificates but not create them, and the product image has no openssl
 * binary; Flusso needs one certificate of its own at start (the self-signed default, as
 * ingress-nginx's "Kubernetes Ingress Controller Fake Certificate") and the tests need many.
 * Keys are EC P-256 or RSA; signatures are ecdsa-with-SHA256 or sha256WithRSAEncryption.
 */
import { createHash, createPublicKey, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import * as der from './der.js';

/** CaIssuer names the CA that signs a certificate: its certificate (PEM or parsed) and private key. */
export interface CaIssuer {
  readonly certificate: string | X509Certificate;
  readonly key: KeyObject;
}

/** CertificateOptions describe the certificate createCertificate writes. */
export interface CertificateOptions {
  /** The subject's key; private for a self-signed certificate, otherwise public or private. */
  readonly subjectKey: KeyObject;
  /** 'self' signs with `subjectKey`; a CaIssuer signs with the CA's key and names the CA as issuer. */
  readonly issuer: 'self' | CaIssuer;
  readonly commonName: string;
  /** subjectAltName dNSName entries, wildcards such as `*.example.com` included; none omits the extension. */
  readonly dnsNames?: readonly string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** A positive serial number; a random 128-bit one when absent (RFC 5280 §4.1.2.2 allows up to 20 octets). */
  readonly serial?: bigint;
  /** A CA certificate (keyCertSign, cRLSign) rather than a TLS server certificate. */
  readonly isCA?: boolean;
}

/** CreatedCertificate is a certificate as PEM text and as DER bytes. */
export interface CreatedCertificate {
  readonly pem: string;
  readonly der: Buffer;
}

/** KeyType is a key algorithm generateKeyPair makes: EC P-256 or RSA 2048. */
export type KeyType = 'ec' | 'rsa';

/** GeneratedKeyPair is a fresh key pair and its private key as PKCS#8 PEM. */
export interface GeneratedKeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly keyPem: string;
}

/** DefaultCertificate is the generated self-signed certificate and its key, both PEM. */
export interface DefaultCertificate {
  readonly certPem: string;
  readonly keyPem: string;
}

/** DEFAULT_CERT_COMMON_NAME is the subject CN of the generated default certificate. */
export const DEFAULT_CERT_COMMON_NAME = 'Flusso Default Certificate';

/** DEFAULT_CERT_DNS_NAME is the one SAN of the generated default certificate, as ingress-nginx's fake certificate has. */
export const DEFAULT_CERT_DNS_NAME = 'ingress.local';

const OID = {
  commonName: '2.5.4.3',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  sha256WithRsa: '1.2.840.113549.1.1.11',
} as const;

/** keyUsage bit numbers (RFC 5280 §4.2.1.3). */
const KeyUsage = { digitalSignature: 0, keyEncipherment: 2, keyCertSign: 5, cRLSign: 6 } as const;

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** createCertificate builds and signs an X.509 v3 certificate; it throws a TypeError or RangeError on bad options. */
export function createCertificate(opts: CertificateOptions): CreatedCertificate {
  if (!(opts.notBefore.getTime() <= opts.notAfter.getTime())) throw new RangeError('x509: notBefore must not be after notAfter');
  const serial = opts.serial ?? BigInt(`0x${randomBytes(16).toString('hex')}`);
  if (serial < 1n) throw new RangeError('x509: serial must be positive');
  const publicKey = opts.subjectKey.type === 'private' ? createPublicKey(opts.subjectKey) : opts.subjectKey;
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const subject = name(opts.commonName);

  let issuerName: Buffer;
  let signingKey: KeyObject;
  let authorityKeyId: Buffer;
  if (opts.issuer === 'self') {
    if (opts.subjectKey.type !== 'private') throw new TypeError('x509: a self-signed certificate needs the subject private key');
    [issuerName, signingKey, authorityKeyId] = [subject, opts.subjectKey, keyIdentifier(spki)];
  } else {
    const ca = typeof opts.issuer.certificate === 'string' ? new X509Certificate(opts.issuer.certificate) : opts.issuer.certificate;
    if (!ca.checkPrivateKey(opts.issuer.key)) throw new TypeError('x509: the issuer key does not belong to the issuer certificate');
    const caTbs = tbsFields(ca.raw);
    issuerName = slice(ca.raw, caTbs.subject);
    signingKey = opts.issuer.key;
    // Reuse the CA's own subjectKeyIdentifier when it has one: OpenSSL skips a candidate
    // issuer whose SKI differs from the child's authorityKeyIdentifier.
    authorityKeyId = caTbs.subjectKeyId ?? keyIdentifier(ca.publicKey.export({ type: 'spki', format: 'der' }));
  }

  const algorithm = signatureAlgorithm(signingKey);
  const tbs = der.sequence(
    der.explicit(0, der.integer(2n)),
    der.integer(serial),
    algorithm,
    issuerName,
    der.sequence(der.time(opts.notBefore), der.time(opts.notAfter)),
    subject,
    spki,
    der.explicit(3, der.sequence(...extensions(opts, spki, authorityKeyId))),
  );
  const signature = sign('sha256', tbs, signingKey);
  const certificate = der.sequence(tbs, algorithm, der.bitString(signature));
  return { der: certificate, pem: toPem('CERTIFICATE', certificate) };
}

function extensions(opts: CertificateOptions, spki: Buffer, authorityKeyId: Buffer): Buffer[] {
  const isRsa = opts.subjectKey.asymmetricKeyType === 'rsa';
  const out = [
    // basicConstraints: cA defaults to FALSE, and DER omits a DEFAULT value, so a leaf has an empty SEQUENCE.
    extension(OID.basicConstraints, true, opts.isCA === true ? der.sequence(der.boolean(true)) : der.sequence()),
    extension(
      OID.keyUsage,
      true,
      der.namedBits(
        opts.isCA === true
          ? [KeyUsage.keyCertSign, KeyUsage.cRLSign]
          : // keyEncipherment only for RSA, as Go's generate_cert does: an EC key cannot encipher.
            [KeyUsage.digitalSignature, ...(isRsa ? [KeyUsage.keyEncipherment] : [])],
      ),
    ),
  ];
  if (opts.isCA !== true) out.push(extension(OID.extKeyUsage, false, der.sequence(der.oid(OID.serverAuth))));
  const dnsNames = opts.dnsNames ?? [];
  if (dnsNames.length > 0) {
    out.push(extension(OID.subjectAltName, false, der.sequence(...dnsNames.map((n) => der.implicit(2, der.ia5String(n))))));
  }
  out.push(extension(OID.subjectKeyIdentifier, false, der.octetString(keyIdentifier(spki))));
  out.push(extension(OID.authorityKeyIdentifier, false, der.sequence(der.implicit(0, der.octetString(authorityKeyId)))));
  return out;
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return der.sequence(der.oid(id), ...(critical ? [der.boolean(true)] : []), der.octetString(value));
}

/** A Name with one RDN, the commonName, as a UTF8String (RFC 5280 §4.1.2.6 wants UTF8String in new certificates). */
function name(commonName: string): Buffer {
  return der.sequence(der.set(der.sequence(der.oid(OID.commonName), der.utf8String(commonName))));
}

function signatureAlgorithm(key: KeyObject): Buffer {
  switch (key.asymmetricKeyType) {
    // RFC 5758 §3.2: the ECDSA AlgorithmIdentifier has no parameters at all.
    case 'ec':
      return der.sequence(der.oid(OID.ecdsaWithSha256));
    // RFC 4055 §5: the RSA one has NULL parameters.
    case 'rsa':
      return der.sequence(der.oid(OID.sha256WithRsa), der.nullValue());
    default:
      throw new TypeError(`x509: cannot sign with a ${key.asymmetricKeyType ?? 'symmetric'} key (EC or RSA only)`);
  }
}

/** RFC 5280 §4.2.1.2 method 1: the SHA-1 of the subjectPublicKey BIT STRING value, unused-bits byte excluded. */
function keyIdentifier(spki: Buffer): Buffer {
  const [, publicKey] = der.readChildren(spki, der.readElement(spki));
  if (publicKey?.tag !== der.Tag.BIT_STRING) throw new RangeError('x509: SubjectPublicKeyInfo has no BIT STRING');
  return createHash('sha1').update(spki.subarray(publicKey.contentStart + 1, publicKey.end)).digest();
}

/** Where a certificate's subject Name lies, and its subjectKeyIdentifier if it has one. */
function tbsFields(cert: Buffer): { subject: der.Element; subjectKeyId: Buffer | undefined } {
  const [tbs] = der.readChildren(cert, der.readElement(cert));
  if (tbs === undefined) throw new RangeError('x509: certificate has no tbsCertificate');
  const fields = der.readChildren(cert, tbs);
  // version [0] is optional (absent in v1 certificates); after it come serialNumber,
  // signature, issuer, validity and subject.
  const base = fields[0]?.tag === 0xa0 ? 1 : 0;
  const subject = fields[base + 4];
  if (subject?.tag !== der.Tag.SEQUENCE) throw new RangeError('x509: certificate has no subject Name');
  const extensionsTag = fields.find((f) => f.tag === 0xa3);
  let subjectKeyId: Buffer | undefined;
  if (extensionsTag !== undefined) {
    const [list] = der.readChildren(cert, extensionsTag);
    const wanted = der.oid(OID.subjectKeyIdentifier);
    for (const ext of list === undefined ? [] : der.readChildren(cert, list)) {
      const parts = der.readChildren(cert, ext);
      const value = parts[parts.length - 1];
      if (parts[0] === undefined || value === undefined || !slice(cert, parts[0]).equals(wanted)) continue;
      const inner = der.readElement(cert, value.contentStart, value.end);
      subjectKeyId = Buffer.from(cert.subarray(inner.contentStart, inner.end));
    }
  }
  return { subject, subjectKeyId };
}

function slice(buf: Buffer, el: der.Element): Buffer {
  return Buffer.from(buf.subarray(el.start, el.end));
}

/** toPem armours DER bytes as PEM: base64 in 64-character lines (RFC 7468). */
export function toPem(label: string, bytes: Buffer): string {
  const lines = bytes.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** generateKeyPair makes an EC P-256 or RSA 2048 key pair; `keyPem` is the private key as unencrypted PKCS#8 PEM. */
export function generateKeyPair(type: KeyType = 'ec'): GeneratedKeyPair {
  const { privateKey, publicKey } =
    type === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { privateKey, publicKey, keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/**
 * createSelfSignedDefault makes the certificate Flusso serves when no Ingress certificate fits:
 * an EC P-256 key and a self-signed leaf for DEFAULT_CERT_DNS_NAME, valid from an hour before
 * `now` (clock skew) for 365 days, as ingress-nginx's fake certificate.
 */
export function createSelfSignedDefault(now: Date): DefaultCertificate {
  const { privateKey, keyPem } = generateKeyPair('ec');
  const { pem } = createCertificate({
    subjectKey: privateKey,
    issuer: 'self',
    commonName: DEFAULT_CERT_COMMON_NAME,
    dnsNames: [DEFAULT_CERT_DNS_NAME],
    notBefore: new Date(now.getTime() - HOUR_MS),
    notAfter: new Date(now.getTime() + 365 * DAY_MS),
  });
  return { certPem: pem, keyPem };
}
