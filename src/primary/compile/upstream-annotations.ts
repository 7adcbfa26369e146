/**
 * The ingress-nginx timeout, size and retry annotations (issue 15 group 3, docs/annotations.md
 * "Timeouts, sizes and retries"), read as ingress-nginx reads them
 * (internal/ingress/annotations/proxy, clientbodybuffersize):
 *
 * - `proxy-connect-timeout`, `proxy-send-timeout`, `proxy-read-timeout`: whole seconds;
 * - `proxy-body-size` (nginx `client_max_body_size`: `0` no limit, `k`, `m`, `g` suffixes),
 *   `client-body-buffer-size` (nginx `client_body_buffer_size`: `k`, `m`), `proxy-request-buffering`
 *   (`on` / `off`): the route's RouteRequestBody (worker/proxy/request-body.ts);
 * - `proxy-next-upstream` (nginx's conditions, `non_idempotent`, `off`), `proxy-next-upstream-tries`
 *   (0: no limit), `proxy-next-upstream-timeout` (seconds, 0: no limit): the route's RouteNextUpstream.
 *
 * A bad value is an ING_ERR_INGRESS_INVALID_ANNOTATION diagnostic naming the Ingress, the
 * annotation and what is allowed; that annotation has no effect (the global setting applies, as
 * ingress-nginx falls back to its ConfigMap value) and the rest of the Ingress applies. Pure: it
 * reads the Ingresses and returns values and diagnostics.
 */
import type { Route, RouteRequestBody } from '../../shared/snapshot.js';
import { NEXT_UPSTREAM_CONDITIONS, type NextUpstreamCondition, type RouteNextUpstream, type RouteUpstream } from '../../shared/upstream-policy.js';
import { describeObject, keyOf, type Ingress } from '../model.js';
import { quote, report, type CompileState, type Processor } from './context.js';

const PREFIX = 'nginx.ingress.kubernetes.io/';

/** The longest timeout accepted, in seconds (a day). */
export const MAX_TIMEOUT_SECONDS = 86_400;
/** The largest client-body-buffer-size: what one request may hold in a worker's memory (as --client-body-buffer-bytes). */
export const MAX_BODY_BUFFER_BYTES = 64 * 1024 * 1024;
/** ingress-nginx's defaults for the retry annotations not set (ConfigMap proxy-next-upstream, -tries, -timeout). */
const DEFAULT_WHEN: readonly NextUpstreamCondition[] = ['error', 'timeout'];
const DEFAULT_TRIES = 3;

const UNITS: Readonly<Record<string, number>> = { '': 1, k: 1024, m: 1024 * 1024, g: 1024 * 1024 * 1024 };

/** UpstreamAnnotations is what one Ingress's group 3 annotations put on its routes. */
export interface UpstreamAnnotations {
  readonly requestBody?: RouteRequestBody;
  readonly upstream?: RouteUpstream;
}

/**
 * parseNginxSize reads an nginx size (`512`, `8k`, `1m`; with `offset` also `2g`, as
 * `client_max_body_size` takes) in bytes, or undefined when it is not one.
 */
