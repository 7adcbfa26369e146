/**
 * The explainer on a route with limit-rps / limit-rpm (issue 15 items 7 and 9): it says the rates
 * and the burst a client address gets on the Ingress, that a client in limit-whitelist is not
 * limited, and nothing about limits when a redirect answers first (nginx's rewrite phase before
 * preaccess).
 */
import { describe, expect, it } from 'vitest';
import { explainRoute } from '../../../src/primary/explain.js';
import type { Route, RoutingTable } from '../../../src/shared/snapshot.js';

const limited: Route = {
  match: 'Prefix',
  path: '/',
  backend: 'ns/web:80',
  source: 'ns/web',
  rateLimit: { id: 'ns/web', rates: [{ perSecond: 10, burst: 51 }, { perSecond: 0.5, burst: 11 }], whitelist: ['10.0.0.0/8', '2001:db8::/32'] },
};
const table: RoutingTable = {
  hosts: [
    { host: 'limited.test', routes: [limited] },
    { host: 'moved.test', routes: [{ ...limited, policy: { redirect: { code: 301, url: ['https://new.test/'] } } }] },
  ],
  defaultBackend: null,
  backends: [],
};
const say = (host: string, clientAddress?: string): readonly string[] => explainRoute(table, host, '/x', clientAddress === undefined ? {} : { clientAddress }).annotations;

describe('explainRoute with rate limits', () => {
  it('says the rates (per second and per minute) and the burst for each client address', () => {
    expect(say('limited.test')).toEqual([
      'rate-limited beyond 10 requests/s and 30 requests/min for each client address on this Ingress, a burst of 11 at once, pod-wide (limit-rps / limit-rpm; over it: 503, or --rate-limit-status; docs/rate-limits.md)',
    ]);
  });

  it('names the client it was given', () => {
    expect(say('limited.test', '192.0.2.7')[0]).toMatch(/^rate-limited beyond 10 requests\/s and 30 requests\/min for 192\.0\.2\.7 on this Ingress/);
  });

  it.each([
    ['10.1.2.3', '10.0.0.0/8'],
    ['::ffff:10.1.2.3', '10.0.0.0/8'],
    ['2001:db8::9', '2001:db8::/32'],
  ])('a client in limit-whitelist (%s) is not limited', (client, entry) => {
    expect(say('limited.test', client)).toEqual([`not rate-limited: ${client} is in limit-whitelist entry ${entry}`]);
  });

  it('says nothing of the limit when a redirect answers first', () => {
    const lines = say('moved.test', '192.0.2.7');
    expect(lines.some((l) => l.includes('rate-limited'))).toBe(false);
    expect(lines).toContainEqual(expect.stringMatching(/^redirected: 301 to https:\/\/new\.test\//));
  });
});
