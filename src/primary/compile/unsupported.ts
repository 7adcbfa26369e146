/**
 * What an Ingress asks for that Flusso does not do. Flusso never ignores input silently: a
 * user migrating from ingress-nginx (or another controller) gets one warning per annotation
 * that has no effect, so what does not carry over is visible at once in the diagnostics.
 * Pure: it reads one Ingress and returns diagnostics.
 */
import type { Diagnostic } from '../../shared/errors.js';
import type { Ingress } from '../model.js';
import { compareText, quote } from './context.js';

/**
 * SUPPORTED_ANNOTATIONS lists every annotation Flusso acts on. An issue that implements an
 * annotation adds its key here, in the same change, so it stops being reported as ignored.
 * Plain strings rather than the constants of the processors that read them: those processors
 * import this module, and a cycle would leave the constants uninitialised here.
 */
export const SUPPORTED_ANNOTATIONS: ReadonlySet<string> = new Set([
  'flusso.dev/cache', // issue 6, compile/ingress.ts
  'flusso.dev/cache-ttl', // issue 6, compile/ingress.ts
  'kubernetes.io/ingress.class', // compile/ingress-class.ts
  'nginx.ingress.kubernetes.io/force-ssl-redirect', // issue 11
  'nginx.ingress.kubernetes.io/ssl-redirect', // issue 11
  'nginx.ingress.kubernetes.io/backend-protocol', // issue 12, compile/backend-protocol.ts
  // Issue 15, compile/annotations.ts (docs/annotations.md has the table).
  ...['use-regex', 'rewrite-target', 'app-root', 'x-forwarded-prefix', 'upstream-vhost'].map((n) => `nginx.ingress.kubernetes.io/${n}`),
  ...['permanent-redirect', 'permanent-redirect-code', 'temporal-redirect', 'temporal-redirect-code', 'from-to-www-redirect', 'server-alias'].map((n) => `nginx.ingress.kubernetes.io/${n}`),
  // Issue 15 item 7, compile/rate-limit-annotations.ts (docs/rate-limits.md); limit-connections in compile/conn-limit-annotations.ts.
  ...['limit-rps', 'limit-rpm', 'limit-burst-multiplier', 'limit-whitelist', 'limit-allowlist', 'limit-connections'].map((n) => `nginx.ingress.kubernetes.io/${n}`),
  // Issue 15 group 6, compile/basic-auth-annotations.ts and compile/auth-annotations.ts (external authentication).
  ...['auth-type', 'auth-secret', 'auth-secret-type', 'auth-realm'].map((n) => `nginx.ingress.kubernetes.io/${n}`),
  ...['auth-url', 'auth-method', 'auth-signin', 'auth-signin-redirect-param', 'auth-response-headers', 'auth-request-redirect', 'auth-cache-key', 'auth-cache-duration', 'auth-always-set-cookie', 'auth-keepalive', 'auth-keepalive-requests', 'auth-keepalive-timeout', 'auth-keepalive-share-vars'].map((n) => `nginx.ingress.kubernetes.io/${n}`),
  // Issue 15 item 6, compile/source-range-annotations.ts.
  ...['allowlist-source-range', 'whitelist-source-range', 'denylist-source-range'].map((n) => `nginx.ingress.kubernetes.io/${n}`),
  // Issue 15 group 3, compile/upstream-annotations.ts.
  ...['proxy-connect-timeout', 'proxy-send-timeout', 'proxy-read-timeout', 'proxy-body-size', 'client-body-buffer-size', 'proxy-request-buffering', 'proxy-next-upstream', 'proxy-next-upstream-tries', 'proxy-next-upstream-timeout'].map((n) => `nginx.ingress.kubernetes.io/${n}`),
  // Issue 15 group 5, compile/upstream-hash-annotations.ts; upstream-hash-by-subset(-size) are not supported.
  ...['upstream-hash-by', 'load-balance'].map((n) => `nginx.ingress.kubernetes.io/${n}`),
  // Issue 15 group 5, compile/affinity-annotations.ts; change-on-failure, conditional-samesite-none, affinity-canary-behavior and partitioned are not supported.
  ...['affinity', 'affinity-mode', 'session-cookie-name', 'session-cookie-path', 'session-cookie-domain', 'session-cookie-max-age', 'session-cookie-expires', 'session-cookie-samesite', 'session-cookie-secure'].map((n) => `nginx.ingress.kubernetes.io/${n}`),
  'nginx.ingress.kubernetes.io/service-upstream', // issue 15 group 5, compile/service-upstream-annotations.ts
  'nginx.ingress.kubernetes.io/default-backend', // issue 15 group 4, compile/default-backend-annotations.ts
  'nginx.ingress.kubernetes.io/custom-headers', // issue 15 item 4, compile/custom-headers-annotations.ts
  ...['custom-http-errors', 'disable-proxy-intercept-errors'].map((n) => `nginx.ingress.kubernetes.io/${n}`), // issue 15 item 4, compile/custom-http-errors-annotations.ts
  // Issue 15 group 5, compile/canary-annotations.ts.
  ...['canary', 'canary-by-header', 'canary-by-header-value', 'canary-by-header-pattern', 'canary-by-cookie', 'canary-weight', 'canary-weight-total'].map((n) => `nginx.ingress.kubernetes.io/${n}`),
  ...['enable-cors', 'cors-allow-origin', 'cors-allow-methods', 'cors-allow-headers', 'cors-expose-headers', 'cors-allow-credentials', 'cors-max-age'].map((n) => `nginx.ingress.kubernetes.io/${n}`),
]);

