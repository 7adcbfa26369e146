/**
 * custom-headers and the add-headers / proxy-set-headers settings in the compiler (issue 15
 * item 4, docs/annotations.md "Custom headers"): the route's header block is precomputed from
 * the ConfigMaps; a missing ConfigMap, another namespace, a bad or framing name, a bad value or
 * a name not in --global-allowed-response-headers is one diagnostic naming the Ingress and the
 * ConfigMap, and the annotation has no effect while the rest of the Ingress applies.
 */
import { describe, expect, it } from 'vitest';
import type { ConfigMap, KubeObject } from '../../../../src/primary/model.js';
import { backend, compileObjects, ingress, ingressClass, path, rule, service } from '../../../helpers/k8s.js';

const N = 'nginx.ingress.kubernetes.io/';
const OPTS = { ingressClass: 'flusso', controllerName: 'flusso.dev/ingress-controller', watchIngressWithoutClass: false };

function configMap(key: string, data: Record<string, string>): ConfigMap {
  const [namespace, name] = key.split('/') as [string, string];
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { namespace, name }, data };
}

function compile(value: string | undefined, extra: KubeObject[], opts: Partial<typeof OPTS & { globalAllowedResponseHeaders: string[]; addHeaders: string; proxySetHeaders: string }> = {}) {
  const ing = ingress('shop/web', { annotations: value === undefined ? {} : { [`${N}custom-headers`]: value, [`${N}upstream-vhost`]: 'api.internal' }, rules: [rule('web.test', path('/', backend('web')))] });
  const plain = ingress('shop/plain', { rules: [rule('plain.test', path('/', backend('web')))] });
  return compileObjects([ingressClass(), ing, plain, service('shop/web'), ...extra], { ...OPTS, globalAllowedResponseHeaders: ['X-Frame-Options', 'X-Team'], ...opts });
}

const routeOf = (r: ReturnType<typeof compile>, host: string) => r.table.hosts.find((h) => h.host === host)!.routes[0]!;
const ours = (r: ReturnType<typeof compile>) => r.diagnostics.filter((d) => d.object === 'Ingress shop/web' || d.object.startsWith('ConfigMap'));

describe('custom-headers', () => {
  it('puts the ConfigMap\'s fields, sorted by name, on every route of the Ingress only', () => {
    const r = compile('shop/hdrs', [configMap('shop/hdrs', { 'X-Team': 'blue', 'X-Frame-Options': 'DENY' })]);
    expect(routeOf(r, 'web.test').headers).toEqual({ response: ['X-Frame-Options', 'DENY', 'X-Team', 'blue'], customHeaders: { configMap: 'shop/hdrs', names: ['X-Frame-Options', 'X-Team'] } });
    expect(routeOf(r, 'web.test').policy?.upstreamVhost).toBe('api.internal'); // the rest of the Ingress applies
    expect(routeOf(r, 'plain.test').headers).toBeUndefined();
    expect(ours(r)).toEqual([]);
  });

  it.each([
    ['hdrs', {}, 'is "hdrs", expected the ConfigMap as "namespace/name"'],
    ['other/hdrs', {}, 'is "other/hdrs", expected a ConfigMap of the Ingress\'s namespace shop'],
    ['shop/missing', {}, 'names ConfigMap shop/missing, which does not exist'],
    ['shop/hdrs', { 'X-Team': 'a\nb' }, 'in ConfigMap shop/hdrs, the value of header X-Team is empty or holds a character outside printable ASCII'],
    ['shop/hdrs', { 'X Team': 'a' }, 'in ConfigMap shop/hdrs, header name "X Team" is not letters, digits'],
    ['shop/hdrs', { 'Transfer-Encoding': 'chunked' }, 'header Transfer-Encoding is a hop-by-hop or framing field'],
    ['shop/hdrs', { Server: 'nginx' }, 'header Server is written by Flusso itself on every response'],
    ['shop/hdrs', { 'X-Team': 'a', 'x-frame-options': 'DENY' }, 'ConfigMap shop/hdrs sets header x-frame-options, which is not in --global-allowed-response-headers (X-Frame-Options,X-Team; names match exactly'],
  ])('%s %j is one diagnostic and no effect', (value, data, message) => {
    const r = compile(value, [configMap('shop/hdrs', data)]);
    expect(routeOf(r, 'web.test').headers).toBeUndefined();
    expect(routeOf(r, 'web.test').policy?.upstreamVhost).toBe('api.internal');
    const d = ours(r);
    expect(d).toHaveLength(1);
    expect(d[0]).toMatchObject({ code: 'ING_ERR_INGRESS_INVALID_ANNOTATION', severity: 'error', object: 'Ingress shop/web' });
    expect(d[0]!.message).toContain(message);
    expect(d[0]!.message).toContain('it has no effect');
  });

  it('allows nothing by default (ingress-nginx 1.12: global-allowed-response-headers is empty)', () => {
    const r = compile('shop/hdrs', [configMap('shop/hdrs', { 'X-Team': 'blue' })], { globalAllowedResponseHeaders: [] });
    expect(routeOf(r, 'web.test').headers).toBeUndefined();
    expect(ours(r)[0]!.message).toContain('not in --global-allowed-response-headers (empty;');
  });
});

