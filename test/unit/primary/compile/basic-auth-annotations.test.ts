/**
 * ingress-nginx `auth-type: basic` in the compiler and the Secret reader (issue 15 group 6): the
 * annotations read as ingress-nginx's auth parser reads them, a value it denies the location for
 * refuses every request (503, never open), and the credentials read from auth-file and auth-map
 * Secrets, with a diagnostic for what cannot be checked.
 */
import { describe, expect, it } from 'vitest';
import { assembleBasicAuth } from '../../../../src/primary/basic-auth.js';
import type { Ingress, SecretView, TlsSecret } from '../../../../src/primary/model.js';
import type { RouteBasicAuth } from '../../../../src/shared/basic-auth.js';
import type { Diagnostic } from '../../../../src/shared/errors.js';
import { backend, compileObjects as compileAll, ingress, ingressClass, path, rule, service } from '../../../helpers/k8s.js';

const N = 'nginx.ingress.kubernetes.io/';
const DENIED = 'every request to this Ingress is refused (503) until it is fixed, as ingress-nginx denies the location';

const web = (annotations: Record<string, string>): Ingress => ingress('shop/web', { annotations, rules: [rule('web.test', path('/', backend('web')))] });
const authOf = (annotations: Record<string, string>): RouteBasicAuth | undefined => compileAll([ingressClass(), web(annotations), service('shop/web')]).table.hosts[0]!.routes[0]!.basicAuth;
const problems = (annotations: Record<string, string>): Diagnostic[] => compileAll([ingressClass(), web(annotations), service('shop/web')]).diagnostics.filter((d) => d.code.startsWith('ING_ERR_INGRESS_'));
const invalid = (message: string): Diagnostic => ({ code: 'ING_ERR_INGRESS_INVALID_ANNOTATION', severity: 'error', object: 'Ingress shop/web', message });

describe('basic-auth annotations', () => {
  it.each<[string, Record<string, string>, RouteBasicAuth | undefined]>([
    ['none', {}, undefined],
    ['auth-file by default, the Ingress namespace', { [`${N}auth-type`]: 'basic', [`${N}auth-secret`]: 'users' }, { id: 'shop/web', realm: '', credentials: 'auth-file shop/users' }],
    ['auth-map, namespace/name, a realm', { [`${N}auth-type`]: 'basic', [`${N}auth-secret`]: 'shop/users', [`${N}auth-secret-type`]: 'auth-map', [`${N}auth-realm`]: 'Staff only' }, { id: 'shop/web', realm: 'Staff only', credentials: 'auth-map shop/users' }],
  ])('%s', (_name, annotations, want) => {
    expect(authOf(annotations)).toEqual(want);
    expect(problems(annotations)).toEqual([]);
  });

  it.each<[string, Record<string, string>, string]>([
    ['digest', { [`${N}auth-type`]: 'digest', [`${N}auth-secret`]: 'users' }, `annotation ${N}auth-type is "digest", expected "basic" (Flusso does not do digest authentication); ${DENIED}`],
    ['an unknown type', { [`${N}auth-type`]: 'Basic', [`${N}auth-secret`]: 'users' }, `annotation ${N}auth-type is "Basic", expected "basic" or "digest"; ${DENIED}`],
    ['no secret', { [`${N}auth-type`]: 'basic' }, `annotation ${N}auth-secret is "(none)", expected the name of a Secret ("name" or "namespace/name"); ${DENIED}`],
    ['another namespace', { [`${N}auth-type`]: 'basic', [`${N}auth-secret`]: 'other/users' }, `annotation ${N}auth-secret is "other/users", expected a Secret in the Ingress's namespace shop (Flusso reads no Secret across namespaces, as ingress-nginx with allow-cross-namespace-resources off); ${DENIED}`],
    ['a bad secret type', { [`${N}auth-type`]: 'basic', [`${N}auth-secret`]: 'users', [`${N}auth-secret-type`]: 'file' }, `annotation ${N}auth-secret-type is "file", expected "auth-file" (the key auth holds htpasswd lines) or "auth-map" (each key a user, its value the hash); ${DENIED}`],
  ])('%s: one diagnostic, every request refused', (_name, annotations, message) => {
    expect(authOf(annotations)?.denied).toEqual(expect.any(String));
    expect(problems(annotations)).toEqual([invalid(message)]);
  });

  it('a realm with a quote is a diagnostic and the realm is empty', () => {
    const annotations = { [`${N}auth-type`]: 'basic', [`${N}auth-secret`]: 'users', [`${N}auth-realm`]: 'say "hi"' };
    expect(authOf(annotations)?.realm).toBe('');
    expect(problems(annotations)).toEqual([invalid(`annotation ${N}auth-realm is "say \\"hi\\"", expected a text without quotes, backslashes or control characters; the realm is ""`)]);
  });

  it('warns about auth-secret without auth-type', () => {
    expect(problems({ [`${N}auth-secret`]: 'users' })).toEqual([{ code: 'ING_ERR_INGRESS_UNSUPPORTED', severity: 'warning', object: 'Ingress shop/web', message: `annotations ${N}auth-secret have no effect without ${N}auth-type; ignored` }]);
  });
});

