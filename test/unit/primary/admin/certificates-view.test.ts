import { describe, expect, it } from 'vitest';
import { certificatesView, daysLeft } from '../../../../src/primary/admin/certificates-view.js';
import type { CertificateInfo } from '../../../../src/primary/tls/certificate.js';
import type { CertificateStatus } from '../../../../src/primary/tls/manager.js';

const NOW = new Date('2027-03-01T12:00:00.000Z');
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const at = (ms: number): string => new Date(NOW.getTime() + ms).toISOString();

const info = (notAfter: string): CertificateInfo => ({
  subject: 'shop.test',
  issuer: 'Test CA',
  dnsNames: ['shop.test'],
  notBefore: '2027-01-01T00:00:00.000Z',
  notAfter,
  fingerprint256: 'AB:CD',
  serialNumber: '01',
  selfSigned: false,
  chainLength: 2,
});

describe('daysLeft', () => {
  it.each([
    { name: 'ninety days', notAfter: at(90 * DAY_MS), want: 90 },
    { name: 'rounds down: 13 days 23 hours', notAfter: at(14 * DAY_MS - HOUR_MS), want: 13 },
    { name: 'exactly 14 days', notAfter: at(14 * DAY_MS), want: 14 },
    { name: 'expires within the day', notAfter: at(HOUR_MS), want: 0 },
    { name: 'expires now', notAfter: at(0), want: 0 },
    { name: 'an hour past expiry is already negative', notAfter: at(-HOUR_MS), want: -1 },
    { name: 'expired two days and a bit ago', notAfter: at(-2 * DAY_MS - 1), want: -3 },
  ])('$name → $want', ({ notAfter, want }) => {
    expect(daysLeft(notAfter, NOW)).toBe(want);
  });
});

describe('certificatesView', () => {
  it('adds daysLeft to every row, null where no certificate is served yet', () => {
    const rows: CertificateStatus[] = [
      { host: '*', secret: null, ingress: null, status: 'ok', serving: 'default', certificate: info(at(365 * DAY_MS)) },
      { host: 'late.test', secret: 'shop/late', ingress: 'shop/late', status: 'error', serving: 'last-good', code: 'ING_ERR_TLS_CERT_EXPIRED', message: 'the certificate expired', certificate: info(at(-DAY_MS)) },
      { host: 'new.test', secret: 'shop/new', ingress: 'shop/new', status: 'pending', serving: 'default' },
    ];
    expect(certificatesView(rows, NOW)).toEqual([
      { ...rows[0], daysLeft: 365 },
      { ...rows[1], daysLeft: -1 },
      { ...rows[2], daysLeft: null },
    ]);
  });

  it('passes on only the fields it names, so nothing added to the rows later leaks', () => {
    const row = { host: 'shop.test', secret: 'shop/tls', ingress: 'shop/shop', status: 'ok', serving: 'own', certificate: { ...info(at(DAY_MS)), keyFile: '/dev/shm/x.key' }, keyPem: 'PRIVATE' } as CertificateStatus;
    const [out] = certificatesView([row], NOW);
    expect(Object.keys(out!).sort()).toEqual(['certificate', 'daysLeft', 'host', 'ingress', 'secret', 'serving', 'status']);
    expect(JSON.stringify(out)).not.toMatch(/keyFile|keyPem|PRIVATE/);
  });
});
