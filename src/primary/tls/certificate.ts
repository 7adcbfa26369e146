/**
 * Validation of TLS key pairs before any worker sees them. uWebSockets.js segfaults on a bad
 * key pair, so the primary checks every Secret's pair here with node:crypto and hands workers
 * only pairs that OpenSSL has already accepted. The core is pure apart from node:crypto and
 * node:tls parsing: it takes `now` instead of reading a clock, and never throws.
 */
import { createPrivateKey, KeyObject, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { createSecureContext } from 'node:tls';
import type { ErrorCode } from '../../shared/errors.js';

/** CertificateInfo describes the leaf of an accepted key pair, for routing, the GUI and status. */
export interface CertificateInfo {
  /** The subject CN, or the whole subject (`k=v, k=v`) when it has no CN. */
  readonly subject: string;
  /** The issuer CN, or the whole issuer when it has no CN. */
  readonly issuer: string;
  /** The subjectAltName DNS entries; the CN only when there are none (RFC 6125 §6.4.4). */
  readonly dnsNames: readonly string[];
  /** ISO 8601. */
  readonly notBefore: string;
  /** ISO 8601. */
  readonly notAfter: string;
  /** SHA-256 of the leaf DER, colon-separated upper-case hex (as openssl prints it). */
  readonly fingerprint256: string;
  /** Upper-case hex. */
  readonly serialNumber: string;
  readonly selfSigned: boolean;
  /** How many certificates tls.crt holds, leaf included. */
  readonly chainLength: number;
}

/**
 * KeyPairResult is what inspectKeyPair finds: the leaf's info, or why the pair is refused. A pair
 * refused only for its dates (ING_ERR_TLS_CERT_EXPIRED) carries the leaf's info too: the pair
 * itself is sound, and a caller that keeps verdicts may judge the dates again later.
 */
export type KeyPairResult =
  | { readonly ok: true; readonly info: CertificateInfo }
  | { readonly ok: false; readonly code: ErrorCode; readonly message: string; readonly info?: CertificateInfo };

type Failure = Extract<KeyPairResult, { ok: false }>;

const fail = (code: ErrorCode, message: string): Failure => ({ ok: false, code, message });

const DAY_MS = 86_400_000;

// RFC 7468 §2: a block is `-----BEGIN label-----`, base64 lines, `-----END label-----`;
// text between blocks ("explanatory text", as in CA bundles) is allowed and ignored.
const BEGIN = /-----BEGIN ([A-Z0-9 ]+)-----/g;
const BASE64_BODY = /^[A-Za-z0-9+/\s]*={0,2}\s*$/;

/**
 * inspectKeyPair checks a tls.crt / tls.key pair in the order a user would fix it: the chain
 * parses, the key parses and is not encrypted, the key belongs to the leaf, the leaf is valid
 * at `now`, and OpenSSL builds a TLS context from the pair. Messages name the problem and
 * never quote key material or PEM text.
 */
export function inspectKeyPair(certPem: string, keyPem: string, now: Date): KeyPairResult {
  const chain = parseChain(certPem);
  if (!Array.isArray(chain)) return chain;
  const [leaf] = chain;
  if (leaf === undefined) return fail('ING_ERR_TLS_CERT_INVALID', 'tls.crt holds no PEM certificate');

  const key = parseKey(keyPem);
  if (!(key instanceof KeyObject)) return key;
  const unsupported = unsupportedKeyType(key);
  if (unsupported !== null) return fail('ING_ERR_TLS_KEY_INVALID', unsupported);
  if (!leaf.checkPrivateKey(key)) return fail('ING_ERR_TLS_KEY_MISMATCH', 'tls.key is not the private key of the first certificate in tls.crt');

  try {
    createSecureContext({ cert: certPem, key: keyPem });
  } catch (err) {
    return secureContextFailure(err);
  }
  const info = describe(leaf, chain.length);
  if (now.getTime() < leaf.validFromDate.getTime()) {
    return { ...fail('ING_ERR_TLS_CERT_EXPIRED', `certificate is not valid before ${leaf.validFromDate.toISOString()}`), info };
  }
  if (now.getTime() > leaf.validToDate.getTime()) {
    return { ...fail('ING_ERR_TLS_CERT_EXPIRED', `certificate expired at ${leaf.validToDate.toISOString()}`), info };
  }
  return { ok: true, info };
}

function parseChain(certPem: string): X509Certificate[] | Failure {
  const chain: X509Certificate[] = [];
  for (const begin of certPem.matchAll(BEGIN)) {
    const label = begin[1] ?? '';
    const position = chain.length === 0 ? 'the first certificate' : `certificate ${chain.length + 1}`;
    if (label !== 'CERTIFICATE') return fail('ING_ERR_TLS_CERT_INVALID', `tls.crt holds a "${label}" PEM block; only CERTIFICATE blocks belong there`);
    const bodyStart = begin.index + begin[0].length;
    const end = certPem.indexOf('-----END CERTIFICATE-----', bodyStart);
    const nextBegin = certPem.indexOf('-----BEGIN', bodyStart);
    if (end < 0 || (nextBegin >= 0 && nextBegin < end)) return fail('ING_ERR_TLS_CERT_INVALID', `${position} in tls.crt is truncated (no END line)`);
    const body = certPem.slice(bodyStart, end);
    if (!BASE64_BODY.test(body)) return fail('ING_ERR_TLS_CERT_INVALID', `${position} in tls.crt is not valid base64`);
    const der = Buffer.from(body, 'base64');
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(der);
    } catch {
      // OpenSSL's reason here is useless ("no start line": Node tries PEM before DER).
      return fail('ING_ERR_TLS_CERT_INVALID', `${position} in tls.crt is not an X.509 certificate`);
    }
    // OpenSSL stops at the end of the certificate; bytes after it mean the block was damaged.
    if (cert.raw.length !== der.length) return fail('ING_ERR_TLS_CERT_INVALID', `${position} in tls.crt has trailing bytes after the certificate`);
    chain.push(cert);
  }
  if (chain.length === 0) return fail('ING_ERR_TLS_CERT_INVALID', 'tls.crt holds no PEM certificate');
  return chain;
}

