/**
 * upstream-hash-by and load-balance in the compiler (issue 15 group 5, docs/annotations.md):
 * the key is split into text and nginx variables on every route of the Ingress; a value outside
 * ingress-nginx's character set or naming a variable Flusso cannot read is one diagnostic naming
 * the Ingress, the annotation and what is allowed, and has no effect; load-balance round_robin is
 * accepted, ewma is reported as not supported, anything else is invalid.
 */
import { describe, expect, it } from 'vitest';
import type { Diagnostic } from '../../../../src/shared/errors.js';
import { backend, compileObjects as compileAll, ingress, ingressClass, path, rule, service } from '../../../helpers/k8s.js';

const N = 'nginx.ingress.kubernetes.io/';

function compileWeb(annotations: Record<string, string>) {
  const web = ingress('shop/web', { annotations, rules: [rule('web.test', path('/', backend('web')), path('/api', backend('web')))] });
  const other = ingress('shop/other', { rules: [rule('other.test', path('/', backend('web')))] });
  return compileAll([ingressClass(), web, other, service('shop/web')]);
}
const keysOf = (annotations: Record<string, string>, host = 'web.test') => compileWeb(annotations).table.hosts.find((h) => h.host === host)!.routes.map((r) => r.hashBy);
const problems = (annotations: Record<string, string>): Diagnostic[] => compileWeb(annotations).diagnostics.filter((d) => d.code.startsWith('ING_ERR_INGRESS_'));

describe('upstream-hash-by', () => {
  it.each<[string, string, readonly string[]]>([
    ['$request_uri', '$request_uri', ['$request_uri']],
    ['$remote_addr', '$remote_addr', ['$remote_addr']],
    ['a request field', '$http_x_user', ['$http_x_user']],
    ['a cookie', '$cookie_session', ['$cookie_session']],
    ['a query argument', '$arg_id', ['$arg_id']],
    ['a combination with text and ${}', '$host-${uri}_v1', ['$host', '-', '$uri', '_v1']],
    ['upper-case names are nginx variables of any case', '$Request_URI', ['$request_uri']],
  ])('%s', (_name, value, want) => {
    const annotations = { [`${N}upstream-hash-by`]: value };
    expect(keysOf(annotations)).toEqual([want, want]);
    expect(problems(annotations)).toEqual([]);
    expect(keysOf(annotations, 'other.test')).toEqual([undefined]);
  });

  it.each([['$request_uri?x'], ['$upstream_addr'], ['$ request'], ['a b']])('%s is invalid, has no effect, and the rest of the Ingress applies', (value) => {
    const annotations = { [`${N}upstream-hash-by`]: value, [`${N}upstream-vhost`]: 'in.test' };
    const got = problems(annotations);
    expect(got).toEqual([expect.objectContaining({ code: 'ING_ERR_INGRESS_INVALID_ANNOTATION', severity: 'error', object: 'Ingress shop/web' })]);
    expect(got[0]!.message).toContain(`annotation ${N}upstream-hash-by is "${value}", expected nginx variables`);
    expect(keysOf(annotations)).toEqual([undefined, undefined]);
    expect(compileWeb(annotations).table.hosts.find((h) => h.host === 'web.test')!.routes[0]!.policy?.upstreamVhost).toBe('in.test');
  });

  it('an empty value is no key, as in ingress-nginx', () => {
    expect(keysOf({ [`${N}upstream-hash-by`]: '' })).toEqual([undefined, undefined]);
    expect(problems({ [`${N}upstream-hash-by`]: '' })).toEqual([]);
  });

  it('upstream-hash-by-subset and its size are reported as not supported', () => {
    const got = problems({ [`${N}upstream-hash-by`]: '$uri', [`${N}upstream-hash-by-subset`]: 'true', [`${N}upstream-hash-by-subset-size`]: '3' });
    expect(got.map((d) => [d.code, d.message])).toEqual([
      ['ING_ERR_INGRESS_UNSUPPORTED', `annotation "${N}upstream-hash-by-subset" is not supported by Flusso; ignored`],
      ['ING_ERR_INGRESS_UNSUPPORTED', `annotation "${N}upstream-hash-by-subset-size" is not supported by Flusso; ignored`],
    ]);
  });
});

describe('load-balance', () => {
  const balancerOf = (annotations: Record<string, string>) => compileWeb(annotations).table.backends.map((b) => b.loadBalancer);
  it('round_robin is what Flusso does by default: no diagnostic', () => {
    expect(problems({ [`${N}load-balance`]: 'round_robin' })).toEqual([]);
    expect(balancerOf({ [`${N}load-balance`]: 'round_robin' })).toEqual(['round-robin']);
  });
  it('ewma sets the backend of the oldest Ingress using it to ewma; a later Ingress asking otherwise is told', () => {
    // Oldest first: the same creation time, then namespace/name, so shop/a-first decides.
    const older = ingress('shop/a-first', { annotations: { [`${N}load-balance`]: 'ewma' }, rules: [rule('first.test', path('/', backend('web')))] });
    const r = compileAll([ingressClass(), older, ingress('shop/web', { annotations: { [`${N}load-balance`]: 'round_robin' }, rules: [rule('web.test', path('/', backend('web')))] }), service('shop/web')]);
    expect(r.table.backends.map((b) => b.loadBalancer)).toEqual(['ewma']);
    expect(r.diagnostics.filter((d) => d.code.startsWith('ING_ERR_INGRESS_')).map((d) => [d.object, d.message])).toEqual([
      ['Ingress shop/web', `annotation ${N}load-balance round_robin has no effect on backend shop/web:80: the oldest Ingress using it, shop/a-first, decides (ewma)`],
    ]);
  });
  it('another value is invalid', () => {
    expect(problems({ [`${N}load-balance`]: 'least_conn' })).toEqual([
      { code: 'ING_ERR_INGRESS_INVALID_ANNOTATION', severity: 'error', object: 'Ingress shop/web', message: `annotation ${N}load-balance is "least_conn", expected "round_robin" or "ewma"; it has no effect` },
    ]);
    expect(balancerOf({ [`${N}load-balance`]: 'least_conn' })).toEqual(['round-robin']);
  });
});
