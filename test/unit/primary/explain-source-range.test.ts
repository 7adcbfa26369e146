/**
 * The explainer on a route with client address lists (issue 15 item 6): it says which clients
 * are refused 403, and for a given client address whether it is refused and by which entry;
 * a redirect answers before the lists are checked, as nginx's rewrite phase comes before access.
 */
import { describe, expect, it } from 'vitest';
import { explainRoute } from '../../../src/primary/explain.js';
import { annotationsInForce } from '../../../src/primary/explain-annotations.js';
import type { Route, RoutingTable } from '../../../src/shared/snapshot.js';

const guarded: Route = { match: 'Prefix', path: '/', backend: 'ns/web:80', source: 'ns/web', sourceRange: { allow: ['10.0.0.0/8', '2001:db8::/32'], deny: ['10.9.0.0/16'] } };
const table: RoutingTable = {
  hosts: [
    { host: 'acl.test', routes: [guarded] },
    { host: 'moved.test', routes: [{ ...guarded, policy: { redirect: { code: 301, url: ['https://new.test/'] } } }] },
  ],
  defaultBackend: null,
  backends: [],
};
const say = (host: string, clientAddress?: string): readonly string[] => explainRoute(table, host, '/x', clientAddress === undefined ? {} : { clientAddress }).annotations;

describe('explainRoute with address lists', () => {
  it('lists who is refused when no client is given', () => {
    expect(say('acl.test')).toEqual([
      "client addresses: only 10.0.0.0/8, 2001:db8::/32 (allowlist-source-range); never 10.9.0.0/16 (denylist-source-range, which wins over the allow list); others are refused 403 (the socket's address; X-Forwarded-For is not read). Give a client address to check one",
    ]);
  });

  it.each([
    ['10.1.2.3', 'client 10.1.2.3 allowed: allowlist-source-range entry 10.0.0.0/8, and in no denylist-source-range entry'],
    ['10.9.1.1', 'refused 403: client 10.9.1.1 is in denylist-source-range entry 10.9.0.0/16'],
    ['::ffff:10.9.1.1', 'refused 403: client ::ffff:10.9.1.1 is in denylist-source-range entry 10.9.0.0/16'],
    ['127.0.0.1', 'refused 403: client 127.0.0.1 is not in allowlist-source-range (10.0.0.0/8, 2001:db8::/32)'],
    ['2001:db8::5', 'client 2001:db8::5 allowed: allowlist-source-range entry 2001:db8::/32, and in no denylist-source-range entry'],
  ])('client %s', (client, line) => {
    expect(say('acl.test', client)).toEqual([line]);
  });

  it('says a client that is not an address is not one', () => {
    expect(say('acl.test', '10.0.0.0/8')[0]).toMatch(/^client "10.0.0.0\/8" is not an IPv4 or IPv6 address; client addresses: only/);
  });

  it('a redirect answers before the lists are checked', () => {
    expect(say('moved.test', '127.0.0.1')).toEqual(['redirected: 301 to https://new.test/ (permanent-redirect or temporal-redirect, with its code)']);
  });

  it('names the lists among the annotations in force', () => {
    expect(annotationsInForce(guarded)).toEqual(['allowlist-source-range 10.0.0.0/8, 2001:db8::/32', 'denylist-source-range 10.9.0.0/16']);
  });
});
