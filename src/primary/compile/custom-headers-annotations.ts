/**
 * ingress-nginx `custom-headers` and the `add-headers` / `proxy-set-headers` settings (issue 15
 * item 4, docs/annotations.md "Custom headers"), read as ingress-nginx reads them
 * (internal/ingress/annotations/customheaders, the controller's add-headers/proxy-set-headers):
 *
 * - `custom-headers: namespace/name` names a ConfigMap of the Ingress's namespace whose data are
 *   response fields for every response of its routes (nginx `more_set_headers`, every status).
 *   Since ingress-nginx 1.12 each name must be listed, exactly, in the controller setting
 *   `global-allowed-response-headers` (Flusso: --global-allowed-response-headers; empty by
 *   default, so nothing is allowed until the operator lists it).
 * - `--add-headers NS/NAME`: response fields for every route; custom-headers wins on a name both set.
 * - `--proxy-set-headers NS/NAME`: upstream request fields for every route; a value may use the
 *   nginx variables Flusso evaluates for upstream-hash-by (shared/upstream-hash.ts), any other
 *   `$variable` makes the ConfigMap refused (never sent as a literal `$var`).
 *
 * A missing ConfigMap, a bad name or value, a hop-by-hop or framing field, or a name not allowed
 * is a diagnostic naming the Ingress (or the setting) and the ConfigMap, and that annotation (or
 * setting) has no effect; the rest applies. Pure: it reads the ConfigMaps through the ObjectView.
 */
import { headerProblem, type RouteHeaders } from '../../shared/custom-headers.js';
import type { Route } from '../../shared/snapshot.js';
import { parseHashKey } from '../../shared/upstream-hash.js';
import { describeObject, keyOf, type ConfigMap, type Ingress, type ObjectView } from '../model.js';
import { compareText, quote, report, type CompileState, type Processor } from './context.js';

const ANNOTATION = 'nginx.ingress.kubernetes.io/custom-headers';
const CONFIGMAP_NAME = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/;

/** configMapOf looks up `namespace/name` in the view (undefined when the view holds no ConfigMaps). */
function configMapOf(view: ObjectView, key: string): ConfigMap | undefined {
  const slash = key.indexOf('/');
  return view.configMap?.(key.slice(0, slash), key.slice(slash + 1));
}

/** sortedData lists a ConfigMap's data by name (ingress-nginx's template ranges over a Go map: sorted keys). */
function sortedData(cm: ConfigMap): [string, string][] {
  return Object.entries(cm.data ?? {}).sort((a, b) => compareText(a[0], b[0]));
}

/** CustomHeadersSpec is one Ingress's custom-headers: the fields, or the problem that voids the annotation. */
export type CustomHeadersSpec = { readonly configMap: string; readonly fields: readonly string[]; readonly names: readonly string[] } | { readonly problem: string };

/** customHeadersOf reads the custom-headers annotation of `ing`; undefined without it. */
export function customHeadersOf(view: ObjectView, ing: Ingress, allowed: readonly string[]): CustomHeadersSpec | undefined {
  const raw = ing.metadata.annotations?.[ANNOTATION];
  if (raw === undefined) return undefined;
  const namespace = ing.metadata.namespace ?? 'default';
  const m = CONFIGMAP_NAME.exec(raw.trim());
  if (m === null) return { problem: `annotation ${ANNOTATION} is ${quote(raw)}, expected the ConfigMap as "namespace/name" (ingress-nginx looks it up by that key); it has no effect` };
  const key = raw.trim();
  if (m[1] !== namespace) return { problem: `annotation ${ANNOTATION} is ${quote(raw)}, expected a ConfigMap of the Ingress's namespace ${namespace} (as ingress-nginx allows); it has no effect` };
  const cm = configMapOf(view, key);
  if (cm === undefined) return { problem: `annotation ${ANNOTATION} names ConfigMap ${key}, which does not exist; it has no effect until it does` };
  const fields: string[] = [];
  const names: string[] = [];
  for (const [name, value] of sortedData(cm)) {
    const problem = headerProblem(name, value);
    if (problem !== undefined) return { problem: `annotation ${ANNOTATION}: in ConfigMap ${key}, ${problem}; it has no effect` };
    if (!allowed.includes(name))
      return { problem: `annotation ${ANNOTATION}: ConfigMap ${key} sets header ${name}, which is not in --global-allowed-response-headers (${allowed.length === 0 ? 'empty' : allowed.join(',')}; names match exactly, as in ingress-nginx); it has no effect` };
    fields.push(name, value);
    names.push(name);
  }
  return { configMap: key, fields, names };
}

