/**
 * ingress-nginx `limit-connections` in the compiler (issue 15 item 7, docs/rate-limits.md): read
 * as ingress-nginx reads it, a bad value one diagnostic naming the Ingress, the annotation and
 * what is allowed, the rest of the Ingress still routed.
 */
import { describe, expect, it } from 'vitest';
import type { RouteConnLimit } from '../../../../src/shared/conn-limit.js';
import type { Diagnostic } from '../../../../src/shared/errors.js';
import { backend, compileObjects as compileAll, ingress, ingressClass, path, rule, service } from '../../../helpers/k8s.js';

const N = 'nginx.ingress.kubernetes.io/';

function compileWeb(annotations: Record<string, string>) {
  const ing = ingress('shop/web', { annotations, rules: [rule('web.test', path('/', backend('web')), path('/api', backend('web')))] });
  return compileAll([ingressClass(), ing, service('shop/web')]);
}
const limitOf = (annotations: Record<string, string>): (RouteConnLimit | undefined)[] => compileWeb(annotations).table.hosts[0]!.routes.map((r) => r.connLimit);
const problems = (annotations: Record<string, string>): Diagnostic[] => compileWeb(annotations).diagnostics.filter((d) => d.code.startsWith('ING_ERR_INGRESS_'));

describe('limit-connections', () => {
  it.each<[string, Record<string, string>, RouteConnLimit | undefined]>([
    ['none: no limit', {}, undefined],
    ['0 is no limit', { [`${N}limit-connections`]: '0' }, undefined],
    ['a limit', { [`${N}limit-connections`]: ' 3 ' }, { id: 'shop/web', max: 3, whitelist: [] }],
    ['with limit-rps, each its own', { [`${N}limit-connections`]: '1', [`${N}limit-rps`]: '5' }, { id: 'shop/web', max: 1, whitelist: [] }],
    // ingress-nginx keys limit_conn_zone on the same whitelist map as limit_req_zone.
    ['the whitelist applies, and alone raises no warning', { [`${N}limit-connections`]: '2', [`${N}limit-whitelist`]: '10.0.0.0/8, ::1' }, { id: 'shop/web', max: 2, whitelist: ['10.0.0.0/8', '::1'] }],
    ['limit-allowlist wins over limit-whitelist', { [`${N}limit-connections`]: '2', [`${N}limit-allowlist`]: '10.0.0.0/8', [`${N}limit-whitelist`]: '::1' }, { id: 'shop/web', max: 2, whitelist: ['10.0.0.0/8'] }],
  ])('%s', (_name, annotations, want) => {
    expect(limitOf(annotations)).toEqual([want, want]);
    expect(problems(annotations)).toEqual([]);
  });

  it.each(['ten', '-1', '1.5', '99999999999'])('%j: one diagnostic, no limit, the routes kept', (value) => {
    const annotations = { [`${N}limit-connections`]: value };
    expect(limitOf(annotations)).toEqual([undefined, undefined]);
    expect(problems(annotations)).toEqual([
      { code: 'ING_ERR_INGRESS_INVALID_ANNOTATION', severity: 'error', object: 'Ingress shop/web', message: `annotation ${N}limit-connections is "${value}", expected a whole number from 0 to 2147483647 (0: no limit); it has no effect` },
    ]);
  });

  it('reports a bad whitelist entry once (the rate-limit parser), and skips it here too', () => {
    const annotations = { [`${N}limit-connections`]: '2', [`${N}limit-whitelist`]: '10.0.0.0/33, 10.1.0.0/16' };
    expect(limitOf(annotations)).toEqual([{ id: 'shop/web', max: 2, whitelist: ['10.1.0.0/16'] }, { id: 'shop/web', max: 2, whitelist: ['10.1.0.0/16'] }]);
    expect(problems(annotations).map((d) => d.code)).toEqual(['ING_ERR_INGRESS_INVALID_ANNOTATION']);
  });

  it('limits only the routes of the annotated Ingress', () => {
    const limited = ingress('shop/web', { annotations: { [`${N}limit-connections`]: '1' }, rules: [rule('web.test', path('/', backend('web')))] });
    const free = ingress('shop/other', { rules: [rule('web.test', path('/free', backend('web')))] });
    const { table } = compileAll([ingressClass(), limited, free, service('shop/web')]);
    expect(table.hosts[0]!.routes.map((r) => [r.path, r.connLimit?.max])).toEqual([
      ['/free', undefined],
      ['/', 1],
    ]);
  });
});
