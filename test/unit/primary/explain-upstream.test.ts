/**
 * The Routes view's list of a route's timeout, size and retry annotations (issue 15 group 3):
 * compiled from an Ingress, each setting in force shows once, short; a route without them shows none.
 */
import { describe, expect, it } from 'vitest';
import { annotationsInForce } from '../../../src/primary/explain-annotations.js';
import type { Route } from '../../../src/shared/snapshot.js';
import { backend, compileObjects, ingress, ingressClass, path, rule, service } from '../../helpers/k8s.js';

const N = 'nginx.ingress.kubernetes.io/';

function routeOf(annotations: Record<string, string>): Route {
  const web = ingress('shop/web', { annotations, rules: [rule('web.test', path('/', backend('web')))] });
  return compileObjects([ingressClass(), web, service('shop/web')]).table.hosts[0]!.routes[0] as Route;
}

describe('annotationsInForce for the group 3 annotations', () => {
  it('lists each one set', () => {
    const route = routeOf({
      [`${N}proxy-connect-timeout`]: '2',
      [`${N}proxy-send-timeout`]: '30',
      [`${N}proxy-read-timeout`]: '120',
      [`${N}proxy-next-upstream`]: 'error http_502 non_idempotent',
      [`${N}proxy-next-upstream-timeout`]: '10',
      [`${N}proxy-body-size`]: '0',
      [`${N}client-body-buffer-size`]: '1m',
      [`${N}proxy-request-buffering`]: 'off',
    });
    expect(annotationsInForce(route)).toEqual([
      'proxy-connect-timeout 2s',
      'proxy-send-timeout 30s',
      'proxy-read-timeout 120s',
      'proxy-next-upstream error http_502 non_idempotent, 3 tries within 10s',
      'proxy-body-size no limit',
      'client-body-buffer-size 1048576 bytes',
      'proxy-request-buffering off',
    ]);
  });

  it('says off and each endpoint once', () => {
    expect(annotationsInForce(routeOf({ [`${N}proxy-next-upstream`]: 'off', [`${N}proxy-next-upstream-tries`]: '0', [`${N}proxy-body-size`]: '8m' }))).toEqual(['proxy-next-upstream off, each endpoint once', 'proxy-body-size 8388608 bytes']);
  });

  it('shows nothing for a route without them', () => {
    expect(annotationsInForce(routeOf({}))).toEqual([]);
  });
});
