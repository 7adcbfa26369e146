/**
 * The authentication of a route, for the request handler and the WebSocket upgrade alike (issue
 * 15 group 6): `auth-type: basic` (worker/auth/basic-auth.ts), then `auth-url`
 * (external-auth.ts), as nginx's access phase runs auth_basic before auth_request. decideAccess
 * answers at once when it can (a refusal, or credentials already known good); otherwise it gives
 * the asynchronous Gate to run while the request waits.
 */
import type { Logger } from 'pino';
import { challenge, decideBasic, unavailable, type BasicAuthStore, type BasicDecision } from '../auth/basic-auth.js';
import type { HashVerifier } from '../auth/verifier.js';
import type { Route } from '../../shared/snapshot.js';
import type { AuthRequest, AuthVerdict, ExternalAuthClient } from './external-auth.js';
import type { PolicyAnswer } from './policy.js';

/** Gate is an asynchronous access check: it calls `done` once, later. */
export type Gate = (request: AuthRequest, done: (v: AuthVerdict) => void) => void;

/** AccessDeps are a worker's authentication parts; a null part refuses its routes with 503 (never open). */
export interface AccessDeps {
  readonly basicAuth: { readonly store: BasicAuthStore; readonly verifier: HashVerifier } | null;
  readonly externalAuth: ExternalAuthClient | null;
  readonly log: Logger;
}

/** AccessDecision: answer now, or go on (after `gate`, when there is one), without the Authorization field when `dropAuthorization`. */
export type AccessDecision = { readonly answer: PolicyAnswer } | { readonly gate: Gate | null; readonly dropAuthorization: boolean };

/** Removes the client's Authorization from the upstream request (withAuthFields): ingress-nginx's `proxy_set_header Authorization ""` on a basic-auth location. */
export const NO_AUTHORIZATION: readonly string[] = ['authorization', ''];

/** authorizationOf returns the first Authorization field of a request head (lower-case names), or ''. */
export function authorizationOf(names: readonly string[], values: readonly string[]): string {
  const i = names.indexOf('authorization');
  return i < 0 ? '' : (values[i] as string);
}

/** decideAccess decides what `route`'s authentication does to a request whose Authorization field is `authorization` ('' when absent). */
export function decideAccess(route: Route, authorization: string, deps: AccessDeps): AccessDecision {
  let gate: Gate | null = null;
  let dropAuthorization = false;
  const ba = route.basicAuth;
  if (ba !== undefined) {
    if (deps.basicAuth === null) return { answer: unavailable() };
    const d = decideBasic(ba, authorization, deps.basicAuth.store, deps.basicAuth.verifier);
    if (d.kind === 'answer') return { answer: d.answer };
    dropAuthorization = true;
    if (d.kind === 'verify') gate = verifyGate(d, deps.basicAuth.verifier, deps.log);
  }
  const ea = route.externalAuth;
  if (ea !== undefined) {
    const client = deps.externalAuth;
    const external: Gate = client === null ? (_r, done) => setImmediate(done, { allow: false, answer: unavailable() }) : (r, done) => client.check(ea, r, done);
    gate = gate === null ? external : chain(gate, external);
  }
  return { gate, dropAuthorization };
}

/** verifyGate checks a basic-auth password on the verifier thread (null: its queue is full or it failed, 503). */
function verifyGate(d: Extract<BasicDecision, { kind: 'verify' }>, verifier: HashVerifier, log: Logger): Gate {
  return (_r, done) =>
    verifier.verify(d.user.kind, d.user.hash, d.password, d.key, (ok) => {
      if (ok === null) log.warn({ code: 'ING_ERR_AUTH_BUSY', ingress: d.auth.id, queued: verifier.queued }, 'password checks queue full (or the verifier thread failed); answering 503');
      done(ok === null ? { allow: false, answer: unavailable() } : ok ? { allow: true, fields: [] } : { allow: false, answer: challenge(d.auth) });
    });
}

/** chain runs `second` after `first` allowed, with both's fields. */
function chain(first: Gate, second: Gate): Gate {
  return (r, done) => first(r, (v) => (v.allow ? second(r, (w) => done(w.allow ? { ...w, fields: [...v.fields, ...w.fields] } : w)) : done(v)));
}
