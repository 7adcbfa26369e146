/**
 * The ingress-nginx annotations in the compiler (issue 15, docs/annotations.md): each parser on
 * good and bad values (a bad value is one diagnostic naming the Ingress, the annotation and what
 * is allowed, and the rest of the Ingress applies), and the host-wide ones (use-regex ordering,
 * from-to-www-redirect, server-alias) on the whole compiled table.
 */
import { describe, expect, it } from 'vitest';
import type { Diagnostic } from '../../../../src/shared/errors.js';
import type { Route, RoutePolicy } from '../../../../src/shared/snapshot.js';
import { backend, compileObjects as compileAll, ingress, ingressClass, path, rule, service } from '../../../helpers/k8s.js';

const compileObjects = (objects: Parameters<typeof compileAll>[0]) => compileAll([ingressClass(), ...objects]);

const N = 'nginx.ingress.kubernetes.io/';

/** compileWeb compiles one Ingress shop/web for web.test with `paths` (Prefix unless told) and `annotations`. */
function compileWeb(annotations: Record<string, string>, paths: readonly [string, string?][] = [['/']]) {
  const ing = ingress('shop/web', { annotations, rules: [rule('web.test', ...paths.map(([p, t]) => path(p, backend('web'), t ?? 'Prefix')))] });
  return compileObjects([ing, service('shop/web')]);
}

const policyOf = (annotations: Record<string, string>): RoutePolicy | undefined => compileWeb(annotations).table.hosts[0]?.routes[0]?.policy;
const problems = (annotations: Record<string, string>): Diagnostic[] => compileWeb(annotations).diagnostics.filter((d) => d.code.startsWith('ING_ERR_INGRESS_'));
const invalid = (message: string): Diagnostic => ({ code: 'ING_ERR_INGRESS_INVALID_ANNOTATION', severity: 'error', object: 'Ingress shop/web', message });

