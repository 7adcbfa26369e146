/**
 * Snapshot codec at 100, 1,000 and 10,000 Ingresses: what the primary pays per broadcast
 * (encode) and each worker per update (decode, then build the router and balancers).
 */
import { test } from 'vitest';
import { decodeSnapshot, encodeSnapshot } from '../../src/shared/codec.js';
import { createRouter } from '../../src/worker/router/host-table.js';
import { WorkerState } from '../../src/worker/state.js';
import { snapshot } from './fixtures.js';

const noPool = { request: () => undefined, cancel: () => undefined, close: async () => undefined };
const poolSettings = {
  upstreamConnectTimeoutMs: 5_000,
  upstreamResponseTimeoutMs: 60_000,
  upstreamIdleTimeoutMs: 60_000,
  upstreamKeepAliveTimeoutMs: 4_000,
  upstreamMaxConnections: 128,
};

for (const size of [100, 1_000, 10_000]) {
  const snap = snapshot(size);
  const bytes = encodeSnapshot(snap);
  const opts = size >= 10_000 ? { iterations: 10, time: 2_000 } : {};
  test(`codec, ${size.toLocaleString('en-US')} Ingresses (${(bytes.length / 1024).toFixed(0)} KiB)`, async ({ bench }) => {
    await bench.compare(
      bench('encode', () => {
        encodeSnapshot(snap);
      }),
      bench('decode', () => {
        decodeSnapshot(bytes);
      }),
      bench('build router', () => {
        createRouter(snap.table);
      }),
      bench('decode + full worker apply (router, balancers, pools)', () => {
        const state = new WorkerState({ config: poolSettings, createPool: () => noPool });
        const r = state.apply(bytes);
        if (!r.ok) throw new Error(r.error.message);
      }),
      opts,
    );
  });
}