function parseKey(keyPem: string): KeyObject | Failure {
  // Checked before parsing so that no passphrase callback ever runs: a Secret's key must be
  // usable as is, and there is nobody to type a passphrase.
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type:\s*4,ENCRYPTED/.test(keyPem)) {
    return fail('ING_ERR_TLS_KEY_INVALID', 'tls.key is encrypted with a passphrase; a TLS Secret needs an unencrypted key');
  }
  if (!/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(keyPem)) return fail('ING_ERR_TLS_KEY_INVALID', 'tls.key holds no PEM private key');
  try {
    return createPrivateKey({ key: keyPem, format: 'pem' });
  } catch (err) {
    return fail('ING_ERR_TLS_KEY_INVALID', `tls.key does not parse as a private key (${reason(err)})`);
  }
}

/** The EC curves BoringSSL (the TLS library inside uWebSockets.js) serves certificates on. */
const SERVING_CURVES: ReadonlySet<string> = new Set(['prime256v1', 'secp384r1', 'secp521r1']);

/**
 * unsupportedKeyType says why the TLS library the workers use cannot load `key` (null when it
 * can). Node's OpenSSL parses more key types than BoringSSL serves: an RSA-PSS key or a
 * secp256k1 key would pass every check here and then fail in the worker (docs/tls.md).
 */
function unsupportedKeyType(key: KeyObject): string | null {
  const type = key.asymmetricKeyType ?? 'unknown';
  if (type === 'rsa' || type === 'ed25519') return null;
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve ?? 'unknown';
    return SERVING_CURVES.has(curve) ? null : `tls.key is an EC key on curve ${curve}; the TLS library serves P-256, P-384 and P-521 only`;
  }
  return `tls.key is a ${type.toUpperCase()} key; the TLS library serves RSA, EC (P-256, P-384, P-521) and Ed25519 keys only`;
}

/** Maps an OpenSSL refusal (an RSA key too small for the security level, a weak signature digest) to a code. */
function secureContextFailure(err: unknown): Failure {
  const why = reason(err);
  if (/key values mismatch/i.test(why)) return fail('ING_ERR_TLS_KEY_MISMATCH', `OpenSSL refused the key pair (${why})`);
  if (/^ca |md too weak|certificate/i.test(why)) return fail('ING_ERR_TLS_CERT_INVALID', `OpenSSL refused the certificate (${why})`);
  if (/key/i.test(why)) return fail('ING_ERR_TLS_KEY_INVALID', `OpenSSL refused the private key (${why})`);
  return fail('ING_ERR_TLS_CERT_INVALID', `OpenSSL refused the certificate (${why})`);
}

/**
 * The reason of an error: the text after OpenSSL's `routines::`, first line only. A Node
 * argument error quotes part of its input ("Received ..."), so it is reduced to its code.
 */
