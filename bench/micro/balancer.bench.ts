/**
 * Balancer pick: equal weights (plain rotation) and unequal weights (smooth weighted
 * round-robin, linear in the endpoint count) at 1, 3, 10 and 100 endpoints.
 */
import { test } from 'vitest';
import { RoundRobinBalancer } from '../../src/worker/balance/round-robin.js';
import type { Endpoint } from '../../src/shared/snapshot.js';

function endpoints(n: number, weighted: boolean): Endpoint[] {
  return Array.from({ length: n }, (_, i) => ({
    address: `10.0.${i >> 8}.${i & 255}`,
    port: 8080,
    weight: weighted ? 1 + (i % 4) : 1,
    ready: true,
    terminating: false,
  }));
}

for (const n of [1, 3, 10, 100]) {
  test(`balancer select, ${n} endpoint${n === 1 ? '' : 's'}`, async ({ bench }) => {
    const equal = new RoundRobinBalancer({ endpoints: endpoints(n, false) });
    const weighted = new RoundRobinBalancer({ endpoints: endpoints(n, true) });
    await bench.compare(
      bench('round-robin, equal weights', () => {
        equal.select();
      }),
      bench('smooth weighted round-robin', () => {
        weighted.select();
      }),
    );
  });
}
