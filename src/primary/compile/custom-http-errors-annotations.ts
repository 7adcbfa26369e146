/**
 * ingress-nginx `custom-http-errors` (issue 15 group 4, docs/annotations.md): a comma-separated
 * list of status codes; when a route's upstream answers one of them, the client gets instead what
 * the Ingress's `default-backend` Service answers to the request ingress-nginx's
 * `@custom_<upstream>_<code>` location makes (worker/proxy/error-pages.ts). ingress-nginx falls
 * back to its global default backend when the Ingress names none; Flusso has no global default
 * backend, so without a valid `default-backend` on the same Ingress the annotation is a
 * diagnostic and has no effect. `disable-proxy-intercept-errors: "true"` turns it off, as it
 * turns off nginx's proxy_intercept_errors. Pure: it reads the Ingresses and the Services.
 */
import type { Route, RouteErrorPages } from '../../shared/snapshot.js';
import { describeObject, keyOf } from '../model.js';
import { quote, report, type Processor } from './context.js';
import { DEFAULT_BACKEND_ANNOTATION } from './default-backend-annotations.js';
import { CANARY_ANNOTATION, parseBool } from './ingress.js';

export const CUSTOM_HTTP_ERRORS_ANNOTATION = 'nginx.ingress.kubernetes.io/custom-http-errors';
export const DISABLE_INTERCEPT_ANNOTATION = 'nginx.ingress.kubernetes.io/disable-proxy-intercept-errors';

/** ALLOWED is what the annotation takes, for its diagnostics. */
const ALLOWED = 'comma-separated status codes from 300 to 599 (nginx error_page), such as "404,503"';

/**
 * parseErrorCodes reads the annotation's value: three-digit codes from 300 to 599 separated by
 * commas (spaces allowed), without repeats; a string saying what is wrong otherwise.
 */
export function parseErrorCodes(raw: string): number[] | string {
  const parts = raw.split(',').map((p) => p.trim());
  const codes: number[] = [];
  for (const p of parts) {
    if (!/^\d{3}$/.test(p)) return `${quote(p)} is not a status code`;
    const code = Number(p);
    if (code < 300 || code > 599) return `${code} is outside 300–599`;
    if (!codes.includes(code)) codes.push(code);
  }
  return codes.sort((a, b) => a - b);
}

/** applyCustomHttpErrors gives the routes of Ingresses with `custom-http-errors` their error pages (after applyDefaultBackend). */
export const applyCustomHttpErrors: Processor = (state) => {
  const pages = new Map<string, { codes: number[]; backend: string }>();
  for (const ing of state.ingresses) {
    const annotations = ing.metadata.annotations ?? {};
    const raw = annotations[CUSTOM_HTTP_ERRORS_ANNOTATION];
    const disable = annotations[DISABLE_INTERCEPT_ANNOTATION];
    if (disable !== undefined && parseBool(disable) === undefined)
      report(state, 'ING_ERR_INGRESS_INVALID_ANNOTATION', 'error', describeObject(ing), `annotation ${DISABLE_INTERCEPT_ANNOTATION} is ${quote(disable)}: expected "true" or "false"; it has no effect`);
    if (raw === undefined) continue;
    // A canary's own annotations other than canary-* have no effect (canary-annotations.ts reports them).
    if (parseBool(annotations[CANARY_ANNOTATION] ?? '') === true) continue;
    const fail = (why: string): void => report(state, 'ING_ERR_INGRESS_INVALID_ANNOTATION', 'error', describeObject(ing), `annotation ${CUSTOM_HTTP_ERRORS_ANNOTATION} is ${quote(raw)}: ${why}; it has no effect`);
    const codes = parseErrorCodes(raw);
    if (typeof codes === 'string') {
      fail(`${codes}; expected ${ALLOWED}`);
      continue;
    }
    if (parseBool(disable ?? '') === true) continue; // proxy_intercept_errors off: the upstream's answers pass
    const backend = state.defaultBackends.get(keyOf(ing));
    if (backend === undefined) {
      fail(`it needs a valid ${DEFAULT_BACKEND_ANNOTATION} on the same Ingress (the Service that serves the error pages; Flusso has no global default backend)`);
      continue;
    }
    pages.set(keyOf(ing), { codes, backend });
  }
  if (pages.size === 0) return;
  const withPages = (route: Route): Route => {
    const p = pages.get(route.source);
    if (p === undefined) return route;
    const slash = route.source.indexOf('/');
    const colon = route.backend.lastIndexOf(':');
    const service = route.backend.slice(route.backend.indexOf('/') + 1, colon);
    const errorPages: RouteErrorPages = { codes: p.codes, backend: p.backend, namespace: route.source.slice(0, slash), ingress: route.source.slice(slash + 1), service, port: route.backend.slice(colon + 1) };
    return { ...route, errorPages };
  };
  for (const routes of state.hosts.values()) for (const [key, route] of routes) routes.set(key, withPages(route));
  if (state.defaultBackend !== null) state.defaultBackend = withPages(state.defaultBackend);
};
