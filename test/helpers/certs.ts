/**
 * TLS fixtures: a throwaway CA per testPki call and the key pairs the TLS tests need, good
 * and bad, written with Flusso's own X.509 writer (src/primary/tls/x509.ts), plus the
 * kubernetes.io/tls Secret that carries a pair.
 */
import { randomBytes } from 'node:crypto';
import { createCertificate, generateKeyPair, type KeyType } from '../../src/primary/tls/x509.js';
import type { K8sObject } from './manifests.js';

/** TlsPair is a tls.crt / tls.key pair as PEM text. */
export interface TlsPair {
  /** The chain, leaf first. */
  readonly certPem: string;
  readonly keyPem: string;
}

/** LeafOptions tune a leaf certificate of testPki. */
export interface LeafOptions {
  readonly keyType?: KeyType;
  /** Defaults to the first host, or "flusso-test" when there is none. */
  readonly commonName?: string;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  /** Leave the CA out of tls.crt (a leaf-only chain). */
  readonly leafOnly?: boolean;
}

/** TestPki is one CA and the pairs it issues; every leaf is valid for hosts as given (SANs). */
export interface TestPki {
  /** The CA certificate, to trust in clients (`tls.connect({ ca })`, `openssl verify -CAfile`). */
  readonly caPem: string;
  /** valid is a CA-signed leaf valid from a day before `now` to 90 days after; tls.crt is leaf + CA. */
  valid(hosts: readonly string[], opts?: LeafOptions): TlsPair;
  /** selfSigned is a self-signed leaf, not issued by the CA. */
  selfSigned(hosts: readonly string[]): TlsPair;
  /** expired is a CA-signed leaf that expired a day before `now`. */
  expired(hosts: readonly string[]): TlsPair;
  /** notYetValid is a CA-signed leaf that becomes valid a day after `now`. */
  notYetValid(hosts: readonly string[]): TlsPair;
  /** wildcard is a CA-signed leaf for `*.domain`. */
  wildcard(domain: string): TlsPair;
  /** mismatched is a valid certificate with the private key of another key pair. */
  mismatched(hosts: readonly string[]): TlsPair;
  /** encryptedKey is a valid certificate whose key is PKCS#8 encrypted with the passphrase "x". */
  encryptedKey(hosts: readonly string[]): TlsPair;
  /** garbage is a PEM-armoured CERTIFICATE block of random bytes, with a good key. */
  garbage(): TlsPair;
  /** truncated is a valid pair whose tls.crt is cut in the middle of the leaf. */
  truncated(hosts: readonly string[]): TlsPair;
}

const DAY_MS = 86_400_000;

/** testPki creates a CA (EC P-256, valid ten years around `now`) and returns its fixture makers. */
export function testPki(now = new Date()): TestPki {
  const at = (days: number): Date => new Date(now.getTime() + days * DAY_MS);
  const ca = generateKeyPair('ec');
  const caPem = createCertificate({
    subjectKey: ca.privateKey,
    issuer: 'self',
    commonName: 'Flusso Test CA',
    notBefore: at(-365),
    notAfter: at(3650),
    isCA: true,
  }).pem;

  const valid = (hosts: readonly string[], opts: LeafOptions = {}): TlsPair => {
    const key = generateKeyPair(opts.keyType ?? 'ec');
    const leaf = createCertificate({
      subjectKey: key.publicKey,
      issuer: { certificate: caPem, key: ca.privateKey },
      commonName: opts.commonName ?? hosts[0] ?? 'flusso-test',
      dnsNames: hosts,
      notBefore: opts.notBefore ?? at(-1),
      notAfter: opts.notAfter ?? at(90),
    }).pem;
    return { certPem: opts.leafOnly === true ? leaf : leaf + caPem, keyPem: key.keyPem };
  };

  return {
    caPem,
    valid,
    selfSigned(hosts) {
      const key = generateKeyPair('ec');
      const certPem = createCertificate({
        subjectKey: key.privateKey,
        issuer: 'self',
        commonName: hosts[0] ?? 'flusso-test',
        dnsNames: hosts,
        notBefore: at(-1),
        notAfter: at(90),
      }).pem;
      return { certPem, keyPem: key.keyPem };
    },
    expired: (hosts) => valid(hosts, { notBefore: at(-90), notAfter: at(-1) }),
    notYetValid: (hosts) => valid(hosts, { notBefore: at(1), notAfter: at(90) }),
    wildcard: (domain) => valid([`*.${domain}`]),
    mismatched: (hosts) => ({ certPem: valid(hosts).certPem, keyPem: generateKeyPair('ec').keyPem }),
    encryptedKey(hosts) {
      const key = generateKeyPair('ec');
      const certPem = createCertificate({
        subjectKey: key.publicKey,
        issuer: { certificate: caPem, key: ca.privateKey },
        commonName: hosts[0] ?? 'flusso-test',
        dnsNames: hosts,
        notBefore: at(-1),
        notAfter: at(90),
      }).pem;
      const keyPem = key.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'x' }).toString();
      return { certPem: certPem + caPem, keyPem };
    },
    garbage() {
      const body = randomBytes(384).toString('base64').match(/.{1,64}/g)?.join('\n') ?? '';
      return { certPem: `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`, keyPem: generateKeyPair('ec').keyPem };
    },
    truncated(hosts) {
      const pair = valid(hosts, { leafOnly: true });
      return { certPem: pair.certPem.slice(0, Math.floor(pair.certPem.length / 2)), keyPem: pair.keyPem };
    },
  };
}

/** tlsSecret builds the kubernetes.io/tls Secret that carries `pair`. */
export function tlsSecret(namespace: string, name: string, pair: TlsPair): K8sObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'kubernetes.io/tls',
    metadata: { name, namespace },
    data: {
      'tls.crt': Buffer.from(pair.certPem).toString('base64'),
      'tls.key': Buffer.from(pair.keyPem).toString('base64'),
    },
  };
}
