/**
 * StatusPublisher composes the leader election and the status writer: only the replica that
 * holds the Lease writes, it resyncs when it becomes leader, and on shutdown it clears our
 * address (if asked) before releasing the Lease.
 */
import type * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { LeaderElector, createLeaseApi } from './leader-election.js';
import { StatusWriter, createIngressStatusApi, parseAddresses, type StatusView } from './status.js';

/** StatusPublisherOptions configures createStatusPublisher. */
export interface StatusPublisherOptions {
  readonly kubeConfig: k8s.KubeConfig;
  readonly view: StatusView;
  readonly log: Logger;
  readonly addresses: readonly string[];
  readonly publishService?: string;
  readonly electionId: string;
  readonly electionNamespace: string;
  readonly identity: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
}

/** StatusPublisher is what the composition root drives. */
export interface StatusPublisher {
  start(): void;
  /** update gives the Ingresses we serve after a rebuild (`namespace/name`). */
  update(ours: readonly string[]): void;
  /** shutdown stops writing, clears our address when `clear` and we lead, then releases the Lease. */
  shutdown(clear: boolean): Promise<void>;
}

/** createStatusPublisher wires a LeaderElector to a StatusWriter. */
export function createStatusPublisher(o: StatusPublisherOptions): StatusPublisher {
  let writer: StatusWriter | undefined;
  const elector = new LeaderElector({
    api: createLeaseApi(o.kubeConfig, o.electionNamespace, o.electionId),
    name: o.electionId,
    identity: o.identity,
    leaseDurationMs: o.leaseDurationMs,
    renewDeadlineMs: o.renewDeadlineMs,
    retryPeriodMs: o.retryPeriodMs,
    log: o.log.child({ component: 'leader-election', namespace: o.electionNamespace }),
    onStartedLeading: () => void writer?.sync(),
  });
  writer = new StatusWriter({
    api: createIngressStatusApi(o.kubeConfig),
    view: o.view,
    log: o.log.child({ component: 'ingress-status' }),
    addresses: parseAddresses(o.addresses),
    ...(o.publishService === undefined ? {} : { publishService: o.publishService }),
    isLeader: () => elector.isLeader,
  });
  const w = writer;
  return {
    start() {
      w.start();
      elector.start();
    },
    update: (ours) => w.update(ours),
    async shutdown(clear) {
      if (clear) await w.clear();
      else await w.stop();
      await elector.stop();
    },
  };
}
