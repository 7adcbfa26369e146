/**
 * SecretStore keeps the TLS Secrets a source has (all of the manifests' for the file source;
 * only those our Ingresses name for the kubernetes source) and answers the TLS manager's
 * lookups (SecretView). Plain data with no I/O, like ObjectStore.
 */
import { objectKey } from '../shared/keys.js';
import type { SecretView, TlsSecret } from './model.js';

/** SecretStore holds TlsSecrets by `namespace/name`, plus the keys known to exist but not fetched yet. */
export class SecretStore implements SecretView {
  readonly #secrets = new Map<string, TlsSecret>();
  readonly #pending = new Set<string>();

  /** size is the number of Secrets held (pending ones not counted). */
  get size(): number {
    return this.#secrets.size;
  }

  /** secret looks one up (SecretView). */
  secret(namespace: string, name: string): TlsSecret | 'pending' | undefined {
    const key = objectKey(namespace, name);
    return this.#secrets.get(key) ?? (this.#pending.has(key) ? 'pending' : undefined);
  }

  /** keys lists the keys of the Secrets held. */
  keys(): IterableIterator<string> {
    return this.#secrets.keys();
  }

  /** upsert stores a Secret and returns whether it changed (resourceVersions decide when both have one). */
  upsert(secret: TlsSecret): boolean {
    const key = objectKey(secret.namespace, secret.name);
    this.#pending.delete(key);
    const old = this.#secrets.get(key);
    if (old !== undefined && sameSecret(old, secret)) return false;
    this.#secrets.set(key, secret);
    return true;
  }

  /** delete drops a Secret (or its pending mark) and returns whether one was held. */
  delete(key: string): boolean {
    this.#pending.delete(key);
    return this.#secrets.delete(key);
  }

  /** markPending notes that a Secret exists and is being fetched. */
  markPending(key: string): void {
    if (!this.#secrets.has(key)) this.#pending.add(key);
  }

  /** replaceAll makes the store hold exactly `secrets` and returns the keys that changed. */
  replaceAll(secrets: Iterable<TlsSecret>): string[] {
    const next = new Map<string, TlsSecret>();
    for (const s of secrets) next.set(objectKey(s.namespace, s.name), s);
    const changed: string[] = [];
    for (const key of [...this.#secrets.keys()]) if (!next.has(key) && this.delete(key)) changed.push(key);
    for (const [key, s] of next) if (this.upsert(s)) changed.push(key);
    return changed;
  }
}

function sameSecret(a: TlsSecret, b: TlsSecret): boolean {
  if (a.resourceVersion !== undefined && b.resourceVersion !== undefined) return a.resourceVersion === b.resourceVersion;
  if (a.type !== b.type) return false;
  const ka = Object.keys(a.data);
  return ka.length === Object.keys(b.data).length && ka.every((k) => a.data[k] === b.data[k]);
}
