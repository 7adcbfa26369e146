#!/usr/bin/env -S node --expose-gc
/**
 * What one cache entry really costs in memory, against what the store accounts for it
 * (src/worker/cache/store.ts ENTRY_OVERHEAD_BYTES, PER_HEADER_BYTES): fills a WorkerCache through
 * the proxy's own FillSink with N responses shaped like nginx's (seven header fields, four kept),
 * forces GC before and after, and divides heapUsed + external by N. `ratio` below 1 means the
 * bound over-counts (safe); above 1, the live heap outgrows --cache-max-bytes.
 *
 *   npm run build && node --expose-gc bench/load/cache-entry-cost.mjs
 *   N=5000 BODY=16384 node --expose-gc bench/load/cache-entry-cost.mjs
 */
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { exitOnHelp } from './help.mjs';

exitOnHelp(import.meta.url);

if (typeof globalThis.gc !== 'function') {
  console.error('run with node --expose-gc');
  process.exit(2);
}
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { WorkerCache } = await import(pathToFileURL(path.join(ROOT, 'dist/worker/cache/worker-cache.js')).href);
const { FillSink } = await import(pathToFileURL(path.join(ROOT, 'dist/worker/proxy/cached.js')).href);

const rows = [];
for (const [n, body] of (process.env.N ? [[Number(process.env.N), Number(process.env.BODY ?? 100)]] : [[20000, 100], [20000, 1024], [5000, 16384]])) {
  const cache = new WorkerCache({ maxBytes: 2 ** 40, maxObjectBytes: 2 ** 30, lockTimeoutMs: 100 });
  const live = () => {
    globalThis.gc();
    globalThis.gc();
    const m = process.memoryUsage();
    return m.heapUsed + m.external;
  };
  const before = live();
  for (let i = 0; i < n; i++) {
    const p = `/obj/${i}`;
    const r = { cache, key: `http://cache.test${p}`, host: 'cache.test', path: p, ingress: 'default/bench', backend: 'default/backend:80', ttlSeconds: null, method: 'GET', req: [['host', 'cache.test'], ['user-agent', 'wrk'], ['accept', '*/*']], serverHeader: 'flusso' };
    const sink = new FillSink(r, null, false, false);
    const raw = ['Server', 'nginx/1.22.1', 'Date', new Date().toUTCString(), 'Content-Type', 'application/octet-stream', 'Content-Length', String(body), 'Connection', 'keep-alive', 'Cache-Control', 'public, max-age=3600', 'Accept-Ranges', 'bytes'];
    sink.onHead(200, raw.map((x) => Buffer.from(x, 'latin1')));
    // As undici hands it: a view into a larger socket read buffer.
    sink.onBody(Buffer.allocUnsafe(65536).subarray(0, body));
  }
  const real = (live() - before) / n;
  const s = cache.store.stats();
  rows.push({ entries: n, body, realBytesPerEntry: Math.round(real), accountedBytesPerEntry: Math.round(s.bytes / s.entries), ratio: Number((real / (s.bytes / s.entries)).toFixed(2)) });
}
console.log('| entries | body B | real B/entry | accounted B/entry | real / accounted |\n|---:|---:|---:|---:|---:|');
for (const r of rows) console.log(`| ${r.entries} | ${r.body} | ${r.realBytesPerEntry} | ${r.accountedBytesPerEntry} | ${r.ratio} |`);
