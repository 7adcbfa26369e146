/**
 * Leader election on a coordination.k8s.io/v1 Lease, following client-go's leaderelection
 * package: every retry period, read the Lease; create it when missing, renew
 * it when we hold it, take it over only after its holder was *locally observed* unchanged for
 * a whole lease duration (so clock skew between pods does not matter). A leader that cannot
 * renew within the renew deadline steps down before the Lease can expire for others, and a
 * stopping leader releases the Lease so another replica takes over at its next retry.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';

/** LeaseRecord is the part of a Lease spec the election reads. */
export interface LeaseRecord {
  readonly holderIdentity?: string;
  readonly leaseDurationSeconds?: number;
  readonly renewTime?: string;
  readonly acquireTime?: string;
  readonly leaseTransitions?: number;
  /** metadata.resourceVersion: changes on every write, even when two renewals carry the same renewTime. */
  readonly resourceVersion?: string;
}

/** Observation is the holder/renewTime last seen and when (local monotonic clock). */
export interface Observation {
  readonly key: string;
  readonly atMs: number;
}

/** LeaseAction is what one election round does. */
export type LeaseAction = 'create' | 'renew' | 'acquire' | 'wait';

/**
 * decideLease is one round of the election as a pure function: given the Lease read (undefined
 * when it does not exist), our identity, what we observed before and the local time, it says
 * what to do and what we now observe.
 */
export function decideLease(lease: LeaseRecord | undefined, identity: string, observed: Observation | undefined, nowMs: number, defaultLeaseDurationMs: number): { action: LeaseAction; observed: Observation | undefined } {
  if (lease === undefined) return { action: 'create', observed: undefined };
  const key = `${lease.holderIdentity ?? ''}|${lease.renewTime ?? ''}|${lease.resourceVersion ?? ''}`;
  const seen = observed?.key === key ? observed : { key, atMs: nowMs };
  const holder = lease.holderIdentity ?? '';
  if (holder === identity) return { action: 'renew', observed: seen };
  if (holder === '') return { action: 'acquire', observed: seen };
  const durationMs = lease.leaseDurationSeconds !== undefined && lease.leaseDurationSeconds > 0 ? lease.leaseDurationSeconds * 1000 : defaultLeaseDurationMs;
  return { action: seen.atMs + durationMs <= nowMs ? 'acquire' : 'wait', observed: seen };
}

/** electionIdentity is POD_NAME, or the hostname with a random suffix so restarts count as new holders. */
export function electionIdentity(podName: string | undefined): string {
  return podName !== undefined && podName !== '' ? podName : `${hostname()}-${randomBytes(3).toString('hex')}`;
}

/** LeaseApi reads and writes one Lease; `get` resolves undefined on 404. Writes reject with `code` 409 on a conflict. */
export interface LeaseApi {
  get(): Promise<k8s.V1Lease | undefined>;
  create(lease: k8s.V1Lease): Promise<k8s.V1Lease>;
  replace(lease: k8s.V1Lease): Promise<k8s.V1Lease>;
}

/** createLeaseApi binds LeaseApi to client-node's CoordinationV1Api. */
export function createLeaseApi(kc: k8s.KubeConfig, namespace: string, name: string): LeaseApi {
  const api = kc.makeApiClient(k8s.CoordinationV1Api);
  return {
    get: async () => {
      try {
        return await api.readNamespacedLease({ name, namespace });
      } catch (err) {
        if ((err as { code?: unknown }).code === 404) return undefined;
        throw err;
      }
    },
    create: (body) => api.createNamespacedLease({ namespace, body }),
    replace: (body) => api.replaceNamespacedLease({ name, namespace, body }),
  };
}

/** LeaderElectorOptions configures a LeaderElector. */
export interface LeaderElectorOptions {
  readonly api: LeaseApi;
  /** The Lease's name (its namespace is bound in `api`). */
  readonly name: string;
  readonly identity: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  readonly log: Logger;
  readonly onStartedLeading?: () => void;
  readonly onStoppedLeading?: () => void;
  /** Monotonic clock in ms (default performance.now). */
  readonly now?: () => number;
}

/** LeaderElector runs the election loop for one identity. */
export class LeaderElector {
  readonly identity: string;
  readonly #o: LeaderElectorOptions;
  readonly #now: () => number;
  #observed: Observation | undefined;
  #leading = false;
  #lastRenewMs = 0;
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<void> | undefined;
  #stopped = false;

  constructor(opts: LeaderElectorOptions) {
    if (!(opts.retryPeriodMs > 0 && opts.retryPeriodMs < opts.renewDeadlineMs && opts.renewDeadlineMs < opts.leaseDurationMs))
      throw new RangeError('LeaderElector: need 0 < retryPeriodMs < renewDeadlineMs < leaseDurationMs');
    this.identity = opts.identity;
    this.#o = opts;
    this.#now = opts.now ?? (() => performance.now());
  }

