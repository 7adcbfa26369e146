/**
 * ingress-nginx canaries (issue 15 group 5, docs/annotations.md "Canaries"): an Ingress with
 * `canary: "true"` makes no routes of its own; each of its paths becomes the canary of the main
 * Ingress's route with the same host, path and pathType, read as ingress-nginx reads
 * internal/ingress/annotations/canary: `canary-by-header` (with `canary-by-header-value` or
 * `canary-by-header-pattern`), `canary-by-cookie`, `canary-weight` out of `canary-weight-total`
 * (used only above 100, as ingress-nginx's Lua balancer). Its other annotations have no effect
 * (the main Ingress's apply to every request) and are reported; a path with no main route is an
 * ING_ERR_INGRESS_CANARY_WITHOUT_MAIN diagnostic; a bad value an ING_ERR_INGRESS_INVALID_ANNOTATION
 * one, and that annotation has no effect. Pure: it reads the Ingresses and the routes.
 */
import type { RouteCanary } from '../../shared/canary.js';
import { compilePattern } from '../../shared/canary.js';
import { describeObject, keyOf, type Ingress } from '../model.js';
import { quote, report, type CompileState, type Processor } from './context.js';
import { CANARY_ANNOTATION, claimBackend, parseBool, useBackend } from './ingress.js';
import { CATCH_ALL_HOST, compilePath, normaliseHost } from './match-rules.js';

const PREFIX = 'nginx.ingress.kubernetes.io/';

/** The canary annotations; every other ingress-nginx annotation of a canary Ingress has no effect. */
export const CANARY_ANNOTATIONS: readonly string[] = ['canary', 'canary-by-header', 'canary-by-header-value', 'canary-by-header-pattern', 'canary-by-cookie', 'canary-weight', 'canary-weight-total'];

/** An HTTP field or cookie name (RFC 9110 token). */
const TOKEN = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;
const MAX_INT = 2 ** 31 - 1;

/** CanaryRules is a canary Ingress's rules, without the backend (one per path). */
type CanaryRules = Omit<RouteCanary, 'backend' | 'source'>;

/** readCanary parses the canary annotations of `ing`: its rules when `canary` is "true", else undefined (reporting canary-* set without it). */
export function readCanary(state: CompileState, ing: Ingress): CanaryRules | undefined {
  const all = ing.metadata.annotations ?? {};
  const get = (name: string): string | undefined => all[PREFIX + name];
  const bad = (name: string, value: string, allowed: string, outcome = 'it has no effect'): void =>
    report(state, 'ING_ERR_INGRESS_INVALID_ANNOTATION', 'error', describeObject(ing), `annotation ${PREFIX}${name} is ${quote(value)}, expected ${allowed}; ${outcome}`);
  const rawEnabled = get('canary');
  const enabled = rawEnabled === undefined ? false : parseBool(rawEnabled);
  if (rawEnabled !== undefined && enabled === undefined) bad('canary', rawEnabled, '"true" or "false"', 'the Ingress is not a canary');
  if (enabled !== true) {
    const set = CANARY_ANNOTATIONS.slice(1).filter((n) => get(n) !== undefined);
    if (set.length > 0)
      report(state, 'ING_ERR_INGRESS_INVALID_ANNOTATION', 'error', describeObject(ing), `annotations ${set.map((n) => PREFIX + n).join(', ')} need ${CANARY_ANNOTATION}: "true" (ingress-nginx: "configured but not enabled"); they have no effect`);
    return undefined;
  }
  const whole = (name: string, fallback: number, min: number): number => {
    const raw = get(name);
    if (raw === undefined) return fallback;
    const v = raw.trim();
    if (/^\d{1,10}$/.test(v) && Number(v) >= min && Number(v) <= MAX_INT) return Number(v);
    bad(name, raw, `a whole number from ${min} to ${MAX_INT}`, `the default ${fallback} is used, as in ingress-nginx`);
    return fallback;
  };
  const name = (key: string): string | undefined => {
    const raw = get(key);
    if (raw === undefined || raw.trim() === '') return undefined;
    if (TOKEN.test(raw.trim())) return raw.trim().toLowerCase();
    bad(key, raw, 'a field or cookie name (letters, digits and !#$%&\'*+.^_`|~-)');
    return undefined;
  };
  const rules: { -readonly [K in keyof CanaryRules]: CanaryRules[K] } = { weight: whole('canary-weight', 0, 0), weightTotal: 100 };
  const total = whole('canary-weight-total', 100, 1);
  // ingress-nginx's balancer takes the total only above 100 (balancer.lua route_to_alternative_balancer).
  if (total > 100) rules.weightTotal = total;
  else if (total < 100)
    report(state, 'ING_ERR_INGRESS_UNSUPPORTED', 'warning', describeObject(ing), `annotation ${PREFIX}canary-weight-total ${total} is below 100, which ingress-nginx's balancer does not use: the weight is out of 100`);
  const header = name('canary-by-header');
  const value = get('canary-by-header-value');
  const pattern = get('canary-by-header-pattern');
  if (header !== undefined) {
    rules.header = header;
    if (value !== undefined && value !== '') {
      rules.headerValue = value;
      if (pattern !== undefined && pattern !== '')
        report(state, 'ING_ERR_INGRESS_UNSUPPORTED', 'warning', describeObject(ing), `annotation ${PREFIX}canary-by-header-pattern has no effect: canary-by-header-value is set and wins, as in ingress-nginx`);
    } else if (pattern !== undefined && pattern !== '') {
      if (compilePattern(pattern) === null) bad('canary-by-header-pattern', pattern, 'a regular expression in RE2 syntax (no backreferences or lookarounds)');
      else rules.headerPattern = pattern;
    }
  } else {
    const orphans = [['canary-by-header-value', value], ['canary-by-header-pattern', pattern]].filter(([, v]) => v !== undefined && v !== '').map(([n]) => `${PREFIX}${n as string}`);
    if (orphans.length > 0)
      report(state, 'ING_ERR_INGRESS_UNSUPPORTED', 'warning', describeObject(ing), `annotations ${orphans.join(', ')} have no effect without ${PREFIX}canary-by-header`);
  }
  const cookie = name('canary-by-cookie');
  if (cookie !== undefined) rules.cookie = cookie;
  // Fixed key order, so equal canaries encode to equal bytes.
  return { ...(rules.header === undefined ? {} : { header: rules.header }), ...(rules.headerValue === undefined ? {} : { headerValue: rules.headerValue }), ...(rules.headerPattern === undefined ? {} : { headerPattern: rules.headerPattern }), ...(rules.cookie === undefined ? {} : { cookie: rules.cookie }), weight: rules.weight, weightTotal: rules.weightTotal };
}

