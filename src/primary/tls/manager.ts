/**
 * The TLS manager (issue 11, docs/tls.md): from our Ingresses' `spec.tls` and the Secrets they
 * name to the TlsSnapshot the workers serve. It validates every key pair with node:crypto
 * before a worker sees it (uWebSockets.js crashes on a bad one), writes the accepted pairs as
 * PEM files into a private directory (uWebSockets.js reads files only), and remembers the last
 * good certificate of each host: a Secret that turns bad never takes a working certificate
 * away, it gets a diagnostic. Keys never leave this module except as those files.
 */
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Diagnostic, ErrorCode } from '../../shared/errors.js';
import type { TlsCertificate, TlsServerName, TlsSnapshot } from '../../shared/snapshot.js';
import type { Ingress, SecretView, TlsSecret } from '../model.js';
import { certificateCovers, expiresWithin, inspectKeyPair, type CertificateInfo } from './certificate.js';
import { claimTlsHosts } from './claims.js';
import { createSelfSignedDefault } from './x509.js';

/** EXPIRY_WARNING_DAYS: a certificate in use that expires sooner gets ING_ERR_TLS_CERT_EXPIRING. */
export const EXPIRY_WARNING_DAYS = 14;

/** TlsManagerOptions configure a TlsManager. */
export interface TlsManagerOptions {
  /** The private directory for the PEM files (created 0700 when missing). */
  readonly dir: string;
  /** Remove the directory itself at close (true when Flusso chose it); else only the files it wrote. */
  readonly ownsDir: boolean;
  /** `--default-ssl-certificate` as `namespace/name`. */
  readonly defaultSecret?: string;
  readonly log: Logger;
  readonly now?: () => Date;
}

/** ServedCertificate is an accepted key pair: its files and what its leaf says. */
interface ServedCertificate extends TlsCertificate {
  readonly info: CertificateInfo;
}

/** CertificateStatus is one row of /api/v1/certificates (never any key material). */
export interface CertificateStatus {
  /** The TLS host, or `*` for the default certificate. */
  readonly host: string;
  /** `namespace/name`; null for the generated default certificate or a host that names no Secret. */
  readonly secret: string | null;
  /** The Ingress that claims the host; null for the default certificate. */
  readonly ingress: string | null;
  /** ok; expiring (within 14 days); error (the Secret is unusable: see code); pending (being fetched). */
  readonly status: 'ok' | 'expiring' | 'error' | 'pending';
  /** What new connections for the host get: its own certificate, its last good one, or the default. */
  readonly serving: 'own' | 'last-good' | 'default';
  readonly code?: ErrorCode;
  readonly message?: string;
  /** The certificate served (own or last good; the default's for the default row). */
  readonly certificate?: CertificateInfo;
}

/** TlsAssembly is one assemble(): the snapshot to publish and the diagnostics of this state. */
export interface TlsAssembly {
  /** The same object as last time when nothing a worker sees changed. */
  readonly snapshot: TlsSnapshot;
  readonly diagnostics: readonly Diagnostic[];
}

type Checked = { readonly ok: true; readonly cert: ServedCertificate } | { readonly ok: false; readonly code: ErrorCode; readonly message: string };

/** TlsManager turns TLS claims and Secrets into TlsSnapshots; see the module comment. */
export class TlsManager {
  readonly #o: TlsManagerOptions;
  readonly #now: () => Date;
  /** Validated pairs by content hash (the same Secret data is inspected once). */
  readonly #checked = new Map<string, Checked>();
  /** The last certificate each host was served with successfully. */
  readonly #lastGood = new Map<string, ServedCertificate>();
  /** Files this manager wrote, by certificate id. */
  readonly #written = new Set<string>();
  #generated: ServedCertificate | null = null;
  #snapshot: TlsSnapshot | null = null;
  #previousIds = new Set<string>();
  #statuses: readonly CertificateStatus[] = [];
  #referenced: ReadonlySet<string> = new Set();

  constructor(opts: TlsManagerOptions) {
    this.#o = opts;
    this.#now = opts.now ?? (() => new Date());
  }

