import { describe, expect, it } from 'vitest';
import { ExpositionWriter } from '../../../../src/primary/metrics/exposition.js';
import { renderTlsMetrics } from '../../../../src/primary/metrics/tls.js';
import type { CertificateInfo } from '../../../../src/primary/tls/certificate.js';
import type { CertificateStatus } from '../../../../src/primary/tls/manager.js';

const info = (notAfter: string): CertificateInfo => ({
  subject: 'x',
  issuer: 'Test CA',
  dnsNames: ['x'],
  notBefore: '2027-01-01T00:00:00.000Z',
  notAfter,
  fingerprint256: 'AB:CD',
  serialNumber: '01',
  selfSigned: false,
  chainLength: 1,
});

const DEFAULT_NOT_AFTER = '2028-01-01T00:00:00.000Z'; // 1830297600
const render = (rows: readonly CertificateStatus[]): string[] => {
  const w = new ExpositionWriter();
  renderTlsMetrics(w, rows);
  return w.text().split('\n').filter((l) => l !== '');
};

const HEAD = [
  '# HELP flusso_tls_certificate_expiry_timestamp_seconds When the certificate served for each TLS host expires (notAfter), Unix seconds; host="*" is the default certificate.',
  '# TYPE flusso_tls_certificate_expiry_timestamp_seconds gauge',
];
const STATUS_HEAD = [
  '# HELP flusso_tls_certificates TLS hosts and the default certificate by status: ok, expiring (within 14 days), error (the Secret is unusable), pending (being fetched).',
  '# TYPE flusso_tls_certificates gauge',
];

describe('renderTlsMetrics', () => {
  it.each<{ name: string; rows: CertificateStatus[]; want: string[] }>([
    {
      name: 'no rows: both families, every status at 0',
      rows: [],
      want: [...HEAD, ...STATUS_HEAD, 'flusso_tls_certificates{status="ok"} 0', 'flusso_tls_certificates{status="expiring"} 0', 'flusso_tls_certificates{status="error"} 0', 'flusso_tls_certificates{status="pending"} 0'],
    },
    {
      name: 'the generated default, a host of its own, a broken one on its last good, one served the default, one still pending',
      rows: [
        { host: '*', secret: null, ingress: null, status: 'ok', serving: 'default', certificate: info(DEFAULT_NOT_AFTER) },
        { host: 'a.test', secret: 'shop/a-tls', ingress: 'shop/a', status: 'expiring', serving: 'own', certificate: info('2027-03-10T12:00:00.000Z') },
        { host: 'b.test', secret: 'shop/b-tls', ingress: 'shop/b', status: 'error', serving: 'last-good', code: 'ING_ERR_TLS_KEY_MISMATCH', message: 'x', certificate: info('2027-06-01T00:00:00.000Z') },
        { host: 'c.test', secret: 'shop/c-tls', ingress: 'shop/c', status: 'error', serving: 'default', code: 'ING_ERR_TLS_SECRET_NOT_FOUND', message: 'x', certificate: info(DEFAULT_NOT_AFTER) },
        { host: 'd.test', secret: 'shop/d-tls', ingress: 'shop/d', status: 'pending', serving: 'default' },
        { host: 'e.test', secret: null, ingress: 'shop/e', status: 'ok', serving: 'default', certificate: info(DEFAULT_NOT_AFTER) },
      ],
      want: [
        ...HEAD,
        'flusso_tls_certificate_expiry_timestamp_seconds{host="*",namespace="",secret=""} 1830297600',
        'flusso_tls_certificate_expiry_timestamp_seconds{host="a.test",namespace="shop",secret="a-tls"} 1804680000',
        'flusso_tls_certificate_expiry_timestamp_seconds{host="b.test",namespace="shop",secret="b-tls"} 1811808000',
        'flusso_tls_certificate_expiry_timestamp_seconds{host="c.test",namespace="shop",secret="c-tls"} 1830297600',
        // Pending: no certificate in the row, but the host gets the default one meanwhile.
        'flusso_tls_certificate_expiry_timestamp_seconds{host="d.test",namespace="shop",secret="d-tls"} 1830297600',
        'flusso_tls_certificate_expiry_timestamp_seconds{host="e.test",namespace="",secret=""} 1830297600',
        ...STATUS_HEAD,
        'flusso_tls_certificates{status="ok"} 2',
        'flusso_tls_certificates{status="expiring"} 1',
        'flusso_tls_certificates{status="error"} 2',
        'flusso_tls_certificates{status="pending"} 1',
      ],
    },
    {
      name: '--default-ssl-certificate: the default row names its Secret',
      rows: [{ host: '*', secret: 'ingress/default-tls', ingress: null, status: 'ok', serving: 'own', certificate: info(DEFAULT_NOT_AFTER) }],
      want: [...HEAD, 'flusso_tls_certificate_expiry_timestamp_seconds{host="*",namespace="ingress",secret="default-tls"} 1830297600', ...STATUS_HEAD, 'flusso_tls_certificates{status="ok"} 1', 'flusso_tls_certificates{status="expiring"} 0', 'flusso_tls_certificates{status="error"} 0', 'flusso_tls_certificates{status="pending"} 0'],
    },
  ])('$name', ({ rows, want }) => {
    expect(render(rows)).toEqual(want);
  });
});
