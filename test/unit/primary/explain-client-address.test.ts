/**
 * The explainer with trusted proxies (docs/client-address.md): which client address the address
 * lists and rate limits see for a request from a given peer, and why: a trusted proxy's
 * X-Forwarded-For (walked from the right), an untrusted peer's ignored, no settings at all.
 */
import { describe, expect, it } from 'vitest';
import type { ClientAddressSettings } from '../../../src/shared/client-address.js';
import { explainRoute } from '../../../src/primary/explain.js';
import type { Route, RoutingTable } from '../../../src/shared/snapshot.js';

const office: Route = { match: 'Prefix', path: '/', backend: 'ns/web:80', source: 'ns/web', sourceRange: { allow: ['203.0.113.0/24'], deny: [] } };
const table: RoutingTable = { hosts: [{ host: 'office.test', routes: [office] }], defaultBackend: null, backends: [] };
const trust: ClientAddressSettings = { source: 'header', header: 'x-forwarded-for', passForwarded: true, computeFullForwardedFor: false, trusted: ['10.0.0.0/8'] };
const say = (client: string, xff: string | undefined, t: ClientAddressSettings | null): readonly string[] =>
  explainRoute(table, 'office.test', '/', { clientAddress: client, trust: t, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } }).annotations;

describe('explainRoute with trusted proxies', () => {
  it('a trusted proxy names the client in X-Forwarded-For, and the allow list judges that address', () => {
    expect(say('10.0.0.9', '198.51.100.1, 203.0.113.7, 10.0.0.4', trust)).toEqual([
      'client address 203.0.113.7: the trusted proxy 10.0.0.9 (--proxy-real-ip-cidr) named it in x-forwarded-for "198.51.100.1, 203.0.113.7, 10.0.0.4", walked from the right past trusted addresses',
      'client 203.0.113.7 allowed: allowlist-source-range entry 203.0.113.0/24',
    ]);
  });

  it('an untrusted peer\'s X-Forwarded-For is not read: the peer is refused', () => {
    expect(say('192.0.2.5', '203.0.113.7', trust)).toEqual([
      'client address 192.0.2.5: the peer is not in --proxy-real-ip-cidr (10.0.0.0/8), so x-forwarded-for is not read',
      'refused 403: client 192.0.2.5 is not in allowlist-source-range (203.0.113.0/24)',
    ]);
  });

  it('without the settings the socket\'s address decides, whatever X-Forwarded-For says', () => {
    expect(say('10.0.0.9', '203.0.113.7', null)).toEqual(['refused 403: client 10.0.0.9 is not in allowlist-source-range (203.0.113.0/24)']);
    expect(explainRoute(table, 'office.test', '/', { trust }).annotations[0]).toContain('the one x-forwarded-for names when the peer is in --proxy-real-ip-cidr 10.0.0.0/8');
  });
});
