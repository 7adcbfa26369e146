/**
 * The Kubernetes source: one supervised list/watch per collection (and per namespace when
 * `--watch-namespace` narrows it) feeding an ObjectStore. It reports nothing before every
 * collection has listed once, so a starting Flusso never serves a half-empty table, and it
 * keeps the last state through API outages (the watchers retry; the store is never cleared).
 *
 * TLS Secrets are watched (type kubernetes.io/tls only), but once the TLS manager has said which
 * Secrets our Ingresses name (retainSecrets), only those are kept in memory; the others are
 * remembered by name alone, and fetched when an Ingress starts to name them. A named Secret the
 * watch does not cover (a basic-auth htpasswd Secret, type Opaque) is read by name, and read again
 * every POLL_SECRET_MS while it is named: a change applies within that time, without a watch on
 * every Secret of the cluster.
 */
import type * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { IngressError, type Diagnostic } from '../../shared/errors.js';
import type { Source, SourceChange, SourceUpdate, WatchHealth } from '../sources/source.js';
import { validateObject, validateSecret } from '../sources/validate-object.js';
import { SERVICE_NAME_LABEL } from '../model.js';
import { SecretStore } from '../secrets.js';
import { objectKey } from '../../shared/keys.js';
import { MAX_MESSAGE_CHARS, truncateText } from '../diagnostics.js';
import { ObjectStore, sliceService } from '../store.js';
import { RESOURCES, createWatchClient, readSecret, type ResourceSpec, type WatchedKind } from './resources.js';
import { ResourceWatcher, type RawObject, type WatchClient } from './watch.js';

/** LoadBalancerIngress is one `status.loadBalancer.ingress[]` entry of an Ingress. */
export interface LoadBalancerIngress {
  readonly ip?: string;
  readonly hostname?: string;
}

/** How often a named Secret outside the TLS watch (a basic-auth Secret) is read again. */
export const POLL_SECRET_MS = 30_000;

/** TLS_SECRET_SELECTOR narrows the Secret watch to certificates. */
export const TLS_SECRET_SELECTOR = 'type=kubernetes.io/tls';

/** KubernetesSourceOptions configures a KubernetesSource. */
export interface KubernetesSourceOptions {
  readonly kubeConfig: k8s.KubeConfig;
  readonly log: Logger;
  /** Namespaces to watch; empty watches all. IngressClasses are always cluster-wide. */
  readonly namespaces?: readonly string[];
  /** Label selector for Ingresses. */
  readonly labelSelector?: string;
  /** Watch loop tuning (tests shorten it). */
  readonly watch?: { readonly initialBackoffMs?: number; readonly maxBackoffMs?: number; readonly watchdogMs?: number };
  /** Replaces the client-node glue (tests). */
  readonly clientFor?: (spec: ResourceSpec, namespace: string | undefined) => WatchClient;
  /** Reads one Secret (GET); undefined when it does not exist. Defaults to client-node. */
  readonly readSecret?: (namespace: string, name: string) => Promise<RawObject | undefined>;
  readonly now?: () => number;
}

/** KubernetesSource watches the API and implements Source. */
export class KubernetesSource implements Source {
  /** name identifies the source kind in logs and the GUI. */
  readonly name = 'kubernetes';
  readonly #log: Logger;
  readonly #store = new ObjectStore();
  readonly #secrets = new SecretStore();
  /** Every TLS Secret seen (`namespace/name`), kept or not. */
  readonly #known = new Set<string>();
  /** The Secrets to keep (retainSecrets); null until the TLS manager first says: keep all. */
  #referenced: ReadonlySet<string> | null = null;
  readonly #fetching = new Set<string>();
  /** Named Secrets outside the TLS watch, read by name again every POLL_SECRET_MS. */
  readonly #polled = new Set<string>();
  #pollTimer: ReturnType<typeof setInterval> | undefined;
  readonly #readSecret: (namespace: string, name: string) => Promise<RawObject | undefined>;
  readonly #loadBalancers = new Map<string, readonly LoadBalancerIngress[]>();
  readonly #diagnostics = new Map<string, Diagnostic>();
  readonly #watchers: ResourceWatcher[] = [];
  readonly #down = new Set<string>();
  readonly #now: () => number;
  /** Watches that have not listed yet; start() waits for it to empty. */
  readonly #unlisted = new Set<string>();
  #allListed: (() => void) | undefined;
  #outageSinceMs: number | undefined;
  #onUpdate: ((u: SourceUpdate) => void) | undefined;
  #synced = false;
  #stopped = false;