/** SettingHeaders is a setting's ConfigMap read: its fields (or request fields), or undefined when it has no effect. */
function settingFields(state: CompileState, setting: string, key: string | undefined, request: boolean): { key: string; fields: string[]; request: { name: string; parts: readonly string[] }[] } | undefined {
  if (key === undefined || key === '') return undefined;
  const object = `ConfigMap ${key}`;
  const say = (message: string): undefined => {
    report(state, 'ING_ERR_HEADERS_CONFIGMAP_INVALID', 'error', object, `${message}; --${setting} has no effect`);
    return undefined;
  };
  const cm = configMapOf(state.view, key);
  if (cm === undefined) return say(`ConfigMap ${key} named by --${setting} does not exist`);
  const fields: string[] = [];
  const requestFields: { name: string; parts: readonly string[] }[] = [];
  for (const [name, value] of sortedData(cm)) {
    const problem = headerProblem(name, value);
    if (problem !== undefined) return say(`in ConfigMap ${key} (--${setting}), ${problem}`);
    if (!request) {
      fields.push(name, value);
      continue;
    }
    const parsed = parseHashKey(value);
    if ('error' in parsed) return say(`in ConfigMap ${key} (--${setting}), header ${name} uses ${parsed.error}, which Flusso does not evaluate (it evaluates $request_uri, $uri, $host, $remote_addr, $scheme, $args, $query_string, $http_NAME, $cookie_NAME, $arg_NAME)`);
    requestFields.push({ name: name.toLowerCase(), parts: parsed.parts });
  }
  return { key, fields, request: requestFields };
}

/** referencedConfigMaps lists the ConfigMaps (`namespace/name`) the Ingresses and settings name: a change to one of them needs a compile. */
export function referencedConfigMaps(ingresses: Iterable<Ingress>, settings: { readonly addHeaders?: string; readonly proxySetHeaders?: string }): Set<string> {
  const out = new Set<string>();
  if (settings.addHeaders) out.add(settings.addHeaders);
  if (settings.proxySetHeaders) out.add(settings.proxySetHeaders);
  for (const ing of ingresses) {
    const raw = ing.metadata.annotations?.[ANNOTATION]?.trim();
    if (raw !== undefined && CONFIGMAP_NAME.test(raw)) out.add(raw);
  }
  return out;
}

/** applyCustomHeaders is the compile step that puts each route's header block on it (precomputed once per Ingress). */
export const applyCustomHeaders: Processor = (state: CompileState) => {
  const opts = state.opts;
  const add = settingFields(state, 'add-headers', opts.addHeaders, false);
  const proxy = settingFields(state, 'proxy-set-headers', opts.proxySetHeaders, true);
  const allowed = opts.globalAllowedResponseHeaders ?? [];
  const perIngress = new Map<string, RouteHeaders>();
  const base = blockOf(add, proxy, undefined);
  for (const ing of state.ingresses) {
    const spec = customHeadersOf(state.view, ing, allowed);
    if (spec === undefined) continue;
    if ('problem' in spec) {
      report(state, 'ING_ERR_INGRESS_INVALID_ANNOTATION', 'error', describeObject(ing), spec.problem);
      continue;
    }
    const block = blockOf(add, proxy, spec);
    if (block !== undefined) perIngress.set(keyOf(ing), block);
  }
  if (base === undefined && perIngress.size === 0) return;
  const withHeaders = (route: Route): Route => {
    const block = perIngress.get(route.source) ?? base;
    return block === undefined ? route : { ...route, headers: block };
  };
  for (const routes of state.hosts.values()) for (const [key, route] of routes) routes.set(key, withHeaders(route));
  if (state.defaultBackend !== null) state.defaultBackend = withHeaders(state.defaultBackend);
};

/** blockOf merges the settings' fields and one Ingress's custom-headers into a route's block (undefined when it adds nothing). */
function blockOf(add: ReturnType<typeof settingFields>, proxy: ReturnType<typeof settingFields>, custom: { readonly configMap: string; readonly fields: readonly string[]; readonly names: readonly string[] } | undefined): RouteHeaders | undefined {
  const response: string[] = [];
  const own = new Set((custom?.names ?? []).map((n) => n.toLowerCase()));
  // more_set_headers of the http block runs before the location's: custom-headers wins on a shared name.
  if (add !== undefined) for (let i = 0; i < add.fields.length; i += 2) if (!own.has((add.fields[i] as string).toLowerCase())) response.push(add.fields[i] as string, add.fields[i + 1] as string);
  if (custom !== undefined) response.push(...custom.fields);
  const block: { -readonly [K in keyof RouteHeaders]: RouteHeaders[K] } = {};
  if (response.length > 0) block.response = response;
  if (custom !== undefined) block.customHeaders = { configMap: custom.configMap, names: custom.names };
  if (add !== undefined && add.fields.length > 0) block.addHeaders = add.key;
  if (proxy !== undefined && proxy.request.length > 0) {
    block.request = proxy.request;
    block.proxySetHeaders = proxy.key;
  }
  return Object.keys(block).length === 0 ? undefined : block;
}
