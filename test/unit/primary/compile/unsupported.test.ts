import { describe, expect, it } from 'vitest';
import { CACHE_ANNOTATION, CACHE_TTL_ANNOTATION } from '../../../../src/primary/compile/ingress.js';
import { SUPPORTED_ANNOTATIONS, unsupportedInputs } from '../../../../src/primary/compile/unsupported.js';
import { INGRESS_CLASS_ANNOTATION, describeObject, type Ingress } from '../../../../src/primary/model.js';
import type { Diagnostic } from '../../../../src/shared/errors.js';
import { backend, ingress, path, rule } from '../../../helpers/k8s.js';

const OBJECT = 'Ingress shop/web';
const NGINX = 'nginx.ingress.kubernetes.io/';

/** warning is the diagnostic expected for one annotation. */
const warning = (message: string): Diagnostic => ({ code: 'ING_ERR_INGRESS_UNSUPPORTED', severity: 'warning', object: OBJECT, message });
const nginx = (key: string): Diagnostic => warning(`annotation "${key}" is not supported by Flusso; ignored`);
const snippet = (key: string): Diagnostic =>
  warning(`annotation "${key}" injects raw nginx configuration, which Flusso refuses on purpose (configuration injection is the source of CVEs such as IngressNightmare, CVE-2025-1974); ignored`);
const other = (key: string, controller: string): Diagnostic =>
  warning(`annotation "${key}" is another controller's annotation (${controller}), not supported by Flusso; ignored`);
const flusso = (key: string): Diagnostic =>
  warning(`annotation "${key}" is not supported by Flusso (no such flusso.dev/ annotation; check its spelling); ignored`);

const web = (annotations?: Record<string, string>, extra: Parameters<typeof ingress>[1] = {}): Ingress =>
  ingress('shop/web', { rules: [rule('web.example.com', path('/', backend('web')))], ...(annotations === undefined ? {} : { annotations }), ...extra });

interface Case {
  readonly name: string;
  readonly ingress: Ingress;
  readonly want: readonly Diagnostic[];
}

