/**
 * ingress-nginx `auth-type: basic` (issue 15 group 6, docs/annotations.md "Basic authentication"):
 * what the compiler puts on a route (which Secret, which realm), and the credentials the primary
 * reads from those Secrets and sends every worker apart from the routing snapshot (the compiler
 * never sees Secrets). The worker executes it (worker/auth/basic-auth.ts).
 */
import type { HashKind } from './htpasswd.js';

/** RouteBasicAuth is one Ingress's basic authentication, shared by all its routes. */
export interface RouteBasicAuth {
  /** The Ingress (`namespace/name`). */
  readonly id: string;
  /** Why the annotations are refused: then every request gets 503, as ingress-nginx denies the location (never open). */
  readonly denied?: string;
  /** `auth-realm` (default ""), for `WWW-Authenticate: Basic realm="…"`. */
  readonly realm: string;
  /** The credentials' key in BasicAuthCredentials: `auth-file namespace/name` or `auth-map namespace/name`. */
  readonly credentials: string;
}

/** UserHash is one user's hash and its format. */
export interface UserHash {
  readonly hash: string;
  readonly kind: HashKind;
}

/** BasicAuthCredentials maps each RouteBasicAuth.credentials key to its users; a key absent: not readable (503). */
export type BasicAuthCredentials = Readonly<Record<string, Readonly<Record<string, UserHash>>>>;

/** BasicAuthMessage (primary → worker, after init and whenever they change): every route's credentials. */
export interface BasicAuthMessage {
  readonly type: 'basic-auth';
  readonly credentials: BasicAuthCredentials;
}

/** credentialsKey names a Secret read as `type` (auth-file or auth-map). */
export function credentialsKey(type: 'auth-file' | 'auth-map', secret: string): string {
  return `${type} ${secret}`;
}
