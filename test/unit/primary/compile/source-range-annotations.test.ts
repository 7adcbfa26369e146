/**
 * The client address-list annotations in the compiler (issue 15 item 6, docs/annotations.md):
 * allowlist-source-range (and its older name whitelist-source-range) and denylist-source-range on
 * every route of the Ingress; each bad entry one diagnostic naming the Ingress, the annotation and
 * what is allowed, that entry skipped and the rest of the Ingress still routed; an allow list with
 * no valid entry refuses everyone rather than no one.
 */
import { describe, expect, it } from 'vitest';
import type { Diagnostic } from '../../../../src/shared/errors.js';
import type { RouteSourceRange } from '../../../../src/shared/source-range.js';
import { backend, compileObjects as compileAll, ingress, ingressClass, path, rule, service } from '../../../helpers/k8s.js';

const N = 'nginx.ingress.kubernetes.io/';
const ALLOWED = 'IPv4 or IPv6 addresses or CIDR blocks (such as "10.0.0.0/8, 2001:db8::/32") separated by commas';

function compileWeb(annotations: Record<string, string>) {
  const web = ingress('shop/web', { annotations, rules: [rule('web.test', path('/', backend('web')), path('/api', backend('web')))] });
  const other = ingress('shop/other', { rules: [rule('other.test', path('/', backend('web')))] });
  return compileAll([ingressClass(), web, other, service('shop/web')]);
}
const rangeOf = (annotations: Record<string, string>): (RouteSourceRange | undefined)[] => {
  const hosts = compileWeb(annotations).table.hosts;
  return hosts.find((h) => h.host === 'web.test')!.routes.map((r) => r.sourceRange);
};
const problems = (annotations: Record<string, string>): Diagnostic[] => compileWeb(annotations).diagnostics.filter((d) => d.code.startsWith('ING_ERR_INGRESS_'));
const invalid = (message: string): Diagnostic => ({ code: 'ING_ERR_INGRESS_INVALID_ANNOTATION', severity: 'error', object: 'Ingress shop/web', message });

describe('source-range annotations', () => {
  it.each<[string, Record<string, string>, RouteSourceRange | undefined]>([
    ['none: every client', {}, undefined],
    ['allowlist-source-range, IPv4 and IPv6', { [`${N}allowlist-source-range`]: '10.0.0.0/8, 192.168.1.1,2001:db8::/32' }, { allow: ['10.0.0.0/8', '192.168.1.1', '2001:db8::/32'], deny: [] }],
    ['whitelist-source-range, the older name', { [`${N}whitelist-source-range`]: '127.0.0.1/32' }, { allow: ['127.0.0.1/32'], deny: [] }],
    ['denylist-source-range alone', { [`${N}denylist-source-range`]: '::1, 127.0.0.0/8' }, { deny: ['::1', '127.0.0.0/8'] }],
    ['both lists', { [`${N}allowlist-source-range`]: '10.0.0.0/8', [`${N}denylist-source-range`]: '10.9.0.0/16' }, { allow: ['10.0.0.0/8'], deny: ['10.9.0.0/16'] }],
  ])('%s', (_name, annotations, want) => {
    expect(rangeOf(annotations)).toEqual([want, want]);
    expect(problems(annotations)).toEqual([]);
  });

  it('leaves the routes of other Ingresses alone', () => {
    const hosts = compileWeb({ [`${N}denylist-source-range`]: '127.0.0.1' }).table.hosts;
    expect(hosts.find((h) => h.host === 'other.test')!.routes.map((r) => r.sourceRange)).toEqual([undefined]);
  });

  it.each<[string, Record<string, string>, RouteSourceRange | undefined, string[]]>([
    [
      'a bad allow entry is skipped, the others kept',
      { [`${N}allowlist-source-range`]: '10.0.0.0/33, 10.1.0.0/16' },
      { allow: ['10.1.0.0/16'], deny: [] },
      [`annotation ${N}allowlist-source-range is "10.0.0.0/33", expected ${ALLOWED}; that entry is skipped`],
    ],
    [
      'a bad deny entry is skipped, the others kept',
      { [`${N}denylist-source-range`]: 'example.com, fe80::/10' },
      { deny: ['fe80::/10'] },
      [`annotation ${N}denylist-source-range is "example.com", expected ${ALLOWED}; that entry is skipped`],
    ],
    [
      'an allow list with no valid entry refuses everyone',
      { [`${N}whitelist-source-range`]: '10.0.0.256' },
      { allow: [], deny: [] },
      [
        `annotation ${N}whitelist-source-range is "10.0.0.256", expected ${ALLOWED}; that entry is skipped`,
        `annotation ${N}whitelist-source-range has no valid entry: every client of this Ingress is refused (403) until it is fixed`,
      ],
    ],
    ['an empty list has no effect', { [`${N}denylist-source-range`]: ' , ' }, undefined, [`annotation ${N}denylist-source-range is " , ", expected ${ALLOWED}; it has no effect`]],
  ])('%s: diagnostics, the routes kept', (_name, annotations, want, messages) => {
    expect(rangeOf(annotations)).toEqual([want, want]);
    expect(problems(annotations)).toEqual(messages.map(invalid));
  });

  it('allowlist-source-range wins over whitelist-source-range, with a warning', () => {
    const annotations = { [`${N}allowlist-source-range`]: '10.0.0.0/8', [`${N}whitelist-source-range`]: '0.0.0.0/0' };
    expect(rangeOf(annotations)).toEqual([{ allow: ['10.0.0.0/8'], deny: [] }, { allow: ['10.0.0.0/8'], deny: [] }]);
    expect(problems(annotations)).toEqual([
      { code: 'ING_ERR_INGRESS_UNSUPPORTED', severity: 'warning', object: 'Ingress shop/web', message: `annotation ${N}whitelist-source-range is overridden by allowlist-source-range (its newer name, which ingress-nginx reads first); ignored` },
    ]);
  });
});
