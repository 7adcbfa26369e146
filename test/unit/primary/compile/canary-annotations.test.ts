/**
 * Canary Ingresses in the compiler (issue 15 group 5, docs/annotations.md "Canaries"): a canary
 * makes no routes of its own and becomes the canary of the main route with the same host, path
 * and pathType; its rules are read as ingress-nginx reads them; its other annotations are reported
 * as having no effect; a canary path without a main route, canary-* without canary: "true", and
 * bad values are diagnostics naming the Ingress and the annotation.
 */
import { describe, expect, it } from 'vitest';
import type { RouteCanary } from '../../../../src/shared/canary.js';
import type { Diagnostic } from '../../../../src/shared/errors.js';
import type { Ingress } from '../../../../src/primary/model.js';
import { backend, compileObjects as compileAll, ingress, ingressClass, path, rule, service } from '../../../helpers/k8s.js';

const N = 'nginx.ingress.kubernetes.io/';
const main = ingress('shop/web', { created: '2024-01-01T00:00:00Z', annotations: { [`${N}upstream-vhost`]: 'main.internal' }, rules: [rule('web.test', path('/', backend('web')), path('/api', backend('web')))] });
const canary = (annotations: Record<string, string>, rules = [rule('web.test', path('/', backend('web-canary')))]): Ingress =>
  ingress('shop/web-canary', { created: '2024-02-01T00:00:00Z', annotations: { [`${N}canary`]: 'true', ...annotations }, rules });

function compile(...extra: Ingress[]) {
  return compileAll([ingressClass(), main, ...extra, service('shop/web'), service('shop/web-canary')]);
}
const routesOf = (r: ReturnType<typeof compile>) => r.table.hosts.find((h) => h.host === 'web.test')!.routes;
const canaryOf = (annotations: Record<string, string>): RouteCanary | undefined => routesOf(compile(canary(annotations))).find((x) => x.path === '/')!.canary;
const problems = (...extra: Ingress[]): Diagnostic[] => compile(...extra).diagnostics.filter((d) => d.code.startsWith('ING_ERR_INGRESS_'));