describe('ingress-nginx annotation parsers', () => {
  it.each<[string, Record<string, string>, RoutePolicy | undefined]>([
    ['no annotation: no policy at all', {}, undefined],
    ['app-root', { [`${N}app-root`]: '/app1' }, { appRoot: '/app1' }],
    ['upstream-vhost', { [`${N}upstream-vhost`]: 'api.internal:8080' }, { upstreamVhost: 'api.internal:8080' }],
    ['rewrite-target takes the path as its pattern', { [`${N}rewrite-target`]: '/$1' }, { rewrite: { pattern: '/', target: '/$1' } }],
    ['x-forwarded-prefix with a rewrite', { [`${N}rewrite-target`]: '/x', [`${N}x-forwarded-prefix`]: '/api' }, { rewrite: { pattern: '/', target: '/x' }, forwardedPrefix: '/api' }],
    ['permanent-redirect (301) with a variable', { [`${N}permanent-redirect`]: 'https://new.test$request_uri' }, { redirect: { code: 301, url: ['https://new.test', '$request_uri'] } }],
    ['permanent-redirect to $host (a variable in the authority)', { [`${N}permanent-redirect`]: 'https://$host/new$request_uri' }, { redirect: { code: 301, url: ['https://', '$host', '/new', '$request_uri'] } }],
    ['permanent-redirect-code', { [`${N}permanent-redirect`]: 'https://new.test/', [`${N}permanent-redirect-code`]: '308' }, { redirect: { code: 308, url: ['https://new.test/'] } }],
    ['temporal-redirect-code', { [`${N}temporal-redirect`]: 'http://t.test/', [`${N}temporal-redirect-code`]: '307' }, { redirect: { code: 307, url: ['http://t.test/'] } }],
    ['enable-cors with the defaults', { [`${N}enable-cors`]: 'true' }, { cors: { origins: ['*'], methods: 'GET, PUT, POST, DELETE, PATCH, OPTIONS', headers: 'DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization', exposeHeaders: '', credentials: true, maxAgeSeconds: 1728000 } }],
    [
      'enable-cors with every cors-* annotation',
      { [`${N}enable-cors`]: 'true', [`${N}cors-allow-origin`]: 'https://a.test, https://*.b.test:8443', [`${N}cors-allow-methods`]: 'GET, PUT', [`${N}cors-allow-headers`]: 'X-A,X-B', [`${N}cors-expose-headers`]: '*, X-C', [`${N}cors-allow-credentials`]: 'false', [`${N}cors-max-age`]: '60' },
      { cors: { origins: ['https://a.test', 'https://*.b.test:8443'], methods: 'GET, PUT', headers: 'X-A,X-B', exposeHeaders: '*, X-C', credentials: false, maxAgeSeconds: 60 } },
    ],
    ['cors-* without enable-cors do nothing', { [`${N}cors-allow-origin`]: 'https://a.test' }, undefined],
    ['"*" in an origin list means any origin', { [`${N}enable-cors`]: 'true', [`${N}cors-allow-origin`]: 'https://a.test, *' }, { cors: { origins: ['*'], methods: 'GET, PUT, POST, DELETE, PATCH, OPTIONS', headers: 'DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization', exposeHeaders: '', credentials: true, maxAgeSeconds: 1728000 } }],
  ])('%s', (_, annotations, want) => {
    expect(policyOf(annotations)).toStrictEqual(want);
    expect(problems(annotations)).toEqual([]);
  });

  it.each<[string, Record<string, string>, string]>([
    ['use-regex not a boolean', { [`${N}use-regex`]: 'yes' }, `annotation ${N}use-regex is "yes", expected "true" or "false"; it has no effect`],
    ['rewrite-target with a variable', { [`${N}rewrite-target`]: '/$host' }, `annotation ${N}rewrite-target is "/$host", expected a path starting with "/" that may use the captures $1 to $9 of the path (and a query); it has no effect`],
    ['app-root as a URL', { [`${N}app-root`]: 'https://x.test/app' }, `annotation ${N}app-root is "https://x.test/app", expected a path starting with "/" (not a URL); it has no effect`],
    ['upstream-vhost with a space', { [`${N}upstream-vhost`]: 'a b' }, `annotation ${N}upstream-vhost is "a b", expected a host name, optionally with a port (such as "api.internal" or "api.internal:8080"); it has no effect`],
    ['permanent-redirect not http(s)', { [`${N}permanent-redirect`]: 'ftp://x.test/' }, `annotation ${N}permanent-redirect is "ftp://x.test/", expected an absolute http or https URL, which may use $request_uri, $uri, $host, $scheme, $args, $is_args; it has no effect`],
    ['permanent-redirect with an unknown variable', { [`${N}permanent-redirect`]: 'https://x.test/$remote_addr' }, `annotation ${N}permanent-redirect is "https://x.test/$remote_addr", expected an absolute http or https URL, which may use $request_uri, $uri, $host, $scheme, $args, $is_args; it has no effect`],
    ['a bad origin', { [`${N}enable-cors`]: 'true', [`${N}cors-allow-origin`]: 'https://a.test, a.test' }, `annotation ${N}cors-allow-origin is "a.test", expected "*" or origins such as "https://example.com", "https://*.example.com:8443" separated by commas; that origin is skipped`],
    ['cors-max-age not a number', { [`${N}enable-cors`]: 'true', [`${N}cors-max-age`]: '1h' }, `annotation ${N}cors-max-age is "1h", expected a number of seconds; ingress-nginx's default 1728000 is used`],
    ['server-alias not a host', { [`${N}server-alias`]: 'a.test, b_c' }, `annotation ${N}server-alias is "b_c", expected host names (DNS names or one-label wildcards) separated by commas; that alias is skipped`],
  ])('a bad value is one diagnostic and the route stays: %s', (_, annotations, message) => {
    const result = compileWeb(annotations);
    expect(result.diagnostics.filter((d) => d.code === 'ING_ERR_INGRESS_INVALID_ANNOTATION')).toEqual([invalid(message)]);
    expect(result.table.hosts.find((h) => h.host === 'web.test')?.routes.map((r) => r.path)).toEqual(['/']);
  });

  it('a bad redirect code falls back to the default and says so', () => {
    const result = compileWeb({ [`${N}permanent-redirect`]: 'https://x.test/', [`${N}permanent-redirect-code`]: '200' });
    expect(result.table.hosts[0]?.routes[0]?.policy).toEqual({ redirect: { code: 301, url: ['https://x.test/'] } });
    expect(result.diagnostics.filter((d) => d.code.startsWith('ING_ERR_INGRESS_'))).toEqual([invalid(`annotation ${N}permanent-redirect-code is "200", expected a redirect status from 300 to 308; 301 is used, as in ingress-nginx`)]);
  });

  it('temporal-redirect wins over permanent-redirect, which is reported as overridden', () => {
    const annotations = { [`${N}permanent-redirect`]: 'https://p.test/', [`${N}temporal-redirect`]: 'https://t.test/' };
    expect(policyOf(annotations)).toEqual({ redirect: { code: 302, url: ['https://t.test/'] } });
    expect(problems(annotations).map((d) => d.message)).toEqual([`annotation ${N}permanent-redirect is overridden by temporal-redirect (ingress-nginx reads the temporal one first); ignored`]);
  });

  it('x-forwarded-prefix without rewrite-target is reported, as it does nothing in ingress-nginx either', () => {
    expect(problems({ [`${N}x-forwarded-prefix`]: '/api' }).map((d) => [d.code, d.severity])).toEqual([['ING_ERR_INGRESS_UNSUPPORTED', 'warning']]);
    expect(policyOf({ [`${N}x-forwarded-prefix`]: '/api' })).toBeUndefined();
  });

  it('flusso.dev/cache with a rewrite is reported: such routes are not cached', () => {
    expect(problems({ 'flusso.dev/cache': 'true', [`${N}rewrite-target`]: '/x' }).map((d) => [d.code, d.message])).toEqual([
      ['ING_ERR_INGRESS_UNSUPPORTED', 'flusso.dev/cache has no effect on this Ingress: its rewrite-target, upstream-vhost or enable-cors change every request, and such routes are not cached'],
    ]);
    expect(problems({ 'flusso.dev/cache': 'true', [`${N}app-root`]: '/x' })).toEqual([]);
  });

  it('rewrite-target equal to the path is no rewrite (ingress-nginx proxies unchanged)', () => {
    expect(compileWeb({ [`${N}rewrite-target`]: '/a' }, [['/a'], ['/b']]).table.hosts[0]?.routes.map((r) => [r.path, r.policy])).toEqual([
      ['/a', undefined],
      ['/b', { rewrite: { pattern: '/b', target: '/a' } }],
    ]);
  });
});

