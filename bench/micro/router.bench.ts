/**
 * Router match at 10, 1,000 and 10,000 hosts: exact host hits (Exact, long Prefix, root
 * Prefix), a wildcard host hit and a miss. Matching must cost the same at every size.
 */
import { test } from 'vitest';
import { createRouter } from '../../src/worker/router/host-table.js';
import { requestHostOf, table } from './fixtures.js';

for (const size of [10, 1_000, 10_000]) {
  const router = createRouter(table(size));
  // A fixed spread of hosts so each iteration does the same work at every size.
  const picks = Array.from({ length: 64 }, (_, k) => Math.floor((k * size) / 64));
  const exact = picks.filter((i) => i % 10 !== 9).map(requestHostOf);
  const wildcard = picks.map((i) => i - (i % 10) + 9).filter((i) => i < size).map(requestHostOf);
  for (const h of [...exact, ...wildcard]) if (router.match(h, '/api/x') === null) throw new Error(`fixture host ${h} does not match`);
  let n = 0;
  test(`router match, ${size.toLocaleString('en-US')} hosts`, async ({ bench }) => {
    await bench.compare(
      bench('exact host, Prefix /api/v1/users', () => {
        router.match(exact[n++ % exact.length] as string, '/api/v1/users');
      }),
      bench('exact host, Exact /healthz', () => {
        router.match(exact[n++ % exact.length] as string, '/healthz');
      }),
      bench('exact host with port, root Prefix', () => {
        router.match(`${exact[n++ % exact.length] as string}:8080`, '/index.html');
      }),
      bench('wildcard host, Prefix /api', () => {
        router.match(wildcard[n++ % wildcard.length] as string, '/api/x');
      }),
      bench('unknown host (miss)', () => {
        router.match('nope.example.org', '/');
      }),
    );
  });
}