/**
 * The annotation prefixes (the part before `/`) that belong to an ingress controller, and
 * whose controller it is. Only these are reported: everything else (kubectl, cert-manager,
 * Helm, a team's own labels) is not meant for any ingress controller.
 */
const CONTROLLER_PREFIXES: ReadonlyMap<string, string> = new Map([
  ['nginx.ingress.kubernetes.io', 'ingress-nginx'],
  ['flusso.dev', 'Flusso'],
  ['traefik.ingress.kubernetes.io', 'Traefik'],
  ['haproxy.org', 'HAProxy Kubernetes Ingress'],
  ['haproxy.router.openshift.io', 'OpenShift router'],
  ['projectcontour.io', 'Contour'],
  ['konghq.com', 'Kong'],
  ['alb.ingress.kubernetes.io', 'AWS Load Balancer Controller'],
  // The generic prefix of early controllers (ingress-nginx before 0.9, Traefik 1, GCE).
  ['ingress.kubernetes.io', 'a legacy controller (the old generic ingress.kubernetes.io/ prefix)'],
]);

/**
 * Snippet annotations paste raw nginx configuration into the controller's config. Flusso
 * refuses them for good, not for now: configuration injection is how CVE-2021-25742 read
 * every Secret in the cluster and how IngressNightmare (CVE-2025-1974) ran code in the
 * controller (https://kubernetes.io/blog/2025/03/24/ingress-nginx-cve-2025-1974/).
 */
const SNIPPET_ANNOTATIONS: ReadonlySet<string> = new Set([
  'nginx.ingress.kubernetes.io/auth-snippet',
  'nginx.ingress.kubernetes.io/configuration-snippet',
  'nginx.ingress.kubernetes.io/modsecurity-snippet',
  'nginx.ingress.kubernetes.io/server-snippet',
  'nginx.ingress.kubernetes.io/stream-snippet',
]);

/**
 * unsupportedInputs returns one ING_ERR_INGRESS_UNSUPPORTED warning per annotation of
 * `ingress` that belongs to an ingress controller (see CONTROLLER_PREFIXES) and is not in
 * SUPPORTED_ANNOTATIONS, ordered by annotation key. `objectKey` goes into each diagnostic's
 * `object` as given.
 *
 * Then one warning per field under `spec` outside the Ingress v1 schema, which the sources'
 * validation lists in `ignoredFields` (a typo such as `pathtype`, or v1beta1's
 * `backend.serviceName`). Every field the model keeps is acted on by a processor, and the
 * ingress processor reports resource backends itself (ING_ERR_INGRESS_BACKEND_UNSUPPORTED).
 */
export function unsupportedInputs(ingress: Ingress, objectKey: string): Diagnostic[] {
  const keys = Object.keys(ingress.metadata.annotations ?? {}).sort(compareText);
  const out: Diagnostic[] = [];
  for (const key of keys) {
    const message = annotationProblem(key);
    if (message !== undefined) out.push({ code: 'ING_ERR_INGRESS_UNSUPPORTED', severity: 'warning', object: objectKey, message });
  }
  for (const path of ingress.ignoredFields ?? [])
    out.push({ code: 'ING_ERR_INGRESS_UNSUPPORTED', severity: 'warning', object: objectKey, message: `field ${quote(path)} is not an Ingress v1 field Flusso reads (a typo, or an older API version's name); ignored` });
  return out;
}

/** annotationProblem says why annotation `key` has no effect, or undefined when it is fine or not a controller's. */
function annotationProblem(key: string): string | undefined {
  if (SUPPORTED_ANNOTATIONS.has(key)) return undefined;
  const slash = key.indexOf('/');
  if (slash < 0) return undefined;
  // Kubernetes allows only lower-case prefixes; a manifest may not, and `Flusso.dev/cache`
  // has no effect either, so it is matched without case and reported.
  const controller = CONTROLLER_PREFIXES.get(key.slice(0, slash).toLowerCase());
  if (controller === undefined) return undefined;
  const name = `annotation ${quote(key)}`;
  if (SNIPPET_ANNOTATIONS.has(key))
    return `${name} injects raw nginx configuration, which Flusso refuses on purpose (configuration injection is the source of CVEs such as IngressNightmare, CVE-2025-1974); ignored`;
  if (controller === 'ingress-nginx') return `${name} is not supported by Flusso; ignored`;
  if (controller === 'Flusso') return `${name} is not supported by Flusso (no such flusso.dev/ annotation; check its spelling); ignored`;
  return `${name} is another controller's annotation (${controller}), not supported by Flusso; ignored`;
}
