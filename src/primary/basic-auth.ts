/**
 * The credentials of `auth-type: basic` (issue 15 group 6, docs/annotations.md "Basic
 * authentication"): read from the Secrets our Ingresses name, apart from the compiler (which never
 * sees Secrets), and sent to every worker (BasicAuthMessage). An `auth-file` Secret's key `auth`
 * holds htpasswd lines; an `auth-map` Secret's keys are users and its values their hashes. A line
 * or user whose hash Flusso cannot check is a diagnostic (that user cannot sign in), never a
 * silent refusal of everyone; a Secret that is missing leaves its routes refusing every request
 * (503, as ingress-nginx denies the location). Pure: Ingresses and Secrets in, credentials and
 * diagnostics out.
 */
import type { BasicAuthCredentials, UserHash } from '../shared/basic-auth.js';
import type { Diagnostic } from '../shared/errors.js';
import { hashKind, parseHtpasswd } from '../shared/htpasswd.js';
import { basicAuthSpec } from './compile/basic-auth-annotations.js';
import { describeObject, type Ingress, type SecretView } from './model.js';

/** BasicAuthAssembly is the credentials, what is wrong with them, and the Secrets read. */
export interface BasicAuthAssembly {
  readonly credentials: BasicAuthCredentials;
  readonly diagnostics: readonly Diagnostic[];
  /** The Secrets (`namespace/name`) the Ingresses name: the kubernetes source keeps them. */
  readonly referenced: ReadonlySet<string>;
}

/** assembleBasicAuth reads the credentials of `ingresses` (ours) from `secrets`. */
export function assembleBasicAuth(ingresses: Iterable<Ingress>, secrets: SecretView): BasicAuthAssembly {
  const credentials: Record<string, Record<string, UserHash>> = {};
  const diagnostics: Diagnostic[] = [];
  const referenced = new Set<string>();
  for (const ing of ingresses) {
    const spec = basicAuthSpec(ing);
    if (spec?.secret === undefined) continue;
    const { key, type } = spec.secret;
    referenced.add(key);
    const object = describeObject(ing);
    const say = (message: string): void => {
      diagnostics.push({ code: 'ING_ERR_INGRESS_INVALID_ANNOTATION', severity: 'error', object, message });
    };
    if (spec.auth.credentials in credentials) continue;
    const slash = key.indexOf('/');
    const secret = secrets.secret(key.slice(0, slash), key.slice(slash + 1));
    if (secret === 'pending') continue; // being fetched: its routes refuse (503) until it arrives
    if (secret === undefined) {
      say(`the auth-secret Secret ${key} does not exist: every request to this Ingress is refused (503) until it does`);
      continue;
    }
    const users: Record<string, UserHash> = {};
    if (type === 'auth-file') {
      const data = secret.data.auth;
      if (data === undefined) {
        say(`the auth-secret Secret ${key} has no key "auth" (auth-secret-type auth-file): every request to this Ingress is refused (503)`);
        continue;
      }
      for (const line of parseHtpasswd(Buffer.from(data, 'base64').toString('utf8'))) {
        if ('problem' in line) say(`line ${line.line} of the auth-secret Secret ${key} ${line.problem}; that line is skipped`);
        else if (!(line.user in users)) users[line.user] = { hash: line.hash, kind: line.kind };
      }
    } else {
      for (const [user, value] of Object.entries(secret.data)) {
        const hash = Buffer.from(value, 'base64').toString('utf8').trim();
        const kind = hashKind(hash);
        if (kind === undefined) say(`user ${JSON.stringify(user)} of the auth-secret Secret ${key} has a hash format Flusso does not check (supported: bcrypt $2a$/$2b$/$2y$, $apr1$, $1$, $5$, $6$, {SHA}, {SSHA}, {PLAIN}); that user cannot sign in`);
        else users[user] = { hash, kind };
      }
    }
    if (Object.keys(users).length === 0) say(`the auth-secret Secret ${key} holds no user Flusso can check: every request to this Ingress is answered 401`);
    credentials[spec.auth.credentials] = users;
  }
  return { credentials, diagnostics, referenced };
}
