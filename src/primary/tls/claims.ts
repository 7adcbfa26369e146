/**
 * Which certificate each TLS host asks for: the pure part of the TLS manager. Every `hosts`
 * entry of an Ingress's `spec.tls` claims that host for the Secret `secretName` names, in the
 * Ingress's namespace. When Ingresses name different Secrets for one host, the oldest wins (as
 * routes do) and the others get a diagnostic.
 */
import type { Diagnostic } from '../../shared/errors.js';
import { objectKey } from '../../shared/keys.js';
import { olderFirst } from '../compile/ingress-class.js';
import { normaliseHost } from '../compile/match-rules.js';
import { describeObject, keyOf, type Ingress } from '../model.js';

/** TlsClaim is one host's certificate request. */
export interface TlsClaim {
  /** Lower-case; exact or a one-label wildcard (`*.example.com`). */
  readonly host: string;
  /** The Secret as `namespace/name`; null when the entry names none (the host gets the default certificate). */
  readonly secret: string | null;
  /** The Ingress that won the host (`namespace/name`). */
  readonly ingress: string;
}

/** TlsClaims are the winning claims, sorted by host, and the diagnostics of the losing ones. */
export interface TlsClaims {
  readonly claims: readonly TlsClaim[];
  readonly diagnostics: readonly Diagnostic[];
}

/** claimTlsHosts resolves the TLS hosts of our Ingresses (any order in; oldest wins). */
export function claimTlsHosts(ingresses: Iterable<Ingress>): TlsClaims {
  const byHost = new Map<string, TlsClaim>();
  const diagnostics: Diagnostic[] = [];
  for (const ing of [...ingresses].sort(olderFirst)) {
    const namespace = ing.metadata.namespace ?? 'default';
    for (const entry of ing.spec?.tls ?? []) {
      const secret = entry.secretName === undefined || entry.secretName === '' ? null : objectKey(namespace, entry.secretName);
      for (const raw of entry.hosts ?? []) {
        const host = normaliseHost(raw.trim().replace(/\.$/, ''));
        if (host === undefined) {
          diagnostics.push({ code: 'ING_ERR_INGRESS_INVALID_HOST', severity: 'error', object: describeObject(ing), message: `spec.tls host ${JSON.stringify(raw)} is not a valid DNS name; ignored` });
          continue;
        }
        const winner = byHost.get(host);
        if (winner === undefined) byHost.set(host, { host, secret, ingress: keyOf(ing) });
        else if (winner.secret !== secret && winner.ingress !== keyOf(ing))
          diagnostics.push({
            code: 'ING_ERR_TLS_HOST_CONFLICT',
            severity: 'error',
            object: describeObject(ing),
            message: `TLS host ${JSON.stringify(host)} is already served with ${winner.secret === null ? 'the default certificate' : `Secret ${winner.secret}`} by the older Ingress ${winner.ingress}; this Ingress's Secret is not used for it`,
          });
      }
    }
  }
  return { claims: [...byHost.values()].sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0)), diagnostics };
}
