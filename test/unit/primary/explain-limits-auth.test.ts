/**
 * The explainer and the Routes view on routes with limit-connections and auth-url (issue 15 items
 * 6, 7 and 9): how many requests in progress a client may have (not when a redirect answers
 * first); that a request needs credentials and who decides (it cannot know them).
 */
import { describe, expect, it } from 'vitest';
import { explainRoute } from '../../../src/primary/explain.js';
import { annotationsInForce } from '../../../src/primary/explain-annotations.js';
import type { Route, RoutingTable } from '../../../src/shared/snapshot.js';

const limited: Route = { match: 'Prefix', path: '/', backend: 'ns/web:80', source: 'ns/web', connLimit: { id: 'ns/web', max: 2, whitelist: [] } };
const table: RoutingTable = {
  hosts: [
    { host: 'conn.test', routes: [limited] },
    { host: 'moved.test', routes: [{ ...limited, policy: { redirect: { code: 301, url: ['https://new.test/'] } } }] },
  ],
  defaultBackend: null,
  backends: [],
};

describe('limit-connections in the explainer', () => {
  it('says when a client is refused', () => {
    expect(explainRoute(table, 'conn.test', '/x', {}).annotations).toEqual(['limit-connections 2: a client with 2 request(s) in progress on this Ingress gets 503 (counted per worker, docs/rate-limits.md)']);
  });

  it('says nothing of it when a redirect answers first', () => {
    expect(explainRoute(table, 'moved.test', '/x', {}).annotations.some((l) => l.includes('limit-connections'))).toBe(false);
  });

  it('lists it in the Routes view', () => {
    expect(annotationsInForce(limited)).toEqual(['limit-connections 2']);
  });
});

describe('auth-url in the explainer', () => {
  const authed: Route = { match: 'Prefix', path: '/', backend: 'ns/web:80', source: 'ns/web', externalAuth: { id: 'ns/web', url: ['http://auth/check'], signin: ['https://login/'], responseHeaders: ['X-User'], cacheDurations: [] } };
  const broken: Route = { ...authed, externalAuth: { id: 'ns/web', denied: 'auth-url is not a valid URL', url: [], responseHeaders: [], cacheDurations: [] } };
  const t: RoutingTable = { hosts: [{ host: 'auth.test', routes: [authed] }, { host: 'broken.test', routes: [broken] }], defaultBackend: null, backends: [] };

  it('says the request needs credentials and who decides', () => {
    expect(explainRoute(t, 'auth.test', '/x', {}).annotations).toEqual(['needs credentials: auth-url http://auth/check decides (2xx: sent to the backend with X-User; 401 becomes a 302 to https://login/; 403 to the client; anything else 500)']);
    expect(annotationsInForce(authed)).toEqual(['auth-url http://auth/check']);
  });

  it('says an invalid auth refuses every request', () => {
    expect(explainRoute(t, 'broken.test', '/x', {}).annotations).toEqual(['refused 503: the Ingress\'s auth annotations are invalid (auth-url is not a valid URL); see the diagnostics']);
  });
});

describe('auth-type basic in the explainer', () => {
  const basic: Route = { match: 'Prefix', path: '/', backend: 'ns/web:80', source: 'ns/web', basicAuth: { id: 'ns/web', realm: 'Staff', credentials: 'auth-file ns/users' } };
  const t: RoutingTable = { hosts: [{ host: 'basic.test', routes: [basic] }], defaultBackend: null, backends: [] };

  it('says the request needs credentials, and the Routes view lists it', () => {
    expect(explainRoute(t, 'basic.test', '/x', {}).annotations).toEqual(['needs credentials: auth-type basic, realm "Staff" (401 without a user and password of auth-file Secret ns/users; the Authorization field is not sent upstream)']);
    expect(annotationsInForce(basic)).toEqual(['auth-type basic (auth-file ns/users)']);
  });
});
