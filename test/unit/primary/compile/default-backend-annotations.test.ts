/**
 * default-backend in the compiler (issue 15 group 4, docs/annotations.md): every route of the
 * Ingress gets the named Service's first port as its fallback backend, which is resolved like any
 * backend; another Ingress is untouched; a bad name, a missing Service or one without ports is one
 * diagnostic and the annotation has no effect.
 */
import { describe, expect, it } from 'vitest';
import { backend, compileObjects, ingress, ingressClass, path, rule, service } from '../../../helpers/k8s.js';

const N = 'nginx.ingress.kubernetes.io/';

function compile(value: string, extra: ReturnType<typeof service>[] = [service('shop/sorry', [{ name: 'web', port: 8080, targetPort: 80 }, { name: 'alt', port: 9090, targetPort: 90 }])]) {
  const fb = ingress('shop/fb', { annotations: { [`${N}default-backend`]: value }, rules: [rule('fb.test', path('/', backend('web')), path('/api', backend('api')))] });
  const plain = ingress('shop/plain', { rules: [rule('plain.test', path('/', backend('web')))] });
  return compileObjects([ingressClass(), fb, plain, service('shop/web'), service('shop/api'), ...extra]);
}

const routesOf = (r: ReturnType<typeof compile>, host: string) => r.table.hosts.find((h) => h.host === host)!.routes;

describe('default-backend', () => {
  it('gives every route of the Ingress the Service\'s first port as fallback, and resolves that backend', () => {
    const r = compile('sorry');
    expect(routesOf(r, 'fb.test').map((x) => [x.backend, x.fallbackBackend])).toEqual([
      ['shop/api:80', 'shop/sorry:8080'],
      ['shop/web:80', 'shop/sorry:8080'],
    ]);
    expect(routesOf(r, 'plain.test')[0]!.fallbackBackend).toBeUndefined();
    expect(r.table.backends.map((b) => b.id)).toContain('shop/sorry:8080');
    expect(r.diagnostics.filter((d) => d.object === 'Ingress shop/fb')).toEqual([]);
  });

  it.each([
    ['Sorry', `annotation ${N}default-backend is "Sorry": expected the name of a Service in the Ingress's namespace; it has no effect`],
    ['other/sorry', `annotation ${N}default-backend is "other/sorry": expected the name of a Service in the Ingress's namespace; it has no effect`],
    ['missing', `annotation ${N}default-backend is "missing": Service shop/missing does not exist; it has no effect`],
  ])('%s is one diagnostic and no fallback', (value, message) => {
    const r = compile(value);
    expect(routesOf(r, 'fb.test').every((x) => x.fallbackBackend === undefined)).toBe(true);
    expect(r.diagnostics.filter((d) => d.object === 'Ingress shop/fb')).toEqual([{ code: 'ING_ERR_INGRESS_INVALID_ANNOTATION', severity: 'error', object: 'Ingress shop/fb', message }]);
  });

  it('a Service without ports is one diagnostic', () => {
    const r = compile('sorry', [service('shop/sorry', [])]);
    expect(routesOf(r, 'fb.test').every((x) => x.fallbackBackend === undefined)).toBe(true);
    expect(r.diagnostics.filter((d) => d.object === 'Ingress shop/fb').map((d) => d.message)).toEqual([`annotation ${N}default-backend is "sorry": Service shop/sorry has no port; it has no effect`]);
  });
});
