/**
 * WorkerPool and the basic-auth credentials (issue 15 group 6): every live worker gets them when
 * they change, and a worker that starts later (or replaces a crashed one) gets them right after
 * its init, so no worker serves a basic-auth route without its credentials for longer than that.
 */
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WorkerPool } from '../../../src/primary/workers.js';
import type { BasicAuthCredentials } from '../../../src/shared/basic-auth.js';
import type { WorkerConfig } from '../../../src/shared/messages.js';
import { fakeCluster } from '../../helpers/fake-workers.js';

const ONE: BasicAuthCredentials = { 'auth-file ns/users': { ann: { hash: '{PLAIN}a', kind: 'plain' } } };
const TWO: BasicAuthCredentials = { 'auth-file ns/users': { ann: { hash: '{PLAIN}b', kind: 'plain' } } };

describe('WorkerPool basic-auth credentials', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sends them after each init, and to every worker when they change', () => {
    const cluster = fakeCluster();
    const pool = new WorkerPool({ count: 2, exec: '/nonexistent', config: { httpPort: 8080 } as unknown as WorkerConfig, log: pino({ level: 'silent' }), fork: cluster.fork, restartBaseMs: 100 });
    pool.publishBasicAuth(ONE); // before the first publish and start, as the controller does
    pool.publish(new Uint8Array([1]), 1);
    pool.start();
    const [a, b] = cluster.forked;
    a!.reply({ type: 'hello' });
    b!.reply({ type: 'hello' });
    for (const w of [a!, b!]) {
      expect(w.sent.map((m) => m.type).slice(-2)).toEqual(['init', 'basic-auth']);
      expect(w.sentOf('basic-auth').at(-1)?.credentials).toEqual(ONE);
    }
    pool.publishBasicAuth(TWO);
    for (const w of [a!, b!]) expect(w.sentOf('basic-auth').at(-1)?.credentials).toEqual(TWO);

    // A crashed worker's replacement gets the current ones after its init.
    b!.exit(1);
    vi.advanceTimersByTime(100);
    const c = cluster.forked[2]!;
    c.reply({ type: 'hello' });
    expect(c.sent.map((m) => m.type)).toEqual(['init', 'basic-auth']);
    expect(c.sentOf('basic-auth')[0]?.credentials).toEqual(TWO);
  });
});
