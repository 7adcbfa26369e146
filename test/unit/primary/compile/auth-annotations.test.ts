/**
 * ingress-nginx external authentication in the compiler (issue 15 group 6): each value read as
 * ingress-nginx's authreq parser reads it; where ingress-nginx denies the location for a bad value,
 * the routes carry `denied` (503, never open); other bad values are a diagnostic and have no effect.
 */
import { describe, expect, it } from 'vitest';
import type { Diagnostic } from '../../../../src/shared/errors.js';
import type { RouteExternalAuth } from '../../../../src/shared/external-auth.js';
import { withRedirectParam } from '../../../../src/primary/compile/auth-annotations.js';
import { splitVars } from '../../../../src/shared/external-auth.js';
import { backend, compileObjects as compileAll, ingress, ingressClass, path, rule, service } from '../../../helpers/k8s.js';

const N = 'nginx.ingress.kubernetes.io/';
const DENIED = 'every request to this Ingress is refused (503) until it is fixed, as ingress-nginx denies the location';
const VARS = 'variables $host, $http_host, $scheme, $request_uri, $escaped_request_uri, $uri, $args, $is_args, $remote_addr, $request_method, $http_<name>, $cookie_<name>';

function compileWeb(annotations: Record<string, string>) {
  const ing = ingress('shop/web', { annotations, rules: [rule('web.test', path('/', backend('web')), path('/api', backend('web')))] });
  return compileAll([ingressClass(), ing, service('shop/web')]);
}
const authOf = (annotations: Record<string, string>): (RouteExternalAuth | undefined)[] => compileWeb(annotations).table.hosts[0]!.routes.map((r) => r.externalAuth);
const problems = (annotations: Record<string, string>): Diagnostic[] => compileWeb(annotations).diagnostics.filter((d) => d.code.startsWith('ING_ERR_INGRESS_'));
const invalid = (message: string): Diagnostic => ({ code: 'ING_ERR_INGRESS_INVALID_ANNOTATION', severity: 'error', object: 'Ingress shop/web', message });
const DEFAULT_CACHE = [{ codes: [200, 202, 401], seconds: 300 }];

