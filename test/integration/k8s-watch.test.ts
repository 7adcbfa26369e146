/**
 * ResourceWatcher with the real @kubernetes/client-node against the fake API server: the fault
 * knobs the unit tests script by hand, over real sockets.
 */
import { PassThrough } from 'node:stream';
import * as k8s from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { RESOURCES, createWatchClient } from '../../src/primary/k8s/resources.js';
import { ResourceWatcher, type RawObject } from '../../src/primary/k8s/watch.js';
import { startFakeApiServer, type FakeApiServer } from '../helpers/fake-apiserver.js';
import { pollUntil } from '../helpers/flusso.js';

const SERVICES = RESOURCES.find((r) => r.kind === 'Service')!;
const svc = (name: string, port = 80): Record<string, unknown> => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'a' }, spec: { ports: [{ port }] } });

let api: FakeApiServer;
let watcher: ResourceWatcher | undefined;
let objects: Map<string, RawObject>;
let logs: Record<string, unknown>[];
let health: boolean[];

afterEach(async () => {
  await watcher?.stop();
  watcher = undefined;
  await api.close();
});

async function start(watchdogMs = 60_000): Promise<void> {
  api = await startFakeApiServer();
  api.apply(svc('one'));
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(await api.kubeconfigFile());
  objects = new Map();
  logs = [];
  health = [];
  const sink = new PassThrough();
  sink.on('data', (c: Buffer) => c.toString().split('\n').filter(Boolean).forEach((l) => logs.push(JSON.parse(l) as Record<string, unknown>)));
  watcher = new ResourceWatcher({
    name: 'services',
    client: createWatchClient(kc, SERVICES, undefined, {}),
    log: pino({ level: 'debug' }, sink),
    initialBackoffMs: 50,
    maxBackoffMs: 200,
    watchdogMs,
    handlers: {
      upsert: (o) => objects.set(String(o.metadata?.name), o),
      delete: (o) => objects.delete(String(o.metadata?.name)),
      health: (ok) => health.push(ok),
    },
  });
  watcher.start();
  await until('first list', () => watcher?.lists === 1 && api.watchCount() === 1);
}

const until = (what: string, check: () => boolean): Promise<true> => pollUntil(what, async () => (check() ? true : undefined), 10_000, 10);
const portOf = (name: string): unknown => (objects.get(name)?.spec as { ports?: { port: number }[] } | undefined)?.ports?.[0]?.port;

describe('ResourceWatcher over client-node', () => {
  it('re-watches from its resourceVersion after every connection is dropped, without a relist', async () => {
    await start();
    api.dropConnections();
    api.apply(svc('two'));
    await until('two after reconnect', () => objects.has('two'));
    expect(watcher?.lists).toBe(1);
  });

  it('survives 500s on list and relists after every resourceVersion expired', async () => {
    await start();
    api.setFault({ listStatus: 500 });
    api.expireAll();
    api.remove('Service', 'a', 'one');
    const lists = (): number => api.requests().filter((r) => r.path === '/api/v1/services' && r.query.get('watch') === null).length;
    await until('a failed relist', () => lists() >= 2);
    expect([watcher?.lists, objects.has('one')]).toEqual([1, true]);
    api.setFault({});
    await until('the relist drops one', () => !objects.has('one') && watcher?.lists === 2);
  });

  // Issue #10: client-node 2's Watch ends a stream that received no byte for 30 s. A quiet
  // collection is normal (the API server sends bookmarks about once a minute at most): it must be
  // re-watched from the same resourceVersion at once, never reported as an API outage.
  it('a stream quiet past client-node\'s 30 s inactivity timeout is re-watched at once, not reported down', async () => {
    await start();
    const watches = () => api.requests().filter((r) => r.query.get('watch') !== null);
    await pollUntil('client-node to end the quiet watch and the loop to re-watch', async () => (watches().length >= 2 && api.watchCount() === 1 ? true : undefined), 45_000, 100);
    expect(health).not.toContain(false);
    expect(logs.filter((l) => l.msg === 'list/watch failed: retrying')).toEqual([]);
    expect(watches()[1]?.query.get('resourceVersion')).toBe(watches()[0]?.query.get('resourceVersion'));
    api.apply(svc('two'));
    await until('two on the new watch', () => objects.has('two'));
    expect(watcher?.lists).toBe(1);
  }, 60_000);

  it('a silent stream is re-watched by the watchdog and the missed change arrives', async () => {
    await start(500);
    api.setFault({ silent: true });
    api.apply(svc('one', 8080));
    api.setFault({});
    await until('the missed change', () => portOf('one') === 8080);
    expect(logs.some((l) => l.msg === 'watch silent too long: re-watching')).toBe(true);
    expect(watcher?.lists).toBe(1);
  });
});
