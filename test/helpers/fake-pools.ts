/**
 * Fake upstream pools for WorkerState tests: no sockets, a record of every pool created (its
 * origin as `http://address:port` and the settings it got) and whether it was closed; `fail`
 * makes creation throw for some origins.
 */
import type { PoolFactory, UpstreamPool } from '../../src/worker/state.js';

/** POOL_SETTINGS are WorkerState pool settings with recognisable values. */
export const POOL_SETTINGS = {
  upstreamConnectTimeoutMs: 1_000,
  upstreamResponseTimeoutMs: 2_000,
  upstreamIdleTimeoutMs: 3_000,
  upstreamKeepAliveTimeoutMs: 4_000,
  upstreamMaxConnections: 5,
};

/** FakePool is a Pool that only records. */
export interface FakePool extends UpstreamPool {
  readonly origin: string;
  readonly options: unknown;
  closed: boolean;
}

/** fakePools returns a PoolFactory and the list of Pools it created. */
export function fakePools(fail?: (origin: string) => boolean): { created: FakePool[]; factory: PoolFactory } {
  const created: FakePool[] = [];
  const factory: PoolFactory = (address, port, options) => {
    const origin = `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
    if (fail?.(origin)) throw new Error(`cannot create ${origin}`);
    const pool: FakePool = {
      origin,
      options,
      closed: false,
      request: () => undefined,
      cancel: () => undefined,
      close: (() => {
        pool.closed = true;
        return Promise.resolve();
      }) as UpstreamPool['close'],
    };
    created.push(pool);
    return pool;
  };
  return { created, factory };
}
