#!/usr/bin/env node
// heap-top: what a V8 heap snapshot holds, by node type and name (self sizes), and its most
// repeated strings (digits folded to #), e.g. one copy of "cache-control" per cache entry.
//
//   node bench/load/heap-top.mjs bench/results/heap-…-short-128Mi.heapsnapshot [TOP=25]
import { readFileSync } from 'node:fs';
import { exitOnHelp } from './help.mjs';

exitOnHelp(import.meta.url);

const file = process.argv[2];
if (!file) {
  console.error('usage: node bench/load/heap-top.mjs FILE.heapsnapshot [TOP]');
  process.exit(1);
}
const TOP = Number(process.argv[3] ?? 25);
const snap = JSON.parse(readFileSync(file, 'utf8'));
const { node_fields: nf, node_types: nt } = snap.snapshot.meta;
const F = nf.length;
const iType = nf.indexOf('type');
const iName = nf.indexOf('name');
const iSize = nf.indexOf('self_size');
const types = nt[0];
const byKind = new Map();
const strings = new Map();
let total = 0;
for (let i = 0; i < snap.nodes.length; i += F) {
  const t = types[snap.nodes[i + iType]];
  const name = snap.strings[snap.nodes[i + iName]];
  const size = snap.nodes[i + iSize];
  total += size;
  const isString = t === 'string' || t === 'concatenated string' || t === 'sliced string';
  const k = isString ? t : `${t} :: ${name.slice(0, 50)}`;
  const a = byKind.get(k) ?? { n: 0, bytes: 0 };
  a.n++;
  a.bytes += size;
  byKind.set(k, a);
  if (isString) {
    const s = `${t === 'string' ? '' : `(${t}) `}${name.replace(/\d+/g, '#').slice(0, 60)}`;
    const b = strings.get(s) ?? { n: 0, bytes: 0 };
    b.n++;
    b.bytes += size;
    strings.set(s, b);
  }
}
const mib = (x) => (x / 2 ** 20).toFixed(2).padStart(8);
console.log(`${file}: ${mib(total)} MiB of self sizes\n\n     MiB    count  type :: name`);
for (const [k, a] of [...byKind].sort((x, y) => y[1].bytes - x[1].bytes).slice(0, TOP)) console.log(`${mib(a.bytes)} ${String(a.n).padStart(8)}  ${k}`);
console.log(`\nmost repeated strings\n     MiB    count  string`);
for (const [k, a] of [...strings].sort((x, y) => y[1].n - x[1].n).slice(0, TOP)) console.log(`${mib(a.bytes)} ${String(a.n).padStart(8)}  ${JSON.stringify(k)}`);
