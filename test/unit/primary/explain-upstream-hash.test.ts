/**
 * The explainer on a route with upstream-hash-by (issue 15 group 5): it says the endpoint is
 * chosen by consistent hashing of the key, unless a redirect answers first; the GUI's Routes
 * view lists the annotation among those in force.
 */
import { describe, expect, it } from 'vitest';
import { explainRoute } from '../../../src/primary/explain.js';
import { annotationsInForce } from '../../../src/primary/explain-annotations.js';
import type { Route, RoutingTable } from '../../../src/shared/snapshot.js';

const hashed: Route = { match: 'Prefix', path: '/', backend: 'ns/web:80', source: 'ns/web', hashBy: ['$host', '-', '$http_x_user'] };
const table: RoutingTable = {
  hosts: [
    { host: 'hash.test', routes: [hashed] },
    { host: 'moved.test', routes: [{ ...hashed, policy: { redirect: { code: 301, url: ['https://new.test/'] } } }] },
    { host: 'plain.test', routes: [{ match: 'Prefix', path: '/', backend: 'ns/web:80', source: 'ns/web' }] },
  ],
  defaultBackend: null,
  backends: [],
};
const say = (host: string): readonly string[] => explainRoute(table, host, '/x', {}).annotations;

describe('explainRoute with upstream-hash-by', () => {
  it('says how the endpoint is chosen', () => {
    expect(say('hash.test')).toEqual([
      'endpoint chosen by consistent hashing of "$host-$http_x_user" (upstream-hash-by): the same key reaches the same endpoint on every worker while it is in the EndpointSlice; when it leaves, only its keys move',
    ]);
    expect(say('plain.test')).toEqual([]);
  });

  it('a redirect answers before any endpoint is chosen', () => {
    expect(say('moved.test')).toEqual(['redirected: 301 to https://new.test/ (permanent-redirect or temporal-redirect, with its code)']);
  });

  it('names the key among the annotations in force', () => {
    expect(annotationsInForce(hashed)).toEqual(['upstream-hash-by $host-$http_x_user']);
  });
});
