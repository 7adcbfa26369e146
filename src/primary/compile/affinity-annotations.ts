/**
 * ingress-nginx cookie affinity (issue 15 group 5, docs/annotations.md "Cookie affinity"):
 * `affinity: cookie`, `affinity-mode` and the `session-cookie-*` annotations, read as
 * ingress-nginx reads internal/ingress/annotations/sessionaffinity. A bad value is an
 * ING_ERR_INGRESS_INVALID_ANNOTATION diagnostic naming the Ingress, the annotation and what is
 * allowed, and that annotation has no effect (its default applies); `session-cookie-*` without
 * `affinity: cookie` have no effect and are reported (the ones Flusso does not do at all,
 * change-on-failure, conditional-samesite-none, affinity-canary-behavior and partitioned, are
 * reported by unsupported.ts).
 * Pure: it reads the Ingresses and the routes.
 */
import type { RouteAffinity } from '../../shared/affinity.js';
import type { Route } from '../../shared/snapshot.js';
import { describeObject, keyOf, type Ingress } from '../model.js';
import { quote, report, type CompileState, type Processor } from './context.js';
import { parseBool } from './ingress.js';

const PREFIX = 'nginx.ingress.kubernetes.io/';
/** ingress-nginx's default cookie name. */
export const DEFAULT_COOKIE_NAME = 'INGRESSCOOKIE';
const TOKEN = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;
/** Cookie attribute text: no control characters, no `;` (it would start another attribute). */
const ATTRIBUTE = /^[\x21-\x3a\x3c-\x7e]+$/;
const COOKIE_ANNOTATIONS = ['session-cookie-name', 'session-cookie-path', 'session-cookie-domain', 'session-cookie-max-age', 'session-cookie-expires', 'session-cookie-samesite', 'session-cookie-secure', 'affinity-mode'];

/** AffinityRead is an Ingress's affinity without the path (the route's path is the default). */
type AffinityRead = Omit<RouteAffinity, 'path'> & { readonly path?: string };

/** readAffinity parses the affinity annotations of `ing`; undefined when it has no cookie affinity. */
export function readAffinity(state: CompileState, ing: Ingress): AffinityRead | undefined {
  const all = ing.metadata.annotations ?? {};
  const get = (name: string): string | undefined => all[PREFIX + name];
  const object = describeObject(ing);
  const bad = (name: string, value: string, allowed: string, outcome = 'it has no effect'): void =>
    report(state, 'ING_ERR_INGRESS_INVALID_ANNOTATION', 'error', object, `annotation ${PREFIX}${name} is ${quote(value)}, expected ${allowed}; ${outcome}`);
  const kind = get('affinity');
  if (kind === undefined || kind.trim() !== 'cookie') {
    if (kind !== undefined) bad('affinity', kind, '"cookie"', 'the Ingress has no affinity');
    const set = COOKIE_ANNOTATIONS.filter((n) => get(n) !== undefined);
    if (set.length > 0) report(state, 'ING_ERR_INGRESS_UNSUPPORTED', 'warning', object, `annotations ${set.map((n) => PREFIX + n).join(', ')} have no effect without ${PREFIX}affinity: "cookie"`);
    return undefined;
  }
  const out: { -readonly [K in keyof AffinityRead]: AffinityRead[K] } = { name: DEFAULT_COOKIE_NAME, mode: 'balanced' };
  const name = get('session-cookie-name');
  if (name !== undefined) {
    if (TOKEN.test(name.trim())) out.name = name.trim();
    else bad('session-cookie-name', name, 'a cookie name (letters, digits and !#$%&\'*+.^_`|~-)', `the default ${DEFAULT_COOKIE_NAME} is used`);
  }
  const attribute = (key: string, what: string): string | undefined => {
    const raw = get(key);
    if (raw === undefined || raw.trim() === '') return undefined;
    if (ATTRIBUTE.test(raw.trim())) return raw.trim();
    bad(key, raw, `${what} without spaces, control characters or ";"`);
    return undefined;
  };
  const path = attribute('session-cookie-path', 'a path');
  if (path !== undefined) out.path = path;
  const domain = attribute('session-cookie-domain', 'a domain');
  if (domain !== undefined) out.domain = domain;
  const seconds = (key: string): number | undefined => {
    const raw = get(key);
    if (raw === undefined || raw.trim() === '') return undefined;
    if (/^\d{1,10}$/.test(raw.trim())) return Number(raw.trim());
    bad(key, raw, 'a whole number of seconds');
    return undefined;
  };
  const maxAge = seconds('session-cookie-max-age');
  if (maxAge !== undefined) out.maxAge = maxAge;
  const expires = seconds('session-cookie-expires');
  if (expires !== undefined) out.expires = expires;
  const sameSite = get('session-cookie-samesite');
  if (sameSite !== undefined && sameSite.trim() !== '') {
    if (/^(none|lax|strict)$/i.test(sameSite.trim())) out.sameSite = sameSite.trim();
    else bad('session-cookie-samesite', sameSite, '"None", "Lax" or "Strict"');
  }
  const secure = get('session-cookie-secure');
  if (secure !== undefined) {
    const v = parseBool(secure);
    if (v === undefined) bad('session-cookie-secure', secure, '"true" or "false"', 'Secure is set on HTTPS requests only');
    else out.secure = v;
  }
  const mode = get('affinity-mode');
  if (mode !== undefined) {
    if (mode.trim() === 'balanced' || mode.trim() === 'persistent') out.mode = mode.trim() as 'balanced' | 'persistent';
    else bad('affinity-mode', mode, '"balanced" or "persistent"', 'the default balanced is used');
  }
  return out;
}

/** applyAffinity is the compile step that puts each Ingress's sticky cookie on its routes (the path defaults to the route's). */
export const applyAffinity: Processor = (state) => {
  const reads = new Map<string, AffinityRead>();
  for (const ing of state.ingresses) {
    // A canary's own affinity has no effect (canary-annotations.ts reports it).
    if (parseBool(ing.metadata.annotations?.[`${PREFIX}canary`] ?? '') === true) continue;
    const a = readAffinity(state, ing);
    if (a !== undefined) reads.set(keyOf(ing), a);
  }
  if (reads.size === 0) return;
  const withCookie = (route: Route): Route => {
    const a = reads.get(route.source);
    if (a === undefined) return route;
    const affinity: RouteAffinity = {
      name: a.name, path: a.path ?? route.path,
      ...(a.domain === undefined ? {} : { domain: a.domain }), ...(a.maxAge === undefined ? {} : { maxAge: a.maxAge }), ...(a.expires === undefined ? {} : { expires: a.expires }),
      ...(a.sameSite === undefined ? {} : { sameSite: a.sameSite }), ...(a.secure === undefined ? {} : { secure: a.secure }), mode: a.mode,
    };
    return { ...route, affinity };
  };
  for (const routes of state.hosts.values()) for (const [key, route] of routes) routes.set(key, withCookie(route));
  if (state.defaultBackend !== null) state.defaultBackend = withCookie(state.defaultBackend);
};
