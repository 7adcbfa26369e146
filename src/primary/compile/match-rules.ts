/**
 * Validation and normalisation of Ingress hosts and paths, per the Ingress v1 API rules
 * (https://kubernetes.io/docs/concepts/services-networking/ingress/#path-types).
 */
import type { PathMatch } from '../../shared/snapshot.js';
import { quote } from './context.js';

/** CATCH_ALL_HOST is the virtual host of rules that name no host. */
export const CATCH_ALL_HOST = '*';

const MAX_HOST_CHARS = 253;
const MAX_LABEL_CHARS = 63;
// A huge path would bloat every worker's router; no real path comes near this.
const MAX_PATH_CHARS = 4096;

const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
// A space, "?", "#" or any C0/DEL control character: none can be part of a request path.
const BAD_PATH_CHARS = /[\u0000-\u0020\u007f?#]/;
// An ImplementationSpecific path may be an ingress-nginx regular expression (use-regex, issue 15),
// where `?` is a quantifier (`/api/?(.*)`); the API server allows it there too.
const BAD_IMPLEMENTATION_SPECIFIC_CHARS = /[\u0000-\u0020\u007f#]/;

/**
 * normaliseHost lower-cases a rule host and checks it is a DNS-1123 subdomain, or `*.` plus
 * one (the wildcard only as the whole first label). It returns undefined when the host is
 * invalid; an IPv4 literal is invalid because Kubernetes forbids IPs as Ingress hosts.
 */
export function normaliseHost(raw: string): string | undefined {
  const host = raw.toLowerCase();
  const name = host.startsWith('*.') ? host.slice(2) : host;
  if (name.length === 0 || name.length > MAX_HOST_CHARS || IPV4.test(name)) return undefined;
  for (const label of name.split('.')) {
    if (label.length > MAX_LABEL_CHARS || !LABEL.test(label)) return undefined;
  }
  return host;
}

/** CompiledPath is a path ready for a Route. */
export interface CompiledPath {
  readonly match: PathMatch;
  readonly path: string;
}

/**
 * compilePath checks a path and its pathType and returns the route match and normalised
 * path, or the reason (one clause, quoted values) it must be skipped.
 *
 * ImplementationSpecific is compiled as Prefix: Flusso has no matching of its own, and
 * element-wise prefix matching is what users of other controllers expect from it. A Prefix
 * path loses its trailing slashes (`/aaa/bbb/` matches exactly what `/aaa/bbb` matches), and
 * a missing path means `/`. An Exact path is kept as written.
 */
export function compilePath(
  pathType: string | undefined,
  rawPath: string | undefined,
): CompiledPath | { readonly error: string } {
  const shown = rawPath === undefined ? 'with no path' : `path ${quote(rawPath)}`;
  if (pathType === undefined || pathType === '') return { error: `${shown} has no pathType` };
  if (pathType !== 'Exact' && pathType !== 'Prefix' && pathType !== 'ImplementationSpecific')
    return { error: `${shown} has unknown pathType ${quote(pathType)}` };
  const match: PathMatch = pathType === 'Exact' ? 'Exact' : 'Prefix';
  if (rawPath === undefined || rawPath === '') {
    if (match === 'Exact') return { error: `Exact ${shown} needs a path` };
    return { match, path: '/' };
  }
  if (!rawPath.startsWith('/')) return { error: `${shown} does not start with "/"` };
  if (rawPath.length > MAX_PATH_CHARS) return { error: `path is longer than ${MAX_PATH_CHARS} characters` };
  if (pathType === 'ImplementationSpecific' ? BAD_IMPLEMENTATION_SPECIFIC_CHARS.test(rawPath) : BAD_PATH_CHARS.test(rawPath))
    return { error: `${shown} contains a space, a control character, ${pathType === 'ImplementationSpecific' ? '' : '"?" '}or "#"` };
  if (match === 'Exact') return { match, path: rawPath };
  const trimmed = rawPath.replace(/\/+$/, '');
  return { match, path: trimmed === '' ? '/' : trimmed };
}
