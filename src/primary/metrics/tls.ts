/**
 * TLS certificate metrics, read from the TLS manager's rows at scrape time: when the certificate
 * each host is served with expires, so that an alert can fire before it does, and how many rows
 * are in each status. Label values come from configured objects only (hosts and Secrets).
 */
import { splitObjectKey } from '../../shared/keys.js';
import type { CertificateStatus } from '../tls/manager.js';
import type { ExpositionWriter } from './exposition.js';

/** EXPIRY_FAMILY is the expiry gauge (Unix seconds; `- time()` gives seconds left). */
export const EXPIRY_FAMILY = 'flusso_tls_certificate_expiry_timestamp_seconds';
/** STATUS_FAMILY counts the TLS hosts and the default certificate by status. */
export const STATUS_FAMILY = 'flusso_tls_certificates';

const STATUSES = ['ok', 'expiring', 'error', 'pending'] as const satisfies readonly CertificateStatus['status'][];

/**
 * renderTlsMetrics writes both families for `rows`. The expiry value is the notAfter of the
 * certificate a host is served with: its own, its last good one, or the default one; the labels
 * name the host and the Secret it asks for (`host="*"` is the default certificate; empty
 * namespace and secret when there is no Secret, as for the generated default). A row whose Secret
 * is still being fetched carries no certificate: its host gets the default one meanwhile.
 */
export function renderTlsMetrics(w: ExpositionWriter, rows: readonly CertificateStatus[]): void {
  w.family(EXPIRY_FAMILY, 'gauge', 'When the certificate served for each TLS host expires (notAfter), Unix seconds; host="*" is the default certificate.');
  const fallback = rows.find((r) => r.host === '*')?.certificate;
  for (const r of rows) {
    const served = r.certificate ?? (r.serving === 'default' ? fallback : undefined);
    if (served === undefined) continue;
    const secret = r.secret === null ? { namespace: '', name: '' } : splitObjectKey(r.secret);
    w.sample(EXPIRY_FAMILY, [['host', r.host], ['namespace', secret.namespace], ['secret', secret.name]], Date.parse(served.notAfter) / 1000);
  }
  w.family(STATUS_FAMILY, 'gauge', 'TLS hosts and the default certificate by status: ok, expiring (within 14 days), error (the Secret is unusable), pending (being fetched).');
  for (const status of STATUSES) w.sample(STATUS_FAMILY, [['status', status]], rows.reduce((n, r) => n + (r.status === status ? 1 : 0), 0));
}
