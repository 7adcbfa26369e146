/**
 * Cookie affinity in the compiler (issue 15 group 5, docs/annotations.md "Cookie affinity"):
 * `affinity: cookie` and its session-cookie-* annotations on every route of the Ingress, the
 * path defaulting to the route's; each bad value one diagnostic naming the Ingress, the
 * annotation and what is allowed, with the default in its place; cookie annotations without
 * affinity, and the ones Flusso does not do, are reported. Also the Set-Cookie line it bakes.
 */
import { describe, expect, it } from 'vitest';
import { affinityCookie, cookieTime, type RouteAffinity } from '../../../../src/shared/affinity.js';
import type { Diagnostic } from '../../../../src/shared/errors.js';
import { backend, compileObjects as compileAll, ingress, ingressClass, path, rule, service } from '../../../helpers/k8s.js';

const N = 'nginx.ingress.kubernetes.io/';

function compileWeb(annotations: Record<string, string>) {
  const web = ingress('shop/web', { annotations, rules: [rule('web.test', path('/', backend('web')), path('/api/', backend('web')))] });
  return compileAll([ingressClass(), web, service('shop/web')]);
}
const affinityOf = (annotations: Record<string, string>) => compileWeb(annotations).table.hosts[0]!.routes.map((r) => r.affinity);
const problems = (annotations: Record<string, string>): Diagnostic[] => compileWeb(annotations).diagnostics.filter((d) => d.code.startsWith('ING_ERR_INGRESS_'));

describe('affinity annotations', () => {
  it('affinity: cookie alone: INGRESSCOOKIE, balanced, the path of each route', () => {
    expect(affinityOf({ [`${N}affinity`]: 'cookie' })).toEqual([
      { name: 'INGRESSCOOKIE', path: '/api', mode: 'balanced' },
      { name: 'INGRESSCOOKIE', path: '/', mode: 'balanced' },
    ]);
    expect(problems({ [`${N}affinity`]: 'cookie' })).toEqual([]);
  });

  it('every session-cookie annotation', () => {
    const a = {
      [`${N}affinity`]: 'cookie', [`${N}affinity-mode`]: 'persistent', [`${N}session-cookie-name`]: 'route', [`${N}session-cookie-path`]: '/shop',
      [`${N}session-cookie-domain`]: '.web.test', [`${N}session-cookie-max-age`]: '3600', [`${N}session-cookie-expires`]: '172800', [`${N}session-cookie-samesite`]: 'None', [`${N}session-cookie-secure`]: 'true',
    };
    const want: RouteAffinity = { name: 'route', path: '/shop', domain: '.web.test', maxAge: 3600, expires: 172800, sameSite: 'None', secure: true, mode: 'persistent' };
    expect(affinityOf(a)).toEqual([want, want]);
    expect(problems(a)).toEqual([]);
  });

  it.each<[string, string, string, Partial<RouteAffinity>]>([
    ['session-cookie-name', 'a b', `expected a cookie name (letters, digits and !#$%&'*+.^_\`|~-); the default INGRESSCOOKIE is used`, {}],
    ['session-cookie-max-age', '1h', 'expected a whole number of seconds; it has no effect', {}],
    ['session-cookie-samesite', 'Sometimes', 'expected "None", "Lax" or "Strict"; it has no effect', {}],
    ['session-cookie-secure', 'yes', 'expected "true" or "false"; Secure is set on HTTPS requests only', {}],
    ['session-cookie-path', '/a;b', 'expected a path without spaces, control characters or ";"; it has no effect', {}],
    ['affinity-mode', 'sticky', 'expected "balanced" or "persistent"; the default balanced is used', {}],
  ])('a bad %s is one diagnostic and the default applies', (name, value, tail, want) => {
    const a = { [`${N}affinity`]: 'cookie', [`${N}${name}`]: value };
    expect(problems(a)).toEqual([{ code: 'ING_ERR_INGRESS_INVALID_ANNOTATION', severity: 'error', object: 'Ingress shop/web', message: `annotation ${N}${name} is ${JSON.stringify(value)}, ${tail}` }]);
    expect(affinityOf(a)[1]).toEqual({ name: 'INGRESSCOOKIE', path: '/', mode: 'balanced', ...want });
  });

  it('affinity other than cookie is invalid; cookie annotations without it are reported; the unsupported ones too', () => {
    expect(problems({ [`${N}affinity`]: 'ip', [`${N}session-cookie-name`]: 'x' }).map((d) => [d.code, d.message])).toEqual([
      ['ING_ERR_INGRESS_INVALID_ANNOTATION', `annotation ${N}affinity is "ip", expected "cookie"; the Ingress has no affinity`],
      ['ING_ERR_INGRESS_UNSUPPORTED', `annotations ${N}session-cookie-name have no effect without ${N}affinity: "cookie"`],
    ]);
    expect(affinityOf({ [`${N}affinity`]: 'ip' })).toEqual([undefined, undefined]);
    expect(problems({ [`${N}affinity`]: 'cookie', [`${N}session-cookie-change-on-failure`]: 'true' }).map((d) => d.message)).toEqual([
      `annotation "${N}session-cookie-change-on-failure" is not supported by Flusso; ignored`,
    ]);
  });
});

describe('the Set-Cookie line', () => {
  const now = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
  it('is baked in lua-resty-cookie order', () => {
    const full: RouteAffinity = { name: 'route', path: '/shop', domain: '.web.test', maxAge: 3600, expires: 86400, sameSite: 'Lax', secure: true, mode: 'balanced' };
    expect(affinityCookie(full, 'abc', false, now)).toBe('route=abc; Expires=Sat, 03-Jan-2026 03:04:05 GMT; Max-Age=3600; Domain=.web.test; Path=/shop; Secure; HttpOnly; SameSite=Lax');
  });
  it('Secure follows the scheme unless session-cookie-secure says', () => {
    const plain: RouteAffinity = { name: 'INGRESSCOOKIE', path: '/', mode: 'balanced' };
    expect(affinityCookie(plain, 'v', false, now)).toBe('INGRESSCOOKIE=v; Path=/; HttpOnly');
    expect(affinityCookie(plain, 'v', true, now)).toBe('INGRESSCOOKIE=v; Path=/; Secure; HttpOnly');
    expect(affinityCookie({ ...plain, secure: false }, 'v', true, now)).toBe('INGRESSCOOKIE=v; Path=/; HttpOnly');
  });
  it('cookieTime is nginx cookie time', () => {
    expect(cookieTime(Date.UTC(2010, 10, 18, 11, 27, 35))).toBe('Thu, 18-Nov-2010 11:27:35 GMT');
  });
});

describe('the affinity cookie beside the upstream response', () => {
  it("does not take the place of the upstream's Set-Cookie fields (CORS fields still replace theirs)", async () => {
    const { fieldNamesOf } = await import('../../../../src/worker/proxy/policy.js');
    const p = fieldNamesOf(['Access-Control-Allow-Origin', '*', 'Set-Cookie', 'INGRESSCOOKIE=v; Path=/; HttpOnly']);
    expect([...p.names]).toEqual(['access-control-allow-origin']);
    expect(p.packed).toEqual(['Access-Control-Allow-Origin', '*\r\nSet-Cookie: INGRESSCOOKIE=v; Path=/; HttpOnly']);
  });
});
