/**
 * The worker's side of `auth-type: basic` (issue 15 group 6, docs/annotations.md "Basic
 * authentication"): nginx's auth_basic. The credentials come from the primary
 * (BasicAuthMessage); a route whose Secret is not readable, or whose annotations are invalid,
 * refuses every request with 503 (never open). A request without `Authorization: Basic …`, with
 * an unknown user or a wrong password gets 401 with `WWW-Authenticate: Basic realm="…"`. The
 * password is checked by the HashVerifier (off the event loop when it is expensive). Nothing here
 * logs a credential.
 */
import type { BasicAuthCredentials, RouteBasicAuth, UserHash } from '../../shared/basic-auth.js';
import { CONTENT_TYPE_TEXT, statusLine } from '../proxy/errors.js';
import type { PolicyAnswer } from '../proxy/policy.js';
import type { HashVerifier } from './verifier.js';

/** BasicAuthStore holds the credentials the primary last sent. */
export class BasicAuthStore {
  credentials: BasicAuthCredentials = {};
}

/** A basic-auth decision: through, an answer, or the password to check on the thread. */
export type BasicDecision =
  | { readonly kind: 'allow' }
  | { readonly kind: 'answer'; readonly answer: PolicyAnswer }
  | { readonly kind: 'verify'; readonly user: UserHash; readonly password: Buffer; readonly key: string; readonly auth: RouteBasicAuth };

const UNAVAILABLE: PolicyAnswer = { status: 503, fields: ['Content-Type', CONTENT_TYPE_TEXT], body: `${statusLine(503)}\n` };
const challenges = new WeakMap<RouteBasicAuth, PolicyAnswer>();

/** challenge is the 401 of a route (nginx's, with its realm). */
export function challenge(auth: RouteBasicAuth): PolicyAnswer {
  let a = challenges.get(auth);
  if (a === undefined) challenges.set(auth, (a = { status: 401, fields: ['WWW-Authenticate', `Basic realm="${auth.realm}"`, 'Content-Type', CONTENT_TYPE_TEXT], body: `${statusLine(401)}\n` }));
  return a;
}

/** unavailable is the answer when the check cannot be made (503). */
export function unavailable(): PolicyAnswer {
  return UNAVAILABLE;
}

/** decideBasic decides what it can now for `authorization` (the request's Authorization field, '' when absent). */
export function decideBasic(auth: RouteBasicAuth, authorization: string, store: BasicAuthStore, verifier: HashVerifier): BasicDecision {
  if (auth.denied !== undefined) return { kind: 'answer', answer: UNAVAILABLE };
  const users = store.credentials[auth.credentials];
  if (users === undefined) return { kind: 'answer', answer: UNAVAILABLE };
  // nginx: "Basic" in any case, then spaces, then base64 of user:password.
  if (authorization.length < 6 || authorization.slice(0, 6).toLowerCase() !== 'basic ') return { kind: 'answer', answer: challenge(auth) };
  const encoded = authorization.slice(6).replace(/^ +/, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(encoded) || encoded.length % 4 === 1) return { kind: 'answer', answer: challenge(auth) };
  const decoded = Buffer.from(encoded, 'base64');
  const colon = decoded.indexOf(0x3a);
  if (colon < 0) return { kind: 'answer', answer: challenge(auth) };
  const name = decoded.subarray(0, colon).toString('utf8');
  const user = Object.hasOwn(users, name) ? users[name] : undefined;
  if (user === undefined) return { kind: 'answer', answer: challenge(auth) };
  const password = decoded.subarray(colon + 1);
  const { ok, key } = verifier.known(user.kind, user.hash, password);
  if (ok === true) return { kind: 'allow' };
  if (ok === false) return { kind: 'answer', answer: challenge(auth) };
  return { kind: 'verify', user, password, key, auth };
}