describe('assembleBasicAuth', () => {
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  const view = (secrets: TlsSecret[], pending: string[] = []): SecretView => ({
    secret: (ns, name) => (pending.includes(`${ns}/${name}`) ? 'pending' : secrets.find((s) => s.namespace === ns && s.name === name)),
  });
  const file = web({ [`${N}auth-type`]: 'basic', [`${N}auth-secret`]: 'users' });
  const map = ingress('shop/map', { annotations: { [`${N}auth-type`]: 'basic', [`${N}auth-secret`]: 'users', [`${N}auth-secret-type`]: 'auth-map' } });

  it('reads auth-file and auth-map Secrets, the first line of a user winning, and says what it cannot check', () => {
    const users: TlsSecret = { namespace: 'shop', name: 'users', type: 'Opaque', data: { auth: b64('ann:{PLAIN}a\nann:{PLAIN}second\nold:abJnggxhB/yWI\n'), bob: b64('{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M='), eve: b64('not-a-hash') } };
    const got = assembleBasicAuth([file, map], view([users]));
    expect(got.credentials).toEqual({
      'auth-file shop/users': { ann: { hash: '{PLAIN}a', kind: 'plain' } },
      'auth-map shop/users': { bob: { hash: '{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=', kind: 'sha' } },
    });
    expect(got.referenced).toEqual(new Set(['shop/users']));
    expect(got.diagnostics.map((d) => [d.object, d.message])).toEqual([
      ['Ingress shop/web', 'line 3 of the auth-secret Secret shop/users for user "old" has a hash format Flusso does not check (supported: bcrypt $2a$/$2b$/$2y$, $apr1$, $1$, $5$, $6$, {SHA}, {SSHA}, {PLAIN}); that line is skipped'],
      ['Ingress shop/map', 'user "auth" of the auth-secret Secret shop/users has a hash format Flusso does not check (supported: bcrypt $2a$/$2b$/$2y$, $apr1$, $1$, $5$, $6$, {SHA}, {SSHA}, {PLAIN}); that user cannot sign in'],
      ['Ingress shop/map', 'user "eve" of the auth-secret Secret shop/users has a hash format Flusso does not check (supported: bcrypt $2a$/$2b$/$2y$, $apr1$, $1$, $5$, $6$, {SHA}, {SSHA}, {PLAIN}); that user cannot sign in'],
    ]);
  });

  it('leaves a missing or pending Secret out (its routes refuse, 503), saying so for a missing one; a Secret without auth is a diagnostic', () => {
    expect(assembleBasicAuth([file], view([])).diagnostics.map((d) => d.message)).toEqual(['the auth-secret Secret shop/users does not exist: every request to this Ingress is refused (503) until it does']);
    expect(assembleBasicAuth([file], view([], ['shop/users']))).toMatchObject({ credentials: {}, diagnostics: [] });
    const empty = assembleBasicAuth([file], view([{ namespace: 'shop', name: 'users', type: 'Opaque', data: {} }]));
    expect([empty.credentials, empty.diagnostics.map((d) => d.message)]).toEqual([{}, ['the auth-secret Secret shop/users has no key "auth" (auth-secret-type auth-file): every request to this Ingress is refused (503)']]);
  });
});
