/**
 * Regex hosts in the router (ingress-nginx use-regex, issue 15): `~* "^path"` semantics, in table
 * order, first match wins, and a regex host never falls through to Ingress v1 prefix matching.
 */
import { describe, expect, it } from 'vitest';
import type { Route, RoutingTable } from '../../../../src/shared/snapshot.js';
import { HostTableRouter } from '../../../../src/worker/router/host-table.js';

const r = (path: string): Route => ({ match: 'Prefix', path, backend: `c${path}`, source: 'ns/web', regex: true });
const table: RoutingTable = {
  hosts: [{ host: 'web.test', routes: [r('/api/v[0-9]+/.*'), r('/exact'), r('/docs/'), r('/')] }],
  defaultBackend: null,
  backends: [],
};

describe('RegexPathMatcher through HostTableRouter', () => {
  const router = new HostTableRouter(table);
  it.each([
    ['/api/v2/users', '/api/v[0-9]+/.*'],
    ['/API/V2/x', '/api/v[0-9]+/.*'],
    ['/api/vx/users', '/'],
    ['/exactly', '/exact'],
    ['/docs/x', '/docs/'],
    ['/docs', '/'],
    ['/anything', '/'],
  ])('%s → %s', (path, want) => {
    expect(router.match('web.test', path)?.route.path).toBe(want);
  });

  it('a pattern that would backtrack exponentially answers at once (RE2: linear time)', () => {
    const slow = new HostTableRouter({ hosts: [{ host: 'x.test', routes: [r('/(a+)+$')] }], defaultBackend: null, backends: [] });
    expect(slow.match('x.test', `/${'a'.repeat(40)}b`)).toBeNull();
  });
});
