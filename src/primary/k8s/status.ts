/**
 * Ingress status: the leader writes our address to `status.loadBalancer.ingress` of every
 * Ingress we serve, skips Ingresses whose status already says so, takes our address off an
 * Ingress that left our class, and never writes an Ingress that does not carry our address
 * and is not ours. Writes are JSON merge patches of `.status` (the list is replaced whole).
 */
import { isIP } from 'node:net';
import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { LoadBalancerIngress } from './kubernetes-source.js';

/** REQUEST_TIMEOUT_MS bounds each status API call: client-node sets no timeout of its own (undici's 300 s default is far too long), and a hung call would stop every later sync. */
const REQUEST_TIMEOUT_MS = 10_000;

function bounded<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`request timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** parseAddresses turns `--publish-status-address` values into status entries: IPs as `ip`, the rest as `hostname`. */
export function parseAddresses(values: readonly string[]): LoadBalancerIngress[] {
  return values.map((v) => (isIP(v) === 0 ? { hostname: v } : { ip: v }));
}

/** entryKey is one status entry as a comparable string. */
function entryKey(e: LoadBalancerIngress): string {
  return `${e.ip ?? ''}|${e.hostname ?? ''}`;
}

/** sameLoadBalancer compares two status lists as sets, in any order (ingress-nginx sorts before comparing). */
export function sameLoadBalancer(a: readonly LoadBalancerIngress[], b: readonly LoadBalancerIngress[]): boolean {
  const ka = [...new Set(a.map(entryKey))].sort();
  const kb = [...new Set(b.map(entryKey))].sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i]);
}

/** StatusWrite is one planned write: the new `status.loadBalancer.ingress` of an Ingress. */
export interface StatusWrite {
  readonly key: string;
  readonly ingress: readonly LoadBalancerIngress[];
}

/**
 * planStatus lists the writes that bring the cluster to the wanted state: `ours` get exactly
 * `addresses`; any other Ingress in `all` that carries one of `addresses` loses those entries
 * (and keeps what other controllers wrote). `current` is the status as last seen.
 */
export function planStatus(ours: Iterable<string>, all: Iterable<string>, current: (key: string) => readonly LoadBalancerIngress[] | undefined, addresses: readonly LoadBalancerIngress[]): StatusWrite[] {
  const mine = new Set(ours);
  const wanted = new Set(addresses.map(entryKey));
  const writes: StatusWrite[] = [];
  for (const key of [...mine].sort()) {
    const now = current(key);
    if (now === undefined) continue;
    if (!sameLoadBalancer(now, addresses)) writes.push({ key, ingress: addresses });
  }
  for (const key of [...new Set(all)].sort()) {
    if (mine.has(key)) continue;
    const now = current(key) ?? [];
    const kept = now.filter((e) => !wanted.has(entryKey(e)));
    if (kept.length !== now.length) writes.push({ key, ingress: kept });
  }
  return writes;
}

/** IngressStatusApi writes Ingress status and reads the published Service. */
export interface IngressStatusApi {
  patchStatus(namespace: string, name: string, ingress: readonly LoadBalancerIngress[]): Promise<void>;
  /** serviceAddresses is the LoadBalancer ingress of the Service, else its ClusterIP. */
  serviceAddresses(namespace: string, name: string): Promise<LoadBalancerIngress[]>;
}

/** createIngressStatusApi binds IngressStatusApi to client-node (a JSON merge patch of the status subresource). */
export function createIngressStatusApi(kc: k8s.KubeConfig): IngressStatusApi {
  const net = kc.makeApiClient(k8s.NetworkingV1Api);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  return {
    async patchStatus(namespace, name, ingress) {
      const body = { status: { loadBalancer: { ingress: ingress.map((e) => ({ ...e })) } } };
      await net.patchNamespacedIngressStatus({ name, namespace, body }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
    },
    async serviceAddresses(namespace, name) {
      const svc = await core.readNamespacedService({ name, namespace });
      const lb = (svc.status?.loadBalancer?.ingress ?? []).flatMap((e) => [{ ...(e.ip ? { ip: e.ip } : {}), ...(e.hostname ? { hostname: e.hostname } : {}) }]).filter((e) => e.ip !== undefined || e.hostname !== undefined);
      if (lb.length > 0) return lb;
      const ip = svc.spec?.clusterIP;
      return ip !== undefined && ip !== '' && ip !== 'None' ? [{ ip }] : [];
    },
  };
}

/** StatusView is what the writer reads of the cluster: the source's last-seen Ingress status. */
export interface StatusView {
  loadBalancerOf(key: string): readonly LoadBalancerIngress[] | undefined;
  ingressKeys(): Iterable<string>;
}

/** StatusWriterOptions configures a StatusWriter. */
export interface StatusWriterOptions {
  readonly api: IngressStatusApi;
  readonly view: StatusView;
  readonly log: Logger;
  /** Fixed addresses (--publish-status-address); used when given. */
  readonly addresses?: readonly LoadBalancerIngress[];
  /** `namespace/name` of the Service whose addresses are published (--publish-service). */
  readonly publishService?: string;
  /** Only the leader writes. */
  readonly isLeader: () => boolean;
  /** Periodic resync, as ingress-nginx's 60 s (default). */
  readonly resyncMs?: number;
}

/**
 * StatusWriter keeps our Ingresses' status in step. Syncs run one at a time; a request made
 * during a sync runs once more after it, with the newest set of Ingresses.
 */
export class StatusWriter {
  readonly #o: StatusWriterOptions;
  #ours: readonly string[] = [];
  #running: Promise<void> | undefined;
  #again = false;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  /** What we wrote, keyed by Ingress, with the status we saw then: until the watch shows a change, ours is assumed current. */
  readonly #assumed = new Map<string, { wrote: readonly LoadBalancerIngress[]; saw: readonly LoadBalancerIngress[] | undefined }>();

  constructor(opts: StatusWriterOptions) {
    if ((opts.addresses?.length ?? 0) === 0 && opts.publishService === undefined) throw new RangeError('StatusWriter needs addresses or publishService');
    this.#o = opts;
  }

  /** start schedules the periodic resync. */
  start(): void {
    const every = this.#o.resyncMs ?? 60_000;
    this.#timer = setInterval(() => this.sync(), every);
    this.#timer.unref();
  }

  /** update records the Ingresses we now serve (`namespace/name`) and syncs. */
  update(ours: readonly string[]): void {
    this.#ours = ours;
    this.sync();
  }

  /** sync writes what differs, if we lead; it never rejects. */
  sync(): Promise<void> {
    if (this.#stopped || !this.#o.isLeader()) return this.#running ?? Promise.resolve();
    if (this.#running !== undefined) {
      this.#again = true;
      return this.#running;
    }
    this.#running = this.#syncOnce(this.#ours).finally(() => {
      this.#running = undefined;
      if (this.#again) {
        this.#again = false;
        void this.sync();
      }
    });
    return this.#running;
  }

  /** clear takes our address off every Ingress (shutdown with --update-status-on-shutdown), if we lead. */
  async clear(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#running;
    if (!this.#o.isLeader()) return;
    await this.#syncOnce([]);
  }

  /** stop ends the periodic resync. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#running;
  }

  async #syncOnce(ours: readonly string[]): Promise<void> {
    let addresses: readonly LoadBalancerIngress[];
    try {
      addresses = await bounded(this.#addresses(), REQUEST_TIMEOUT_MS);
    } catch (err) {
      this.#o.log.warn({ err, code: 'ING_ERR_K8S_STATUS_UPDATE', service: this.#o.publishService }, 'cannot read the published service');
      return;
    }
    const current = (key: string): readonly LoadBalancerIngress[] | undefined => {
      const seen = this.#o.view.loadBalancerOf(key);
      const assumed = this.#assumed.get(key);
      if (assumed !== undefined && seen !== undefined && assumed.saw !== undefined && sameLoadBalancer(assumed.saw, seen)) return assumed.wrote;
      this.#assumed.delete(key);
      return seen;
    };
    const writes = planStatus(ours, this.#o.view.ingressKeys(), current, addresses);
    for (const w of writes) {
      const slash = w.key.indexOf('/');
      const [namespace, name] = [w.key.slice(0, slash), w.key.slice(slash + 1)];
      try {
        const saw = this.#o.view.loadBalancerOf(w.key);
        await bounded(this.#o.api.patchStatus(namespace, name, w.ingress), REQUEST_TIMEOUT_MS);
        this.#assumed.set(w.key, { wrote: w.ingress, saw });
        this.#o.log.info({ ingress: w.key, loadBalancer: w.ingress }, 'ingress status updated');
      } catch (err) {
        if ((err as { code?: unknown }).code === 404) continue;
        this.#o.log.warn({ err, code: 'ING_ERR_K8S_STATUS_UPDATE', ingress: w.key }, 'ingress status update failed');
      }
    }
  }

  async #addresses(): Promise<readonly LoadBalancerIngress[]> {
    if ((this.#o.addresses?.length ?? 0) > 0) return this.#o.addresses as readonly LoadBalancerIngress[];
    const [namespace = '', name = ''] = (this.#o.publishService ?? '').split('/');
    return this.#o.api.serviceAddresses(namespace, name);
  }
}
