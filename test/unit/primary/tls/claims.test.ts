/**
 * claimTlsHosts (issue #11): which Secret each TLS host asks for, the oldest Ingress winning.
 */
import { describe, expect, it } from 'vitest';
import { claimTlsHosts } from '../../../../src/primary/tls/claims.js';
import { ingress } from '../../../helpers/k8s.js';

describe('claimTlsHosts', () => {
  it('claims each host for the Secret of its entry, in the Ingress namespace, sorted by host', () => {
    const { claims, diagnostics } = claimTlsHosts([
      ingress('shop/web', { tls: [{ hosts: ['Shop.Example.com.', '*.example.com'], secretName: 'shop-cert' }, { hosts: ['plain.example.com'] }] }),
    ]);
    expect(claims).toEqual([
      { host: '*.example.com', secret: 'shop/shop-cert', ingress: 'shop/web' },
      { host: 'plain.example.com', secret: null, ingress: 'shop/web' },
      { host: 'shop.example.com', secret: 'shop/shop-cert', ingress: 'shop/web' },
    ]);
    expect(diagnostics).toEqual([]);
  });

  it('gives a host to the oldest Ingress and tells the newer one, whatever the input order', () => {
    const older = ingress('a/old', { created: '2026-01-01T00:00:00Z', tls: [{ hosts: ['x.test'], secretName: 'one' }] });
    const newer = ingress('b/new', { created: '2026-02-01T00:00:00Z', tls: [{ hosts: ['x.test', 'y.test'], secretName: 'two' }] });
    for (const order of [[older, newer], [newer, older]]) {
      const { claims, diagnostics } = claimTlsHosts(order);
      expect(claims).toEqual([
        { host: 'x.test', secret: 'a/one', ingress: 'a/old' },
        { host: 'y.test', secret: 'b/two', ingress: 'b/new' },
      ]);
      expect(diagnostics).toEqual([
        expect.objectContaining({ code: 'ING_ERR_TLS_HOST_CONFLICT', severity: 'error', object: 'Ingress b/new', message: expect.stringContaining('Secret a/one by the older Ingress a/old') }),
      ]);
    }
  });

  it('says nothing when two Ingresses name the same Secret for a host', () => {
    const same = (key: string, created: string) => ingress(key, { created, tls: [{ hosts: ['x.test'], secretName: 'cert' }] });
    expect(claimTlsHosts([same('a/one', '2026-01-01T00:00:00Z'), same('a/two', '2026-01-02T00:00:00Z')]).diagnostics).toEqual([]);
  });

  it('reports a host that is not a DNS name and claims nothing for it', () => {
    const { claims, diagnostics } = claimTlsHosts([ingress('a/web', { tls: [{ hosts: ['bad host!', '10.0.0.1'], secretName: 'cert' }] })]);
    expect(claims).toEqual([]);
    expect(diagnostics.map((d) => d.code)).toEqual(['ING_ERR_INGRESS_INVALID_HOST', 'ING_ERR_INGRESS_INVALID_HOST']);
  });
});