  constructor(opts: KubernetesSourceOptions) {
    this.#log = opts.log;
    this.#now = opts.now ?? Date.now;
    this.#readSecret = opts.readSecret ?? ((namespace, name) => readSecret(opts.kubeConfig, namespace, name));
    const namespaces = opts.namespaces ?? [];
    if (namespaces.some((ns) => ns === '')) throw new IngressError('ING_ERR_CONFIG_INVALID', 'a watched namespace must not be empty');
    const clientFor = opts.clientFor ?? ((spec, ns) => createWatchClient(opts.kubeConfig, spec, ns, selectorsFor(spec.kind, opts.labelSelector)));
    for (const spec of RESOURCES) {
      const scopes: (string | undefined)[] = spec.namespaced && namespaces.length > 0 ? [...new Set(namespaces)] : [undefined];
      for (const ns of scopes) {
        const name = ns === undefined ? spec.plural : `${spec.plural} in ${ns}`;
        this.#unlisted.add(name);
        this.#watchers.push(
          new ResourceWatcher({
            name,
            client: clientFor(spec, ns),
            log: opts.log,
            ...opts.watch,
            handlers: {
              upsert: (obj) => this.#upsert(spec.kind, obj),
              delete: (obj) => this.#delete(spec.kind, obj),
              health: (ok, err) => this.#health(name, ok, err),
              synced: () => {
                this.#unlisted.delete(name);
                if (this.#unlisted.size === 0) this.#allListed?.();
              },
            },
          }),
        );
      }
    }
  }