/**
 * applyCanaries is the compile step that attaches each canary Ingress's paths to the main
 * routes (after every route exists, before the backends are resolved). The oldest canary of a
 * route wins; a later one is a conflict.
 */
export const applyCanaries: Processor = (state) => {
  for (const ing of state.ingresses) {
    const rules = readCanary(state, ing);
    if (rules === undefined) continue;
    const object = describeObject(ing);
    const ignored = Object.keys(ing.metadata.annotations ?? {})
      .filter((k) => k.startsWith(PREFIX) && !CANARY_ANNOTATIONS.includes(k.slice(PREFIX.length)))
      .sort();
    if (ignored.length > 0)
      report(state, 'ING_ERR_INGRESS_UNSUPPORTED', 'warning', object, `annotations ${ignored.join(', ')} have no effect on a canary Ingress: the main Ingress's annotations apply to its requests (ingress-nginx ignores a canary's other annotations too)`);
    if (ing.spec?.defaultBackend !== undefined) report(state, 'ING_ERR_INGRESS_UNSUPPORTED', 'warning', object, 'spec.defaultBackend of a canary Ingress has no effect: a canary splits the traffic of main routes only');
    const source = keyOf(ing);
    for (const rule of ing.spec?.rules ?? []) {
      const host = rule.host === undefined || rule.host === '' ? CATCH_ALL_HOST : normaliseHost(rule.host);
      if (host === undefined) {
        report(state, 'ING_ERR_INGRESS_INVALID_HOST', 'error', object, `rule host ${quote(rule.host ?? '')} is not a valid DNS name; rule skipped`);
        continue;
      }
      for (const p of rule.http?.paths ?? []) {
        const compiled = compilePath(p.pathType, p.path);
        if ('error' in compiled) {
          report(state, 'ING_ERR_INGRESS_INVALID_PATH', 'error', object, `${compiled.error}; path skipped`);
          continue;
        }
        const routes = state.hosts.get(host);
        const key = `${compiled.match} ${compiled.path}`;
        const main = routes?.get(key);
        if (routes === undefined || main === undefined) {
          report(state, 'ING_ERR_INGRESS_CANARY_WITHOUT_MAIN', 'error', object, `canary host ${quote(host)} ${compiled.match} path ${quote(compiled.path)} is routed by no main Ingress (same host, path and pathType); path ignored`);
          continue;
        }
        if (main.canary !== undefined) {
          report(state, 'ING_ERR_INGRESS_CONFLICT', 'error', object, `host ${quote(host)} ${compiled.match} path ${quote(compiled.path)} already has the canary Ingress ${main.canary.source}; path skipped`);
          continue;
        }
        const ref = useBackend(state, ing, p.backend, `backend of canary path ${quote(p.path ?? '/')}`, 'path skipped');
        if (ref === undefined) continue;
        routes.set(key, { ...main, canary: { backend: ref.id, source, ...rules } });
        claimBackend(state, ing, ref);
      }
    }
  }
};
