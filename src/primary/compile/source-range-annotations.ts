/**
 * The ingress-nginx client address lists (issue 15 item 6, docs/annotations.md):
 * `allowlist-source-range` (or its older name `whitelist-source-range`) and
 * `denylist-source-range`, comma-separated IPv4 and IPv6 addresses and CIDR blocks. A bad entry is
 * an ING_ERR_INGRESS_INVALID_ANNOTATION diagnostic naming the Ingress, the annotation and what is
 * allowed; that entry is skipped and the rest of the Ingress applies. An allow list none of whose
 * entries is valid still restricts: it lets nobody through (an allow list never fails open;
 * ingress-nginx refuses such a location too, with 503). Pure: reads the Ingresses, returns values
 * and diagnostics.
 */
import { parseCidr } from '../../shared/cidr.js';
import type { Route } from '../../shared/snapshot.js';
import type { RouteSourceRange } from '../../shared/source-range.js';
import { describeObject, keyOf, type Ingress } from '../model.js';
import { quote, report, type CompileState, type Processor } from './context.js';

const PREFIX = 'nginx.ingress.kubernetes.io/';
const ALLOWED = 'IPv4 or IPv6 addresses or CIDR blocks (such as "10.0.0.0/8, 2001:db8::/32") separated by commas';

/** readSourceRange parses the address-list annotations of `ing`; undefined when it sets none. */
export function readSourceRange(state: CompileState, ing: Ingress): RouteSourceRange | undefined {
  const all = ing.metadata.annotations ?? {};
  const object = describeObject(ing);
  const list = (name: string): string[] | undefined => {
    const raw = all[PREFIX + name];
    if (raw === undefined) return undefined;
    const out: string[] = [];
    let bad = 0;
    for (const part of raw.split(',')) {
      const text = part.trim();
      if (text === '') continue;
      if (parseCidr(text) !== undefined) out.push(text);
      else {
        bad++;
        report(state, 'ING_ERR_INGRESS_INVALID_ANNOTATION', 'error', object, `annotation ${PREFIX}${name} is ${quote(text)}, expected ${ALLOWED}; that entry is skipped`);
      }
    }
    if (out.length === 0 && bad === 0) report(state, 'ING_ERR_INGRESS_INVALID_ANNOTATION', 'error', object, `annotation ${PREFIX}${name} is ${quote(raw)}, expected ${ALLOWED}; it has no effect`);
    return out.length === 0 && bad === 0 ? undefined : out;
  };
  // ingress-nginx reads the new name first; the old one is its alias.
  let allow = list('allowlist-source-range');
  const old = list('whitelist-source-range');
  if (allow === undefined) allow = old;
  else if (old !== undefined) report(state, 'ING_ERR_INGRESS_UNSUPPORTED', 'warning', object, `annotation ${PREFIX}whitelist-source-range is overridden by allowlist-source-range (its newer name, which ingress-nginx reads first); ignored`);
  if (allow !== undefined && allow.length === 0)
    report(state, 'ING_ERR_INGRESS_INVALID_ANNOTATION', 'error', object, `annotation ${PREFIX}${old === allow ? 'whitelist' : 'allowlist'}-source-range has no valid entry: every client of this Ingress is refused (403) until it is fixed`);
  const deny = list('denylist-source-range') ?? [];
  if (allow === undefined && deny.length === 0) return undefined;
  return allow === undefined ? { deny } : { allow, deny };
}

/**
 * applySourceRanges is the compile step that puts each Ingress's address lists on its routes
 * (after the routes exist), the default backend of that Ingress included.
 */
export const applySourceRanges: Processor = (state) => {
  const ranges = new Map<string, RouteSourceRange>();
  for (const ing of state.ingresses) {
    const range = readSourceRange(state, ing);
    if (range !== undefined) ranges.set(keyOf(ing), range);
  }
  if (ranges.size === 0) return;
  const withRange = (route: Route): Route => {
    const range = ranges.get(route.source);
    return range === undefined ? route : { ...route, sourceRange: range };
  };
  for (const routes of state.hosts.values()) for (const [key, route] of routes) routes.set(key, withRange(route));
  if (state.defaultBackend !== null) state.defaultBackend = withRange(state.defaultBackend);
};
