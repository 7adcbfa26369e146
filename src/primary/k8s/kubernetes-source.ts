/**
 * The Kubernetes source: one supervised list/watch per collection (and per namespace when
 * `--watch-namespace` narrows it) feeding a ClusterStore. It reports nothing before every
 * collection has listed once, so a starting Flusso never serves a half-empty table, and it
 * keeps the last state through API outages (the watchers retry; the store is never cleared).
 */
import type * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { IngressError, type Diagnostic } from '../../shared/errors.js';
import type { Source, SourceChange, SourceUpdate, WatchHealth } from '../sources/source.js';
import { validateObject } from '../sources/validate-object.js';
import { SERVICE_NAME_LABEL } from '../model.js';
import { objectKey } from '../../shared/keys.js';
import { ClusterStore, sliceService } from '../store.js';
import { RESOURCES, createWatchClient, type ResourceSpec, type WatchedKind } from './resources.js';
import { ResourceWatcher, type RawObject, type WatchClient } from './watch.js';

/** LoadBalancerIngress is one `status.loadBalancer.ingress[]` entry of an Ingress. */
export interface LoadBalancerIngress {
  readonly ip?: string;
  readonly hostname?: string;
}

/** TlsSecret is a `kubernetes.io/tls` Secret as kept for the coming TLS work. */
export interface TlsSecret {
  readonly namespace: string;
  readonly name: string;
  readonly resourceVersion?: string;
  readonly data: Readonly<Record<string, string>>;
}

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
  readonly now?: () => number;
}

/** KubernetesSource watches the API and implements Source. */
export class KubernetesSource implements Source {
  /** name identifies the source kind in logs and the GUI. */
  readonly name = 'kubernetes';
  readonly #log: Logger;
  readonly #store = new ClusterStore();
  readonly #secrets = new Map<string, TlsSecret>();
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

  /** tlsSecret returns a kept `kubernetes.io/tls` Secret. */
  tlsSecret(namespace: string, name: string): TlsSecret | undefined {
    return this.#secrets.get(`${namespace}/${name}`);
  }

  #update(changes?: readonly SourceChange[]): SourceUpdate {
    const update = { view: this.#store, diagnostics: [...this.#diagnostics.values()] };
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
    const meta = raw.metadata ?? {};
    const key = keyOfRaw(kind, raw);
    if (kind === 'Secret') {
      const data = (raw.data ?? {}) as Record<string, string>;
      this.#secrets.set(key, { namespace: String(meta.namespace ?? 'default'), name: String(meta.name), ...(typeof meta.resourceVersion === 'string' ? { resourceVersion: meta.resourceVersion } : {}), data });
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
      const message = err instanceof IngressError ? err.message : String(err);
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
      this.#secrets.delete(key);
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
