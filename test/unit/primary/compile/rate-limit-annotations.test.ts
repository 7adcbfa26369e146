/**
 * The ingress-nginx rate-limit annotations in the compiler (issue 15 item 7, docs/rate-limits.md):
 * each value read as ingress-nginx reads it, each bad value one diagnostic naming the Ingress,
 * the annotation and what is allowed, and the rest of the Ingress still routed.
 */
import { describe, expect, it } from 'vitest';
import type { Diagnostic } from '../../../../src/shared/errors.js';
import type { RouteRateLimit } from '../../../../src/shared/rate-limit.js';
import { backend, compileObjects as compileAll, ingress, ingressClass, path, rule, service } from '../../../helpers/k8s.js';

const N = 'nginx.ingress.kubernetes.io/';

function compileWeb(annotations: Record<string, string>) {
  const ing = ingress('shop/web', { annotations, rules: [rule('web.test', path('/', backend('web')), path('/api', backend('web')))] });
  return compileAll([ingressClass(), ing, service('shop/web')]);
}
const limitOf = (annotations: Record<string, string>): (RouteRateLimit | undefined)[] => compileWeb(annotations).table.hosts[0]!.routes.map((r) => r.rateLimit);
const problems = (annotations: Record<string, string>): Diagnostic[] => compileWeb(annotations).diagnostics.filter((d) => d.code.startsWith('ING_ERR_INGRESS_'));
const invalid = (message: string): Diagnostic => ({ code: 'ING_ERR_INGRESS_INVALID_ANNOTATION', severity: 'error', object: 'Ingress shop/web', message });

describe('rate-limit annotations', () => {
  it.each<[string, Record<string, string>, RouteRateLimit | undefined]>([
    ['none: no limit', {}, undefined],
    ['limit-rps 0 is no limit', { [`${N}limit-rps`]: '0' }, undefined],
    ['limit-rps with the default multiplier 5', { [`${N}limit-rps`]: '10' }, { id: 'shop/web', rates: [{ perSecond: 10, burst: 51 }], whitelist: [] }],
    ['limit-rpm', { [`${N}limit-rpm`]: '120' }, { id: 'shop/web', rates: [{ perSecond: 2, burst: 601 }], whitelist: [] }],
    [
      'rps, rpm, multiplier and whitelist together',
      { [`${N}limit-rps`]: '100', [`${N}limit-rpm`]: '600', [`${N}limit-burst-multiplier`]: '1', [`${N}limit-whitelist`]: '10.0.0.0/8, 192.168.1.1,2001:db8::/32' },
      { id: 'shop/web', rates: [{ perSecond: 100, burst: 101 }, { perSecond: 10, burst: 601 }], whitelist: ['10.0.0.0/8', '192.168.1.1', '2001:db8::/32'] },
    ],
    [
      'limit-allowlist, the newer name, wins over limit-whitelist',
      { [`${N}limit-rps`]: '1', [`${N}limit-allowlist`]: '10.0.0.0/8', [`${N}limit-whitelist`]: '192.168.0.0/16' },
      { id: 'shop/web', rates: [{ perSecond: 1, burst: 6 }], whitelist: ['10.0.0.0/8'] },
    ],
  ])('%s', (_name, annotations, want) => {
    expect(limitOf(annotations)).toEqual([want, want]);
    expect(problems(annotations)).toEqual([]);
  });

  it.each<[string, Record<string, string>, RouteRateLimit | undefined, string]>([
    ['a limit that is not a number', { [`${N}limit-rps`]: 'ten' }, undefined, `annotation ${N}limit-rps is "ten", expected a whole number from 0 to 2147483647 (0: no limit); it has no effect`],
    ['a negative limit', { [`${N}limit-rpm`]: '-5' }, undefined, `annotation ${N}limit-rpm is "-5", expected a whole number from 0 to 2147483647 (0: no limit); it has no effect`],
    [
      'a bad multiplier falls back to 5',
      { [`${N}limit-rps`]: '2', [`${N}limit-burst-multiplier`]: '0' },
      { id: 'shop/web', rates: [{ perSecond: 2, burst: 11 }], whitelist: [] },
      `annotation ${N}limit-burst-multiplier is "0", expected a whole number of at least 1; the default 5 is used, as in ingress-nginx`,
    ],
    [
      'a bad whitelist entry is skipped, the others kept',
      { [`${N}limit-rps`]: '2', [`${N}limit-whitelist`]: '10.0.0.0/33, 10.1.0.0/16' },
      { id: 'shop/web', rates: [{ perSecond: 2, burst: 11 }], whitelist: ['10.1.0.0/16'] },
      `annotation ${N}limit-whitelist is "10.0.0.0/33", expected IPv4 or IPv6 addresses or CIDR blocks (such as "10.0.0.0/8, 2001:db8::/32") separated by commas; that entry is skipped`,
    ],
  ])('%s: one diagnostic, the routes kept', (_name, annotations, want, message) => {
    expect(limitOf(annotations)).toEqual([want, want]);
    expect(problems(annotations)).toEqual([invalid(message)]);
  });

  it('says a whitelist without a limit does nothing', () => {
    expect(problems({ [`${N}limit-whitelist`]: '10.0.0.0/8' })).toEqual([
      { code: 'ING_ERR_INGRESS_UNSUPPORTED', severity: 'warning', object: 'Ingress shop/web', message: `annotations ${N}limit-whitelist and limit-burst-multiplier have no effect without limit-rps or limit-rpm; ignored` },
    ]);
  });

  it('limits only the routes of the annotated Ingress', () => {
    const limited = ingress('shop/web', { annotations: { [`${N}limit-rps`]: '1' }, rules: [rule('web.test', path('/', backend('web')))] });
    const free = ingress('shop/other', { rules: [rule('web.test', path('/free', backend('web')))] });
    const { table } = compileAll([ingressClass(), limited, free, service('shop/web')]);
    expect(table.hosts[0]!.routes.map((r) => [r.path, r.rateLimit?.id])).toEqual([
      ['/free', undefined],
      ['/', 'shop/web'],
    ]);
  });
});