function reason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const text = (message.split('::').pop() ?? '').split('\n')[0] ?? '';
  if (text === '' || /-----|Received/.test(text)) {
    const code = (err as { code?: unknown } | null)?.code;
    return typeof code === 'string' ? code : 'unreadable input';
  }
  return text.slice(0, 120);
}

function describe(leaf: X509Certificate, chainLength: number): CertificateInfo {
  const sans = subjectAltNames(leaf.subjectAltName ?? '');
  const dns = sans.filter((s) => s.type === 'DNS').map((s) => s.value);
  const cn = commonName(leaf.subject);
  return {
    subject: cn ?? flatten(leaf.subject),
    issuer: commonName(leaf.issuer) ?? flatten(leaf.issuer),
    dnsNames: dns.length > 0 ? dns : cn === undefined ? [] : [cn],
    notBefore: leaf.validFromDate.toISOString(),
    notAfter: leaf.validToDate.toISOString(),
    fingerprint256: leaf.fingerprint256,
    serialNumber: leaf.serialNumber,
    // Not checkIssued(leaf): OpenSSL's issuer check also wants keyCertSign, which a
    // self-signed server certificate usually lacks.
    selfSigned: leaf.subject === leaf.issuer && leaf.verify(leaf.publicKey),
    chainLength,
  };
}

/** Node prints a Name as one `key=value` line per attribute. */
function commonName(name: string): string | undefined {
  const line = name.split('\n').find((l) => l.startsWith('CN='));
  return line === undefined ? undefined : line.slice(3);
}

function flatten(name: string): string {
  return name.split('\n').filter(Boolean).join(', ');
}

/**
 * Parses Node's subjectAltName text: `DNS:a.example.com, IP Address:10.0.0.1`. Since
 * CVE-2021-44532 Node writes a value holding a comma, quote or other special character as a
 * JSON string, so a plain split on ", " would misread a crafted name.
 */
function subjectAltNames(text: string): { type: string; value: string }[] {
  const out: { type: string; value: string }[] = [];
  let at = 0;
  while (at < text.length) {
    const colon = text.indexOf(':', at);
    if (colon < 0) break;
    const type = text.slice(at, colon);
    let value: string;
    let next: number;
    if (text[colon + 1] === '"') {
      const close = /^"(?:[^"\\]|\\.)*"/.exec(text.slice(colon + 1));
      if (close === null) break;
      value = JSON.parse(close[0]) as string;
      next = colon + 1 + close[0].length;
    } else {
      const comma = text.indexOf(', ', colon);
      next = comma < 0 ? text.length : comma;
      value = text.slice(colon + 1, next);
    }
    out.push({ type, value });
    at = next + 2;
  }
  return out;
}

/**
 * certificateCovers reports whether a certificate for `dnsNames` may serve `host`, by RFC 6125
 * §6.4.3: names compare case-insensitively without a trailing dot; `*.example.com` covers
 * exactly one extra left-most label (`a.example.com`, not `example.com` nor
 * `a.b.example.com`); a partial-label wildcard (`f*.example.com`) or a wildcard over a single
 * label (`*.com`) covers nothing. A wildcard Ingress host is covered only by the identical
 * wildcard name. IP addresses are never covered: Ingress hosts are DNS names.
 */
export function certificateCovers(dnsNames: readonly string[], host: string): boolean {
  const want = normalize(host);
  if (want === '' || isIP(want) !== 0) return false;
  const hostIsWildcard = want.startsWith('*.');
  if (want.slice(hostIsWildcard ? 2 : 0).includes('*')) return false;
  for (const raw of dnsNames) {
    const name = normalize(raw);
    if (name.startsWith('*.')) {
      const suffix = name.slice(1);
      if (suffix.includes('*') || !suffix.slice(1).includes('.')) continue;
      if (name === want) return true;
      if (hostIsWildcard || !want.endsWith(suffix)) continue;
      const label = want.slice(0, -suffix.length);
      if (label !== '' && !label.includes('.')) return true;
    } else if (!name.includes('*') && name === want) {
      return true;
    }
  }
  return false;
}

function normalize(name: string): string {
  const lower = name.trim().toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/** expiresWithin reports whether the certificate's notAfter is at most `days` days after `now` (true once expired). */
export function expiresWithin(info: Pick<CertificateInfo, 'notAfter'>, now: Date, days: number): boolean {
  return Date.parse(info.notAfter) - now.getTime() <= days * DAY_MS;
}