  /** isLeader tells whether we hold the Lease now. */
  get isLeader(): boolean {
    return this.#leading;
  }

  /** start runs the first round at once, then one every retry period. */
  start(): void {
    this.#schedule(0);
  }

  /** stop ends the loop; a leader releases the Lease (empty holder) so another replica takes over fast. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#round;
    if (!this.#leading) return;
    this.#setLeading(false);
    try {
      const lease = await this.#call(this.#o.api.get());
      if (lease?.spec?.holderIdentity === this.identity)
        await this.#call(this.#o.api.replace({ ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: new k8s.V1MicroTime() } }));
      this.#o.log.info({ lease: this.#o.name, identity: this.identity }, 'leader lease released');
    } catch (err) {
      this.#o.log.warn({ err, code: 'ING_ERR_K8S_LEADER_ELECTION', lease: this.#o.name }, 'could not release the leader lease');
    }
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#round = this.#tryOnce().finally(() => this.#schedule(this.#o.retryPeriodMs));
    }, ms);
  }

  /**
   * #call bounds one API call by the renew deadline: client-node sets no request timeout of its
   * own (undici's 300 s default is far too long), and a leader stuck on a hung request must
   * still step down in time.
   */
  #call<T>(p: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`lease request timed out after ${this.#o.renewDeadlineMs} ms`)), this.#o.renewDeadlineMs);
    });
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  }

  async #tryOnce(): Promise<void> {
    try {
      const lease = await this.#call(this.#o.api.get());
      if (this.#stopped) return;
      const record = lease === undefined ? undefined : toRecord(lease.spec, lease.metadata?.resourceVersion);
      const { action, observed } = decideLease(record, this.identity, this.#observed, this.#now(), this.#o.leaseDurationMs);
      this.#observed = observed;
      if (action === 'wait') {
        if (this.#leading) this.#setLeading(false);
        return;
      }
      const now = new k8s.V1MicroTime();
      const leaseDurationSeconds = Math.max(1, Math.round(this.#o.leaseDurationMs / 1000));
      if (action === 'create') {
        await this.#call(this.#o.api.create({ metadata: { name: this.#o.name }, spec: { holderIdentity: this.identity, leaseDurationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 } }));
      } else if (lease !== undefined) {
        const spec = lease.spec ?? {};
        const acquiring = action === 'acquire';
        await this.#call(this.#o.api.replace({
          ...lease,
          spec: {
            ...spec,
            holderIdentity: this.identity,
            leaseDurationSeconds,
            renewTime: now,
            ...(acquiring ? { acquireTime: now, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 } : {}),
          },
        }));
      }
      if (this.#stopped) return;
      this.#lastRenewMs = this.#now();
      this.#observed = undefined;
      if (!this.#leading) this.#setLeading(true);
    } catch (err) {
      if ((err as { code?: unknown }).code !== 409) this.#o.log.warn({ err, code: 'ING_ERR_K8S_LEADER_ELECTION', lease: this.#o.name }, 'leader lease round failed');
      // Step down before the Lease can expire for the others.
      if (this.#leading && this.#now() - this.#lastRenewMs >= this.#o.renewDeadlineMs) this.#setLeading(false);
    }
  }

  #setLeading(leading: boolean): void {
    this.#leading = leading;
    this.#o.log.info({ lease: this.#o.name, identity: this.identity }, leading ? 'became leader' : 'stopped leading');
    try {
      (leading ? this.#o.onStartedLeading : this.#o.onStoppedLeading)?.();
    } catch (err) {
      this.#o.log.error({ err }, 'leadership callback threw');
    }
  }
}

function toRecord(spec: k8s.V1LeaseSpec | undefined, resourceVersion: string | undefined): LeaseRecord {
  const time = (t: unknown): string | undefined => (t instanceof Date ? t.toISOString() : typeof t === 'string' ? t : undefined);
  const renewTime = time(spec?.renewTime);
  const acquireTime = time(spec?.acquireTime);
  return {
    ...(spec?.holderIdentity === undefined ? {} : { holderIdentity: spec.holderIdentity }),
    ...(spec?.leaseDurationSeconds === undefined ? {} : { leaseDurationSeconds: spec.leaseDurationSeconds }),
    ...(renewTime === undefined ? {} : { renewTime }),
    ...(acquireTime === undefined ? {} : { acquireTime }),
    ...(spec?.leaseTransitions === undefined ? {} : { leaseTransitions: spec.leaseTransitions }),
    ...(resourceVersion === undefined ? {} : { resourceVersion }),
  };
}
