import { describe, expect, it } from 'vitest';
import type { RouteCanary } from '../../../../src/shared/canary.js';
import type { Route } from '../../../../src/shared/snapshot.js';
import { backendOf } from '../../../../src/worker/proxy/canary.js';

/** routeWith is a main route to `main` whose canary is `canary` (only what backendOf reads). */
const routeWith = (canary: RouteCanary): Route => ({ backend: 'shop/main:80', canary }) as unknown as Route;
const canaryOf = (source: string, weight: number, weightTotal = 100): RouteCanary => ({ backend: 'shop/canary:80', source, weight, weightTotal });

describe('backendOf: canary-weight', () => {
  it('sends exactly weight of every weightTotal requests, however often a new snapshot rebuilds the route', () => {
    let toCanary = 0;
    // 1,000 requests, a new snapshot (new objects, the same canary) every 5: a count per object would never reach the canary's turn.
    for (let snapshot = 0; snapshot < 200; snapshot++) {
      const route = routeWith(canaryOf('shop/every-five', 10));
      for (let j = 0; j < 5; j++) if (backendOf(route, [], []) === 'shop/canary:80') toCanary++;
    }
    expect(toCanary).toBe(100);
  });

  it('starts the count again when the weight changes, and keeps canaries apart', () => {
    const a = routeWith(canaryOf('shop/a', 50));
    const b = routeWith(canaryOf('shop/b', 50));
    expect([backendOf(a, [], []), backendOf(b, [], []), backendOf(a, [], []), backendOf(b, [], [])]).toEqual(['shop/main:80', 'shop/main:80', 'shop/canary:80', 'shop/canary:80']);
    // a's count is at 2; a new weight is a new count from 0: 1 of 4 (the 4th).
    const changed = routeWith(canaryOf('shop/a', 25));
    expect([0, 1, 2, 3].map(() => backendOf(changed, [], []))).toEqual(['shop/main:80', 'shop/main:80', 'shop/main:80', 'shop/canary:80']);
  });
});