describe('add-headers and proxy-set-headers', () => {
  const objects = [configMap('ingress/add', { 'X-Frame-Options': 'SAMEORIGIN', 'X-Global': 'yes' }), configMap('ingress/proxy', { 'X-Via': 'flusso', 'X-Client': '$remote_addr $http_user_agent' }), configMap('shop/hdrs', { 'X-Frame-Options': 'DENY' })];

  it('add to every route; custom-headers wins on a shared name', () => {
    const r = compile('shop/hdrs', objects, { addHeaders: 'ingress/add', proxySetHeaders: 'ingress/proxy' });
    const request = [{ name: 'x-client', parts: ['$remote_addr', ' ', '$http_user_agent'] }, { name: 'x-via', parts: ['flusso'] }];
    expect(routeOf(r, 'web.test').headers).toEqual({ response: ['X-Global', 'yes', 'X-Frame-Options', 'DENY'], customHeaders: { configMap: 'shop/hdrs', names: ['X-Frame-Options'] }, addHeaders: 'ingress/add', request, proxySetHeaders: 'ingress/proxy' });
    expect(routeOf(r, 'plain.test').headers).toEqual({ response: ['X-Frame-Options', 'SAMEORIGIN', 'X-Global', 'yes'], addHeaders: 'ingress/add', request, proxySetHeaders: 'ingress/proxy' });
    expect(ours(r)).toEqual([]);
  });

  it.each([
    [{ addHeaders: 'ingress/none' }, 'ConfigMap ingress/none', 'ConfigMap ingress/none named by --add-headers does not exist; --add-headers has no effect'],
    [{ proxySetHeaders: 'ingress/bad' }, 'ConfigMap ingress/bad', 'in ConfigMap ingress/bad (--proxy-set-headers), header X-Id uses $request_id, which Flusso does not evaluate'],
    [{ proxySetHeaders: 'ingress/host' }, 'ConfigMap ingress/host', 'header Host is a hop-by-hop or framing field'],
  ])('%j is one diagnostic and the setting has no effect', (opts, object, message) => {
    const r = compile(undefined, [configMap('ingress/bad', { 'X-Id': '$request_id', 'X-Ok': 'a' }), configMap('ingress/host', { Host: 'x' })], opts);
    expect(routeOf(r, 'plain.test').headers).toBeUndefined();
    const d = ours(r);
    expect(d).toHaveLength(1);
    expect(d[0]).toMatchObject({ code: 'ING_ERR_HEADERS_CONFIGMAP_INVALID', severity: 'error', object });
    expect(d[0]!.message).toContain(message);
  });
});