describe('external auth annotations', () => {
  it.each<[string, Record<string, string>, RouteExternalAuth | undefined]>([
    ['none', {}, undefined],
    ['auth-url alone', { [`${N}auth-url`]: 'http://auth.svc/check' }, { id: 'shop/web', url: ['http://auth.svc/check'], responseHeaders: [], cacheDurations: DEFAULT_CACHE }],
    [
      'every companion',
      {
        [`${N}auth-url`]: 'https://$host/oauth2/auth',
        [`${N}auth-method`]: 'POST',
        [`${N}auth-signin`]: 'https://login.example/start',
        [`${N}auth-response-headers`]: 'X-User, X-Email',
        [`${N}auth-request-redirect`]: 'https://app.example$request_uri',
        [`${N}auth-cache-key`]: '$remote_user$http_authorization',
        [`${N}auth-cache-duration`]: '200 10m, 401 30s, any 1h 30m',
        [`${N}auth-keepalive`]: '10',
        [`${N}auth-always-set-cookie`]: 'true',
      },
      {
        id: 'shop/web',
        url: ['https://', '$host', '/oauth2/auth'],
        method: 'POST',
        signin: ['https://login.example/start', '?rd=', '$pass_access_scheme', '://', '$http_host', '$escaped_request_uri'],
        responseHeaders: ['X-User', 'X-Email'],
        requestRedirect: ['https://app.example', '$request_uri'],
        cacheKey: ['$remote_user', '$http_authorization'],
        cacheDurations: [{ codes: [200], seconds: 600 }, { codes: [401], seconds: 30 }, { codes: 'any', seconds: 5400 }],
        alwaysSetCookie: true,
      },
    ],
  ])('%s', (_name, annotations, want) => {
    expect(authOf(annotations)).toEqual([want, want]);
    expect(problems(annotations)).toEqual([]);
  });

  it.each<[string, Record<string, string>, string]>([
    ['a relative auth-url', { [`${N}auth-url`]: '/check' }, `annotation ${N}auth-url is "/check", expected an absolute http or https URL (which may use ${VARS}); ${DENIED}`],
    ['an unknown variable', { [`${N}auth-url`]: 'http://auth/$upstream_addr' }, `annotation ${N}auth-url is "http://auth/$upstream_addr", expected an absolute http or https URL (which may use ${VARS}); ${DENIED}`],
    ['a bad method', { [`${N}auth-url`]: 'http://auth/', [`${N}auth-method`]: 'get' }, `annotation ${N}auth-method is "get", expected one of GET, HEAD, POST, PUT, PATCH, DELETE, CONNECT, OPTIONS, TRACE; ${DENIED}`],
    ['a bad response header', { [`${N}auth-url`]: 'http://auth/', [`${N}auth-response-headers`]: 'X-User, X User' }, `annotation ${N}auth-response-headers is "X User", expected header names (letters, digits, "-" and "_") separated by commas; ${DENIED}`],
    ['a bad cache duration', { [`${N}auth-url`]: 'http://auth/', [`${N}auth-cache-key`]: '$http_cookie', [`${N}auth-cache-duration`]: '5m 200' }, `annotation ${N}auth-cache-duration is "5m 200", expected entries such as "200 202 401 5m" (status codes, then nginx times: ms, s, m, h, d, w, M, y) separated by commas; ${DENIED}`],
  ])('%s: one diagnostic, and the routes refuse every request (never open)', (_name, annotations, message) => {
    const got = authOf(annotations);
    expect(got[0]?.denied).toEqual(expect.any(String));
    expect(got[1]).toBe(got[0]);
    expect(problems(annotations)).toEqual([invalid(message)]);
  });

  it('a bad auth-signin is a diagnostic and has no effect (a 401 then goes to the client)', () => {
    const annotations = { [`${N}auth-url`]: 'http://auth/', [`${N}auth-signin`]: 'login page' };
    expect(authOf(annotations)[0]?.signin).toBeUndefined();
    expect(authOf(annotations)[0]?.denied).toBeUndefined();
    expect(problems(annotations)).toEqual([invalid(`annotation ${N}auth-signin is "login page", expected an absolute http or https URL (which may use ${VARS}); it has no effect`)]);
  });

  it('a bad auth-always-set-cookie is a diagnostic and has no effect', () => {
    const annotations = { [`${N}auth-url`]: 'http://auth/', [`${N}auth-always-set-cookie`]: 'yes' };
    expect(authOf(annotations)[0]?.alwaysSetCookie).toBeUndefined();
    expect(problems(annotations)).toEqual([invalid(`annotation ${N}auth-always-set-cookie is "yes", expected "true" or "false"; it has no effect`)]);
  });

  it('warns about companions without auth-url', () => {
    expect(problems({ [`${N}auth-signin`]: 'https://login/', [`${N}auth-method`]: 'GET' })).toEqual([
      { code: 'ING_ERR_INGRESS_UNSUPPORTED', severity: 'warning', object: 'Ingress shop/web', message: `annotations ${N}auth-method, ${N}auth-signin have no effect without ${N}auth-url; ignored` },
    ]);
  });

  it('warns that auth-cache-duration needs auth-cache-key', () => {
    expect(problems({ [`${N}auth-url`]: 'http://auth/', [`${N}auth-cache-duration`]: '200 1m' })).toEqual([
      { code: 'ING_ERR_INGRESS_UNSUPPORTED', severity: 'warning', object: 'Ingress shop/web', message: `annotation ${N}auth-cache-duration has no effect without auth-cache-key (ingress-nginx caches auth answers only with a key); ignored` },
    ]);
  });

  it.each([
    ['https://login/start', 'rd', 'https://login/start?rd=$pass_access_scheme://$http_host$escaped_request_uri'],
    ['https://login/start?x=1', 'rd', 'https://login/start?x=1&rd=$pass_access_scheme://$http_host$escaped_request_uri'],
    ['https://login/start?rd=$escaped_request_uri', 'rd', 'https://login/start?rd=$escaped_request_uri'],
    ['https://login/start?rd=', 'rd', 'https://login/start?rd=&rd=$pass_access_scheme://$http_host$escaped_request_uri'],
    ['https://login/start', 'return_to', 'https://login/start?return_to=$pass_access_scheme://$http_host$escaped_request_uri'],
  ])('signs %s in with %s as ingress-nginx buildAuthSignURL', (url, param, want) => {
    expect(withRedirectParam(splitVars(url)!, param).join('')).toBe(want);
  });
});
