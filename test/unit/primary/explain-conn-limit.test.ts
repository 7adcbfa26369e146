/**
 * The explainer and the Routes view on a route with limit-connections (issue 15 items 7 and 9): it
 * says how many requests in progress a client may have, and not when a redirect answers first.
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
