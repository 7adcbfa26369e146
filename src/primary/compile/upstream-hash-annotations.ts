/**
 * The ingress-nginx balancing annotations (issue 15 group 5, docs/annotations.md "Upstream
 * hashing and load-balance"): `upstream-hash-by` and `load-balance`. `upstream-hash-by` is
 * checked as ingress-nginx checks it (letters, digits, `-`, `_`, `$`, `{`, `}` only) and split
 * into literal text and nginx variables (shared/upstream-hash.ts); a value naming a variable
 * Flusso cannot read is an ING_ERR_INGRESS_INVALID_ANNOTATION diagnostic and has no effect.
 * `load-balance` accepts ingress-nginx's values, `round_robin` and `ewma` (worker/balance/ewma.ts),
 * for the backends of the Ingress. Pure: it reads the Ingresses and returns
 * values and diagnostics.
 */
import { parseHashKey } from '../../shared/upstream-hash.js';
import type { Route } from '../../shared/snapshot.js';
import { describeObject, keyOf, type Ingress } from '../model.js';
import { quote, report, type CompileState, type Processor } from './context.js';

const PREFIX = 'nginx.ingress.kubernetes.io/';

/** ingress-nginx's validator for `upstream-hash-by` (parser.NGINXVariable). */
const NGINX_VARIABLE = /^[A-Za-z0-9\-_${}]*$/;

const HASH_ALLOWED =
  'nginx variables and text made of letters, digits, "-", "_", "$", "{", "}" (such as "$request_uri", "$remote_addr", "$http_x_user", "$cookie_session", "$arg_id", "$host$uri"); the variables Flusso reads are request_uri, uri, host, remote_addr, scheme, args, query_string, http_*, cookie_*, arg_*';

/** readHashBy parses `upstream-hash-by` of `ing`; undefined when absent, empty or invalid (reported). */
export function readHashBy(state: CompileState, ing: Ingress): readonly string[] | undefined {
  const raw = ing.metadata.annotations?.[`${PREFIX}upstream-hash-by`];
  if (raw === undefined || raw.trim() === '') return undefined;
  const text = raw.trim();
  const parsed = NGINX_VARIABLE.test(text) ? parseHashKey(text) : { error: text };
  if ('error' in parsed) {
    report(state, 'ING_ERR_INGRESS_INVALID_ANNOTATION', 'error', describeObject(ing), `annotation ${PREFIX}upstream-hash-by is ${quote(raw)}, expected ${HASH_ALLOWED}; it has no effect`);
    return undefined;
  }
  return parsed.parts;
}

/** readLoadBalance reads `load-balance` of `ing`: 'ewma', 'round_robin', or undefined when absent or invalid (reported). */
export function readLoadBalance(state: CompileState, ing: Ingress): 'ewma' | 'round_robin' | undefined {
  const raw = ing.metadata.annotations?.[`${PREFIX}load-balance`];
  if (raw === undefined) return undefined;
  const v = raw.trim();
  if (v === 'round_robin' || v === 'ewma') return v;
  report(state, 'ING_ERR_INGRESS_INVALID_ANNOTATION', 'error', describeObject(ing), `annotation ${PREFIX}load-balance is ${quote(raw)}, expected "round_robin" or "ewma"; it has no effect`);
  return undefined;
}

/**
 * applyLoadBalance sets each backend's balancer: ewma when the oldest Ingress using it says
 * `load-balance: ewma` (a balancer is per backend, as ingress-nginx's per upstream); a later
 * Ingress asking otherwise is told its annotation has no effect on that backend.
 */
function applyLoadBalance(state: CompileState, asked: ReadonlyMap<string, 'ewma' | 'round_robin'>): void {
  for (const [id, use] of state.uses) {
    const [first, ...rest] = use.sources;
    const decided = (first === undefined ? undefined : asked.get(first)) ?? 'round_robin';
    if (decided === 'ewma') state.uses.set(id, { ...use, loadBalancer: 'ewma' });
    for (const other of rest) {
      const wants = asked.get(other);
      if (wants !== undefined && wants !== decided)
        report(state, 'ING_ERR_INGRESS_UNSUPPORTED', 'warning', `Ingress ${other}`, `annotation ${PREFIX}load-balance ${wants} has no effect on backend ${id}: the oldest Ingress using it, ${first as string}, decides (${decided})`);
    }
  }
}

/**
 * applyUpstreamHash is the compile step that puts each Ingress's `upstream-hash-by` key on its
 * routes (after the routes exist), and sets the backends' `load-balance`.
 */
export const applyUpstreamHash: Processor = (state) => {
  const keys = new Map<string, readonly string[]>();
  const balancers = new Map<string, 'ewma' | 'round_robin'>();
  for (const ing of state.ingresses) {
    const lb = readLoadBalance(state, ing);
    if (lb !== undefined) balancers.set(keyOf(ing), lb);
    const parts = readHashBy(state, ing);
    if (parts !== undefined) keys.set(keyOf(ing), parts);
  }
  if (balancers.size > 0) applyLoadBalance(state, balancers);
  if (keys.size === 0) return;
  const withKey = (route: Route): Route => {
    const parts = keys.get(route.source);
    return parts === undefined ? route : { ...route, hashBy: parts };
  };
  for (const routes of state.hosts.values()) for (const [key, route] of routes) routes.set(key, withKey(route));
  if (state.defaultBackend !== null) state.defaultBackend = withKey(state.defaultBackend);
};
