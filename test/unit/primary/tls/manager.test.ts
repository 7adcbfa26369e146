/**
 * TlsManager (issue #11): Secrets and TLS claims in, the snapshot's certificates out. Files go to a
 * temporary directory; the clock is injected.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Ingress, TlsSecret } from '../../../../src/primary/model.js';
import { SecretStore } from '../../../../src/primary/secrets.js';
import { listTlsDir, TlsManager } from '../../../../src/primary/tls/manager.js';
import { testPki, type TlsPair } from '../../../helpers/certs.js';
import { ingress } from '../../../helpers/k8s.js';

const DAY_MS = 86_400_000;
const T0 = new Date('2026-06-01T12:00:00Z');
const pki = testPki(T0);
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function secret(name: string, pair: TlsPair, type = 'kubernetes.io/tls', namespace = 'shop'): TlsSecret {
  return { namespace, name, type, data: { 'tls.crt': Buffer.from(pair.certPem).toString('base64'), 'tls.key': Buffer.from(pair.keyPem).toString('base64') } };
}

function setup(opts: { defaultSecret?: string; ownsDir?: boolean } = {}): { manager: TlsManager; secrets: SecretStore; dir: string; clock: { now: Date } } {
  const parent = mkdtempSync(join(tmpdir(), 'flusso-tls-test-'));
  dirs.push(parent);
  const dir = join(parent, 'tls');
  const clock = { now: T0 };
  const manager = new TlsManager({ dir, ownsDir: opts.ownsDir ?? true, log: pino({ level: 'silent' }), now: () => clock.now, ...(opts.defaultSecret === undefined ? {} : { defaultSecret: opts.defaultSecret }) });
  manager.init();
  return { manager, secrets: new SecretStore(), dir, clock };
}

const shop = (hosts: string[] = ['shop.test'], secretName = 'shop-cert'): Ingress[] => [ingress('shop/web', { tls: [{ hosts, secretName }] })];
const codes = (d: readonly { code: string }[]): string[] => d.map((x) => x.code);

describe('TlsManager', () => {
  it('serves a valid Secret for its host, with private files holding exactly the pair', () => {
    const { manager, secrets, dir } = setup();
    const pair = pki.valid(['shop.test']);
    secrets.upsert(secret('shop-cert', pair));
    const { snapshot, diagnostics } = manager.assemble(shop(), secrets);
    expect(diagnostics).toEqual([]);
    expect(snapshot.serverNames).toEqual([{ name: 'shop.test', certificate: snapshot.certificates[0]?.id }]);
    const cert = snapshot.certificates[0]!;
    expect(readFileSync(cert.certFile, 'utf8')).toBe(pair.certPem);
    expect(readFileSync(cert.keyFile, 'utf8')).toBe(pair.keyPem);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    for (const f of [cert.certFile, cert.keyFile, snapshot.defaultCertificate.keyFile]) expect(statSync(f).mode & 0o777).toBe(0o600);
    expect(manager.certificates.map((c) => [c.host, c.status, c.serving])).toEqual([['*', 'ok', 'default'], ['shop.test', 'ok', 'own']]);
    expect(JSON.stringify(manager.certificates)).not.toContain(pair.keyPem.split('\n')[1]);
    expect(manager.referencedSecrets).toEqual(new Set(['shop/shop-cert']));
  });

  it('returns the same snapshot object while nothing a worker sees changes', () => {
    const { manager, secrets } = setup();
    secrets.upsert(secret('shop-cert', pki.valid(['shop.test'])));
    const first = manager.assemble(shop(), secrets).snapshot;
    expect(manager.assemble(shop(), secrets).snapshot).toBe(first);
  });

  it.each([
    ['garbage', () => pki.garbage(), 'kubernetes.io/tls', 'ING_ERR_TLS_CERT_INVALID'],
    ['a truncated chain', () => pki.truncated(['shop.test']), 'kubernetes.io/tls', 'ING_ERR_TLS_CERT_INVALID'],
    ['a mismatched key', () => pki.mismatched(['shop.test']), 'kubernetes.io/tls', 'ING_ERR_TLS_KEY_MISMATCH'],
    ['an encrypted key', () => pki.encryptedKey(['shop.test']), 'kubernetes.io/tls', 'ING_ERR_TLS_KEY_INVALID'],
    ['an expired certificate', () => pki.expired(['shop.test']), 'kubernetes.io/tls', 'ING_ERR_TLS_CERT_EXPIRED'],
    ['a certificate for another host', () => pki.valid(['other.test']), 'kubernetes.io/tls', 'ING_ERR_TLS_CERT_HOST_MISMATCH'],
    ['an Opaque Secret', () => pki.valid(['shop.test']), 'Opaque', 'ING_ERR_TLS_SECRET_INVALID'],
  ] as const)('keeps the last good certificate when the Secret turns into %s, and says why', (_name, bad, type, code) => {
    const { manager, secrets } = setup();
    secrets.upsert(secret('shop-cert', pki.valid(['shop.test'])));
    const good = manager.assemble(shop(), secrets).snapshot;
    secrets.upsert(secret('shop-cert', bad(), type));
    const { snapshot, diagnostics } = manager.assemble(shop(), secrets);
    expect(snapshot).toBe(good);
    expect(diagnostics).toEqual([expect.objectContaining({ code, severity: 'error', object: 'Ingress shop/web', message: expect.stringContaining('last good certificate') })]);
    expect(manager.certificates.find((c) => c.host === 'shop.test')).toMatchObject({ status: 'error', serving: 'last-good', code });
  });

  it('serves the default certificate to a host that never had a good one, and reports a missing Secret', () => {
    const { manager, secrets } = setup();
    const { snapshot, diagnostics } = manager.assemble(shop(), secrets);
    expect(snapshot.serverNames).toEqual([]);
    expect(diagnostics).toEqual([expect.objectContaining({ code: 'ING_ERR_TLS_SECRET_NOT_FOUND', message: expect.stringContaining('the default certificate is served') })]);
  });

  it('says nothing about a Secret still being fetched', () => {
    const { manager, secrets } = setup();
    secrets.markPending('shop/shop-cert');
    expect(manager.assemble(shop(), secrets).diagnostics).toEqual([]);
    expect(manager.certificates.find((c) => c.host === 'shop.test')).toMatchObject({ status: 'pending', serving: 'default' });
  });

  it('warns 14 days before expiry, then reports the expiry and keeps serving the certificate', () => {
    const { manager, secrets, clock } = setup();
    const pair = pki.valid(['shop.test'], { notAfter: new Date(T0.getTime() + 30 * DAY_MS) });
    secrets.upsert(secret('shop-cert', pair));
    const served = manager.assemble(shop(), secrets).snapshot;
    clock.now = new Date(T0.getTime() + 20 * DAY_MS);
    expect(codes(manager.assemble(shop(), secrets).diagnostics)).toEqual(['ING_ERR_TLS_CERT_EXPIRING']);
    clock.now = new Date(T0.getTime() + 31 * DAY_MS);
    const after = manager.assemble(shop(), secrets);
    expect(codes(after.diagnostics)).toEqual(['ING_ERR_TLS_CERT_EXPIRED']);
    expect(after.snapshot).toBe(served);
  });

  it('rotates to a new pair and removes the files of the old one once no snapshot needs them', () => {
    const { manager, secrets, dir } = setup();
    secrets.upsert(secret('shop-cert', pki.valid(['shop.test'])));
    const first = manager.assemble(shop(), secrets).snapshot;
    secrets.upsert(secret('shop-cert', pki.valid(['shop.test'])));
    const second = manager.assemble(shop(), secrets).snapshot;
    expect(second.certificates[0]?.id).not.toBe(first.certificates[0]?.id);
    // A lagging worker may still read the previous snapshot's files.
    expect(listTlsDir(dir)).toContain(`${first.certificates[0]?.id}.key`);
    secrets.upsert(secret('shop-cert', pki.valid(['shop.test'])));
    manager.assemble(shop(), secrets);
    expect(listTlsDir(dir)).not.toContain(`${first.certificates[0]?.id}.key`);
  });

  it('uses --default-ssl-certificate when it is good, and the generated one with a diagnostic when not', () => {
    const { manager, secrets } = setup({ defaultSecret: 'ops/default' });
    const generated = manager.snapshot.defaultCertificate;
    expect(codes(manager.assemble([], secrets).diagnostics)).toEqual(['ING_ERR_TLS_DEFAULT_CERT']);
    expect(manager.assemble([], secrets).snapshot.defaultCertificate).toEqual(generated);
    secrets.upsert(secret('default', pki.valid(['anything.test']), 'kubernetes.io/tls', 'ops'));
    const { snapshot, diagnostics } = manager.assemble([], secrets);
    expect(diagnostics).toEqual([]);
    expect(snapshot.defaultCertificate.id).not.toBe(generated.id);
    expect(manager.referencedSecrets).toEqual(new Set(['ops/default']));
  });

  it('removes its directory at close when it made it, and only its files otherwise', () => {
    const owned = setup();
    owned.manager.close();
    expect(listTlsDir(owned.dir)).toEqual([]);
    expect(() => statSync(owned.dir)).toThrow();
    const given = setup({ ownsDir: false });
    given.manager.close();
    expect(statSync(given.dir).isDirectory()).toBe(true);
    expect(listTlsDir(given.dir)).toEqual([]);
  });
});

describe('TlsManager, the configured default certificate', () => {
  it('keeps the last good --default-ssl-certificate when its Secret turns bad', () => {
    const { manager, secrets } = setup({ defaultSecret: 'ops/default' });
    secrets.upsert(secret('default', pki.valid(['anything.test']), 'kubernetes.io/tls', 'ops'));
    const good = manager.assemble([], secrets).snapshot.defaultCertificate;
    secrets.upsert(secret('default', pki.garbage(), 'kubernetes.io/tls', 'ops'));
    const { snapshot, diagnostics } = manager.assemble([], secrets);
    expect(snapshot.defaultCertificate).toEqual(good);
    expect(diagnostics).toEqual([expect.objectContaining({ code: 'ING_ERR_TLS_DEFAULT_CERT', message: expect.stringContaining('its last good certificate is served') })]);
  });

  it('describes the certificate a pending host gets meanwhile (the default)', () => {
    const { manager, secrets } = setup();
    secrets.markPending('shop/shop-cert');
    manager.assemble(shop(), secrets);
    expect(manager.certificates.find((c) => c.host === 'shop.test')?.certificate?.subject).toBe('Flusso Default Certificate');
  });
});
