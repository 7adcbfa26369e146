import { PassThrough } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ResourceWatcher, backoffDelayMs, isGone, type ListResult, type RawObject, type WatchClient, type WatchHandle } from '../../../../src/primary/k8s/watch.js';

interface OpenWatch {
  readonly query: Readonly<Record<string, string>>;
  readonly onEvent: (type: string, object: RawObject) => void;
  readonly onDone: (err: unknown) => void;
  aborted: boolean;
}

/** ScriptedClient answers lists from a queue (the last answer repeats) and records watches. */
class ScriptedClient implements WatchClient {
  readonly watches: OpenWatch[] = [];
  lists = 0;
  constructor(private readonly answers: (ListResult | Error)[]) {}
  list(): Promise<ListResult> {
    const a = this.answers.length > 1 ? this.answers.shift() : this.answers[0];
    this.lists++;
    return a instanceof Error ? Promise.reject(a) : Promise.resolve(a as ListResult);
  }
  watch(query: Readonly<Record<string, string>>, onEvent: OpenWatch['onEvent'], onDone: OpenWatch['onDone']): Promise<WatchHandle> {
    const w: OpenWatch = { query, onEvent, onDone, aborted: false };
    this.watches.push(w);
    return Promise.resolve({ abort: () => void (w.aborted = true) });
  }
  get last(): OpenWatch {
    return this.watches.at(-1) as OpenWatch;
  }
}

const obj = (name: string, rv: string): RawObject => ({ metadata: { name, namespace: 'ns', resourceVersion: rv } });
const list = (rv: string, ...items: RawObject[]): ListResult => ({ items, resourceVersion: rv });

let logs: Record<string, unknown>[];
let seen: string[];
let watcher: ResourceWatcher | undefined;

function start(client: WatchClient, opts: { throwOn?: string } = {}): ResourceWatcher {
  const sink = new PassThrough();
  sink.on('data', (c: Buffer) => c.toString().split('\n').filter(Boolean).forEach((l) => logs.push(JSON.parse(l) as Record<string, unknown>)));
  watcher = new ResourceWatcher({
    name: 'things',
    client,
    log: pino({ level: 'debug' }, sink),
    initialBackoffMs: 100,
    maxBackoffMs: 1000,
    watchdogMs: 10_000,
    random: () => 0,
    handlers: {
      upsert: (o) => {
        if (o.metadata?.name === opts.throwOn) throw new Error('boom');
        seen.push(`upsert ${String(o.metadata?.name)}@${String(o.metadata?.resourceVersion)}`);
      },
      delete: (o) => seen.push(`delete ${String(o.metadata?.name)}`),
      synced: () => seen.push('synced'),
      health: (ok) => seen.push(ok ? 'up' : 'down'),
    },
  });
  watcher.start();
  return watcher;
}

const tick = async (ms = 0): Promise<void> => {
  await vi.advanceTimersByTimeAsync(ms);
};

beforeEach(() => {
  vi.useFakeTimers();
  logs = [];
  seen = [];
});
afterEach(async () => {
  await watcher?.stop();
  watcher = undefined;
  vi.useRealTimers();
});

describe('backoffDelayMs', () => {
  it.each([
    [1, 0, 100],
    [2, 0, 200],
    [4, 0, 800],
    [5, 0, 1000],
    [20, 0, 1000],
    [1, 1, 120],
    [5, 1, 1000],
  ])('failure %i with random %f waits %i ms', (failures, random, want) => {
    expect(backoffDelayMs(failures, 100, 1000, random)).toBe(want);
  });
});

describe('isGone', () => {
  it('knows a 410 from an HTTP error or an ERROR event', () => {
    expect([isGone({ statusCode: 410 }), isGone({ code: 410 }), isGone({ code: 500 }), isGone(null)]).toEqual([true, true, false, false]);
  });
});