describe('host-wide annotations', () => {
  const pick = (r: Route) => [r.path, r.regex === true, r.source];

  it('use-regex on one Ingress makes every path of the host a regex, longest path text first, written paths kept', () => {
    const a = ingress('shop/a', { created: '2024-01-01T00:00:00Z', rules: [rule('web.test', path('/exact', backend('web'), 'Exact'), path('/', backend('web')), path('/docs/', backend('web')))] });
    const b = ingress('shop/b', { created: '2024-01-02T00:00:00Z', annotations: { [`${N}use-regex`]: 'true' }, rules: [rule('web.test', path('/api/v[0-9]+/.*', backend('web'), 'ImplementationSpecific'), path('/z.*', backend('web'), 'ImplementationSpecific'))] });
    const other = ingress('shop/c', { rules: [rule('other.test', path('/docs/', backend('web')))] });
    const table = compileObjects([a, b, other, service('shop/web')]).table;
    expect(table.hosts.find((h) => h.host === 'web.test')?.routes.map(pick)).toEqual([
      ['/api/v[0-9]+/.*', true, 'shop/b'],
      ['/exact', true, 'shop/a'],
      ['/docs/', true, 'shop/a'],
      ['/z.*', true, 'shop/b'],
      ['/', true, 'shop/a'],
    ]);
    // Another host keeps Ingress v1 matching.
    expect(table.hosts.find((h) => h.host === 'other.test')?.routes.map(pick)).toEqual([['/docs', false, 'shop/c']]);
  });

  it('an ImplementationSpecific regex path may use "?" (a quantifier), as the API server allows', () => {
    const result = compileWeb({ [`${N}use-regex`]: 'true' }, [['/api/?(.*)', 'ImplementationSpecific']]);
    expect(result.table.hosts[0]?.routes.map((r) => r.path)).toEqual(['/api/?(.*)']);
    expect(result.diagnostics.filter((d) => d.code.startsWith('ING_ERR_INGRESS_'))).toEqual([]);
  });

  it('a path RE2 cannot run (a backreference) is skipped with a diagnostic; the others stay', () => {
    const result = compileWeb({ [`${N}use-regex`]: 'true' }, [['/(a)\\1', 'ImplementationSpecific'], ['/ok', 'Prefix']]);
    expect(result.table.hosts[0]?.routes.map((r) => r.path)).toEqual(['/ok']);
    const found = result.diagnostics.filter((d) => d.code.startsWith('ING_ERR_INGRESS_'));
    expect(found.map((d) => [d.code, d.object])).toEqual([['ING_ERR_INGRESS_INVALID_PATH', 'Ingress shop/web']]);
    expect(found[0]?.message).toContain('RE2');
  });

  it('from-to-www-redirect adds the www name as a 308 redirect to the host, unless it has rules of its own', () => {
    const table = compileWeb({ [`${N}from-to-www-redirect`]: 'true' }).table;
    expect(table.hosts.map((h) => h.host)).toEqual(['web.test', 'www.web.test']);
    expect(table.hosts[1]?.routes).toEqual([{ match: 'Prefix', path: '/', backend: 'shop/web:80', source: 'shop/web', policy: { hostRedirect: { host: 'web.test', code: 308 } } }]);
    const own = ingress('shop/www', { created: '2020-01-01T00:00:00Z', rules: [rule('www.web.test', path('/', backend('web')))] });
    const www = ingress('shop/web', { annotations: { [`${N}from-to-www-redirect`]: 'true' }, rules: [rule('web.test', path('/', backend('web')))] });
    const result = compileObjects([own, www, service('shop/web')]);
    expect(result.table.hosts.find((h) => h.host === 'www.web.test')?.routes[0]?.source).toBe('shop/www');
    expect(result.diagnostics.filter((d) => d.code.startsWith('ING_ERR_INGRESS_')).map((d) => [d.code, d.severity, d.object])).toEqual([['ING_ERR_INGRESS_CONFLICT', 'warning', 'Ingress shop/web']]);
  });

  it('server-alias serves the host routes under each alias, but never takes a host that has rules', () => {
    const taken = ingress('shop/b', { created: '2020-01-01T00:00:00Z', rules: [rule('b.test', path('/', backend('web')))] });
    const web = ingress('shop/web', { annotations: { [`${N}server-alias`]: 'a.test, b.test' }, rules: [rule('web.test', path('/x', backend('web')))] });
    const result = compileObjects([taken, web, service('shop/web')]);
    expect(result.table.hosts.map((h) => [h.host, h.routes.map((r) => `${r.path} ${r.source}`)])).toEqual([
      ['a.test', ['/x shop/web']],
      ['b.test', ['/ shop/b']],
      ['web.test', ['/x shop/web']],
    ]);
    expect(result.diagnostics.filter((d) => d.code.startsWith('ING_ERR_INGRESS_')).map((d) => [d.code, d.severity])).toEqual([['ING_ERR_INGRESS_CONFLICT', 'warning']]);
  });
});
