/**
 * The explainer on a route with a canary (issue 15 group 5): it says when a request goes to the
 * canary and why (header, then cookie, then weight), unless a redirect answers first; the GUI's
 * Routes view lists the canary among the annotations in force.
 */
import { describe, expect, it } from 'vitest';
import { explainRoute } from '../../../src/primary/explain.js';
import { annotationsInForce } from '../../../src/primary/explain-annotations.js';
import type { Route, RoutingTable } from '../../../src/shared/snapshot.js';

const main: Route = { match: 'Prefix', path: '/', backend: 'ns/web:80', source: 'ns/web' };
const withCanary: Route = { ...main, canary: { backend: 'ns/next:80', source: 'ns/web-canary', header: 'x-canary', cookie: 'beta', weight: 25, weightTotal: 100 } };
const table: RoutingTable = {
  hosts: [
    { host: 'c.test', routes: [withCanary] },
    { host: 'v.test', routes: [{ ...main, canary: { backend: 'ns/next:80', source: 'ns/web-canary', header: 'x-region', headerValue: 'eu', weight: 0, weightTotal: 100 } }] },
    { host: 'moved.test', routes: [{ ...withCanary, policy: { redirect: { code: 301, url: ['https://new.test/'] } } }] },
  ],
  defaultBackend: null,
  backends: [],
};
const say = (host: string): readonly string[] => explainRoute(table, host, '/x', {}).annotations;
const verdict = (host: string, headers: Record<string, string>, cookie = ''): string => explainRoute(table, host, '/x', { headers, cookie }).annotations[1] as string;

describe('explainRoute with a canary', () => {
  it('says when a request goes to the canary, in the order that decides', () => {
    expect(say('c.test')).toEqual([
      'canary: Ingress ns/web-canary (backend ns/next:80) takes a request when header x-canary is "always" ("never": the main backend) (canary-by-header), else cookie beta is "always" ("never": the main backend) (canary-by-cookie), else exactly 25 of every 100 requests per worker (canary-weight); the main Ingress\'s annotations apply either way',
      'this request goes to the canary ns/next:80 or the main backend ns/web:80 by turn: neither header nor cookie decides, and exactly 25 of every 100 such requests go to the canary',
    ]);
    expect(say('v.test')).toEqual([
      'canary: Ingress ns/web-canary (backend ns/next:80) takes a request when header x-region is "eu" (canary-by-header-value), else no request (canary-weight); the main Ingress\'s annotations apply either way',
      'this request goes to the main backend ns/web:80: neither header nor cookie decides, and canary-weight is 0',
    ]);
  });

  it.each<[string, Record<string, string>, string, string]>([
    ['c.test', { 'x-canary': 'always' }, '', 'this request goes to the canary ns/next:80: its header x-canary is "always"'],
    ['c.test', { 'x-canary': 'never' }, 'beta=always', 'this request goes to the main backend ns/web:80: its header x-canary is "never"'],
    ['c.test', { 'x-canary': 'maybe' }, 'a=1; beta=always', 'this request goes to the canary ns/next:80: its cookie beta is "always"'],
    ['v.test', { 'x-region': 'eu' }, '', 'this request goes to the canary ns/next:80: its header x-region is "eu"'],
    ['v.test', { 'x-region': 'us' }, '', 'this request goes to the main backend ns/web:80: neither header nor cookie decides, and canary-weight is 0'],
  ])('on %s with %j and cookie %j: %s', (host, headers, cookie, line) => {
    expect(verdict(host, headers, cookie)).toBe(line);
  });

  it('a redirect answers before any backend is chosen', () => {
    expect(say('moved.test')).toEqual(['redirected: 301 to https://new.test/ (permanent-redirect or temporal-redirect, with its code)']);
  });

  it('names the canary among the annotations in force', () => {
    expect(annotationsInForce(withCanary)).toEqual(['canary ns/web-canary → ns/next:80: header x-canary is "always" ("never": the main backend) (canary-by-header), else cookie beta is "always" ("never": the main backend) (canary-by-cookie), else exactly 25 of every 100 requests per worker (canary-weight)']);
    expect(annotationsInForce(main)).toEqual([]);
  });
});

describe('explainRoute with cookie affinity', () => {
  const sticky: Route = { ...main, affinity: { name: 'INGRESSCOOKIE', path: '/', mode: 'balanced' } };
  it('says how the cookie picks the endpoint, and lists it in force', () => {
    const t: RoutingTable = { hosts: [{ host: 's.test', routes: [sticky] }], defaultBackend: null, backends: [] };
    expect(explainRoute(t, 's.test', '/x', {}).annotations).toEqual([
      'sticky: a request with cookie INGRESSCOOKIE naming a ready endpoint goes to it; otherwise the balancer picks one and Flusso sets the cookie (affinity: cookie, path /)',
    ]);
    expect(annotationsInForce(sticky)).toEqual(['affinity cookie INGRESSCOOKIE (balanced)']);
  });
});
