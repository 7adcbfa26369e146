/**
 * The worker's execution of a route's ingress-nginx annotations (issue 15, worker/proxy/policy.ts):
 * what Flusso answers itself and what changes on the way upstream, for each annotation.
 */
import { describe, expect, it } from 'vitest';
import type { RouteCors } from '../../../../src/shared/snapshot.js';
import { applyPolicy, corsFields, rewriteTarget, statusLineOf, withRequestFields, type PolicyRequest } from '../../../../src/worker/proxy/policy.js';

const req = (over: Partial<PolicyRequest> = {}): PolicyRequest => ({ method: 'GET', scheme: 'http', hostField: 'web.test:8080', host: 'web.test', path: '/a/b', query: '', target: '/a/b', origin: '', ...over });
const CORS: RouteCors = { origins: ['https://a.test', 'https://*.b.test'], methods: 'GET, PUT', headers: 'X-A', exposeHeaders: '', credentials: true, maxAgeSeconds: 60 };

describe('rewriteTarget (nginx rewrite "(?i)path" target break)', () => {
  it.each([
    ['/something(/|$)(.*)', '/$2', '/something/new', '', '/new'],
    ['/something(/|$)(.*)', '/$2', '/SOMETHING', '', '/'],
    ['/api', '/', '/api/users', 'x=1', '/?x=1'],
    ['/api/(.*)', '/v2/$1?from=api', '/api/users', 'x=1', '/v2/users?from=api&x=1'],
    ['/nomatch', '/x', '/other', 'q', '/other?q'],
    ['/(a)', '/$1$2', '/a', '', '/a'],
    ['/old/(.*)', '/new/$1?', '/old/x', 'drop=1', '/new/x'],
  ])('%s → %s on %s?%s is %s', (pattern, target, path, query, want) => {
    expect(rewriteTarget({ pattern, target }, path, query)).toBe(want);
  });

  it('runs in linear time on a pattern that backtracks exponentially in a backtracking engine', () => {
    // (a+)+$ on 30 a's and a b is ~2^30 steps for a backtracking engine; RE2 answers at once.
    // Any stall shows as the test timing out (vitest's default), not as a timing assert.
    expect(rewriteTarget({ pattern: '/(a+)+$', target: '/x' }, `/${'a'.repeat(30)}b`, '')).toBe(`/${'a'.repeat(30)}b`);
  });
});

describe('corsFields', () => {
  it('answers any origin with "*" for the default list, even without an Origin field', () => {
    expect(corsFields({ ...CORS, origins: ['*'] }, '')?.slice(0, 2)).toEqual(['Access-Control-Allow-Origin', '*']);
  });
  it.each([
    ['https://a.test', true],
    ['HTTPS://A.TEST', true],
    ['https://x.b.test', true],
    ['https://x.y.b.test', false],
    ['https://a.test.evil', false],
    ['http://a.test', false],
    ['', false],
  ])('origin %j allowed: %s', (origin, allowed) => {
    const fields = corsFields(CORS, origin);
    expect(fields === null ? null : fields.slice(0, 2)).toEqual(allowed ? ['Access-Control-Allow-Origin', origin] : null);
  });
  it('lists the fields in ingress-nginx order, credentials and expose headers only when set', () => {
    expect(corsFields({ ...CORS, exposeHeaders: 'X-E' }, 'https://a.test')).toEqual([
      'Access-Control-Allow-Origin', 'https://a.test', 'Access-Control-Allow-Credentials', 'true', 'Access-Control-Allow-Methods', 'GET, PUT',
      'Access-Control-Allow-Headers', 'X-A', 'Access-Control-Expose-Headers', 'X-E', 'Access-Control-Max-Age', '60',
    ]);
    expect(corsFields({ ...CORS, credentials: false }, 'https://a.test')).not.toContain('Access-Control-Allow-Credentials');
  });
});

describe('applyPolicy', () => {
  it('from-to-www: same scheme, the other host, the request URI without one trailing slash', () => {
    expect(applyPolicy({ hostRedirect: { host: 'web.test', code: 308 } }, req({ target: '/a/?q=1', scheme: 'https' }))).toMatchObject({ status: 308, fields: ['Location', 'https://web.test/a/?q=1', 'Content-Type', 'text/plain'] });
    expect(applyPolicy({ hostRedirect: { host: 'web.test', code: 308 } }, req({ target: '/' }))).toMatchObject({ fields: ['Location', 'http://web.test', 'Content-Type', 'text/plain'] });
  });
  it('app-root redirects exactly "/" with 302 to scheme://Host field + root, and nothing else', () => {
    expect(applyPolicy({ appRoot: '/app1' }, req({ path: '/', target: '/?x' }))).toMatchObject({ status: 302, fields: ['Location', 'http://web.test:8080/app1', 'Content-Type', 'text/plain'] });
    expect(applyPolicy({ appRoot: '/app1' }, req())).toEqual({ target: null, requestFields: null, responseFields: null });
  });
  it('a redirect expands the nginx variables; a code without Location in nginx sends the URL as the body', () => {
    const url = ['https://new.test', '$request_uri', '#', '$scheme', '$host', '$uri', '$is_args', '$args'];
    expect(applyPolicy({ redirect: { code: 301, url } }, req({ target: '/a/b?q', query: 'q' }))).toMatchObject({ status: 301, fields: ['Location', 'https://new.test/a/b?q#httpweb.test/a/b?q', 'Content-Type', 'text/plain'] });
    expect(applyPolicy({ redirect: { code: 300, url: ['https://n.test/'] } }, req())).toEqual({ status: 300, fields: ['Content-Type', 'text/plain'], body: 'https://n.test/' });
  });
  it('a CORS preflight from an allowed origin is answered 204; other origins go upstream untouched', () => {
    expect(applyPolicy({ cors: CORS }, req({ method: 'OPTIONS', origin: 'https://a.test' }))).toMatchObject({ status: 204, body: '' });
    expect(applyPolicy({ cors: CORS }, req({ method: 'OPTIONS', origin: 'https://c.test' }))).toEqual({ target: null, requestFields: null, responseFields: null });
    expect(applyPolicy({ cors: CORS }, req({ origin: 'https://a.test' }))).toMatchObject({ responseFields: expect.arrayContaining(['Access-Control-Allow-Origin', 'https://a.test']) });
  });
  it('rewrite, X-Forwarded-Prefix and upstream-vhost change the upstream request', () => {
    expect(applyPolicy({ rewrite: { pattern: '/a/(.*)', target: '/$1' }, forwardedPrefix: '/a', upstreamVhost: 'api.internal' }, req({ query: 'z' }))).toEqual({ target: '/b?z', requestFields: ['x-forwarded-prefix', '/a', 'host', 'api.internal'], responseFields: null });
  });
});

describe('withRequestFields', () => {
  it('replaces Host in first place and adds the rest at the end', () => {
    expect(withRequestFields(['host', 'web.test', 'accept', '*/*', 'x-forwarded-prefix', 'forged'], ['x-forwarded-prefix', '/a', 'host', 'api.internal'])).toEqual(['host', 'api.internal', 'accept', '*/*', 'x-forwarded-prefix', '/a']);
  });
});

describe('statusLineOf (the status line of an answer Flusso gives itself)', () => {
  it.each([
    [308, '308 Permanent Redirect'],
    [306, '306 Switch Proxy'],
    [403, '403 Forbidden'],
    [429, '429 Too Many Requests'],
    [503, '503 Service Unavailable'],
    [399, '399'],
  ])('%i is "%s"', (status, line) => {
    expect(statusLineOf(status)).toBe(line);
  });
});
