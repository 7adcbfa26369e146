/**
 * The worker's IPC protocol (src/worker/main.ts) driven in-process through a fake process
 * object: hello → init → listening, snapshot → ack/reject, drain → exit 0, and an uncaught
 * exception → fatal + exit 1. The proxy really listens (127.0.0.1, port 0).
 */
import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { encodeEndpointsDelta, encodeSnapshot } from '../../src/shared/codec.js';
import type { WorkerConfig, WorkerMessage } from '../../src/shared/messages.js';
import { NO_OVERRIDES, SNAPSHOT_VERSION } from '../../src/shared/snapshot.js';
import { startWorker, type WorkerProcess } from '../../src/worker/main.js';
import { testWorkerConfig } from '../helpers/worker-config.js';

const config: WorkerConfig = testWorkerConfig({ upstreamConnectTimeoutMs: 1_000, upstreamResponseTimeoutMs: 1_000, upstreamIdleTimeoutMs: 1_000, upstreamKeepAliveTimeoutMs: 1_000, upstreamMaxConnections: 4, drainTimeoutMs: 1_000, logLevel: 'silent' });

const snapshot = (generation: number): Uint8Array =>
  encodeSnapshot({ version: SNAPSHOT_VERSION, generation, table: { hosts: [], defaultBackend: null, backends: [] }, overrides: NO_OVERRIDES, tls: null });

class FakeProcess extends EventEmitter {
  readonly sent: WorkerMessage[] = [];
  exitCode: number | null = null;
  send = (m: WorkerMessage, cb?: (err: Error | null) => void): boolean => {
    this.sent.push(m);
    cb?.(null);
    return true;
  };
  exit = ((code: number) => {
    this.exitCode = code;
  }) as (code: number) => never;
  asWorkerProcess(): WorkerProcess {
    return this as unknown as WorkerProcess;
  }
}

const live: FakeProcess[] = [];
afterEach(async () => {
  // Drain whatever is still listening so no uWS app outlives its test.
  for (const p of live.splice(0)) {
    if (p.exitCode === null) {
      p.emit('message', { type: 'drain' });
      await vi.waitFor(() => expect(p.exitCode).not.toBeNull());
    }
  }
});

function start(): FakeProcess {
  const p = new FakeProcess();
  live.push(p);
  startWorker(p.asWorkerProcess());
  return p;
}

describe('worker main', () => {
  it('acks an endpoints delta on top of its generation and rejects one for another base, keeping its state', async () => {
    const p = start();
    const table = { hosts: [], defaultBackend: null, backends: [{ id: 'ns/web:80', service: 'ns/web', servicePort: 80, loadBalancer: 'round-robin' as const, endpoints: [] }] };
    p.emit('message', { type: 'init', workerId: 1, config, snapshot: encodeSnapshot({ version: SNAPSHOT_VERSION, generation: 4, table, overrides: NO_OVERRIDES, tls: null }) });
    await vi.waitFor(() => expect(p.sent).toContainEqual({ type: 'listening', generation: 4, node: process.version }));
    const delta = (base: number): Uint8Array =>
      encodeEndpointsDelta({ version: SNAPSHOT_VERSION, generation: base + 1, base, backends: [{ id: 'ns/web:80', endpoints: [{ address: '127.0.0.1', port: 9, weight: 1, ready: true, terminating: false }] }] });
    p.emit('message', { type: 'endpoints', delta: delta(6) });
    expect(p.sent.at(-1)).toMatchObject({ type: 'reject', kind: 'endpoints', current: 4, error: { code: 'ING_ERR_SNAPSHOT_BUILD' } });
    p.emit('message', { type: 'endpoints', delta: delta(4) });
    expect(p.sent.at(-1)).toEqual({ type: 'ack', generation: 5 });
  });

  it('says hello, then listening after init, acks and rejects snapshots, drains to exit 0', async () => {
    const p = start();
    expect(p.sent).toEqual([{ type: 'hello' }]);
    p.emit('message', { type: 'init', workerId: 1, config, snapshot: snapshot(1) });
    await vi.waitFor(() => expect(p.sent).toContainEqual({ type: 'listening', generation: 1, node: process.version }));
    p.emit('message', { type: 'snapshot', snapshot: snapshot(2) });
    expect(p.sent.at(-1)).toEqual({ type: 'ack', generation: 2 });
    p.emit('message', { type: 'snapshot', snapshot: encodeSnapshot({ version: 99, generation: 3 } as never) });
    expect(p.sent.at(-1)).toMatchObject({ type: 'reject', current: 2, error: { code: 'ING_ERR_SNAPSHOT_VERSION' } });
    p.emit('message', { type: 'not-a-message' });
    p.emit('message', { type: 'drain' });
    await vi.waitFor(() => expect(p.exitCode).toBe(0));
  });

  it('listens with an empty table and reports reject when the init snapshot is bad', async () => {
    const p = start();
    p.emit('message', { type: 'init', workerId: 2, config, snapshot: new Uint8Array([0xc1]) });
    await vi.waitFor(() => expect(p.sent).toContainEqual({ type: 'listening', generation: 0, node: process.version }));
    expect(p.sent[1]).toMatchObject({ type: 'reject', current: 0, error: { code: 'ING_ERR_SNAPSHOT_DECODE' } });
  });

  it('sends fatal and exits 1 on an uncaught exception', async () => {
    const p = start();
    p.emit('message', { type: 'init', workerId: 3, config, snapshot: snapshot(1) });
    await vi.waitFor(() => expect(p.sent).toContainEqual({ type: 'listening', generation: 1, node: process.version }));
    p.emit('uncaughtException', new Error('boom'));
    expect(p.sent.at(-1)).toEqual({ type: 'fatal', error: { code: 'ING_ERR_WORKER_UNCAUGHT', message: 'boom' } });
    expect(p.exitCode).toBe(1);
    p.emit('unhandledRejection', new Error('ignored after exit'));
  });

  it('sends fatal with ING_ERR_LISTEN_FAILED and exits 1 when it cannot listen', async () => {
    const p = start();
    p.emit('message', { type: 'init', workerId: 4, config: { ...config, httpAddress: '203.0.113.1' }, snapshot: snapshot(1) });
    await vi.waitFor(() => expect(p.exitCode).toBe(1));
    expect(p.sent.at(-1)).toMatchObject({ type: 'fatal', error: { code: 'ING_ERR_LISTEN_FAILED' } });
  });

  it('exits when the primary disconnects', () => {
    const p = start();
    p.emit('disconnect');
    expect(p.exitCode).toBe(0);
  });
});