const cases: Case[] = [
  { name: 'no annotations', ingress: web(), want: [] },
  { name: 'empty annotations', ingress: web({}), want: [] },
  {
    name: 'every supported annotation is silent',
    ingress: web({
      'flusso.dev/cache': 'true',
      'flusso.dev/cache-ttl': '5m',
      'kubernetes.io/ingress.class': 'flusso',
      [`${NGINX}ssl-redirect`]: 'false',
      [`${NGINX}force-ssl-redirect`]: 'true',
    }),
    want: [],
  },
  {
    name: 'a supported annotation with a bad value is left to its processor',
    ingress: web({ 'flusso.dev/cache': 'maybe' }),
    want: [],
  },
  {
    name: 'annotations meant for no ingress controller are not ours to report',
    ingress: web({
      'kubectl.kubernetes.io/last-applied-configuration': '{"apiVersion":"networking.k8s.io/v1"}',
      'cert-manager.io/cluster-issuer': 'letsencrypt',
      'meta.helm.sh/release-name': 'shop',
      'meta.helm.sh/release-namespace': 'shop',
      'external-dns.alpha.kubernetes.io/hostname': 'web.example.com',
      'kubernetes.io/tls-acme': 'true',
      'ingressclass.kubernetes.io/is-default-class': 'true',
      'x.nginx.ingress.kubernetes.io/rewrite-target': '/',
      'nginx.ingress.kubernetes.io.example.com/rewrite-target': '/',
      team: 'checkout',
      description: 'no slash',
    }),
    want: [],
  },
  {
    name: 'an ingress-nginx annotation Flusso does not act on',
    ingress: web({ [`${NGINX}proxy-buffering`]: 'on' }),
    want: [nginx(`${NGINX}proxy-buffering`)],
  },
  {
    name: 'a typical migrated Ingress: one warning per unsupported annotation, by key',
    ingress: web({
      [`${NGINX}upstream-hash-by-subset`]: 'true',
      [`${NGINX}use-regex`]: 'true',
      'cert-manager.io/cluster-issuer': 'letsencrypt',
      [`${NGINX}proxy-buffer-size`]: '8k',
      [`${NGINX}ssl-redirect`]: 'true',
      [`${NGINX}session-cookie-change-on-failure`]: 'true',
      'kubernetes.io/ingress.class': 'nginx',
      [`${NGINX}enable-cors`]: 'true',
    }),
    want: [nginx(`${NGINX}proxy-buffer-size`), nginx(`${NGINX}session-cookie-change-on-failure`), nginx(`${NGINX}upstream-hash-by-subset`)],
  },
  ...['configuration-snippet', 'server-snippet', 'auth-snippet', 'stream-snippet', 'modsecurity-snippet'].map(
    (name): Case => ({
      name: `${name} is refused on purpose`,
      ingress: web({ [`${NGINX}${name}`]: 'more_set_headers "X-Debug: 1";' }),
      want: [snippet(`${NGINX}${name}`)],
    }),
  ),
  {
    name: 'an annotation that only mentions a snippet is an ordinary one',
    ingress: web({ [`${NGINX}enable-modsecurity`]: 'true' }),
    want: [nginx(`${NGINX}enable-modsecurity`)],
  },
  {
    name: 'an unknown flusso.dev annotation (a typo) is reported',
    ingress: web({ 'flusso.dev/cache-tll': '5m' }),
    want: [flusso('flusso.dev/cache-tll')],
  },
  {
    name: 'a supported key in the wrong case has no effect and is reported',
    ingress: web({ 'Flusso.dev/cache': 'true', 'NGINX.ingress.kubernetes.io/ssl-redirect': 'false' }),
    want: [flusso('Flusso.dev/cache'), nginx('NGINX.ingress.kubernetes.io/ssl-redirect')],
  },
  ...(
    [
      ['traefik.ingress.kubernetes.io/router.entrypoints', 'Traefik'],
      ['haproxy.org/timeout-server', 'HAProxy Kubernetes Ingress'],
      ['haproxy.router.openshift.io/timeout', 'OpenShift router'],
      ['projectcontour.io/websocket-routes', 'Contour'],
      ['konghq.com/strip-path', 'Kong'],
      ['alb.ingress.kubernetes.io/scheme', 'AWS Load Balancer Controller'],
      ['ingress.kubernetes.io/rewrite-target', 'a legacy controller (the old generic ingress.kubernetes.io/ prefix)'],
    ] as const
  ).map(
    ([key, controller]): Case => ({
      name: `${controller}: ${key} is another controller's`,
      ingress: web({ [key]: 'x' }),
      want: [other(key, controller)],
    }),
  ),
  {
    name: 'keys are ordered by UTF-16 code units, not by locale',
    ingress: web({ [`${NGINX}b`]: '1', [`${NGINX}_a`]: '1', [`${NGINX}B`]: '1', [`${NGINX}a`]: '1' }),
    want: [nginx(`${NGINX}B`), nginx(`${NGINX}_a`), nginx(`${NGINX}a`), nginx(`${NGINX}b`)],
  },
  {
    name: 'a key is quoted, so an odd character cannot break the message',
    ingress: web({ [`${NGINX}x"\n`]: '1' }),
    want: [warning(`annotation ${JSON.stringify(`${NGINX}x"\n`)} is not supported by Flusso; ignored`)],
  },
  {
    name: 'resource backends are left to the ingress processor (no double report)',
    ingress: web(undefined, {
      defaultBackend: { resource: { apiGroup: 'k8s.example.com', kind: 'StorageBucket', name: 'static' } },
      rules: [rule('web.example.com', path('/static', { resource: { kind: 'StorageBucket', name: 'static' } }))],
    }),
    want: [],
  },
  {
    name: 'spec.tls is acted on (issue 11), so it is not reported',
    ingress: { ...web(), spec: { ...web().spec, tls: [{ hosts: ['web.example.com'], secretName: 'web-tls' }] } },
    want: [],
  },
];

describe('unsupportedInputs', () => {
  it.each(cases)('$name', ({ ingress: ing, want }) => {
    expect(unsupportedInputs(ing, OBJECT)).toEqual(want);
  });

  it('gives the same list whatever the order of the annotations', () => {
    const keys = [`${NGINX}z`, 'konghq.com/plugins', `${NGINX}configuration-snippet`, 'flusso.dev/nope', `${NGINX}a`];
    const forward = unsupportedInputs(web(Object.fromEntries(keys.map((k) => [k, '1']))), OBJECT);
    const backward = unsupportedInputs(web(Object.fromEntries([...keys].reverse().map((k) => [k, '1']))), OBJECT);
    expect(forward.map((d) => d.message)).toEqual(backward.map((d) => d.message));
    expect(forward).toHaveLength(keys.length);
  });

  it('puts the object key it is given in every diagnostic', () => {
    const ing = web({ [`${NGINX}a`]: '1', [`${NGINX}b`]: '1' });
    expect(unsupportedInputs(ing, describeObject(ing)).map((d) => d.object)).toEqual(['Ingress shop/web', 'Ingress shop/web']);
  });
});

describe('SUPPORTED_ANNOTATIONS', () => {
  it.each([CACHE_ANNOTATION, CACHE_TTL_ANNOTATION, INGRESS_CLASS_ANNOTATION])('holds %s, which a processor reads', (key) => {
    expect(SUPPORTED_ANNOTATIONS.has(key)).toBe(true);
  });

  it('is exactly the annotations Flusso acts on today', () => {
    expect([...SUPPORTED_ANNOTATIONS].sort()).toEqual([
      'flusso.dev/cache',
      'flusso.dev/cache-ttl',
      'kubernetes.io/ingress.class',
      ...['affinity', 'affinity-mode', 'allowlist-source-range', 'app-root', 'auth-always-set-cookie', 'auth-cache-duration', 'auth-cache-key', 'auth-keepalive', 'auth-keepalive-requests', 'auth-keepalive-share-vars', 'auth-keepalive-timeout', 'auth-method', 'auth-realm', 'auth-request-redirect', 'auth-response-headers', 'auth-secret', 'auth-secret-type', 'auth-signin', 'auth-signin-redirect-param', 'auth-type', 'auth-url', 'backend-protocol', 'canary', 'canary-by-cookie', 'canary-by-header', 'canary-by-header-pattern', 'canary-by-header-value', 'canary-weight', 'canary-weight-total', 'client-body-buffer-size', 'cors-allow-credentials', 'cors-allow-headers', 'cors-allow-methods', 'cors-allow-origin', 'cors-expose-headers', 'cors-max-age', 'custom-headers', 'custom-http-errors', 'default-backend', 'denylist-source-range', 'disable-proxy-intercept-errors', 'enable-cors', 'force-ssl-redirect', 'from-to-www-redirect', 'limit-allowlist', 'limit-burst-multiplier', 'limit-connections', 'limit-rpm', 'limit-rps', 'limit-whitelist', 'load-balance', 'permanent-redirect', 'permanent-redirect-code', 'proxy-body-size', 'proxy-connect-timeout', 'proxy-next-upstream', 'proxy-next-upstream-timeout', 'proxy-next-upstream-tries', 'proxy-read-timeout', 'proxy-request-buffering', 'proxy-send-timeout', 'rewrite-target', 'server-alias', 'service-upstream', 'session-cookie-domain', 'session-cookie-expires', 'session-cookie-max-age', 'session-cookie-name', 'session-cookie-path', 'session-cookie-samesite', 'session-cookie-secure', 'ssl-redirect', 'temporal-redirect', 'temporal-redirect-code', 'upstream-hash-by', 'upstream-vhost', 'use-regex', 'whitelist-source-range', 'x-forwarded-prefix'].map((n) => NGINX + n),
    ].sort());
  });
});

describe('fields outside the Ingress v1 schema (issue #11 item 9)', () => {
  it('reports each ignored field the source listed, after the annotations', () => {
    const ing = { ...ingress('ns/web', { annotations: { 'nginx.ingress.kubernetes.io/proxy-buffering': 'on' } }), ignoredFields: ['spec.rules[0].http.paths[0].backend.serviceName', 'spec.tlss'] } as Ingress;
    expect(unsupportedInputs(ing, 'Ingress ns/web').map((d) => d.message)).toEqual([
      'annotation "nginx.ingress.kubernetes.io/proxy-buffering" is not supported by Flusso; ignored',
      'field "spec.rules[0].http.paths[0].backend.serviceName" is not an Ingress v1 field Flusso reads (a typo, or an older API version\'s name); ignored',
      'field "spec.tlss" is not an Ingress v1 field Flusso reads (a typo, or an older API version\'s name); ignored',
    ]);
  });
});
