/**
 * service-upstream in the compiler (issue 15 group 5, docs/annotations.md): the Ingress's routes
 * get a backend of their own whose one endpoint is the Service's ClusterIP and port; another
 * Ingress on the same Service keeps the endpoints; a headless Service is reported and its
 * endpoints are used; a bad value is one diagnostic.
 */
import { describe, expect, it } from 'vitest';
import type { Service } from '../../../../src/primary/model.js';
import { backend, compileObjects as compileAll, ingress, ingressClass, path, rule, service } from '../../../helpers/k8s.js';

const N = 'nginx.ingress.kubernetes.io/';
const withIp = (s: Service, clusterIP: string): Service => ({ ...s, spec: { ...s.spec, clusterIP } });

function compile(annotations: Record<string, string>, clusterIP = '10.96.0.10') {
  const up = ingress('shop/up', { annotations, rules: [rule('up.test', path('/', backend('web')))] });
  const plain = ingress('shop/plain', { rules: [rule('plain.test', path('/', backend('web')))] });
  return compileAll([ingressClass(), up, plain, withIp(service('shop/web'), clusterIP)]);
}

describe('service-upstream', () => {
  it('"true": the route goes to ClusterIP:port; the other Ingress keeps the endpoints backend', () => {
    const r = compile({ [`${N}service-upstream`]: 'true' });
    const backendOf = (host: string) => r.table.hosts.find((h) => h.host === host)!.routes[0]!.backend;
    expect(backendOf('up.test')).toBe('shop/web:80/service-upstream');
    expect(backendOf('plain.test')).toBe('shop/web:80');
    const b = r.table.backends.find((x) => x.id === 'shop/web:80/service-upstream')!;
    expect(b.endpoints).toEqual([{ address: '10.96.0.10', port: 80, weight: 1, ready: true, terminating: false }]);
    expect(r.table.backends.map((x) => x.id)).toEqual(['shop/web:80', 'shop/web:80/service-upstream']);
    expect(r.diagnostics.filter((d) => d.object === 'Ingress shop/up')).toEqual([]);
  });

  it('"false" changes nothing; a bad value is one diagnostic and has no effect', () => {
    expect(compile({ [`${N}service-upstream`]: 'false' }).table.backends.map((x) => x.id)).toEqual(['shop/web:80']);
    const r = compile({ [`${N}service-upstream`]: 'yes' });
    expect(r.table.backends.map((x) => x.id)).toEqual(['shop/web:80']);
    expect(r.diagnostics.filter((d) => d.object === 'Ingress shop/up')).toEqual([
      { code: 'ING_ERR_INGRESS_INVALID_ANNOTATION', severity: 'error', object: 'Ingress shop/up', message: `annotation ${N}service-upstream is "yes", expected "true" or "false"; it has no effect` },
    ]);
  });

  it('a headless Service is reported and its endpoints are used', () => {
    const r = compile({ [`${N}service-upstream`]: 'true' }, 'None');
    expect(r.diagnostics.filter((d) => d.object === 'Ingress shop/up' && d.code === 'ING_ERR_INGRESS_UNSUPPORTED').map((d) => d.message)).toEqual([
      `annotation ${N}service-upstream has no ClusterIP to send to: Service shop/web has clusterIP "None"; its endpoints are used`,
    ]);
    expect(r.table.backends.find((x) => x.id === 'shop/web:80/service-upstream')!.endpoints).toEqual([]);
  });
});
