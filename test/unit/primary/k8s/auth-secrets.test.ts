/**
 * The kubernetes source and basic-auth Secrets (issue 15 group 6): a named Secret outside the TLS
 * watch (type Opaque) is read by name, read again every POLL_SECRET_MS while named, a change is
 * reported as one (and an unchanged read is not), a deleted one reported once, an unnamed one dropped.
 */
import { PassThrough } from 'node:stream';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { KubernetesSource, POLL_SECRET_MS } from '../../../../src/primary/k8s/kubernetes-source.js';
import type { ListResult, RawObject, WatchClient, WatchHandle } from '../../../../src/primary/k8s/watch.js';
import type { SourceUpdate } from '../../../../src/primary/sources/source.js';

class Empty implements WatchClient {
  list(): Promise<ListResult> {
    return Promise.resolve({ items: [], resourceVersion: '1' });
  }
  watch(): Promise<WatchHandle> {
    return Promise.resolve({ abort: () => undefined });
  }
}

let source: KubernetesSource | undefined;
let stored: Record<string, RawObject | undefined>;
let reads: string[];
let updates: SourceUpdate[];

beforeEach(() => {
  vi.useFakeTimers();
  stored = {};
  reads = [];
  updates = [];
});
afterEach(async () => {
  await source?.stop();
  source = undefined;
  vi.useRealTimers();
});

const opaque = (rv: string, auth: string): RawObject => ({ metadata: { name: 'users', namespace: 'a', resourceVersion: rv }, type: 'Opaque', data: { auth: Buffer.from(auth).toString('base64') } });

async function started(): Promise<KubernetesSource> {
  source = new KubernetesSource({
    kubeConfig: new KubeConfig(),
    log: pino({ level: 'silent' }, new PassThrough()),
    clientFor: () => new Empty(),
    readSecret: (namespace, name) => {
      reads.push(`${namespace}/${name}`);
      return Promise.resolve(stored[`${namespace}/${name}`]);
    },
  });
  await Promise.all([source.start((u) => updates.push(u)), vi.advanceTimersByTimeAsync(0)]);
  return source;
}

const changes = (): string[] => updates.flatMap((u) => (u.changes ?? []).map((c) => `${c.kind} ${c.key}`));

describe('basic-auth Secrets from the kubernetes source', () => {
  it('reads a named Secret outside the watch, and again every interval; a change is a change, the same read is none', async () => {
    stored['a/users'] = opaque('1', 'ann:{PLAIN}x');
    const s = await started();
    s.retainSecrets(new Set(['a/users']));
    expect(s.secrets.secret('a', 'users')).toBe('pending');
    await vi.advanceTimersByTimeAsync(0);
    expect(s.secrets.secret('a', 'users')).toMatchObject({ type: 'Opaque' });
    expect(changes()).toEqual(['Secret a/users']);
    await vi.advanceTimersByTimeAsync(POLL_SECRET_MS);
    expect(reads).toEqual(['a/users', 'a/users']);
    expect(changes()).toEqual(['Secret a/users']);
    stored['a/users'] = opaque('2', 'ann:{PLAIN}y');
    await vi.advanceTimersByTimeAsync(POLL_SECRET_MS);
    expect(changes()).toEqual(['Secret a/users', 'Secret a/users']);
    expect((s.secrets.secret('a', 'users') as { data: Record<string, string> }).data.auth).toBe(Buffer.from('ann:{PLAIN}y').toString('base64'));
  });

  it('reports a deleted Secret once, and stops reading one no longer named', async () => {
    stored['a/users'] = opaque('1', 'ann:{PLAIN}x');
    const s = await started();
    s.retainSecrets(new Set(['a/users']));
    await vi.advanceTimersByTimeAsync(0);
    stored['a/users'] = undefined;
    await vi.advanceTimersByTimeAsync(POLL_SECRET_MS);
    expect(s.secrets.secret('a', 'users')).toBeUndefined();
    await vi.advanceTimersByTimeAsync(POLL_SECRET_MS);
    expect(changes()).toEqual(['Secret a/users', 'Secret a/users']);
    s.retainSecrets(new Set());
    const before = reads.length;
    await vi.advanceTimersByTimeAsync(3 * POLL_SECRET_MS);
    expect(reads.length).toBe(before);
  });
});