describe('ResourceWatcher', () => {
  it('lists, then watches from the list resourceVersion with bookmarks and a timeout, and applies events', async () => {
    const client = new ScriptedClient([list('10', obj('a', '5'))]);
    start(client);
    await tick();
    expect(client.last.query).toMatchObject({ resourceVersion: '10', allowWatchBookmarks: 'true' });
    expect(Number(client.last.query.timeoutSeconds)).toBeGreaterThanOrEqual(300);
    client.last.onEvent('MODIFIED', obj('a', '11'));
    client.last.onEvent('MODIFIED', obj('a', '11'));
    client.last.onEvent('ADDED', obj('b', '12'));
    client.last.onEvent('DELETED', obj('a', '13'));
    client.last.onEvent('BOOKMARK', { metadata: { resourceVersion: '20' } });
    expect(seen).toEqual(['up', 'upsert a@5', 'synced', 'up', 'upsert a@11', 'upsert b@12', 'delete a']);
    // A clean end re-watches from the last resourceVersion, without a relist.
    await tick(2000);
    client.last.onDone(null);
    await tick();
    expect(client.lists).toBe(1);
    expect(client.last.query.resourceVersion).toBe('20');
  });

  it('relists after ERROR 410, turning vanished objects into deletes', async () => {
    const client = new ScriptedClient([list('10', obj('a', '5'), obj('b', '6')), list('30', obj('b', '6'), obj('c', '25'))]);
    start(client);
    await tick();
    client.last.onEvent('ERROR', { code: 410, reason: 'Expired' });
    client.last.onDone(null);
    await tick();
    expect(client.lists).toBe(2);
    expect(seen.filter((s) => s !== 'up')).toEqual(['upsert a@5', 'upsert b@6', 'synced', 'upsert c@25', 'delete a', 'synced']);
    expect(client.last.query.resourceVersion).toBe('30');
    expect(logs.some((l) => l.msg === 'resourceVersion expired: relisting')).toBe(true);
  });

  it('retries a failed list with capped exponential backoff and reports health', async () => {
    const client = new ScriptedClient([new Error('refused'), new Error('refused'), new Error('refused'), list('1')]);
    start(client);
    await tick();
    expect(client.lists).toBe(1);
    await tick(99);
    expect(client.lists).toBe(1);
    await tick(1);
    expect(client.lists).toBe(2);
    await tick(200);
    expect(client.lists).toBe(3);
    await tick(400);
    expect(client.lists).toBe(4);
    expect(seen).toEqual(['down', 'down', 'down', 'up', 'synced', 'up']);
  });

  it('restarts after a transport error without relisting, and backs off when a watch closes at once', async () => {
    const client = new ScriptedClient([list('10')]);
    start(client);
    await tick();
    // What client-node 2 (undici fetch) reports for a dropped connection.
    client.last.onDone(new TypeError('terminated', { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) }));
    await tick(100);
    expect(client.watches).toHaveLength(2);
    // A second failure in a row: the delay doubles.
    client.last.onDone(null);
    await tick(199);
    expect(client.watches).toHaveLength(2);
    await tick(1);
    expect(client.watches).toHaveLength(3);
    expect(client.lists).toBe(1);
  });

  it('re-watches a stream that stays silent past the watchdog', async () => {
    const client = new ScriptedClient([list('10')]);
    start(client);
    await tick();
    await tick(9_999);
    expect(client.watches).toHaveLength(1);
    await tick(1);
    expect(client.watches[0]?.aborted).toBe(true);
    expect(client.watches).toHaveLength(2);
    expect(client.last.query.resourceVersion).toBe('10');
    expect(logs.some((l) => l.msg === 'watch silent too long: re-watching')).toBe(true);
  });

  it('a throwing handler is logged and the watch goes on', async () => {
    const client = new ScriptedClient([list('10')]);
    start(client, { throwOn: 'bad' });
    await tick();
    client.last.onEvent('ADDED', obj('bad', '11'));
    client.last.onEvent('ADDED', obj('good', '12'));
    expect(seen).toContain('upsert good@12');
    expect(logs.find((l) => l.code === 'ING_ERR_K8S_HANDLER')).toMatchObject({ object: 'ns/bad', handler: 'upsert' });
  });

  it('stop ends a pending backoff and an open watch; no handler runs after', async () => {
    const client = new ScriptedClient([list('10')]);
    const w = start(client);
    await tick();
    await w.stop();
    expect(client.last.aborted).toBe(true);
    const before = seen.length;
    client.last.onEvent('ADDED', obj('late', '11'));
    client.last.onDone(new DOMException('This operation was aborted', 'AbortError'));
    await tick(5000);
    expect(seen.length).toBe(before);
    expect(client.watches).toHaveLength(1);
  });
});