  /**
   * start resolves once every collection has listed once, after calling onUpdate with that
   * state. While the API is unreachable it keeps retrying (and /readyz stays 503).
   */
  async start(onUpdate: (u: SourceUpdate) => void): Promise<void> {
    if (this.#onUpdate !== undefined) throw new IngressError('ING_ERR_CONFIG_INVALID', 'KubernetesSource started twice');
    this.#onUpdate = onUpdate;
    const listed = new Promise<void>((resolve) => (this.#allListed = resolve));
    for (const w of this.#watchers) w.start();
    await listed;
    if (this.#stopped) return;
    this.#synced = true;
    this.#log.info({ objects: this.#store.size, secrets: this.#secrets.size, watches: this.#watchers.length }, 'kubernetes objects listed');
    onUpdate(this.#update());
  }

  /** stop ends every watch; no onUpdate call follows. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#pollTimer);
    this.#allListed?.();
    await Promise.all(this.#watchers.map((w) => w.stop()));
  }

  /** loadBalancerOf is `status.loadBalancer.ingress` of an Ingress as last seen (`namespace/name`). */
  loadBalancerOf(key: string): readonly LoadBalancerIngress[] | undefined {
    return this.#loadBalancers.get(key);
  }

  /** ingressKeys lists every Ingress seen, whatever its class. */
  ingressKeys(): Iterable<string> {
    return this.#loadBalancers.keys();
  }

  /** secrets are the TLS Secrets kept (see the module comment). */
  get secrets(): SecretStore {
    return this.#secrets;
  }

  /**
   * retainSecrets keeps exactly the Secrets named in `keys` (`namespace/name`) in memory from now
   * on: the others are dropped (their names stay known), and a named Secret that exists but is
   * not held is fetched; until it arrives it is `'pending'`, and its arrival is a change.
   */
  retainSecrets(keys: ReadonlySet<string>): void {
    this.#referenced = keys;
    for (const key of [...this.#secrets.keys()]) if (!keys.has(key)) this.#secrets.delete(key);
    for (const key of [...this.#polled]) if (!keys.has(key)) this.#polled.delete(key);
    for (const key of keys) {
      if (this.#known.has(key)) {
        if (this.#secrets.secret(...splitKey(key)) === undefined) this.#fetch(key);
      } else if (!this.#polled.has(key)) {
        this.#polled.add(key);
        this.#fetch(key);
      }
    }
    if (this.#polled.size > 0 && !this.#stopped) this.#pollTimer ??= setInterval(() => this.#poll(), POLL_SECRET_MS).unref();
    else if (this.#pollTimer !== undefined) {
      clearInterval(this.#pollTimer);
      this.#pollTimer = undefined;
    }
  }

  /** #poll reads the named Secrets outside the watch again; a change is reported as one. */
  #poll(): void {
    // Not marked pending: a held Secret keeps serving, a missing one stays missing, until the read says otherwise.
    for (const key of this.#polled) if (!this.#known.has(key)) this.#fetch(key, false);
  }

  #fetch(key: string, mark = true): void {
    if (this.#fetching.has(key) || this.#stopped) return;
    this.#fetching.add(key);
    if (mark) this.#secrets.markPending(key);
    this.#readSecret(...splitKey(key)).then(
      (raw) => {
        this.#fetching.delete(key);
        if (this.#stopped || this.#referenced?.has(key) === false) return;
        if (raw === undefined) {
          this.#known.delete(key);
          // Held or pending before: a change (a pending one is now reported missing). A polled Secret still missing is none.
          const was = this.#secrets.secret(...splitKey(key));
          this.#secrets.delete(key);
          if (was !== undefined) this.#notify({ kind: 'Secret', key });
          return;
        }
        this.#keepSecret(key, raw);
      },
      (err: unknown) => {
        this.#fetching.delete(key);
        this.#log.warn({ err, code: 'ING_ERR_K8S_API_UNREACHABLE', secret: key }, 'cannot read a Secret; retrying');
        setTimeout(() => {
          if (this.#referenced?.has(key) === true && this.#secrets.secret(...splitKey(key)) === 'pending') this.#fetch(key);
        }, 5000).unref();
      },
    );
  }

  /** #keepSecret stores a Secret the source keeps and reports the change. */
  #keepSecret(key: string, raw: RawObject): void {
    try {
      if (this.#secrets.upsert(validateSecret(normalize(raw)))) this.#notify({ kind: 'Secret', key });
    } catch (err) {
      // The API validates Secrets; a malformed one is reported by the TLS manager as missing.
      this.#log.warn({ err, secret: key }, 'malformed Secret from the API: ignored');
      if (this.#secrets.delete(key)) this.#notify({ kind: 'Secret', key });
    }
  }

  #update(changes?: readonly SourceChange[]): SourceUpdate {
    const update = { view: this.#store, secrets: this.#secrets, diagnostics: [...this.#diagnostics.values()] };
    return changes === undefined ? update : { ...update, changes };
  }

  #notify(change: SourceChange): void {
    if (!this.#synced || this.#stopped) return;
    this.#onUpdate?.(this.#update([change]));
  }

  /** #change describes a change of `key`; an EndpointSlice's names its Services, old and new. */
  #change(kind: WatchedKind, key: string, next: RawObject | undefined): SourceChange {
    if (kind !== 'EndpointSlice') return { kind, key };
    const services = new Set<string>();
    const old = this.#store.get('EndpointSlice', key);
    const before = old === undefined ? undefined : sliceService(old);
    if (before !== undefined) services.add(before);
    const name = (next?.metadata?.labels as Record<string, unknown> | undefined)?.[SERVICE_NAME_LABEL];
    if (typeof name === 'string' && name !== '') services.add(objectKey(key.slice(0, key.indexOf('/')), name));
    return { kind, key, services: [...services] };
  }

  #upsert(kind: WatchedKind, raw: RawObject): void {
    const key = keyOfRaw(kind, raw);
    if (kind === 'Secret') {
      this.#known.add(key);
      if (this.#referenced === null || this.#referenced.has(key)) this.#keepSecret(key, raw);
      return;
    }
    if (kind === 'Ingress') this.#loadBalancers.set(key, loadBalancerOfRaw(raw));
    const diagKey = `${kind} ${key}`;
    const change = this.#change(kind, key, raw);
    let changed: boolean;
    try {
      const obj = validateObject(kind, normalize(raw));
      changed = this.#diagnostics.delete(diagKey);
      changed = this.#store.upsert(obj) || changed;
    } catch (err) {
      const message = truncateText(err instanceof IngressError ? err.message : String(err), MAX_MESSAGE_CHARS);
      const old = this.#diagnostics.get(diagKey);
      changed = old?.message !== message;
      if (changed) this.#log.warn({ code: 'ING_ERR_K8S_OBJECT_INVALID', object: diagKey, reason: message }, 'invalid object: keeping its last good version');
      this.#diagnostics.set(diagKey, { code: 'ING_ERR_K8S_OBJECT_INVALID', severity: 'error', object: diagKey, message: `${message}; its last good version stays in service` });
    }
    if (changed) this.#notify(change);
  }

  #delete(kind: WatchedKind, raw: RawObject): void {
    const key = keyOfRaw(kind, raw);
    if (kind === 'Secret') {
      this.#known.delete(key);
      if (this.#secrets.delete(key)) this.#notify({ kind: 'Secret', key });
      return;
    }
    if (kind === 'Ingress') this.#loadBalancers.delete(key);
    const changed = this.#diagnostics.delete(`${kind} ${key}`);
    const change = this.#change(kind, key, undefined);
    if (this.#store.delete(kind, key) || changed) this.#notify(change);
  }

  /** health reports each watch: up once listed and while connected. */
  health(): readonly WatchHealth[] {
    return this.#watchers.map((w) => ({ watch: w.name, up: !this.#unlisted.has(w.name) && !this.#down.has(w.name) }));
  }

  /** #health tracks an API outage: logged when it starts, and once more with its duration when every watch is back. */
  #health(watch: string, ok: boolean, err?: unknown): void {
    if (!ok) {
      this.#down.add(watch);
      if (this.#outageSinceMs === undefined) {
        this.#outageSinceMs = this.#now();
        this.#log.warn({ code: 'ING_ERR_K8S_API_UNREACHABLE', watch, err }, 'kubernetes API unreachable: serving the last snapshot, retrying');
      }
      return;
    }
    this.#down.delete(watch);
    if (this.#down.size === 0 && this.#outageSinceMs !== undefined) {
      const durationMs = this.#now() - this.#outageSinceMs;
      this.#outageSinceMs = undefined;
      this.#log.warn({ code: 'ING_ERR_K8S_API_UNREACHABLE', durationMs }, 'kubernetes API outage ended');
    }
  }
}

function splitKey(key: string): [string, string] {
  const slash = key.indexOf('/');
  return [key.slice(0, slash), key.slice(slash + 1)];
}

function selectorsFor(kind: WatchedKind, labelSelector: string | undefined): { labelSelector?: string; fieldSelector?: string } {
  if (kind === 'Secret') return { fieldSelector: TLS_SECRET_SELECTOR };
  if (kind === 'Ingress' && labelSelector !== undefined) return { labelSelector };
  return {};
}

function keyOfRaw(kind: WatchedKind, raw: RawObject): string {
  const name = String(raw.metadata?.name ?? '');
  if (kind === 'IngressClass') return name;
  const ns = raw.metadata?.namespace;
  return `${typeof ns === 'string' && ns !== '' ? ns : 'default'}/${name}`;
}

/** normalize makes list and watch copies of one object equal: one timestamp format. */
function normalize(raw: RawObject): Readonly<Record<string, unknown>> {
  const meta = raw.metadata;
  const created = meta?.creationTimestamp;
  if (typeof created !== 'string') return raw;
  const ms = Date.parse(created);
  if (Number.isNaN(ms)) return raw;
  return { ...raw, metadata: { ...meta, creationTimestamp: new Date(ms).toISOString() } };
}

function loadBalancerOfRaw(raw: RawObject): readonly LoadBalancerIngress[] {
  const status = raw.status as { loadBalancer?: { ingress?: unknown } } | undefined;
  const list = status?.loadBalancer?.ingress;
  if (!Array.isArray(list)) return [];
  return list.flatMap((e: unknown) => {
    const r = e as { ip?: unknown; hostname?: unknown } | null;
    if (r === null || typeof r !== 'object') return [];
    return [{ ...(typeof r.ip === 'string' ? { ip: r.ip } : {}), ...(typeof r.hostname === 'string' ? { hostname: r.hostname } : {}) }];
  });
}