describe('canary Ingresses', () => {
  it.each<[string, Record<string, string>, Partial<RouteCanary>]>([
    ['weight', { [`${N}canary-weight`]: '25' }, { weight: 25, weightTotal: 100 }],
    ['weight out of a total above 100', { [`${N}canary-weight`]: '1', [`${N}canary-weight-total`]: '1000' }, { weight: 1, weightTotal: 1000 }],
    ['header always/never', { [`${N}canary-by-header`]: 'X-Canary' }, { header: 'x-canary', weight: 0, weightTotal: 100 }],
    ['header with a value', { [`${N}canary-by-header`]: 'X-Region', [`${N}canary-by-header-value`]: 'eu' }, { header: 'x-region', headerValue: 'eu', weight: 0, weightTotal: 100 }],
    ['header with a pattern', { [`${N}canary-by-header`]: 'X-Region', [`${N}canary-by-header-pattern`]: '^(eu|us)-' }, { header: 'x-region', headerPattern: '^(eu|us)-', weight: 0, weightTotal: 100 }],
    ['cookie', { [`${N}canary-by-cookie`]: 'Beta' }, { cookie: 'beta', weight: 0, weightTotal: 100 }],
  ])('%s', (_name, annotations, want) => {
    expect(canaryOf(annotations)).toEqual({ backend: 'shop/web-canary:80', source: 'shop/web-canary', ...want });
    expect(problems(canary(annotations))).toEqual([]);
  });

  it('makes no route of its own, keeps the main route as it was (its annotations too), and other paths untouched', () => {
    const r = compile(canary({ [`${N}canary-weight`]: '10' }));
    const routes = routesOf(r);
    expect(routes.map((x) => [x.path, x.backend, x.source, x.canary?.backend])).toEqual([
      ['/api', 'shop/web:80', 'shop/web', undefined],
      ['/', 'shop/web:80', 'shop/web', 'shop/web-canary:80'],
    ]);
    expect(routes[1]!.policy?.upstreamVhost).toBe('main.internal');
    expect(r.table.backends.map((b) => b.id)).toEqual(['shop/web-canary:80', 'shop/web:80']);
    expect(r.ingresses).toEqual(['shop/web', 'shop/web-canary']);
  });

  it("reports the canary's other annotations as having no effect", () => {
    expect(problems(canary({ [`${N}canary-weight`]: '10', [`${N}rewrite-target`]: '/x', [`${N}limit-rps`]: '5' }))).toEqual([
      {
        code: 'ING_ERR_INGRESS_UNSUPPORTED', severity: 'warning', object: 'Ingress shop/web-canary',
        message: `annotations ${N}limit-rps, ${N}rewrite-target have no effect on a canary Ingress: the main Ingress's annotations apply to its requests (ingress-nginx ignores a canary's other annotations too)`,
      },
    ]);
  });

  it('a canary path with no main route is a diagnostic; its other paths apply', () => {
    const c = canary({ [`${N}canary-weight`]: '10' }, [rule('web.test', path('/', backend('web-canary')), path('/new', backend('web-canary'))), rule('other.test', path('/', backend('web-canary')))]);
    const r = compile(c);
    expect(problems(c).map((d) => [d.code, d.message])).toEqual([
      ['ING_ERR_INGRESS_CANARY_WITHOUT_MAIN', 'canary host "web.test" Prefix path "/new" is routed by no main Ingress (same host, path and pathType); path ignored'],
      ['ING_ERR_INGRESS_CANARY_WITHOUT_MAIN', 'canary host "other.test" Prefix path "/" is routed by no main Ingress (same host, path and pathType); path ignored'],
    ]);
    expect(r.table.hosts.map((h) => h.host)).toEqual(['web.test']);
    expect(routesOf(r).find((x) => x.path === '/')!.canary?.weight).toBe(10);
  });

  it('another pathType is another route: no main', () => {
    const c = canary({}, [rule('web.test', path('/', backend('web-canary'), 'Exact'))]);
    expect(problems(c).map((d) => d.code)).toEqual(['ING_ERR_INGRESS_CANARY_WITHOUT_MAIN']);
  });

  it('the oldest canary of a route wins; a later one is a conflict', () => {
    const later = ingress('shop/web-canary2', { created: '2024-03-01T00:00:00Z', annotations: { [`${N}canary`]: 'true' }, rules: [rule('web.test', path('/', backend('web-canary')))] });
    const r = compile(canary({ [`${N}canary-weight`]: '5' }), later);
    expect(routesOf(r).find((x) => x.path === '/')!.canary?.source).toBe('shop/web-canary');
    expect(r.diagnostics.filter((d) => d.object === 'Ingress shop/web-canary2').map((d) => d.message)).toEqual([
      'host "web.test" Prefix path "/" already has the canary Ingress shop/web-canary; path skipped',
    ]);
  });

  it.each<[string, Record<string, string>, string, Partial<RouteCanary>]>([
    ['canary-weight', { [`${N}canary-weight`]: 'ten' }, `annotation ${N}canary-weight is "ten", expected a whole number from 0 to 2147483647; the default 0 is used, as in ingress-nginx`, { weight: 0 }],
    ['canary-weight negative', { [`${N}canary-weight`]: '-5' }, `annotation ${N}canary-weight is "-5", expected a whole number from 0 to 2147483647; the default 0 is used, as in ingress-nginx`, { weight: 0 }],
    ['canary-weight-total', { [`${N}canary-weight-total`]: '0' }, `annotation ${N}canary-weight-total is "0", expected a whole number from 1 to 2147483647; the default 100 is used, as in ingress-nginx`, { weightTotal: 100 }],
    ['canary-by-header', { [`${N}canary-by-header`]: 'X Canary' }, `annotation ${N}canary-by-header is "X Canary", expected a field or cookie name (letters, digits and !#$%&'*+.^_\`|~-); it has no effect`, {}],
    ['canary-by-header-pattern', { [`${N}canary-by-header`]: 'X-A', [`${N}canary-by-header-pattern`]: '(a)\\1' }, `annotation ${N}canary-by-header-pattern is "(a)\\\\1", expected a regular expression in RE2 syntax (no backreferences or lookarounds); it has no effect`, { header: 'x-a' }],
  ])('a bad %s is one diagnostic and has no effect', (_name, annotations, message, want) => {
    expect(problems(canary(annotations))).toEqual([{ code: 'ING_ERR_INGRESS_INVALID_ANNOTATION', severity: 'error', object: 'Ingress shop/web-canary', message }]);
    expect(canaryOf(annotations)).toEqual({ backend: 'shop/web-canary:80', source: 'shop/web-canary', weight: 0, weightTotal: 100, ...want });
  });

  it('a total up to 100 is not used (ingress-nginx): reported when below', () => {
    expect(canaryOf({ [`${N}canary-weight`]: '5', [`${N}canary-weight-total`]: '10' })?.weightTotal).toBe(100);
    expect(problems(canary({ [`${N}canary-weight-total`]: '10' })).map((d) => d.code)).toEqual(['ING_ERR_INGRESS_UNSUPPORTED']);
  });

  it('canary-* without canary: "true" is a diagnostic, and the Ingress is an ordinary one (here: a conflict)', () => {
    const c = ingress('shop/web-canary', { created: '2024-02-01T00:00:00Z', annotations: { [`${N}canary-weight`]: '50' }, rules: [rule('web.test', path('/', backend('web-canary')))] });
    expect(problems(c).map((d) => [d.code, d.message])).toEqual([
      ['ING_ERR_INGRESS_CONFLICT', 'host "web.test" Prefix path "/" is already routed by Ingress shop/web; path skipped'],
      ['ING_ERR_INGRESS_INVALID_ANNOTATION', `annotations ${N}canary-weight need ${N}canary: "true" (ingress-nginx: "configured but not enabled"); they have no effect`],
    ]);
    const bad = ingress('shop/web-canary', { annotations: { [`${N}canary`]: 'yes' }, rules: [rule('web.test', path('/x', backend('web-canary')))] });
    expect(problems(bad).map((d) => d.message)).toEqual([`annotation ${N}canary is "yes", expected "true" or "false"; the Ingress is not a canary`]);
  });

  it('value wins over pattern; value or pattern without a header has no effect; both reported', () => {
    expect(canaryOf({ [`${N}canary-by-header`]: 'X-A', [`${N}canary-by-header-value`]: 'v', [`${N}canary-by-header-pattern`]: 'p' })).toMatchObject({ header: 'x-a', headerValue: 'v' });
    expect(problems(canary({ [`${N}canary-by-header-value`]: 'v' })).map((d) => d.message)).toEqual([`annotations ${N}canary-by-header-value have no effect without ${N}canary-by-header`]);
  });
});
