/**
 * ingress-nginx `auth-type: basic` (issue 15 group 6, docs/annotations.md "Basic authentication"):
 * `auth-type`, `auth-secret`, `auth-secret-type`, `auth-realm`, read as ingress-nginx's auth parser
 * reads them (internal/ingress/annotations/auth). Where ingress-nginx denies the location (an
 * unknown auth-type, no auth-secret, a bad auth-secret-type), Flusso does too: every request of
 * the Ingress gets 503 and the diagnostic says so; `digest` is refused the same way (Flusso does
 * not do digest authentication), never let through unauthenticated. The Secret itself is read by
 * the primary apart from the compiler (primary/basic-auth.ts). Pure.
 */
import { credentialsKey, type RouteBasicAuth } from '../../shared/basic-auth.js';
import type { Route } from '../../shared/snapshot.js';
import { describeObject, keyOf, type Ingress } from '../model.js';
import { quote, report, type CompileState, type Processor } from './context.js';

const PREFIX = 'nginx.ingress.kubernetes.io/';
const DENIED = 'every request to this Ingress is refused (503) until it is fixed, as ingress-nginx denies the location';

/** BasicAuthSpec is what an Ingress's annotations ask for, with the problems found (as diagnostics to report). */
export interface BasicAuthSpec {
  readonly auth: RouteBasicAuth;
  /** The Secret to read (`namespace/name`) and how; absent when denied. */
  readonly secret?: { readonly key: string; readonly type: 'auth-file' | 'auth-map' };
  readonly problems: readonly { readonly code: 'ING_ERR_INGRESS_INVALID_ANNOTATION'; readonly message: string }[];
}

/** basicAuthSpec reads the basic-auth annotations of `ing`; undefined without `auth-type`. Pure: the compiler reports the problems, the Secret reader ignores them. */
export function basicAuthSpec(ing: Ingress): BasicAuthSpec | undefined {
  const all = ing.metadata.annotations ?? {};
  const get = (name: string): string | undefined => all[PREFIX + name];
  const type = get('auth-type');
  if (type === undefined) return undefined;
  const id = keyOf(ing);
  const problems: { code: 'ING_ERR_INGRESS_INVALID_ANNOTATION'; message: string }[] = [];
  const bad = (name: string, value: string, allowed: string, outcome: string): void => {
    problems.push({ code: 'ING_ERR_INGRESS_INVALID_ANNOTATION', message: `annotation ${PREFIX}${name} is ${quote(value)}, expected ${allowed}; ${outcome}` });
  };
  const deny = (reason: string): BasicAuthSpec => ({ auth: { id, denied: reason, realm: '', credentials: '' }, problems });
  if (type === 'digest') {
    bad('auth-type', type, '"basic" (Flusso does not do digest authentication)', DENIED);
    return deny('auth-type digest is not supported');
  }
  if (type !== 'basic') {
    bad('auth-type', type, '"basic" or "digest"', DENIED);
    return deny('auth-type is not valid');
  }
  const secretType = get('auth-secret-type') ?? 'auth-file';
  if (secretType !== 'auth-file' && secretType !== 'auth-map') {
    bad('auth-secret-type', secretType, '"auth-file" (the key auth holds htpasswd lines) or "auth-map" (each key a user, its value the hash)', DENIED);
    return deny('auth-secret-type is not valid');
  }
  const secret = get('auth-secret');
  const namespace = ing.metadata.namespace ?? 'default';
  const m = secret === undefined ? null : /^(?:([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/)?([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(secret.trim());
  if (secret === undefined || m === null) {
    bad('auth-secret', secret ?? '(none)', 'the name of a Secret ("name" or "namespace/name")', DENIED);
    return deny('auth-secret is missing or not a Secret name');
  }
  if (m[1] !== undefined && m[1] !== namespace) {
    bad('auth-secret', secret, `a Secret in the Ingress's namespace ${namespace} (Flusso reads no Secret across namespaces, as ingress-nginx with allow-cross-namespace-resources off)`, DENIED);
    return deny('auth-secret is in another namespace');
  }
  let realm = get('auth-realm') ?? '';
  if (/[\u0000-\u001f\u007f"\\]/.test(realm)) {
    bad('auth-realm', realm, 'a text without quotes, backslashes or control characters', 'the realm is ""');
    realm = '';
  }
  const key = `${namespace}/${m[3] as string}`;
  return { auth: { id, realm, credentials: credentialsKey(secretType, key) }, secret: { key, type: secretType }, problems };
}

/** applyBasicAuth is the compile step that puts each Ingress's basic authentication on its routes. */
export const applyBasicAuth: Processor = (state: CompileState) => {
  const auths = new Map<string, RouteBasicAuth>();
  for (const ing of state.ingresses) {
    const spec = basicAuthSpec(ing);
    if (spec === undefined) {
      const orphans = ['auth-secret', 'auth-secret-type', 'auth-realm'].filter((n) => ing.metadata.annotations?.[PREFIX + n] !== undefined);
      if (orphans.length > 0) report(state, 'ING_ERR_INGRESS_UNSUPPORTED', 'warning', describeObject(ing), `annotations ${orphans.map((n) => PREFIX + n).join(', ')} have no effect without ${PREFIX}auth-type; ignored`);
      continue;
    }
    for (const p of spec.problems) report(state, p.code, 'error', describeObject(ing), p.message);
    auths.set(spec.auth.id, spec.auth);
  }
  if (auths.size === 0) return;
  const withAuth = (route: Route): Route => {
    const auth = auths.get(route.source);
    return auth === undefined ? route : { ...route, basicAuth: auth };
  };
  for (const routes of state.hosts.values()) for (const [key, route] of routes) routes.set(key, withAuth(route));
  if (state.defaultBackend !== null) state.defaultBackend = withAuth(state.defaultBackend);
};