  /** init creates the directory (0700) and the generated self-signed default certificate. */
  init(): void {
    mkdirSync(this.#o.dir, { recursive: true, mode: 0o700 });
    chmodSync(this.#o.dir, 0o700);
    const { certPem, keyPem } = createSelfSignedDefault(this.#now());
    const checked = this.#check(certPem, keyPem);
    if (!checked.ok) throw new Error(`the generated default certificate does not validate: ${checked.message}`);
    this.#generated = checked.cert;
  }

  /** snapshot is the last assembled TlsSnapshot (the default certificate alone before the first assemble). */
  get snapshot(): TlsSnapshot {
    if (this.#snapshot === null) this.#snapshot = { defaultCertificate: filesOf(this.#default()), certificates: [], serverNames: [] };
    return this.#snapshot;
  }

  /** certificates are the rows of /api/v1/certificates for the last assemble. */
  get certificates(): readonly CertificateStatus[] {
    return this.#statuses;
  }

  /** referencedSecrets are the Secrets (`namespace/name`) the last assemble needed, the default one included. */
  get referencedSecrets(): ReadonlySet<string> {
    return this.#referenced;
  }

  /**
   * assemble computes the TlsSnapshot for our Ingresses (any order) and the Secrets. It never
   * throws on user data: a Secret that cannot be used gets a diagnostic, and its hosts keep
   * their last good certificate, else the default one.
   */
  assemble(ingresses: Iterable<Ingress>, secrets: SecretView): TlsAssembly {
    const now = this.#now();
    const { claims, diagnostics: claimDiagnostics } = claimTlsHosts(ingresses);
    const diagnostics: Diagnostic[] = [...claimDiagnostics];
    const statuses: CertificateStatus[] = [];
    const referenced = new Set<string>();
    const serverNames: TlsServerName[] = [];
    const certificates = new Map<string, TlsCertificate>();

    const defaultCert = this.#resolveDefault(secrets, now, diagnostics, statuses, referenced);
    for (const claim of claims) {
      const object = `Ingress ${claim.ingress}`;
      if (claim.secret === null) {
        statuses.push({ host: claim.host, secret: null, ingress: claim.ingress, status: 'ok', serving: 'default', certificate: defaultCert.info });
        continue;
      }
      referenced.add(claim.secret);
      const found = this.#lookup(secrets, claim.secret, now);
      let result: Checked | 'pending' = found;
      if (found !== 'pending' && found.ok && !certificateCovers(found.cert.info.dnsNames, claim.host))
        result = { ok: false, code: 'ING_ERR_TLS_CERT_HOST_MISMATCH', message: `certificate for ${found.cert.info.dnsNames.join(', ') || 'no DNS name'} does not cover ${claim.host}` };
      let served: ServedCertificate | undefined;
      if (result !== 'pending' && result.ok) {
        served = result.cert;
        this.#lastGood.set(claim.host, served);
        const expiring = expiresWithin(served.info, now, EXPIRY_WARNING_DAYS);
        if (expiring) diagnostics.push({ code: 'ING_ERR_TLS_CERT_EXPIRING', severity: 'warning', object, message: `the certificate of Secret ${claim.secret} for ${claim.host} expires ${served.info.notAfter}` });
        statuses.push({ host: claim.host, secret: claim.secret, ingress: claim.ingress, status: expiring ? 'expiring' : 'ok', serving: 'own', certificate: served.info });
      } else {
        served = this.#lastGood.get(claim.host);
        const fallback = served === undefined ? 'the default certificate is served' : `its last good certificate (until ${served.info.notAfter}) is still served`;
        if (result === 'pending') statuses.push({ host: claim.host, secret: claim.secret, ingress: claim.ingress, status: 'pending', serving: served === undefined ? 'default' : 'last-good', certificate: (served ?? defaultCert).info });
        else {
          diagnostics.push({ code: result.code, severity: 'error', object, message: `TLS host ${claim.host}, Secret ${claim.secret}: ${result.message}; ${fallback}` });
          statuses.push({ host: claim.host, secret: claim.secret, ingress: claim.ingress, status: 'error', serving: served === undefined ? 'default' : 'last-good', code: result.code, message: result.message, certificate: (served ?? defaultCert).info });
        }
      }
      if (served !== undefined) {
        serverNames.push({ name: claim.host, certificate: served.id });
        certificates.set(served.id, filesOf(served));
      }
    }
    const snapshot: TlsSnapshot = {
      defaultCertificate: filesOf(defaultCert),
      certificates: [...certificates.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
      serverNames,
    };
    const previous = this.#snapshot;
    const same = previous !== null && JSON.stringify(previous) === JSON.stringify(snapshot);
    if (!same) {
      this.#collect(previous, snapshot);
      this.#snapshot = snapshot;
    }
    this.#statuses = statuses;
    this.#referenced = referenced;
    return { snapshot: this.#snapshot as TlsSnapshot, diagnostics };
  }

  /** close removes the files it wrote, and the directory when it chose it. */
  close(): void {
    if (this.#o.ownsDir) rmSync(this.#o.dir, { recursive: true, force: true });
    else for (const id of this.#written) this.#remove(id);
  }

  #default(): ServedCertificate {
    if (this.#generated === null) throw new Error('TlsManager.init was not called');
    return this.#generated;
  }

  /** #resolveDefault picks the default certificate: the --default-ssl-certificate Secret when usable, else the generated one. */
  #resolveDefault(secrets: SecretView, now: Date, diagnostics: Diagnostic[], statuses: CertificateStatus[], referenced: Set<string>): ServedCertificate {
    const key = this.#o.defaultSecret;
    if (key === undefined) {
      statuses.push({ host: '*', secret: null, ingress: null, status: 'ok', serving: 'default', certificate: this.#default().info });
      return this.#default();
    }
    referenced.add(key);
    const found = this.#lookup(secrets, key, now);
    if (found !== 'pending' && found.ok) {
      this.#lastGood.set('*', found.cert);
      const expiring = expiresWithin(found.cert.info, now, EXPIRY_WARNING_DAYS);
      if (expiring) diagnostics.push({ code: 'ING_ERR_TLS_CERT_EXPIRING', severity: 'warning', object: `Secret ${key}`, message: `the default certificate expires ${found.cert.info.notAfter}` });
      statuses.push({ host: '*', secret: key, ingress: null, status: expiring ? 'expiring' : 'ok', serving: 'own', certificate: found.cert.info });
      return found.cert;
    }
    const lastGood = this.#lastGood.get('*');
    const served = lastGood ?? this.#default();
    if (found === 'pending') statuses.push({ host: '*', secret: key, ingress: null, status: 'pending', serving: 'default', certificate: served.info });
    else {
      diagnostics.push({ code: 'ING_ERR_TLS_DEFAULT_CERT', severity: 'error', object: `Secret ${key}`, message: `--default-ssl-certificate: ${found.message}; ${lastGood === undefined ? 'the generated self-signed certificate' : 'its last good certificate'} is served` });
      statuses.push({ host: '*', secret: key, ingress: null, status: 'error', serving: 'default', code: found.code, message: found.message, certificate: served.info });
    }
    return served;
  }

  /** #lookup finds and validates a Secret's pair (validity dates against `now`). */
  #lookup(secrets: SecretView, key: string, now: Date): Checked | 'pending' {
    const slash = key.indexOf('/');
    const secret = secrets.secret(key.slice(0, slash), key.slice(slash + 1));
    if (secret === 'pending') return 'pending';
    if (secret === undefined) return { ok: false, code: 'ING_ERR_TLS_SECRET_NOT_FOUND', message: 'there is no Secret of type kubernetes.io/tls of that name in the namespace' };
    const pair = pemPair(secret);
    if (typeof pair === 'string') return { ok: false, code: 'ING_ERR_TLS_SECRET_INVALID', message: pair };
    const checked = this.#check(pair.cert, pair.key);
    if (!checked.ok) return checked;
    const { notBefore, notAfter } = checked.cert.info;
    if (now < new Date(notBefore)) return { ok: false, code: 'ING_ERR_TLS_CERT_EXPIRED', message: `the certificate is not valid before ${notBefore}` };
    if (now > new Date(notAfter)) return { ok: false, code: 'ING_ERR_TLS_CERT_EXPIRED', message: `the certificate expired ${notAfter}` };
    return checked;
  }

  /**
   * #check validates a pair once per content and writes the accepted one's files. The validity
   * dates are checked by the caller against its `now`: the cached verdict is about the data.
   */
  #check(certPem: string, keyPem: string): Checked {
    const id = createHash('sha256').update(certPem).update('\0').update(keyPem).digest('hex').slice(0, 32);
    const cached = this.#checked.get(id);
    if (cached !== undefined) return cached;
    // A pair refused for its dates alone is kept as sound: #lookup judges the dates each time.
    const result = inspectKeyPair(certPem, keyPem, this.#now());
    const info = result.ok ? result.info : result.code === 'ING_ERR_TLS_CERT_EXPIRED' ? result.info : undefined;
    const checked: Checked = info !== undefined ? { ok: true, cert: { ...this.#write(id, certPem, keyPem), info } } : { ok: false, code: (result as { code: ErrorCode }).code, message: (result as { message: string }).message };
    if (this.#checked.size > 10_000) this.#checked.clear();
    this.#checked.set(id, checked);
    return checked;
  }

  /** #write writes a pair's files (0600, atomically) unless already there. */
  #write(id: string, certPem: string, keyPem: string): TlsCertificate {
    const files = { id, certFile: join(this.#o.dir, `${id}.crt`), keyFile: join(this.#o.dir, `${id}.key`) };
    if (!this.#written.has(id) || !existsSync(files.certFile) || !existsSync(files.keyFile)) {
      for (const [file, text] of [[files.certFile, certPem], [files.keyFile, keyPem]] as const) {
        writeFileSync(`${file}.tmp`, text, { mode: 0o600 });
        renameSync(`${file}.tmp`, file);
      }
      this.#written.add(id);
    }
    return files;
  }

  /** #collect removes the files no longer named by the current or the previous snapshot (a lagging worker may still read those). */
  #collect(previous: TlsSnapshot | null, next: TlsSnapshot): void {
    const live = new Set([...idsOf(next), ...(previous === null ? [] : idsOf(previous))]);
    for (const id of this.#previousIds) if (!live.has(id) && id !== this.#generated?.id) this.#remove(id);
    this.#previousIds = live;
    // A file of a pair that was never served (a host mismatch) is removed once unused as well.
    for (const id of [...this.#written]) if (!live.has(id) && id !== this.#generated?.id && !this.#isLastGood(id)) this.#remove(id);
  }

  #isLastGood(id: string): boolean {
    for (const c of this.#lastGood.values()) if (c.id === id) return true;
    return false;
  }

  #remove(id: string): void {
    rmSync(join(this.#o.dir, `${id}.crt`), { force: true });
    rmSync(join(this.#o.dir, `${id}.key`), { force: true });
    this.#written.delete(id);
    this.#checked.delete(id);
  }
}

function filesOf(c: TlsCertificate): TlsCertificate {
  return { id: c.id, certFile: c.certFile, keyFile: c.keyFile };
}

function idsOf(s: TlsSnapshot): string[] {
  return [s.defaultCertificate.id, ...s.certificates.map((c) => c.id)];
}

/** pemPair reads tls.crt and tls.key from a Secret, or says what is wrong with it. */
function pemPair(secret: TlsSecret): { cert: string; key: string } | string {
  if (secret.type !== 'kubernetes.io/tls') return `the Secret is of type ${secret.type}, not kubernetes.io/tls`;
  const crt = secret.data['tls.crt'];
  const key = secret.data['tls.key'];
  if (crt === undefined || crt === '') return 'the Secret has no tls.crt';
  if (key === undefined || key === '') return 'the Secret has no tls.key';
  return { cert: Buffer.from(crt, 'base64').toString('utf8'), key: Buffer.from(key, 'base64').toString('utf8') };
}

/** listTlsDir lists the certificate files in a TLS directory (tests check permissions with it). */
export function listTlsDir(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}
