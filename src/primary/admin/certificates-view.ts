/**
 * The data of `GET /api/v1/certificates`: the TLS manager's rows, each with the whole days left
 * on the certificate served. The rows are copied field by field, not spread, so that nothing
 * added to the manager's types later (a file path, a key) reaches the API unless it is named here.
 */
import type { CertificateInfo } from '../tls/certificate.js';
import type { CertificateStatus } from '../tls/manager.js';

const DAY_MS = 86_400_000;

/** CertificateRow is one row of /api/v1/certificates. */
export interface CertificateRow extends CertificateStatus {
  /** Whole days from now until the served certificate's notAfter, negative once expired; null when none is served yet. */
  readonly daysLeft: number | null;
}

/**
 * daysLeft is the number of whole days from `now` until `notAfter` (ISO 8601), rounded down:
 * 13 days and 23 hours is 13, and an hour past expiry is already -1, so "< 0" means expired.
 */
export function daysLeft(notAfter: string, now: Date): number {
  return Math.floor((Date.parse(notAfter) - now.getTime()) / DAY_MS);
}

/** certificatesView adds daysLeft (against `now`) to every row, and keeps only the fields the API shows. */
export function certificatesView(rows: readonly CertificateStatus[], now: Date): CertificateRow[] {
  return rows.map((r) => ({
    host: r.host,
    secret: r.secret,
    ingress: r.ingress,
    status: r.status,
    serving: r.serving,
    ...(r.code === undefined ? {} : { code: r.code }),
    ...(r.message === undefined ? {} : { message: r.message }),
    ...(r.certificate === undefined ? {} : { certificate: publicInfo(r.certificate) }),
    daysLeft: r.certificate === undefined ? null : daysLeft(r.certificate.notAfter, now),
  }));
}

function publicInfo(c: CertificateInfo): CertificateInfo {
  return {
    subject: c.subject,
    issuer: c.issuer,
    dnsNames: [...c.dnsNames],
    notBefore: c.notBefore,
    notAfter: c.notAfter,
    fingerprint256: c.fingerprint256,
    serialNumber: c.serialNumber,
    selfSigned: c.selfSigned,
    chainLength: c.chainLength,
  };
}
