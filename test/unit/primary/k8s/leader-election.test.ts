import type { V1Lease } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LeaderElector, decideLease, electionIdentity, type LeaseApi, type LeaseRecord, type Observation } from '../../../../src/primary/k8s/leader-election.js';

const ME = 'me';
const LEASE_MS = 15_000;
const held = (holder: string, renewTime = 't1', leaseDurationSeconds = 15): LeaseRecord => ({ holderIdentity: holder, renewTime, leaseDurationSeconds });

describe('decideLease', () => {
  it.each<{ name: string; lease: LeaseRecord | undefined; observed?: Observation; now: number; want: string }>([
    { name: 'no Lease: create it', lease: undefined, now: 0, want: 'create' },
    { name: 'we hold it: renew', lease: held(ME), now: 0, want: 'renew' },
    { name: 'released (empty holder): acquire at once', lease: held(''), now: 0, want: 'acquire' },
    { name: 'another holder, first seen now: wait', lease: held('other'), now: 100_000, want: 'wait' },
    { name: 'another holder, unchanged for less than the lease: wait', lease: held('other'), observed: { key: 'other|t1|', atMs: 90_000 }, now: 104_999, want: 'wait' },
    { name: 'another holder, unchanged for the whole lease: acquire', lease: held('other'), observed: { key: 'other|t1|', atMs: 90_000 }, now: 105_000, want: 'acquire' },
    { name: 'another holder renewed since: the clock restarts', lease: held('other', 't2'), observed: { key: 'other|t1|', atMs: 0 }, now: 105_000, want: 'wait' },
    { name: 'a rewrite with the same renewTime still counts as a renewal', lease: { ...held('other'), resourceVersion: '8' }, observed: { key: 'other|t1|7', atMs: 0 }, now: 105_000, want: 'wait' },
    { name: 'the Lease duration wins over ours', lease: held('other', 't1', 60), observed: { key: 'other|t1|', atMs: 0 }, now: 30_000, want: 'wait' },
  ])('$name', ({ lease, observed, now, want }) => {
    expect(decideLease(lease, ME, observed, now, LEASE_MS).action).toBe(want);
  });

  it('observes by local time, so a skewed renewTime does not matter', () => {
    const first = decideLease(held('other', '2099-01-01T00:00:00.000000Z'), ME, undefined, 1000, LEASE_MS);
    expect(first.observed).toEqual({ key: 'other|2099-01-01T00:00:00.000000Z|', atMs: 1000 });
    const later = decideLease(held('other', '2099-01-01T00:00:00.000000Z'), ME, first.observed, 16_000, LEASE_MS);
    expect(later.action).toBe('acquire');
  });
});

describe('electionIdentity', () => {
  it('is POD_NAME when set, else the hostname with a random suffix', () => {
    expect(electionIdentity('flusso-abc')).toBe('flusso-abc');
    const a = electionIdentity(undefined);
    expect(a).toMatch(/-[0-9a-f]{6}$/);
    expect(electionIdentity(undefined)).not.toBe(a);
  });
});

/** LeaseStore is one in-memory Lease with resourceVersion checks, shared by candidates. */
class LeaseStore {
  lease: V1Lease | undefined;
  #rv = 0;
  write(lease: V1Lease, create: boolean): V1Lease {
    if (create && this.lease !== undefined) throw Object.assign(new Error('exists'), { code: 409 });
    if (!create && lease.metadata?.resourceVersion !== this.lease?.metadata?.resourceVersion) throw Object.assign(new Error('conflict'), { code: 409 });
    this.lease = { ...(JSON.parse(JSON.stringify(lease)) as V1Lease), metadata: { name: 'l', resourceVersion: String(++this.#rv) } };
    return this.lease;
  }
}

/** CandidateApi is one candidate's view of the store; `mode` cuts it off (calls fail, or never answer). */
class CandidateApi implements LeaseApi {
  mode: 'up' | 'failing' | 'hung' = 'up';
  constructor(private readonly store: LeaseStore) {}
  #answer<T>(v: () => T): Promise<T> {
    if (this.mode === 'hung') return new Promise(() => undefined);
    if (this.mode === 'failing') return Promise.reject(new Error('refused'));
    try {
      return Promise.resolve(v());
    } catch (err) {
      return Promise.reject(err);
    }
  }
  get(): Promise<V1Lease | undefined> {
    return this.#answer(() => (this.store.lease === undefined ? undefined : (JSON.parse(JSON.stringify(this.store.lease)) as V1Lease)));
  }
  create(lease: V1Lease): Promise<V1Lease> {
    return this.#answer(() => this.store.write(lease, true));
  }
  replace(lease: V1Lease): Promise<V1Lease> {
    return this.#answer(() => this.store.write(lease, false));
  }
}

describe('LeaderElector', () => {
  let electors: LeaderElector[] = [];
  let events: string[] = [];
  beforeEach(() => {
    vi.useFakeTimers();
    events = [];
  });
  afterEach(async () => {
    // A round may wait on a hung request until its timeout: let the fake clock run meanwhile.
    const stopped = Promise.all(electors.map((e) => e.stop()));
    await vi.advanceTimersByTimeAsync(20_000);
    await stopped;
    electors = [];
    vi.useRealTimers();
  });

  const elector = (api: LeaseApi, identity: string): LeaderElector => {
    const e = new LeaderElector({
      api, name: 'l', identity, leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000,
      log: pino({ level: 'silent' }),
      // The fake clock: Date is faked by vi.useFakeTimers.
      now: () => Date.now(),
      onStartedLeading: () => events.push(`${identity} leads`),
      onStoppedLeading: () => events.push(`${identity} stops`),
    });
    electors.push(e);
    e.start();
    return e;
  };

  it('one of two candidates leads; when it is cut off it steps down, and the other takes over after the lease', async () => {
    const store = new LeaseStore();
    const apiA = new CandidateApi(store);
    const a = elector(apiA, 'a');
    await vi.advanceTimersByTimeAsync(0);
    const b = elector(new CandidateApi(store), 'b');
    await vi.advanceTimersByTimeAsync(20_000);
    expect([a.isLeader, b.isLeader, events]).toEqual([true, false, ['a leads']]);
    expect(store.lease?.spec?.renewTime).toMatch(/\.\d{6}Z$/);
    apiA.mode = 'failing';
    await vi.advanceTimersByTimeAsync(10_000);
    expect([a.isLeader, b.isLeader]).toEqual([false, false]);
    await vi.advanceTimersByTimeAsync(8_000);
    expect(b.isLeader).toBe(true);
    expect(store.lease?.spec).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
    expect(events).toEqual(['a leads', 'a stops', 'b leads']);
  });

  it('a leader stuck on a hung request still steps down within the renew deadline', async () => {
    const api = new CandidateApi(new LeaseStore());
    const a = elector(api, 'a');
    await vi.advanceTimersByTimeAsync(0);
    expect(a.isLeader).toBe(true);
    api.mode = 'hung';
    await vi.advanceTimersByTimeAsync(14_000);
    expect(a.isLeader).toBe(false);
    api.mode = 'up';
  });

  it('releases the Lease on stop so another candidate acquires it at once', async () => {
    const store = new LeaseStore();
    const a = elector(new CandidateApi(store), 'a');
    await vi.advanceTimersByTimeAsync(0);
    await a.stop();
    expect(store.lease?.spec?.holderIdentity).toBe('');
    const b = elector(new CandidateApi(store), 'b');
    await vi.advanceTimersByTimeAsync(0);
    expect(b.isLeader).toBe(true);
  });
});
