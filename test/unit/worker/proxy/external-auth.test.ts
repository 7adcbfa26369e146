/** The worker's auth-url pieces (issue 15 group 6): the auth request's fields, the verdicts, the variables and the cache durations. */
import { describe, expect, it } from 'vitest';
import { cacheSeconds, escapeUri, expandVars, splitVars, type RouteExternalAuth, type VarContext } from '../../../../src/shared/external-auth.js';
import { authHeaders, verdictOf, withAuthFields, type AuthRequest } from '../../../../src/worker/proxy/external-auth.js';

const auth: RouteExternalAuth = { id: 'ns/web', url: ['http://auth.svc:9000/check'], responseHeaders: ['X-User'], cacheDurations: [{ codes: [200, 202, 401], seconds: 300 }] };
const ctx: VarContext = {
  scheme: 'https', hostField: 'App.test:8443', host: 'app.test', method: 'POST', target: '/a b/c?x=1&y=/', path: '/a b/c', query: 'x=1&y=/', clientAddress: '10.0.0.7',
  field: (name) => ({ cookie: 'a=1; session=s3cr3t; b=2', 'x-user-agent': 'ua' })[name] ?? '',
};
const req: AuthRequest = { ...ctx, upstreamFields: ['host', 'App.test:8443', 'authorization', 'Bearer t', 'content-length', '5', 'x-forwarded-for', '10.0.0.7', 'x-forwarded-proto', 'https', 'x-forwarded-host', 'App.test:8443', 'x-request-id', 'rid'] };

describe('the auth request', () => {
  it('carries the client\'s fields and ingress-nginx\'s, with the auth host, no body fields, no X-Forwarded-Proto', () => {
    expect(authHeaders(auth, req, new URL('http://auth.svc:9000/check'))).toEqual({
      host: 'auth.svc',
      authorization: 'Bearer t',
      'x-forwarded-for': '10.0.0.7',
      'x-request-id': 'rid',
      'x-original-url': 'https://App.test:8443/a b/c?x=1&y=/',
      'x-original-method': 'POST',
      'x-sent-from': 'nginx-ingress-controller',
      'x-real-ip': '10.0.0.7',
      'x-auth-request-redirect': '/a b/c?x=1&y=/',
    });
  });

  it('with auth-method, adds X-Original-URI and X-Scheme; auth-request-redirect replaces X-Auth-Request-Redirect', () => {
    const h = authHeaders({ ...auth, method: 'GET', requestRedirect: ['https://', '$host', '/back'] }, req, new URL('http://auth.svc/'));
    expect([h['x-original-uri'], h['x-scheme'], h['x-auth-request-redirect']]).toEqual(['/a b/c?x=1&y=/', 'https', 'https://app.test/back']);
  });
});

describe('the verdicts', () => {
  it('a 2xx lets the request go with auth-response-headers (an absent one removes the client\'s)', () => {
    expect(verdictOf(auth, ctx, 204, { 'x-user': 'ann' })).toEqual({ allow: true, fields: ['x-user', 'ann'] });
    expect(verdictOf(auth, ctx, 200, {})).toEqual({ allow: true, fields: ['x-user', ''] });
    expect(withAuthFields(['host', 'h', 'x-user', 'forged', 'a', 'b'], ['x-user', ''])).toEqual(['host', 'h', 'a', 'b']);
    expect(withAuthFields(['host', 'h', 'x-user', 'forged'], ['x-user', 'ann'])).toEqual(['host', 'h', 'x-user', 'ann']);
  });

  it('401 goes to the client with the auth service\'s challenge, or 302 to auth-signin with its cookie', () => {
    expect(verdictOf(auth, ctx, 401, { 'www-authenticate': 'Bearer realm="x"' })).toEqual({ allow: false, answer: { status: 401, fields: ['WWW-Authenticate', 'Bearer realm="x"', 'Content-Type', 'text/plain; charset=utf-8'], body: '401 Unauthorized\n' } });
    expect(verdictOf({ ...auth, signin: ['https://login/'] }, ctx, 401, { 'www-authenticate': 'Basic' })).toMatchObject({ answer: { status: 302, fields: ['WWW-Authenticate', 'Basic', 'Location', 'https://login/', 'Content-Type', 'text/plain; charset=utf-8'] } });
    const signin = { ...auth, signin: ['https://login/start', '?rd=', '$pass_access_scheme', '://', '$http_host', '$escaped_request_uri'] };
    expect(verdictOf(signin, ctx, 401, { 'set-cookie': ['c=1', 'd=2'] })).toEqual({
      allow: false,
      answer: { status: 302, fields: ['Location', 'https://login/start?rd=https://App.test:8443%2Fa%20b%2Fc%3Fx%3D1%26y%3D%2F', 'Set-Cookie', 'c=1', 'Content-Type', 'text/plain; charset=utf-8'], body: '302 Found\n' },
    });
  });

  it('carries the auth Set-Cookie to the response; with auth-always-set-cookie onto 401 and 403 too', () => {
    expect(verdictOf(auth, ctx, 200, { 'set-cookie': ['s=1', 's=2'] })).toEqual({ allow: true, fields: ['x-user', ''], cookie: 's=1' });
    expect(verdictOf({ ...auth, alwaysSetCookie: true }, ctx, 200, { 'set-cookie': ['s=1'] })).toEqual({ allow: true, fields: ['x-user', ''], cookie: 's=1', always: true });
    expect(verdictOf(auth, ctx, 403, { 'set-cookie': ['s=0'] })).toMatchObject({ answer: { fields: ['Content-Type', 'text/plain; charset=utf-8'] } });
    expect(verdictOf({ ...auth, alwaysSetCookie: true }, ctx, 403, { 'set-cookie': ['s=0'] })).toMatchObject({ answer: { fields: ['Set-Cookie', 's=0', 'Content-Type', 'text/plain; charset=utf-8'] } });
    expect(verdictOf({ ...auth, alwaysSetCookie: true }, ctx, 401, { 'set-cookie': ['s=0'] })).toMatchObject({ answer: { status: 401, fields: ['Set-Cookie', 's=0', 'Content-Type', 'text/plain; charset=utf-8'] } });
  });

  it('403 is 403; anything else is an error (500 by the caller)', () => {
    expect(verdictOf(auth, ctx, 403, {})).toMatchObject({ allow: false, answer: { status: 403 } });
    for (const status of [302, 404, 500, 503]) expect(verdictOf(auth, ctx, status, {})).toBeNull();
  });
});

describe('variables and durations', () => {
  it('expands request variables, fields and cookies', () => {
    expect(expandVars(splitVars('$scheme|$host|$http_host|$request_uri|$uri|$args|$is_args|$remote_addr|$request_method|$http_x_user_agent|$cookie_session|$cookie_none|$remote_user')!, ctx)).toBe(
      'https|app.test|App.test:8443|/a b/c?x=1&y=/|/a b/c|x=1&y=/|?|10.0.0.7|POST|ua|s3cr3t||',
    );
    expect(splitVars('http://a/$upstream_addr')).toBeUndefined();
    expect(escapeUri('/ä?x=1')).toBe('%2F%C3%A4%3Fx%3D1');
  });

  it('picks the duration of a status as proxy_cache_valid', () => {
    const d = [{ codes: [401], seconds: 30 }, { codes: [] as number[], seconds: 60 }, { codes: 'any' as const, seconds: 5 }];
    expect([401, 200, 302, 403].map((s) => cacheSeconds(d, s))).toEqual([30, 60, 60, 5]);
    expect(cacheSeconds([{ codes: [200], seconds: 10 }], 401)).toBe(0);
  });
});