export function parseNginxSize(raw: string, offset: boolean): number | undefined {
  const m = (offset ? /^(\d{1,15})([kKmMgG]?)$/ : /^(\d{1,15})([kKmM]?)$/).exec(raw.trim());
  if (m === null) return undefined;
  const bytes = Number(m[1]) * (UNITS[(m[2] as string).toLowerCase()] as number);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** readUpstreamAnnotations parses the group 3 annotations of `ing`, reporting each bad value to `state`. */
export function readUpstreamAnnotations(state: CompileState, ing: Ingress): UpstreamAnnotations {
  const all = ing.metadata.annotations ?? {};
  const get = (name: string): string | undefined => all[PREFIX + name];
  const bad = (name: string, value: string, allowed: string): void =>
    report(state, 'ING_ERR_INGRESS_INVALID_ANNOTATION', 'error', describeObject(ing), `annotation ${PREFIX}${name} is ${quote(value)}, expected ${allowed}; it has no effect`);
  /** whole reads a whole number (strconv.Atoi, as ingress-nginx: no spaces, no unit) from `min` to `max`. */
  const whole = (name: string, min: number, max: number, allowed: string): number | undefined => {
    const raw = get(name);
    if (raw === undefined) return undefined;
    if (/^\+?\d{1,9}$/.test(raw) && Number(raw) >= min && Number(raw) <= max) return Number(raw);
    bad(name, raw, allowed);
    return undefined;
  };
  const seconds = (name: string): number | undefined => {
    const s = whole(name, 1, MAX_TIMEOUT_SECONDS, `a whole number of seconds from 1 to ${MAX_TIMEOUT_SECONDS}, without a unit (such as "30")`);
    return s === undefined ? undefined : s * 1000;
  };

  const upstream: { -readonly [K in keyof RouteUpstream]: RouteUpstream[K] } = {};
  const connect = seconds('proxy-connect-timeout');
  if (connect !== undefined) upstream.connectTimeoutMs = connect;
  const send = seconds('proxy-send-timeout');
  if (send !== undefined) upstream.sendTimeoutMs = send;
  const read = seconds('proxy-read-timeout');
  if (read !== undefined) upstream.readTimeoutMs = read;

  const next = readNextUpstream(get, bad, whole);
  if (next !== undefined) upstream.nextUpstream = next;

  const body: { -readonly [K in keyof RouteRequestBody]: RouteRequestBody[K] } = {};
  const sizeText = get('proxy-body-size');
  if (sizeText !== undefined) {
    const size = parseNginxSize(sizeText, true);
    if (size !== undefined) body.maxBytes = size;
    else bad('proxy-body-size', sizeText, 'an nginx size such as "8m", "512k", "1g" or "1048576" ("0": no limit)');
  }
  const bufferText = get('client-body-buffer-size');
  if (bufferText !== undefined) {
    const size = parseNginxSize(bufferText, false);
    if (size !== undefined && size <= MAX_BODY_BUFFER_BYTES) body.bufferBytes = size;
    else bad('client-body-buffer-size', bufferText, 'an nginx size up to 64m such as "16k", "1m" or "8192"');
  }
  const buffering = get('proxy-request-buffering');
  if (buffering !== undefined) {
    // ingress-nginx: one of "on", "off", case-sensitive, spaces trimmed.
    const v = buffering.trim();
    if (v === 'on' || v === 'off') body.buffering = v === 'on';
    else bad('proxy-request-buffering', buffering, '"on" or "off"');
  }
  return {
    ...(Object.keys(body).length === 0 ? {} : { requestBody: body }),
    ...(Object.keys(upstream).length === 0 ? {} : { upstream }),
  };
}

type Whole = (name: string, min: number, max: number, allowed: string) => number | undefined;

/**
 * readNextUpstream reads `proxy-next-upstream` (space-separated conditions; `off` anywhere turns
 * retries off, as nginx; `non_idempotent` lets POST, LOCK and PATCH go again),
 * `proxy-next-upstream-tries` and `proxy-next-upstream-timeout`. When any of them is set, the
 * others take ingress-nginx's defaults (`error timeout`, 3, 0); undefined when none is set validly.
 */
function readNextUpstream(get: (name: string) => string | undefined, bad: (name: string, value: string, allowed: string) => void, whole: Whole): RouteNextUpstream | undefined {
  let when: readonly NextUpstreamCondition[] | undefined;
  let nonIdempotent = false;
  const text = get('proxy-next-upstream');
  if (text !== undefined) {
    const words = text.trim().split(/\s+/).filter((w) => w !== '');
    const unknown = words.filter((w) => w !== 'off' && w !== 'non_idempotent' && !(NEXT_UPSTREAM_CONDITIONS as readonly string[]).includes(w));
    if (words.length === 0 || unknown.length > 0) bad('proxy-next-upstream', text, `conditions separated by spaces, from ${NEXT_UPSTREAM_CONDITIONS.join(', ')}, non_idempotent, off`);
    else {
      nonIdempotent = words.includes('non_idempotent');
      when = words.includes('off') ? [] : NEXT_UPSTREAM_CONDITIONS.filter((c) => words.includes(c));
    }
  }
  const tries = whole('proxy-next-upstream-tries', 0, 1000, 'a whole number of tries from 0 (no limit) to 1000');
  const timeout = whole('proxy-next-upstream-timeout', 0, MAX_TIMEOUT_SECONDS, `a whole number of seconds from 0 (no limit) to ${MAX_TIMEOUT_SECONDS}, without a unit`);
  if (when === undefined && tries === undefined && timeout === undefined) return undefined;
  return { when: when ?? DEFAULT_WHEN, nonIdempotent, tries: tries ?? DEFAULT_TRIES, timeoutMs: (timeout ?? 0) * 1000 };
}

/**
 * applyUpstreamAnnotations is the compile step that puts each Ingress's group 3 settings on its
 * routes (after the routes exist), the default backend of that Ingress included.
 */
export const applyUpstreamAnnotations: Processor = (state) => {
  const byIngress = new Map<string, UpstreamAnnotations>();
  for (const ing of state.ingresses) {
    const a = readUpstreamAnnotations(state, ing);
    if (a.requestBody !== undefined || a.upstream !== undefined) byIngress.set(keyOf(ing), a);
  }
  if (byIngress.size === 0) return;
  const withSettings = (route: Route): Route => {
    const a = byIngress.get(route.source);
    return a === undefined ? route : { ...route, ...a };
  };
  for (const routes of state.hosts.values()) for (const [key, route] of routes) routes.set(key, withSettings(route));
  if (state.defaultBackend !== null) state.defaultBackend = withSettings(state.defaultBackend);
};
